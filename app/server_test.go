package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

func TestHealth(t *testing.T) {
	e := newEnv(t)
	if got := e.mustDo(200, "GET", "/healthz", ""); got["status"] != "ok" {
		t.Errorf("healthz = %v", got)
	}
	if got := e.mustDo(200, "GET", "/readyz", ""); got["status"] != "ready" || fmt.Sprint(got["store"]) != "map[kind:standalone]" {
		t.Errorf("readyz = %v, want ready on a standalone store", got)
	}

	t.Run("readyz is 503 when the store is unreachable", func(t *testing.T) {
		cfg := app.Config{MongoURI: testStore.URI(), Database: "unreachable"}
		if cfg.MongoURI == "" || strings.Contains(cfg.MongoURI, "***") {
			t.Skip("needs a store URI without credentials")
		}
		s, err := app.Connect(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		server, err := app.NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), repository.New(s.DB), app.ServerConfig{RequestTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		down := &env{t: t, app: server, key: e.key}
		assertError(t, down.do("GET", "/readyz", ""), 503, "unavailable")
		if got := down.mustDo(200, "GET", "/healthz", ""); got["status"] != "ok" {
			t.Errorf("healthz = %v", got)
		}
		assertError(t, down.do("GET", "/api/v1/patients/A11", ""), 503, "unavailable")
	})
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t)
	assertError(t, e.do("GET", "/api/v1/nothing", ""), 404, "not_found")
	assertError(t, e.do("DELETE", "/api/v1/patients", ""), 405, "method_not_allowed")
	assertError(t, e.do("PUT", "/api/v1/interactions/1", `{}`), 405, "method_not_allowed")
}

// TestIndexes checks the indexes the service makes: on MongoDB those of its
// queries; on FerretDB, whose queries use none but _id's (the side index serves them
// on the embedded store), only those that enforce uniqueness, which every write there
// would otherwise keep up to date for nothing.
func TestIndexes(t *testing.T) {
	e := newEnv(t)
	// A second start must not fail on the indexes the first created.
	if err := e.repo.EnsureIndexes(context.Background()); err != nil {
		t.Fatalf("second EnsureIndexes: %v", err)
	}
	want := map[string]map[string]string{
		"interactions": {
			`{"_id":1}`: "",
			`{"insurance_no":1,"label":1,"interaction_date":-1}`: "",
			`{"insurance_no":1,"interaction_date":-1,"_id":-1}`:  "",
			`{"interaction_date":-1,"_id":-1}`:                   "",
			`{"ailment_key":1,"interaction_date":-1,"_id":-1}`:   "",
			`{"search_tokens":1}`:                                "",
		},
		"patients":     {`{"_id":1}`: "the insurance number, unique as every _id", `{"sort_key":1,"_id":1}`: "", `{"search_keys":1}`: ""},
		"api_keys":     {`{"_id":1}`: "", `{"name":1}`: "unique"},
		"audit_events": {`{"_id":1}`: "", `{"chain":1,"seq":1}`: "unique", `{"time":-1,"_id":-1}`: ""},
	}
	if testStore.FerretDB() {
		for _, indexes := range want {
			for key, kind := range indexes {
				if kind == "" && key != `{"_id":1}` {
					delete(indexes, key)
				}
			}
		}
	}
	for coll, indexes := range want {
		cur, err := e.db.Collection(coll).Indexes().List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var specs []struct {
			Key    bson.D `bson:"key"`
			Unique bool   `bson:"unique"`
		}
		if err := cur.All(context.Background(), &specs); err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, s := range specs {
			key, err := json.Marshal(normalizeKey(s.Key))
			if err != nil {
				t.Fatal(err)
			}
			found[string(key)] = true
			if kind, ok := indexes[string(key)]; !ok {
				t.Errorf("%s has index %s, which it should not", coll, key)
			} else if kind == "unique" && !s.Unique {
				t.Errorf("%s index %s is not unique", coll, key)
			}
		}
		for key := range indexes {
			if !found[key] {
				t.Errorf("%s lacks index %s (has %v)", coll, key, found)
			}
		}
	}
	t.Run("one patient per insurance number", func(t *testing.T) {
		p := models.Patient{InsuranceNo: "U1", Version: 1}
		_, err := e.db.Collection("patients").InsertMany(context.Background(), []any{p, p})
		if err == nil {
			t.Error("two patients with one insurance number were stored")
		}
	})
}

