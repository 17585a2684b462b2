package app_test

import (
	"strings"
	"testing"
)

func TestCreateAndGetPatient(t *testing.T) {
	e := newEnv(t)
	body := `{"insurance_no":"A11","fname":"Vernon","lname":"Lopez","addr":"Berliner Straße 123","age":30,"sex":"M",
		"ph_no":"0171 234567","email":"vernon@example.com","habits":["smoking","drinking"],
		"pre_existing_conditions":["Asthma"],"pre_existing_medications":["GTH 30mg"],"blood_type":"B+",
		"insurance_provider":"ABC","emergency_contact":{"name":"Ana","phone":"0171 999"},"allergies":["penicillin"]}`
	res := e.do("POST", "/api/v1/patients", body)
	if res.status != 201 {
		t.Fatalf("create: status %d\n%s", res.status, res.body)
	}
	if got := res.header.Get("Location"); got != "/api/v1/patients/A11" {
		t.Errorf("Location = %q", got)
	}
	created := res.json(t)
	got := e.mustDo(200, "GET", "/api/v1/patients/A11", "")
	for _, field := range []string{"insurance_no", "fname", "age", "habits", "blood_type", "emergency_contact", "allergies", "created_at", "updated_at"} {
		if jsonText(t, got[field]) != jsonText(t, created[field]) || got[field] == nil {
			t.Errorf("%s: stored %s, created %s", field, jsonText(t, got[field]), jsonText(t, created[field]))
		}
	}
	if want := `{"name":"Ana","phone":"0171 999"}`; jsonText(t, got["emergency_contact"]) != want {
		t.Errorf("extra field = %s, want %s", jsonText(t, got["emergency_contact"]), want)
	}
	if _, ok := got["_id"]; ok {
		t.Error("the store's _id leaks into the response")
	}

	t.Run("duplicate insurance number", func(t *testing.T) {
		res := e.do("POST", "/api/v1/patients", `{"insurance_no":"A11","fname":"Other"}`)
		assertError(t, res, 409, "conflict")
		if n := e.count("patients"); n != 1 {
			t.Errorf("%d patients stored, want 1", n)
		}
	})
	t.Run("unknown patient", func(t *testing.T) {
		assertError(t, e.do("GET", "/api/v1/patients/Z99", ""), 404, "not_found")
	})
	t.Run("invalid insurance number in path", func(t *testing.T) {
		assertError(t, e.do("GET", "/api/v1/patients/%24gt", ""), 400, "validation_failed")
	})
}

func TestCreatePatientValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		body  string
		field string
	}{
		{"missing insurance number", `{"fname":"A"}`, "insurance_no"},
		{"insurance number not a string", `{"insurance_no":11}`, "insurance_no"},
		{"insurance number with a slash", `{"insurance_no":"A/11"}`, "insurance_no"},
		{"age negative", `{"insurance_no":"P1","age":-1}`, "age"},
		{"age fractional", `{"insurance_no":"P1","age":30.5}`, "age"},
		{"age as text", `{"insurance_no":"P1","age":"30"}`, "age"},
		{"bad email", `{"insurance_no":"P1","email":"nobody"}`, "email"},
		{"bad blood type", `{"insurance_no":"P1","blood_type":"C+"}`, "blood_type"},
		{"habits not a list", `{"insurance_no":"P1","habits":"smoking"}`, "habits"},
		{"server timestamp supplied", `{"insurance_no":"P1","created_at":"2024-01-01"}`, "created_at"},
		{"store id supplied", `{"insurance_no":"P1","_id":"x"}`, "_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do("POST", "/api/v1/patients", tc.body)
			fields := assertError(t, res, 400, "validation_failed")
			if _, ok := fields[tc.field]; !ok {
				t.Errorf("fields = %v, want an entry for %q", fields, tc.field)
			}
		})
	}
	if n := e.count("patients"); n != 0 {
		t.Errorf("%d patients stored after invalid requests, want 0", n)
	}
}

// assertError checks status and the one error shape, and returns its fields.
func assertError(t *testing.T, res response, status int, code string) map[string]any {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d\n%s", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	v := res.json(t)
	if len(v) != 1 {
		t.Errorf("error body has keys beyond \"error\": %s", res.body)
	}
	body, ok := v["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", res.body)
	}
	if body["code"] != code {
		t.Errorf("code = %v, want %s (%s)", body["code"], code, res.body)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Errorf("empty message: %s", res.body)
	}
	for k := range body {
		if k != "code" && k != "message" && k != "fields" {
			t.Errorf("unexpected key %q in error: %s", k, res.body)
		}
	}
	fields, _ := body["fields"].(map[string]any)
	return fields
}
