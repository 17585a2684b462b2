package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// shapeEnv is a server over the test store as it runs on MongoDB: connected through
// MONGODB_URI, with a repository without the embedded store's lone-_id writes, side
// index or scan gate. It records every command of its database sent while step is
// set.
type shapeEnv struct {
	*env
	mu       sync.Mutex
	step     string
	commands []captured
}

func newShapeEnv(t *testing.T) *shapeEnv {
	t.Helper()
	if testStore.URI() == "" || strings.Contains(testStore.URI(), "***@") {
		t.Skip("needs the test store's URI, without credentials")
	}
	database := testStore.Database(t).Name()
	s := &shapeEnv{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.step == "" || e.DatabaseName != database {
			return
		}
		var body bson.D
		if err := bson.Unmarshal(e.Command, &body); err != nil {
			t.Errorf("decode %s: %v", e.CommandName, err)
			return
		}
		s.commands = append(s.commands, captured{step: s.step, name: e.CommandName, body: body})
	}}
	cfg, err := app.ConfigFrom(func(k string) string {
		return map[string]string{"MONGODB_URI": testStore.URI(), "MONGODB_DATABASE": database}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(io.MultiWriter(logs, &allLogs), nil))
	conn, err := app.Connect(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{Monitor: monitor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseLogged(slog.New(slog.NewJSONHandler(io.Discard, nil))) })
	repo := repository.New(conn.DB)
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	server, err := app.NewServer(logger, repo, app.ServerConfig{RequestTimeout: 10 * time.Second, Now: tickingClock()})
	if err != nil {
		t.Fatal(err)
	}
	s.env = &env{t: t, app: server, repo: repo, db: conn.DB, logs: logs, keys: map[models.Role]string{}}
	s.at("issue keys")
	keys := apikey.New(repo, nil, logger)
	for _, role := range models.Roles() {
		issued, err := keys.Issue(ctx, models.NewKeyRequest{Name: "shape-" + string(role), Role: role})
		if err != nil {
			t.Fatalf("issue %s key: %v", role, err)
		}
		s.keys[role] = issued.Key
	}
	s.key = s.keys[models.RoleClinician]
	return s
}

// at names the step of the exercise the next commands belong to.
func (s *shapeEnv) at(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step = step
}

// captured returns the commands recorded so far.
func (s *shapeEnv) captured() []captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// indexes returns the indexes of every collection of the database.
func (s *shapeEnv) indexes() map[string][]index {
	s.t.Helper()
	ctx := context.Background()
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string][]index{}
	for _, name := range names {
		specs, err := s.db.Collection(name).Indexes().ListSpecifications(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, spec := range specs {
			var keys bson.D
			if err := bson.Unmarshal(spec.KeysDocument, &keys); err != nil {
				s.t.Fatal(err)
			}
			out[name] = append(out[name], index{name: spec.Name, keys: keys, unique: spec.Unique != nil && *spec.Unique})
		}
	}
	return out
}