// normalizeKey turns index key values (int32, int64 or double) into ints.
func normalizeKey(d bson.D) bson.D {
	out := bson.D{}
	for _, e := range d {
		v := e.Value
		switch n := v.(type) {
		case int32:
			v = int(n)
		case int64:
			v = int(n)
		case float64:
			v = int(n)
		}
		out = append(out, bson.E{Key: e.Key, Value: v})
	}
	return out
}

func TestDocs(t *testing.T) {
	e := newEnv(t)
	res := e.do("GET", "/docs/doc.json", "")
	if res.status != 200 {
		t.Fatalf("doc.json: %d", res.status)
	}
	var spec struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(res.body, &spec); err != nil {
		t.Fatalf("doc.json: %v", err)
	}
	routes := map[string][]string{
		"/api/v1/patients":                             {"post"},
		"/api/v1/patients/{insurance_no}":              {"get"},
		"/api/v1/patients/{insurance_no}/interactions": {"get"},
		"/api/v1/interactions":                         {"post"},
		"/api/v1/interactions/{id}":                    {"get"},
		"/healthz":                                     {"get"},
		"/readyz":                                      {"get"},
	}
	for path, methods := range routes {
		for _, m := range methods {
			op, ok := spec.Paths[path][m]
			if !ok {
				t.Errorf("doc.json lacks %s %s", m, path)
				continue
			}
			if len(op.Responses) < 2 && path != "/healthz" {
				t.Errorf("%s %s documents %d responses", m, path, len(op.Responses))
			}
		}
	}
	ui := e.do("GET", "/docs/index.html", "")
	if ui.status != 200 || !strings.Contains(string(ui.body), "swagger-ui") {
		t.Errorf("Swagger UI: %d", ui.status)
	}
	if res := e.do("GET", "/docs", ""); res.status != 301 && res.status != 200 {
		t.Errorf("/docs: %d", res.status)
	}
}

// TestLogsCarryNoPatientData sends requests full of patient data and checks that the
// logs name routes, never the values.
func TestLogsCarryNoPatientData(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "POST", "/api/v1/patients", `{"insurance_no":"SECRET-INS-42","fname":"Zebulon","lname":"Quixote"}`)
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"SECRET-ID-7","insurance_no":"SECRET-INS-42","symptoms":"hallucinations"}`)
	e.mustDo(200, "GET", "/api/v1/patients/SECRET-INS-42/interactions?label=psychiatry", "")
	e.do("POST", "/api/v1/patients", `{"insurance_no":"SECRET-INS-42","fname":"Zebulon"}`)
	e.do("POST", "/api/v1/interactions", `{"insurance_no":"SECRET-INS-43"}`)
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"/api/v1/patients/:insurance_no/interactions"`) {
		t.Fatalf("requests were not logged:\n%s", logs)
	}
	for _, secret := range []string{"SECRET", "Zebulon", "Quixote", "hallucinations", "psychiatry"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

// TestSwaggerUIRenders opens the Swagger UI in headless Chromium, as a person does:
// it renders every operation of the document and offers to authorize.
func TestSwaggerUIRenders(t *testing.T) {
	chromium := chromiumPath(t)
	e := newEnv(t)
	base := e.listen()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", base+"/docs/index.html").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	page := string(out)
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.Contains(page, ">"+op.Summary+"<") {
				t.Errorf("the page does not show %s %s (%s)", method, path, op.Summary)
			}
		}
	}
	if !strings.Contains(page, "btn authorize") {
		t.Error("the page offers no Authorize button")
	}
}
