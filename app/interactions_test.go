package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestCreateAndGetInteraction(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")

	body := `{"id":"1","insurance_no":"A11","ailment":"Influenza","symptoms":"Elevated body temperature",
		"interaction_date":"2024-10-01T09:30:00+02:00","metrics":{"temp":37.5,"BP":"120/80","ECG":"Normal"},
		"remarks":"visited other specialists","health_status":2,"qa":{"since":"4 weeks","travel":"no"},
		"next_steps":{"next_visit":"2024-10-12","prescribed_meds":["ABC 20mg","DEF 4mg"],"prescribed_tests":["MNO-A"],"prescribed_specialist":"pulmonologist"},
		"label":[" Fever, RESPIRATORY ","fever"],
		"custom":{"z":1,"a":[1,2.5,"s",null,true,{"k":"v"}],"big":9007199254740993},"ward":"3B"}`
	res := e.do("POST", "/api/v1/interactions", body)
	if res.status != 201 {
		t.Fatalf("create: status %d\n%s", res.status, res.body)
	}
	if got := res.header.Get("Location"); got != "/api/v1/interactions/1" {
		t.Errorf("Location = %q", got)
	}
	created := res.json(t)

	get := e.do("GET", "/api/v1/interactions/1", "")
	if get.status != 200 {
		t.Fatalf("get: status %d\n%s", get.status, get.body)
	}
	got := get.json(t)
	checks := map[string]string{
		"id":               `"1"`,
		"insurance_no":     `"A11"`,
		"interaction_date": `"2024-10-01T07:30:00Z"`,
		"metrics":          `{"BP":"120/80","ECG":"Normal","temp":37.5}`,
		"health_status":    `2`,
		"qa":               `{"since":"4 weeks","travel":"no"}`,
		"next_steps":       `{"next_visit":"2024-10-12T00:00:00Z","prescribed_meds":["ABC 20mg","DEF 4mg"],"prescribed_specialist":"pulmonologist","prescribed_tests":["MNO-A"]}`,
		"label":            `["fever","respiratory"]`,
		"ward":             `"3B"`,
	}
	for field, want := range checks {
		if g := jsonText(t, got[field]); g != want {
			t.Errorf("%s = %s, want %s", field, g, want)
		}
	}
	if jsonText(t, created) != jsonText(t, got) {
		t.Errorf("create answered\n%s\nbut the store holds\n%s", jsonText(t, created), jsonText(t, got))
	}
	// Extra fields come back exactly as sent: order, types and precision kept.
	if want := []byte(`"custom":{"z":1,"a":[1,2.5,"s",null,true,{"k":"v"}],"big":9007199254740993}`); !bytes.Contains(get.body, want) {
		t.Errorf("extra field not returned as sent:\n%s", get.body)
	}

	t.Run("dates are stored as BSON dates", func(t *testing.T) {
		var raw bson.Raw
		if err := e.db.Collection("interactions").FindOne(context.Background(), bson.D{{Key: "_id", Value: "1"}}).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		for _, key := range [][]string{{"interaction_date"}, {"next_steps", "next_visit"}, {"created_at"}} {
			if typ := raw.Lookup(key...).Type; typ != bson.TypeDateTime {
				t.Errorf("%v stored as %v, want a date", key, typ)
			}
		}
	})
	t.Run("duplicate id", func(t *testing.T) {
		assertError(t, e.do("POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11"}`), 409, "conflict")
	})
	t.Run("unknown patient", func(t *testing.T) {
		assertError(t, e.do("POST", "/api/v1/interactions", `{"id":"2","insurance_no":"Z99"}`), 404, "patient_not_found")
	})
	t.Run("unknown interaction", func(t *testing.T) {
		assertError(t, e.do("GET", "/api/v1/interactions/nope", ""), 404, "not_found")
	})
	if n := e.count("interactions"); n != 1 {
		t.Errorf("%d interactions stored, want 1", n)
	}
}

func TestCreateInteractionDefaults(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	before := time.Now().Add(-time.Second)
	got := e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"A11"}`)
	id, _ := got["id"].(string)
	if id == "" {
		t.Fatalf("no id assigned: %v", got)
	}
	date, err := time.Parse(time.RFC3339Nano, got["interaction_date"].(string))
	if err != nil || date.Before(before) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("interaction_date = %v, want now", got["interaction_date"])
	}
	if jsonText(t, got["label"]) != `[]` {
		t.Errorf("label = %s, want []", jsonText(t, got["label"]))
	}
	if got["created_at"] != got["updated_at"] || got["created_at"] == nil {
		t.Errorf("created_at %v, updated_at %v", got["created_at"], got["updated_at"])
	}
	e.mustDo(200, "GET", "/api/v1/interactions/"+id, "")

	second := e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"A11","label":null,"health_status":null}`)
	if second["id"] == id {
		t.Error("two interactions got the same id")
	}
}

func TestLabelForms(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	cases := []struct {
		label string
		want  string
	}{
		{`"fever"`, `["fever"]`},
		{`"Fever, Skin"`, `["fever","skin"]`},
		{`["GUT"," skin ","gut"]`, `["gut","skin"]`},
		{`["a,b","c"]`, `["a","b","c"]`},
		{`""`, `[]`},
		{`[]`, `[]`},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			// A string is accepted beyond the document, whose label is an array.
			res := e.doBeyondContract("POST", "/api/v1/interactions", `{"insurance_no":"A11","label":`+tc.label+`}`)
			if res.status != 201 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if g := jsonText(t, res.json(t)["label"]); g != tc.want {
				t.Errorf("label = %s, want %s", g, tc.want)
			}
		})
	}
}

func TestBadInteractionInput(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	deep := strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat(`}`, 32) // 33 levels with the document
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{"malformed JSON", `{"insurance_no":"A11",}`, "", 400, "malformed_body", ""},
		{"truncated JSON", `{"insurance_no":"A11"`, "", 400, "malformed_body", ""},
		{"empty body", ` `, "", 400, "malformed_body", ""},
		{"array body", `[{"insurance_no":"A11"}]`, "", 400, "malformed_body", ""},
		{"string body", `"A11"`, "", 400, "malformed_body", ""},
		{"null body", `null`, "", 400, "malformed_body", ""},
		{"two objects", `{"insurance_no":"A11"}{"insurance_no":"A11"}`, "", 400, "malformed_body", ""},
		{"invalid UTF-8", "{\"insurance_no\":\"A11\",\"remarks\":\"\xff\xfe\"}", "", 400, "malformed_body", ""},
		{"not JSON content type", `{"insurance_no":"A11"}`, "text/plain", 415, "unsupported_media_type", ""},
		{"form content type", `insurance_no=A11`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"missing insurance number", `{"ailment":"flu"}`, "", 400, "validation_failed", "insurance_no"},
		{"id not a string", `{"insurance_no":"A11","id":7}`, "", 400, "validation_failed", "id"},
		{"id with a slash", `{"insurance_no":"A11","id":"a/b"}`, "", 400, "validation_failed", "id"},
		{"symptoms not a string", `{"insurance_no":"A11","symptoms":["cough"]}`, "", 400, "validation_failed", "symptoms"},
		{"health status too low", `{"insurance_no":"A11","health_status":0}`, "", 400, "validation_failed", "health_status"},
		{"health status too high", `{"insurance_no":"A11","health_status":11}`, "", 400, "validation_failed", "health_status"},
		{"health status fractional", `{"insurance_no":"A11","health_status":3.5}`, "", 400, "validation_failed", "health_status"},
		{"health status as text", `{"insurance_no":"A11","health_status":"3"}`, "", 400, "validation_failed", "health_status"},
		{"bad date", `{"insurance_no":"A11","interaction_date":"12-10-2024"}`, "", 400, "validation_failed", "interaction_date"},
		{"date as number", `{"insurance_no":"A11","interaction_date":1700000000}`, "", 400, "validation_failed", "interaction_date"},
		{"metrics not an object", `{"insurance_no":"A11","metrics":"120/80"}`, "", 400, "validation_failed", "metrics"},
		{"qa answer not text", `{"insurance_no":"A11","qa":{"since":4}}`, "", 400, "validation_failed", "qa.since"},
		{"unknown next step", `{"insurance_no":"A11","next_steps":{"nextvisit":"2024-01-01"}}`, "", 400, "validation_failed", "next_steps.nextvisit"},
		{"bad next visit", `{"insurance_no":"A11","next_steps":{"next_visit":"soon"}}`, "", 400, "validation_failed", "next_steps.next_visit"},
		{"date in the year 10000 in UTC", `{"insurance_no":"A11","interaction_date":"9999-12-31T23:30:00-01:00"}`, "", 400, "validation_failed", "interaction_date"},
		{"next visit in the year 10000 in UTC", `{"insurance_no":"A11","next_steps":{"next_visit":"9999-12-31T23:30:00-01:00"}}`, "", 400, "validation_failed", "next_steps.next_visit"},
		{"meds not a list", `{"insurance_no":"A11","next_steps":{"prescribed_meds":"ABC"}}`, "", 400, "validation_failed", "next_steps.prescribed_meds"},
		{"label of numbers", `{"insurance_no":"A11","label":[1,2]}`, "", 400, "validation_failed", "label"},
		{"label too long", `{"insurance_no":"A11","label":["` + strings.Repeat("x", 65) + `"]}`, "", 400, "validation_failed", "label"},
		{"server timestamp supplied", `{"insurance_no":"A11","updated_at":"2024-01-01"}`, "", 400, "validation_failed", "updated_at"},
		{"operator at top level", `{"insurance_no":"A11","$where":"1"}`, "", 400, "validation_failed", "$where"},
		{"operator in metrics", `{"insurance_no":"A11","metrics":{"temp":{"$gt":1}}}`, "", 400, "validation_failed", "metrics.temp.$gt"},
		{"operator deep in an array", `{"insurance_no":"A11","x":[{"y":[{"$set":1}]}]}`, "", 400, "validation_failed", "x[0].y[0].$set"},
		{"dotted field name", `{"insurance_no":"A11","a.b":1}`, "", 400, "validation_failed", "a.b"},
		{"dotted name in extra object", `{"insurance_no":"A11","x":{"a.b":1}}`, "", 400, "validation_failed", "x.a.b"},
		{"NUL in field name", `{"insurance_no":"A11","a\u0000b":1}`, "", 400, "validation_failed", "a\x00b"},
		{"empty field name", `{"insurance_no":"A11","":1}`, "", 400, "validation_failed", ""},
		{"repeated field", `{"insurance_no":"A11","insurance_no":"B11"}`, "", 400, "validation_failed", "insurance_no"},
		{"integer beyond 64 bits", `{"insurance_no":"A11","x":123456789012345678901234567890}`, "", 400, "validation_failed", "x"},
		{"number out of range", `{"insurance_no":"A11","x":1e400}`, "", 400, "validation_failed", "x"},
		{"nesting deeper than 32", `{"insurance_no":"A11","x":` + deep + `}`, "", 400, "validation_failed", ""},
		{"very deep array", `{"insurance_no":"A11","x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`, "", 400, "validation_failed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var res response
			if tc.contentType != "" {
				res = e.do("POST", "/api/v1/interactions", tc.body, "Content-Type", tc.contentType)
			} else {
				res = e.do("POST", "/api/v1/interactions", tc.body)
			}
			fields := assertError(t, res, tc.status, tc.code)
			if tc.field != "" {
				if _, ok := fields[tc.field]; !ok {
					t.Errorf("fields = %v, want an entry for %q", fields, tc.field)
				}
			}
		})
	}
	t.Run("nesting of exactly 32 levels is accepted", func(t *testing.T) {
		ok := strings.Repeat(`{"a":`, 31) + `1` + strings.Repeat(`}`, 31)
		e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"deep","insurance_no":"A11","x":`+ok+`}`)
	})
	if n := e.count("interactions"); n != 1 {
		t.Errorf("%d interactions stored, want only the accepted one", n)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	// The limit applies while the request is read, so this test goes over a real socket.
	base := e.listen()
	// overLimit announces a body over the limit and reads the answer before sending it,
	// as a client honouring an early reply would.
	overLimit := func(path string) response {
		t.Helper()
		return rawRequest(t, base, fmt.Sprintf("POST %s HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d", path, 1<<20+1))
	}
	assertError(t, overLimit("/api/v1/interactions"), 413, "payload_too_large")
	assertError(t, overLimit("/api/v1/patients"), 413, "payload_too_large")

	// Just under the limit is fine.
	fits := `{"insurance_no":"A11","remarks":"` + strings.Repeat("x", 1<<20-100) + `"}`
	req, err := http.NewRequest("POST", base+"/api/v1/interactions", strings.NewReader(fits))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Errorf("body under the limit: %d", res.StatusCode)
	}
	if n := e.count("interactions"); n != 1 {
		t.Errorf("%d interactions stored, want 1", n)
	}
}
