package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

func TestNamed(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"a record", `{"insurance_no":"A11","fname":"Ann"}`, []string{"A11"}},
		{"a page", `{"items":[{"id":"1","insurance_no":"A11"},{"id":"2","insurance_no":"B2"},{"insurance_no":"A11"}],"next_cursor":null}`,
			[]string{"A11", "B2"}},
		{"at any depth, spaced", "{\"x\" : [ { \"y\":{\"insurance_no\" :\t\"C3\"} } ] }", []string{"C3"}},
		{"as a value, not a name", `{"remarks":"insurance_no","label":["insurance_no","D4"]}`, nil},
		{"inside a string", `{"remarks":"{\"insurance_no\":\"E5\"}","k\"insurance_no":"F6"}`, nil},
		{"a name spelt with escapes", `{"insurance\u005fno":"G7","insurance_no":"H\u00388"}`, []string{"G7", "H88"}},
		{"not a string", `{"insurance_no":12,"n":{"insurance_no":null},"o":{"insurance_no":{"insurance_no":"I9"}}}`, []string{"I9"}},
		{"not an insurance number", `{"insurance_no":"a b"},{"insurance_no":""},{"insurance_no":"-x"}`, nil},
		{"cut short", `{"insurance_no":"J1"},{"insurance_no":"K`, []string{"J1"}},
		{"a bad escape", `{"insurance_no":"\x"}`, nil},
		{"not JSON", `<html>insurance_no</html>`, nil},
		{"empty", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := audit.Named([]byte(tc.body))
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Named(%s) = %v, want %v", tc.body, got, tc.want)
			}
		})
	}
}

// FuzzNamed checks Named against encoding/json's tokens on any input: it never
// panics, and on JSON it finds exactly the insurance numbers the tokens hold as
// values of insurance_no members.
func FuzzNamed(f *testing.F) {
	for _, seed := range []string{
		`{"insurance_no":"A11"}`, `[{"a":{"insurance_no":"B\u0032"}}]`, `{"insurance_no":"x\"y"}`, `"insurance_no"`, `{"insurance_no":`,
		`{"insurance_no":"A1","insurance_no":"B2"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := audit.Named(body)
		if !json.Valid(body) {
			return
		}
		want, err := namedByTokens(body)
		if err != nil {
			t.Fatalf("tokens of valid JSON: %v", err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("Named(%q) = %v, want %v", body, got, want)
		}
	})
}

// namedByTokens returns, sorted and each once, the valid insurance numbers that are
// string values of insurance_no members in body, read token by token.
func namedByTokens(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	// Numbers as their text: valid JSON may hold one no float64 holds (1E700).
	dec.UseNumber()
	type level struct {
		object, wantKey bool
		key             string
	}
	var stack []level
	var out []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			slices.Sort(out)
			return slices.Compact(out), nil
		}
		if err != nil {
			return nil, err
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:top]
				continue
			}
			stack[top].key, stack[top].wantKey = tok.(string), false
			continue
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true
			if s, ok := tok.(string); ok && stack[top].key == "insurance_no" && models.ValidIdentifier(s) {
				out = append(out, s)
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, level{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

func TestSubjectDisclosed(t *testing.T) {
	ctx, subject := audit.WithSubject(context.Background())
	audit.Disclose(ctx, "B2", "", "A11", "B2")
	audit.Disclose(context.Background(), "C3") // no subject: nothing happens
	if got, named := subject.Disclosed(); !slices.Equal(got, []string{"A11", "B2"}) || !named {
		t.Errorf("Disclosed() = %v, %v; want [A11 B2], true", got, named)
	}
	audit.DisclosesNone(ctx)
	if _, named := subject.Disclosed(); named {
		t.Error("after DisclosesNone, the answer's insurance numbers still disclose")
	}
}

// TestHashCoversPatients checks that an event that disclosed no patient keeps the
// hash it had before events recorded patients, and that changing any of the fields
// that record them changes the hash.
func TestHashCoversPatients(t *testing.T) {
	e := models.AuditEvent{ID: "c:000000000007", Chain: "c", Seq: 7, Time: time.Date(2025, 3, 4, 5, 6, 7, 8e6, time.UTC),
		KeyName: "dr-a", Role: models.RoleClinician, Action: "patients.read", Method: "GET", Route: "/api/v1/patients",
		InsuranceNo: "A11", Status: 200, ClientIP: "10.0.0.1", RequestID: "r-1", ClientRequestID: "mine", PrevHash: "p"}
	key := []byte("0123456789abcdef0123456789abcdef")
	// As computed by the service before events recorded patients.
	if got := audit.Hash(nil, e); got != "2ee0111c82cff57f836f679a81f77cf72eb0ced1f5ceaf652fb9beac76776789" {
		t.Errorf("the hash of an event without patients changed: %s", got)
	}
	if got := audit.Hash(key, e); got != "e1e3dfdc7effed5ef12bc02d3e0f94d730fb93010fb2eea156623c0eb0294171" {
		t.Errorf("the HMAC of an event without patients changed: %s", got)
	}
	many := make([]string, models.MaxEventPatients+5)
	for i := range many {
		many[i] = fmt.Sprintf("P%03d", i)
	}
	e.SetPatients(append(many, "not one", "", many[7]))
	if len(e.Patients) != models.MaxEventPatients || e.PatientsCount != len(many) || e.PatientsDigest != models.PatientsDigest(many) ||
		len(e.Disclosed()) != len(many) {
		t.Fatalf("SetPatients of %d: %d listed, count %d, digest %q", len(many), len(e.Patients), e.PatientsCount, e.PatientsDigest)
	}
	base := audit.Hash(key, e)
	for name, change := range map[string]func(*models.AuditEvent){
		"a patient":     func(e *models.AuditEvent) { e.Patients[3] = "Q" },
		"one fewer":     func(e *models.AuditEvent) { e.Patients = e.Patients[1:] },
		"the count":     func(e *models.AuditEvent) { e.PatientsCount-- },
		"the digest":    func(e *models.AuditEvent) { e.PatientsDigest = strings.Repeat("0", 64) },
		"moved between": func(e *models.AuditEvent) { e.PatientsCount, e.PatientsDigest = 0, "" },
	} {
		changed := e
		changed.Patients = slices.Clone(e.Patients)
		change(&changed)
		if audit.Hash(key, changed) == base {
			t.Errorf("changing %s leaves the hash as it was", name)
		}
	}
}

// TestPatientsPastTheIndexBound checks that an answer naming more patients than the
// index of audit events by patient holds for one event keeps its count and digest
// over all of them, and the index the first MaxDisclosedPatients.
func TestPatientsPastTheIndexBound(t *testing.T) {
	all := make([]string, models.MaxDisclosedPatients+500)
	for i := range all {
		all[i] = fmt.Sprintf("Q%05d", i)
	}
	var e models.AuditEvent
	e.SetPatients(all)
	if len(e.Patients) != models.MaxEventPatients || e.PatientsCount != len(all) || e.PatientsDigest != models.PatientsDigest(all) {
		t.Errorf("%d listed, count %d, digest %q", len(e.Patients), e.PatientsCount, e.PatientsDigest)
	}
	if got := e.Disclosed(); !slices.Equal(got, all[:models.MaxDisclosedPatients]) {
		t.Errorf("the index holds %d, from %v", len(got), got[:min(3, len(got))])
	}
}
