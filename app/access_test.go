package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/llm"
	"github.com/clinic/interactions/models"
)

// accessRule is who may send a request of a route: the roles allowed it, and
// whether it is heavy (held to HEAVY_REQUESTS_PER_KEY).
type accessRule struct {
	route string // method and path template, as the route table has it
	query string // the query the request carries
	roles []models.Role
	heavy bool
}

var (
	clinician = []models.Role{models.RoleClinician}
	chart     = []models.Role{models.RoleClinician, models.RoleViewer}
	auditor   = []models.Role{models.RoleAuditor}
	admin     = []models.Role{models.RoleAdmin}
)

// accessRules are the rules of every /api/v1 route (see "Access control" in
// docs/guides/records-and-audit.md): a clinician writes and reads across patients; a
// viewer reads one named patient's chart, and finds a patient by name; an auditor
// reads the audit trail; an admin manages keys.
var accessRules = []accessRule{
	{route: "POST /api/v1/patients", roles: clinician},
	{route: "GET /api/v1/patients", roles: clinician},
	{route: "GET /api/v1/patients", query: "?q=patient", roles: chart},
	{route: "GET /api/v1/patients", query: "?q=", roles: clinician},
	{route: "GET /api/v1/patients/:insurance_no", roles: chart},
	{route: "PATCH /api/v1/patients/:insurance_no", roles: clinician},
	{route: "GET /api/v1/patients/:insurance_no/history", roles: chart},
	{route: "GET /api/v1/patients/:insurance_no/history/:version", roles: chart},
	{route: "GET /api/v1/patients/:insurance_no/interactions", roles: chart},
	{route: "GET /api/v1/patients/:insurance_no/summary", roles: chart, heavy: true},
	{route: "GET /api/v1/patients/:insurance_no/report", roles: chart, heavy: true},
	{route: "GET /api/v1/patients/:insurance_no/export", roles: chart, heavy: true},
	{route: "GET /api/v1/patients/:insurance_no/similar", roles: clinician, heavy: true},
	{route: "POST /api/v1/interactions", roles: clinician},
	{route: "GET /api/v1/interactions", roles: clinician},
	{route: "GET /api/v1/interactions", query: "?insurance_no=A11&label=fever", roles: chart},
	{route: "GET /api/v1/interactions", query: "?q=fever", roles: clinician},
	{route: "GET /api/v1/interactions/:id", roles: chart},
	{route: "PATCH /api/v1/interactions/:id", roles: clinician},
	{route: "DELETE /api/v1/interactions/:id", roles: clinician},
	{route: "GET /api/v1/interactions/:id/history", roles: chart},
	{route: "GET /api/v1/interactions/:id/history/:version", roles: chart},
	{route: "GET /api/v1/interactions/:id/suggested-questions", roles: chart, heavy: true},
	{route: "POST /api/v1/suggestions/questions", roles: clinician, heavy: true},
	{route: "GET /api/v1/analytics/cohorts", roles: clinician, heavy: true},
	{route: "GET /api/v1/analytics/labels", roles: clinician, heavy: true},
	{route: "GET /api/v1/analytics/ailments", roles: clinician, heavy: true},
	{route: "GET /api/v1/audit", roles: auditor},
	{route: "GET /api/v1/audit/verify", roles: auditor},
	{route: "POST /api/v1/keys", roles: admin},
	{route: "GET /api/v1/keys", roles: admin},
	{route: "GET /api/v1/keys/:name", roles: admin},
	{route: "DELETE /api/v1/keys/:name", roles: admin},
	// The FHIR API: a viewer searches only naming the patient.
	{route: "GET /fhir/R4/:type", roles: clinician},
	{route: "GET /fhir/R4/:type", query: "?identifier=A11", roles: chart},
	{route: "GET /fhir/R4/:type/:id", roles: chart},
	{route: "GET /fhir/R4/:type/:id/_history/:vid", roles: chart},
	{route: "GET /fhir/R4/Observation/$lastn", query: "?patient=A11", roles: chart},
	{route: "GET /fhir/R4/Patient/:id/$everything", roles: chart, heavy: true},
	{route: "GET /fhir/R4/Patient/:id/$summary", roles: chart, heavy: true},
}

// checkAccessRules fails t unless accessRules has a rule for every route of e's
// server that needs a key (under /api/v1 and /fhir/R4, but the FHIR capabilities),
// and names no other.
func checkAccessRules(t *testing.T, e *env) {
	t.Helper()
	served := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		keyed := strings.HasPrefix(r.Path, "/api/v1/") || strings.HasPrefix(r.Path, "/fhir/R4/") && r.Path != "/fhir/R4/metadata"
		if keyed && r.Method != "HEAD" {
			served[r.Method+" "+r.Path] = true
		}
	}
	for route := range served {
		if !slices.ContainsFunc(accessRules, func(a accessRule) bool { return a.route == route }) {
			t.Errorf("no access rule for %s: add one to accessRules", route)
		}
	}
	for _, a := range accessRules {
		if !served[a.route] {
			t.Errorf("an access rule for %s, which the server does not serve", a.route)
		}
	}
}