// exercise sends a request of every route, each step named for what it does.
func (s *shapeEnv) exercise() {
	s.t.Helper()
	step := func(name string, want int, method, path, body string, headers ...string) response {
		s.t.Helper()
		s.at(name)
		res := s.do(method, path, body, headers...)
		if res.status != want {
			s.t.Fatalf("%s: %s %s: status %d, want %d\n%s", name, method, path, res.status, want, res.body)
		}
		return res
	}
	patch := []string{"Content-Type", "application/merge-patch+json", "If-Match", `"1"`}
	step("create patient", 201, "POST", "/api/v1/patients", `{"insurance_no":"A11","fname":"Vernon","lname":"Lopez","age":30}`)
	step("create patient", 201, "POST", "/api/v1/patients", `{"insurance_no":"B11","fname":"Zebulon","lname":"Quixote"}`)
	step("read patient", 200, "GET", "/api/v1/patients/A11", "")
	step("amend patient", 200, "PATCH", "/api/v1/patients/A11?reason=typo", `{"age":31}`, patch...)
	step("patient versions", 200, "GET", "/api/v1/patients/A11/history?limit=1", "")
	step("patient version", 200, "GET", "/api/v1/patients/A11/history/1", "")
	for i, date := range []string{"2024-01-05", "2024-02-05", "2024-03-05"} {
		step("create interaction", 201, "POST", "/api/v1/interactions", fmt.Sprintf(
			`{"id":"%d","insurance_no":"A11","interaction_date":%q,"ailment":"Influenza","symptoms":"fever and cough","label":["fever"],"health_status":%d}`,
			i+1, date, i+4))
	}
	step("create interaction", 201, "POST", "/api/v1/interactions", `{"id":"9","insurance_no":"B11","interaction_date":"2024-01-09","label":["skin"]}`)
	step("create interaction with another patient's id", 409, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"B11","label":["skin"]}`)
	created := step("idempotent create", 201, "POST", "/api/v1/interactions", `{"insurance_no":"B11","label":["skin"]}`, "Idempotency-Key", "k-1")
	step("idempotent replay", 201, "POST", "/api/v1/interactions", `{"insurance_no":"B11","label":["skin"]}`, "Idempotency-Key", "k-1")
	reserved := created.json(s.t)["id"].(string)
	step("read interaction", 200, "GET", "/api/v1/interactions/"+url.PathEscape(reserved), "")
	step("read interaction", 200, "GET", "/api/v1/interactions/1", "")
	step("read unknown interaction", 404, "GET", "/api/v1/interactions/nope", "")
	step("amend interaction", 200, "PATCH", "/api/v1/interactions/1?reason=typo", `{"remarks":"better"}`, patch...)
	step("amend interaction", 200, "PATCH", "/api/v1/interactions/1?reason=again", `{"remarks":"best"}`,
		"Content-Type", "application/merge-patch+json", "If-Match", `"2"`)
	versions := step("interaction versions", 200, "GET", "/api/v1/interactions/1/history?limit=1", "").json(s.t)
	step("interaction versions", 200, "GET", "/api/v1/interactions/1/history?limit=1&cursor="+url.QueryEscape(versions["next_cursor"].(string)), "")
	step("interaction version", 200, "GET", "/api/v1/interactions/1/history/1", "")
	step("mark entered in error", 200, "DELETE", "/api/v1/interactions/3?reason=wrong%20patient", "", "If-Match", `"1"`)
	step("read entered in error", 410, "GET", "/api/v1/interactions/3", "")
	page := step("history", 200, "GET", "/api/v1/patients/A11/interactions?limit=1", "").json(s.t)
	step("history", 200, "GET", "/api/v1/patients/A11/interactions?limit=1&cursor="+url.QueryEscape(page["next_cursor"].(string)), "")
	step("history", 200, "GET", "/api/v1/patients/A11/interactions?label=fever&label_mode=all&include=entered-in-error", "")
	step("search of a patient", 200, "GET", "/api/v1/interactions?insurance_no=A11&ailment=influenza&from=2024-01-01&to=2024-12-31&health_status_min=2&health_status_max=9&q=feve&sort=date&limit=1", "")
	step("search of a patient", 200, "GET", "/api/v1/interactions?insurance_no=A11&label=fever", "")
	step("search across patients", 200, "GET", "/api/v1/interactions?limit=2", "")
	step("search across patients", 200, "GET", "/api/v1/interactions?ailment=influenza&q=cough", "")
	step("search across patients", 200, "GET", "/api/v1/interactions?label=skin&from=2024-01-01&sort=date", "")
	step("patient directory", 200, "GET", "/api/v1/patients?limit=1", "")
	step("patient directory", 200, "GET", "/api/v1/patients?q=vern", "")
	step("summary", 200, "GET", "/api/v1/patients/A11/summary", "")
	step("report", 200, "GET", "/api/v1/patients/A11/report", "")
	step("export", 200, "GET", "/api/v1/patients/A11/export", "")
	step("export", 200, "GET", "/api/v1/patients/A11/export?include=history", "")
	step("export", 200, "GET", "/api/v1/patients/A11/export?format=fhir", "")
	step("similar patients", 200, "GET", "/api/v1/patients/A11/similar?k=2", "")
	step("suggested questions", 200, "GET", "/api/v1/interactions/1/suggested-questions", "")
	step("suggested questions", 200, "POST", "/api/v1/suggestions/questions", `{"ailment":"Influenza","symptoms":"fever","labels":["fever"],"asked":[]}`)
	step("analytics", 200, "GET", "/api/v1/analytics/cohorts?k=2", "")
	step("analytics", 200, "GET", "/api/v1/analytics/labels?from=2024-01-01", "")
	step("analytics", 200, "GET", "/api/v1/analytics/ailments", "")
	step("summary", 200, "GET", "/api/v1/patients/A11/summary?format=text", "")
	step("fhir metadata", 200, "GET", "/fhir/R4/metadata", "")
	step("fhir read", 200, "GET", "/fhir/R4/Patient/A11", "")
	step("fhir read", 200, "GET", "/fhir/R4/Patient/A11/_history/1", "")
	step("fhir read", 200, "GET", "/fhir/R4/Encounter/1", "")
	step("fhir read", 200, "GET", "/fhir/R4/Observation/1-symptom-1/_history/2", "")
	step("fhir read", 200, "GET", "/fhir/R4/Condition/2-ailment", "")
	step("fhir read", 404, "GET", "/fhir/R4/Patient/unknown", "")
	step("fhir search of a patient", 200, "GET", "/fhir/R4/Encounter?patient=A11&_count=1", "")
	step("fhir search of a patient", 200, "GET", "/fhir/R4/Encounter?patient=A11&date=ge2024-02-01&_sort=date", "")
	step("fhir search of a patient", 200, "GET", "/fhir/R4/Observation?patient=A11&category=vital-signs", "")
	step("fhir search of a patient", 200, "GET", "/fhir/R4/Condition?patient=A11", "")
	step("fhir search of a patient", 200, "GET", "/fhir/R4/MedicationRequest?patient=A11&status=unknown", "")
	step("fhir search of a patient", 200, "GET", "/fhir/R4/Patient?identifier=A11", "")
	step("fhir search across patients", 200, "GET", "/fhir/R4/Encounter?_count=1", "")
	step("fhir search across patients", 200, "GET", "/fhir/R4/Patient?name=vern", "")
	step("fhir everything", 200, "GET", "/fhir/R4/Patient/A11/$everything?_count=2", "")
	step("fhir lastn", 200, "GET", "/fhir/R4/Observation/$lastn?patient=A11&category=vital-signs", "")
	step("fhir summary", 200, "GET", "/fhir/R4/Patient/A11/$summary", "")
	// The seed command's import inserts records in batches, then reads each one that
	// was stored already by its identity.
	s.at("import")
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	batch := []models.Interaction{
		{ID: "imported", InsuranceNo: "B11", InteractionDate: at, Label: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at},
		{ID: "1", InsuranceNo: "A11", InteractionDate: at, Label: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at},
	}
	res, err := s.repo.InsertInteractions(ctx, batch)
	if err != nil || res.Inserted != 1 || !slices.Equal(res.ExistingAt, []int{1}) {
		s.t.Fatalf("InsertInteractions = %+v, %v; want 1 inserted, the second existing", res, err)
	}
	if got, err := s.repo.Interaction(ctx, batch[1].ID); err != nil || got.InsuranceNo != "A11" {
		s.t.Fatalf("Interaction(%s) = %+v, %v", batch[1].ID, got, err)
	}
	if pres, err := s.repo.InsertPatients(ctx, []models.Patient{{InsuranceNo: "A11", Version: 1, CreatedAt: at, UpdatedAt: at}}); err != nil || pres.Existing != 1 {
		s.t.Fatalf("InsertPatients = %+v, %v; want the patient existing", pres, err)
	}
	if _, err := s.repo.Patient(ctx, "A11"); err != nil {
		s.t.Fatalf("Patient(A11): %v", err)
	}
	admin := s.as(models.RoleAdmin)
	s.at("keys")
	for _, r := range []struct {
		want         int
		method, path string
		body         string
	}{
		{201, "POST", "/api/v1/keys", `{"name":"extra","role":"viewer"}`},
		{200, "GET", "/api/v1/keys", ""},
		{200, "GET", "/api/v1/keys/extra", ""},
		{200, "DELETE", "/api/v1/keys/extra", ""},
	} {
		if res := admin.do(r.method, r.path, r.body); res.status != r.want {
			s.t.Fatalf("keys: %s %s: status %d, want %d\n%s", r.method, r.path, res.status, r.want, res.body)
		}
	}
	auditor := s.as(models.RoleAuditor)
	s.at("audit")
	for _, path := range []string{
		"/api/v1/audit?limit=2",
		"/api/v1/audit?action=interactions.read",
		"/api/v1/audit/verify",
	} {
		if res := auditor.do("GET", path, ""); res.status != 200 {
			s.t.Fatalf("audit: GET %s: status %d\n%s", path, res.status, res.body)
		}
	}
	s.at("audit of a patient")
	path := "/api/v1/audit?insurance_no=A11&key_name=shape-clinician&from=2020-01-01&limit=1"
	first := auditor.do("GET", path, "")
	next, _ := first.json(s.t)["next_cursor"].(string)
	if first.status != 200 || next == "" {
		s.t.Fatalf("audit: GET %s: status %d, want a first page\n%s", path, first.status, first.body)
	}
	if res := auditor.do("GET", path+"&cursor="+url.QueryEscape(next), ""); res.status != 200 {
		s.t.Fatalf("audit: GET %s and its cursor: status %d\n%s", path, res.status, res.body)
	}
	s.at("")
}
