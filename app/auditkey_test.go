package app_test

import (
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
)

// TestTheTrailKeepsItsKey runs the key command and the server with other audit keys
// than the trail's, as found: each refuses to start, naming AUDIT_HMAC_KEY, and
// writes nothing. A rotation (the new key, the old one among the previous keys)
// is accepted, and the old chains verify only while the old key is given.
func TestTheTrailKeepsItsKey(t *testing.T) {
	freshRunEnv(t)
	oldKey, newKey := strings.Repeat("a", 32), strings.Repeat("b", 32)
	keys := func(key, previous string, args ...string) (string, error) {
		t.Helper()
		t.Setenv("AUDIT_HMAC_KEY", key)
		t.Setenv("AUDIT_HMAC_PREVIOUS_KEYS", previous)
		out := &strings.Builder{}
		err := app.Run(context.Background(), append([]string{"keys"}, args...), out, io.Discard)
		return out.String(), err
	}
	refused := func(err error, what string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "AUDIT_HMAC_KEY") {
			t.Errorf("%s: %v, want a refusal naming AUDIT_HMAC_KEY", what, err)
		}
	}
	if _, err := keys(oldKey, "", "create", "-name", "nurse-joy", "-role", "viewer"); err != nil {
		t.Fatalf("keys create on an empty trail: %v", err)
	}
	_, err := keys(newKey, "", "list")
	refused(err, "keys list with another key")
	_, err = keys("", "", "list")
	refused(err, "keys list without a key")
	if _, err := keys(newKey, oldKey, "list"); err != nil {
		t.Fatalf("keys list after a rotation: %v", err)
	}
	_, err = keys(oldKey, "", "list")
	refused(err, "keys list with the key the trail had before the rotation")

	out, err := keys(newKey, oldKey, "create", "-name", "audrey", "-role", "auditor")
	if err != nil {
		t.Fatal(err)
	}
	auditor := regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(out)
	verify := func() map[string]any {
		t.Helper()
		srv := startRun(t)
		defer srv.stop()
		status, body := request(t, "GET", srv.base+"/api/v1/audit/verify", auditor, "")
		var v map[string]any
		if status != 200 || json.Unmarshal(body, &v) != nil {
			t.Fatalf("verify: %d %s", status, body)
		}
		return v
	}
	if v := verify(); v["ok"] != true || v["chains_failed_total"] != 0.0 {
		t.Errorf("verify with the old key among the previous = %v", v)
	}
	t.Setenv("AUDIT_HMAC_PREVIOUS_KEYS", "")
	v := verify()
	breaks, _ := v["breaks"].([]any)
	if v["ok"] != false || len(breaks) == 0 || !strings.Contains(jsonText(t, breaks), "AUDIT_HMAC_PREVIOUS_KEYS") {
		t.Errorf("verify without the old key = %v, want the old chains reported as keyed with a key not given", v)
	}

	for _, key := range []string{oldKey, ""} {
		t.Setenv("AUDIT_HMAC_KEY", key)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := app.Run(ctx, nil, io.Discard, io.Discard)
		cancel()
		refused(err, "the server with the key "+key)
	}
}

// TestServerWarnsWithoutAuditKey starts the server twice without AUDIT_HMAC_KEY: each
// start warns that the trail's hashes can be recomputed by anyone.
func TestServerWarnsWithoutAuditKey(t *testing.T) {
	freshRunEnv(t)
	t.Setenv("AUDIT_HMAC_KEY", "")
	for i := range 2 {
		srv := startRun(t)
		srv.stop()
		if !regexp.MustCompile(`"level":"WARN","msg":"[^"]*AUDIT_HMAC_KEY`).MatchString(srv.logs.String()) {
			t.Errorf("start %d logged no warning naming AUDIT_HMAC_KEY:\n%s", i+1, srv.logs)
		}
	}
}