// requestOf returns the method and path of a request of rule a, its path's
// parameters those of accessEnv's records.
func requestOf(a accessRule) (method, path string) {
	method, path, _ = strings.Cut(a.route, " ")
	if strings.HasPrefix(path, "/fhir/") {
		path = strings.NewReplacer(":type", "Patient", ":id", "A11", ":vid", "1").Replace(path)
	}
	path = strings.NewReplacer(":insurance_no", "A11", ":id", "1", ":version", "1", ":name", "nobody").Replace(path)
	return method, path + a.query
}

// assertRefused fails t unless res is a refusal with status and, on /api/v1, code
// (the FHIR API answers an OperationOutcome).
func assertRefused(t *testing.T, path string, res response, status int, code string) {
	t.Helper()
	if strings.HasPrefix(path, "/fhir/") {
		if res.status != status {
			t.Errorf("status %d, want %d\n%s", res.status, status, res.body)
		}
		return
	}
	assertError(t, res, status, code)
}

// accessEnv returns an env holding the patient A11 with one interaction, 1.
func accessEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.createPatient("A11")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11","label":["fever"],"qa":{"Since when?":"2 days"}}`)
	return e
}

// TestRoleMatrix sends a request of every route that needs a key, by every rule of
// it, with a key of every role: each is refused with 403 forbidden exactly where its
// rule does not name the role. A route of the server without a rule fails the test.
func TestRoleMatrix(t *testing.T) {
	e := accessEnv(t)
	checkAccessRules(t, e)
	for _, a := range accessRules {
		for _, role := range models.Roles() {
			t.Run(fmt.Sprintf("%s%s as %s", a.route, a.query, role), func(t *testing.T) {
				method, path := requestOf(a)
				res := e.as(role).doBeyondContract(method, path, "")
				if !slices.Contains(a.roles, role) {
					assertRefused(t, path, res, 403, "forbidden")
					return
				}
				if res.status == 403 || res.status == 401 || res.status >= 500 {
					t.Errorf("status %d, want the route's own answer\n%s", res.status, res.body)
				}
			})
		}
	}
}

// heldModel is a language model that holds the first hold requests until release
// is closed, saying on arrived when each comes in, and fails the others at once.
type heldModel struct {
	mu      sync.Mutex
	hold    int
	arrived chan struct{}
	release chan struct{}
}

func (m *heldModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	held := m.hold > 0
	m.hold--
	m.mu.Unlock()
	if held {
		m.arrived <- struct{}{}
		select {
		case <-m.release:
		case <-r.Context().Done():
		}
	}
	http.Error(w, "no answer", http.StatusServiceUnavailable)
}

// TestHeavyRequests holds two heavy requests of the clinician's key open, waiting on
// the language model, with HEAVY_REQUESTS_PER_KEY at 2: meanwhile every heavy route
// refuses that key with 429 rate_limited and Retry-After, every other route of its
// role answers as it does, and another key's heavy requests go through; once they
// end, the key's next heavy request goes through.
func TestHeavyRequests(t *testing.T) {
	model := &heldModel{hold: 2, arrived: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(model)
	t.Cleanup(srv.Close)
	e := newEnvWithConfig(t, app.ServerConfig{RequestTimeout: 2 * time.Minute, HeavyRequests: 2,
		LLM: llm.Config{BaseURL: srv.URL + "/v1", Model: "held", Timeout: 2 * time.Minute}})
	e.createPatient("A11")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11","label":["fever"],"qa":{"Since when?":"2 days"}}`)
	checkAccessRules(t, e)

	held := make(chan response, 2)
	var running sync.WaitGroup
	release := sync.OnceFunc(func() { close(model.release) })
	// However the test ends, the held requests end before the model's server closes.
	t.Cleanup(func() { release(); running.Wait() })
	for range 2 {
		running.Go(func() {
			held <- e.doBeyondContract("GET", "/api/v1/patients/A11/summary?format=text", "")
		})
	}
	for range 2 {
		<-model.arrived
	}
	for _, a := range accessRules {
		if !slices.Contains(a.roles, models.RoleClinician) {
			continue
		}
		method, path := requestOf(a)
		res := e.doBeyondContract(method, path, "")
		if a.heavy {
			assertRefused(t, path, res, 429, "rate_limited")
			if got := res.header.Get("Retry-After"); got != "1" {
				t.Errorf("%s%s: Retry-After %q, want 1", a.route, a.query, got)
			}
		} else if res.status == 429 {
			t.Errorf("%s%s, not heavy, was refused: %s", a.route, a.query, res.body)
		}
	}
	e.as(models.RoleViewer).mustDo(200, "GET", "/api/v1/patients/A11/summary", "")
	release()
	for range 2 {
		if res := <-held; res.status != 200 {
			t.Errorf("a held request ended with %d: %s", res.status, res.body)
		}
	}
	e.mustDo(200, "GET", "/api/v1/patients/A11/summary", "")
}
