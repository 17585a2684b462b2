package app_test

import (
	"strings"
	"testing"
)

// FuzzWriteRoutes sends arbitrary bodies to the routes that take one: whatever arrives,
// the answer is never a 5xx, and it is always the one error shape or a record.
func FuzzWriteRoutes(f *testing.F) {
	for _, seed := range []string{
		`{"insurance_no":"A11","label":["a,b"],"metrics":{"BP":"120/80"},"qa":{"q":"a"},"x":[1,{"y":null}]}`,
		`{"insurance_no":"A11","next_steps":{"next_visit":"2024-01-01","prescribed_meds":["m"]},"health_status":3}`,
		`{"insurance_no":"A11","interaction_date":"2024-02-30"}`,
		`{"fname":"x","age":1e3}`, `{"$where":1}`, `{"a":{"b.c":1}}`, `[]`, `null`, `{"a":` + strings.Repeat("[", 40),
		`{"remarks":null,"metrics":{"t":null}}`, `{"id":"1"}`, `{"reason":"x"}`,
		`{"ailment":"Influenza","symptoms":"fever, cough","labels":["fever"],"asked":["Since when?"],"limit":3}`,
		`{"labels":"fever","asked":[null,1]}`,
		`{"insurance_no":"A11","interaction_date":"9999-12-31T23:59:59+00:01","next_steps":{"next_visit":"0001-01-01T00:00:00-00:01"}}`,
	} {
		f.Add(seed)
	}
	e := newEnv(f)
	e.createPatient("A11")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11"}`)
	f.Fuzz(func(t *testing.T, body string) {
		e := *e
		e.t = t
		for _, r := range []struct{ method, path string }{
			{"POST", "/api/v1/interactions"},
			{"POST", "/api/v1/patients"},
			{"PATCH", "/api/v1/interactions/1"},
			{"PATCH", "/api/v1/patients/A11"},
			{"POST", "/api/v1/suggestions/questions"},
		} {
			etag := ""
			if r.method == "PATCH" {
				etag = e.do("GET", r.path, "").header.Get("ETag")
			}
			res := e.do(r.method, r.path, body, "If-Match", etag)
			if res.status >= 500 {
				t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, res.status, res.body)
			}
			if res.status >= 400 {
				if v := res.json(t); v["error"] == nil {
					t.Fatalf("%s %s: error without the error shape: %s", r.method, r.path, res.body)
				}
			}
		}
	})
}
