package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/reconcile"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
)

// exportLines sends GET .../export with query for patient no, which must answer 200
// with contentType, and returns the lines of the answer, each decoded.
func (e *env) exportLines(no, query, contentType string) []map[string]any {
	e.t.Helper()
	res := e.do("GET", "/api/v1/patients/"+no+"/export"+query, "")
	if res.status != 200 || res.header.Get("Content-Type") != contentType {
		e.t.Fatalf("export %s%s: %d %s\n%.500s", no, query, res.status, res.header.Get("Content-Type"), res.body)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(res.body))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			e.t.Fatalf("line %d of the export is not a JSON object: %v", len(lines)+1, err)
		}
		lines = append(lines, v)
	}
	return lines
}

// createChart records patient no and the interactions, in order; each body is
// completed with the patient's insurance number.
func (e *env) createChart(patient string, interactions ...string) {
	e.t.Helper()
	e.mustDo(201, "POST", "/api/v1/patients", patient)
	no := e.mustDo(200, "GET", "/api/v1/patients/"+jsonField(e.t, patient, "insurance_no"), "")["insurance_no"].(string)
	for _, in := range interactions {
		e.mustDo(201, "POST", "/api/v1/interactions", strings.Replace(in, "{", fmt.Sprintf(`{"insurance_no":%q,`, no), 1))
	}
}

func jsonField(t testing.TB, doc, field string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return v[field].(string)
}

// changeInteraction sends a PATCH or a DELETE of interaction id at version 1, with
// reason, which must answer 200.
func (e *env) changeInteraction(method, id, reason, patch string) {
	e.t.Helper()
	path := "/api/v1/interactions/" + id + "?reason=" + url.QueryEscape(reason)
	headers := []string{"If-Match", `"1"`}
	if patch != "" {
		headers = append(headers, "Content-Type", "application/merge-patch+json")
	}
	if res := e.do(method, path, patch, headers...); res.status != 200 {
		e.t.Fatalf("%s %s: %d\n%s", method, id, res.status, res.body)
	}
}

func TestExportNDJSON(t *testing.T) {
	e := newEnv(t)
	e.createChart(`{"insurance_no":"EXP1","fname":"Ada","lname":"King","age":52,"sex":"F","blood_type":"O+","allergies":["penicillin"]}`,
		`{"id":"visit-a","interaction_date":"2024-01-10T09:00:00Z","ailment":"Influenza","label":["fever"],"ward":"3B"}`,
		`{"id":"visit-b","interaction_date":"2024-02-10T09:00:00Z","ailment":"Migraine"}`,
		`{"id":"visit-c","interaction_date":"2024-03-10T09:00:00Z","ailment":"Gout"}`)
	e.changeInteraction("PATCH", "visit-b", "typo", `{"ailment":"Tension headache"}`)
	e.changeInteraction("DELETE", "visit-c", "wrong patient", "")

	lines := e.exportLines("EXP1", "", "application/x-ndjson")
	var got []string
	for _, l := range lines {
		for kind, rec := range l {
			r := rec.(map[string]any)
			got = append(got, fmt.Sprintf("%s %v%v v%v %v", kind, r["insurance_no"], orEmpty(r["id"]), r["version"], orEmpty(r["status"])))
		}
	}
	want := []string{"patient EXP1 v1 ", "interaction EXP1visit-c v2 entered-in-error", "interaction EXP1visit-b v2 ", "interaction EXP1visit-a v1 "}
	if !slices.Equal(got, want) {
		t.Fatalf("export lines %q\nwant %q: the patient, then every interaction newest first, the one entered in error marked", got, want)
	}
	// Each line holds the record as the API answers it.
	if g, w := jsonText(t, lines[0]["patient"]), jsonText(t, e.mustDo(200, "GET", "/api/v1/patients/EXP1", "")); g != w {
		t.Errorf("patient line %s\nwant %s", g, w)
	}
	if g, w := jsonText(t, lines[2]["interaction"]), jsonText(t, e.mustDo(200, "GET", "/api/v1/interactions/visit-b", "")); g != w {
		t.Errorf("interaction line %s\nwant %s", g, w)
	}
	if voided := lines[1]["interaction"].(map[string]any); voided["amendment_reason"] != "wrong patient" {
		t.Errorf("the interaction entered in error: %v, want its reason", voided)
	}

	history := e.exportLines("EXP1", "?include=history", "application/x-ndjson")
	got = got[:0]
	for _, l := range history {
		for kind, rec := range l {
			r := rec.(map[string]any)
			got = append(got, fmt.Sprintf("%s %v v%v %v", kind, orEmpty(r["id"]), r["version"], orEmpty(r["ailment"])))
		}
	}
	want = []string{"patient  v1 ", "interaction visit-c v1 Gout", "interaction visit-c v2 Gout",
		"interaction visit-b v1 Migraine", "interaction visit-b v2 Tension headache", "interaction visit-a v1 Influenza"}
	if !slices.Equal(got, want) {
		t.Errorf("export with history %q\nwant %q: every version, oldest first", got, want)
	}

	t.Run("roles", func(t *testing.T) {
		e.as(models.RoleViewer).exportLines("EXP1", "?format=fhir-ndjson", "application/fhir+ndjson")
		assertError(t, e.as(models.RoleAuditor).do("GET", "/api/v1/patients/EXP1/export", ""), 403, "forbidden")
	})
	t.Run("bad requests", func(t *testing.T) {
		assertError(t, e.do("GET", "/api/v1/patients/NOPE/export", ""), 404, "patient_not_found")
		for _, q := range []string{"?format=csv", "?include=versions", "?format=fhir&include=history", "?limit=5"} {
			assertError(t, e.do("GET", "/api/v1/patients/EXP1/export"+q, ""), 400, "validation_failed")
		}
	})
	t.Run("audited", func(t *testing.T) {
		page := e.as(models.RoleAuditor).mustDo(200, "GET", "/api/v1/audit?insurance_no=EXP1&action=patients.export.read", "")
		if n := len(page["items"].([]any)); n < 3 {
			t.Errorf("%d audit events of exports of EXP1, want one per export", n)
		}
	})
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// fullVisit uses every field the FHIR export maps.
const fullVisit = `{"id":"visit-full","interaction_date":"2024-05-02T14:30:00.250Z","ailment":"Community-acquired pneumonia",
	"symptoms":"fever; productive cough","remarks":"Crackles right base. <b>Not</b> tagged & fine.",
	"metrics":{"temp":39.2,"BP":"135/85","HR":104,"SpO2":93,"weight":72.5,"ECG":"sinus tachycardia","units":{"temp":"Cel"}},
	"qa":{"since when?":"3 days","smoker?":"no"},"health_status":5,
	"next_steps":{"next_visit":"2024-05-09","prescribed_meds":["Amoxicillin 1 g","Paracetamol 500 mg"],"prescribed_tests":["Chest X-ray"]},
	"label":["respiratory","emergency"]}`

func TestExportFHIR(t *testing.T) {
	e := newEnv(t)
	e.createChart(`{"insurance_no":"EXP2","fname":"Bea","lname":"Moss","age":41,"sex":"F","ph_no":"0171 55"}`,
		fullVisit,
		`{"id":"visit-void","interaction_date":"2024-06-01","ailment":"Otitis","next_steps":{"prescribed_meds":["Ear drops"]}}`,
		`{"id":"visit-bare","interaction_date":"2024-07-01"}`)
	e.changeInteraction("DELETE", "visit-void", "wrong patient", "")

	bundles := e.exportLines("EXP2", "?format=fhir", "application/fhir+json")
	if len(bundles) != 1 || bundles[0]["resourceType"] != "Bundle" || bundles[0]["type"] != "collection" {
		t.Fatalf("want one Bundle of type collection, got %d lines, %v %v", len(bundles), bundles[0]["resourceType"], bundles[0]["type"])
	}
	byURL := map[string]map[string]any{}
	var resources []map[string]any
	for _, entry := range bundles[0]["entry"].([]any) {
		en := entry.(map[string]any)
		full, r := en["fullUrl"].(string), en["resource"].(map[string]any)
		if !strings.HasPrefix(full, "urn:uuid:") || byURL[full] != nil {
			t.Errorf("fullUrl %q: not a urn:uuid, or twice", full)
		}
		byURL[full] = r
		resources = append(resources, r)
	}
	// References resolve inside the Bundle.
	resolve := func(ref any) map[string]any {
		m, _ := ref.(map[string]any)
		r := byURL[fmt.Sprint(m["reference"])]
		if r == nil {
			t.Errorf("reference %v resolves to no entry", ref)
		}
		return r
	}
	patient := resources[0]
	if patient["resourceType"] != "Patient" {
		t.Fatalf("first resource %v, want the Patient", patient["resourceType"])
	}
	id := patient["identifier"].([]any)[0].(map[string]any)
	coding := id["type"].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if id["value"] != "EXP2" || coding["system"] != "http://terminology.hl7.org/CodeSystem/v2-0203" || coding["code"] != "MB" {
		t.Errorf("patient identifier %v, want EXP2 of type MB", id)
	}

	// Resources by encounter, in order: visit-bare, visit-void, visit-full (newest first).
	type visit struct {
		encounter map[string]any
		rest      []map[string]any
	}
	var visits []*visit
	for _, r := range resources[1:] {
		if r["resourceType"] == "Encounter" {
			if resolve(r["subject"])["id"] != patient["id"] {
				t.Errorf("encounter %v: subject is not the patient", r["id"])
			}
			visits = append(visits, &visit{encounter: r})
			continue
		}
		if resolve(r["subject"])["id"] != patient["id"] || resolve(encounterRef(r))["id"] != visits[len(visits)-1].encounter["id"] {
			t.Errorf("%s %v does not refer to the patient and the encounter before it", r["resourceType"], r["id"])
		}
		visits[len(visits)-1].rest = append(visits[len(visits)-1].rest, r)
	}
	var ids []string
	for _, v := range visits {
		ids = append(ids, fmt.Sprint(v.encounter["id"]))
	}
	if !slices.Equal(ids, []string{"visit-bare", "visit-void", "visit-full"}) {
		t.Fatalf("encounters %q, one per interaction, newest first", ids)
	}

	bare, void, full := visits[0], visits[1], visits[2]
	if len(bare.rest) != 0 || bare.encounter["status"] != "finished" || bare.encounter["class"].(map[string]any)["code"] != "UNK" {
		t.Errorf("visit-bare: %v and %d resources, want a finished encounter of unknown class alone", bare.encounter, len(bare.rest))
	}
	for _, r := range append([]map[string]any{void.encounter}, void.rest...) {
		status := r["status"]
		if r["resourceType"] == "Condition" {
			status = r["verificationStatus"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]
		}
		if status != "entered-in-error" {
			t.Errorf("visit-void %s: status %v, want entered-in-error", r["resourceType"], status)
		}
	}

	enc := full.encounter
	if enc["class"].(map[string]any)["code"] != "EMER" || enc["period"].(map[string]any)["start"] != "2024-05-02T14:30:00.25Z" ||
		enc["reasonCode"].([]any)[0].(map[string]any)["text"] != "Community-acquired pneumonia" {
		t.Errorf("visit-full encounter %v", enc)
	}
	var kinds []string
	vitals := map[string]string{}
	for _, r := range full.rest {
		kinds = append(kinds, r["resourceType"].(string))
		switch r["resourceType"] {
		case "Condition":
			if r["code"].(map[string]any)["text"] != "Community-acquired pneumonia" {
				t.Errorf("condition %v, want the ailment", r)
			}
		case "Observation":
			vitals[observationCode(r)] = observationValue(r)
		case "MedicationRequest":
			if r["intent"] != "order" {
				t.Errorf("medication request %v", r)
			}
			vitals["med"] += r["medicationCodeableConcept"].(map[string]any)["text"].(string) + ";"
		case "QuestionnaireResponse":
			item := r["item"].([]any)[0].(map[string]any)
			vitals["qa"] = fmt.Sprint(item["text"], "=", item["answer"].([]any)[0].(map[string]any)["valueString"])
		case "DocumentReference":
			data, _ := base64.StdEncoding.DecodeString(r["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["data"].(string))
			vitals["note"] = string(data)
		}
	}
	wantKinds := []string{"Condition", "Observation", "Observation", "Observation", "Observation", "Observation", "Observation", "Observation", "Observation",
		"MedicationRequest", "MedicationRequest", "ServiceRequest", "QuestionnaireResponse", "DocumentReference"}
	if !slices.Equal(kinds, wantKinds) {
		t.Errorf("visit-full resources %q\nwant %q", kinds, wantKinds)
	}
	wantVitals := map[string]string{
		"75325-1":           "productive cough", // the last of the two symptoms
		"8310-5":            "39.2 Cel",
		"85354-9":           "8480-6 135 mm[Hg], 8462-4 85 mm[Hg]",
		"8867-4":            "104 /min",
		"59408-5":           "93 %",
		"29463-7":           "72.5 kg",
		"sinus tachycardia": "ECG",
		"med":               "Amoxicillin 1 g;Paracetamol 500 mg;",
		"qa":                "since when?=3 days",
		"note":              "Crackles right base. <b>Not</b> tagged & fine.",
	}
	for k, v := range wantVitals {
		if vitals[k] != v {
			t.Errorf("%s: %q, want %q", k, vitals[k], v)
		}
	}

	// The NDJSON form holds the same resources, in the same order, with relative
	// references that resolve to a line.
	lines := e.exportLines("EXP2", "?format=fhir-ndjson", "application/fhir+ndjson")
	byRef := map[string]bool{}
	for i, l := range lines {
		byRef[fmt.Sprint(l["resourceType"], "/", l["id"])] = true
		if i >= len(resources) || l["resourceType"] != resources[i]["resourceType"] || l["id"] != resources[i]["id"] {
			t.Fatalf("line %d: %v/%v, want the Bundle's resources in order", i+1, l["resourceType"], l["id"])
		}
	}
	if len(lines) != len(resources) {
		t.Errorf("%d lines, %d resources in the Bundle", len(lines), len(resources))
	}
	for _, l := range lines[1:] {
		for _, ref := range []any{l["subject"], encounterRef(l)} {
			if r, ok := ref.(map[string]any); ok && !byRef[fmt.Sprint(r["reference"])] {
				t.Errorf("%v/%v refers to %v, which is no line", l["resourceType"], l["id"], r["reference"])
			}
		}
	}
}

// encounterRef returns the reference of a resource to its encounter.
func encounterRef(r map[string]any) any {
	if ctx, ok := r["context"].(map[string]any); ok {
		return ctx["encounter"].([]any)[0]
	}
	return r["encounter"]
}

// observationCode returns the LOINC code of an Observation, or the value of one
// coded by text only (a metric that is no vital sign).
func observationCode(o map[string]any) string {
	code := o["code"].(map[string]any)
	if c, ok := code["coding"].([]any); ok {
		return c[0].(map[string]any)["code"].(string)
	}
	return fmt.Sprint(o["valueString"])
}

// observationValue writes an Observation's value: "39.2 Cel", the components of a
// panel, or a string (the key, for a metric coded by text).
func observationValue(o map[string]any) string {
	quantity := func(q any) string {
		m := q.(map[string]any)
		if m["system"] != "http://unitsofmeasure.org" {
			return "not UCUM"
		}
		return fmt.Sprint(m["value"], " ", m["code"])
	}
	if q, ok := o["valueQuantity"]; ok {
		return quantity(q)
	}
	if comps, ok := o["component"].([]any); ok {
		var parts []string
		for _, c := range comps {
			cm := c.(map[string]any)
			parts = append(parts, cm["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)+" "+quantity(cm["valueQuantity"]))
		}
		return strings.Join(parts, ", ")
	}
	if _, coded := o["code"].(map[string]any)["coding"]; !coded {
		return fmt.Sprint(o["code"].(map[string]any)["text"])
	}
	return fmt.Sprint(o["valueString"])
}

// importFHIR imports the FHIR data at path into repo as go run ./seed -fhir does, and
// fails the test when anything is skipped.
func importFHIR(t testing.TB, repo *repository.DB, path string) fhir.Report {
	t.Helper()
	ctx := context.Background()
	im := reconcile.New(repo, records.NewPatients(repo, repo.PatientVersions(), nil), records.NewInteractions(repo, repo.InteractionVersions(), nil), 1000)
	rep, err := fhir.Read(ctx, path, fhir.Options{}, im)
	if err == nil {
		err = im.Flush(ctx)
	}
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	if rep.Skipped = append(rep.Skipped, im.Skipped()...); len(rep.Skipped) > 0 {
		t.Errorf("import %s skipped %+v", path, rep.Skipped)
	}
	return rep
}

// chart returns every interaction of patient no, newest first, entered-in-error ones
// included when all is set.
func (e *env) chart(no string, all bool) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	query := "?limit=100"
	if all {
		query += "&include=entered-in-error"
	}
	for cursor := ""; ; {
		page := e.mustDo(200, "GET", "/api/v1/patients/"+no+"/interactions"+query+cursor, "")
		for _, in := range page["items"].([]any) {
			out = append(out, in.(map[string]any))
		}
		next, ok := page["next_cursor"].(string)
		if !ok {
			return out
		}
		cursor = "&cursor=" + next
	}
}

// exportToFile writes the fhir-ndjson exports of the patients, one after the other,
// into one file and returns its path.
func (e *env) exportToFile(nos ...string) string {
	e.t.Helper()
	var buf bytes.Buffer
	for _, no := range nos {
		res := e.do("GET", "/api/v1/patients/"+no+"/export?format=fhir-ndjson", "")
		if res.status != 200 {
			e.t.Fatalf("export %s: %d\n%s", no, res.status, res.body)
		}
		buf.Write(res.body)
	}
	path := filepath.Join(e.t.TempDir(), "export.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// The fields of a record the round trip must bring back.
var (
	roundTripPatient     = []string{"insurance_no", "fname", "lname", "addr", "age", "sex", "ph_no", "email", "birth_date", "deceased_date"}
	roundTripInteraction = []string{"interaction_date", "ailment", "symptoms", "remarks", "label", "metrics.temp", "metrics.BP",
		"metrics.HR", "metrics.SpO2", "metrics.weight", "next_steps.prescribed_meds", "next_steps.prescribed_tests"}
)

// sameFields fails t when a and b differ in one of fields (a dot names a field inside
// an object).
func sameFields(t *testing.T, what string, a, b map[string]any, fields []string) {
	t.Helper()
	for _, f := range fields {
		if va, vb := dig(a, f), dig(b, f); jsonText(t, va) != jsonText(t, vb) {
			t.Errorf("%s %s: %s, came back as %s", what, f, jsonText(t, va), jsonText(t, vb))
		}
	}
}

func dig(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, _ := v.(map[string]any)
		v = o[k]
	}
	return v
}

// TestExportRoundTrip exports records entered through the API and imports the
// export into an empty store: the same patient comes back, and the same
// interactions (those entered in error left out, as the import leaves out what FHIR
// marks so), under the ids of the import's rule ("fhir-" and the id).
func TestExportRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.createChart(`{"insurance_no":"EXP3","fname":"Mary Ann","lname":"Lee","addr":"Kastanienallee 7, Berlin","age":67,"sex":"F",
		"ph_no":"030 999","email":"mary@example.org","blood_type":"AB-"}`,
		fullVisit,
		`{"id":"visit-2","interaction_date":"2024-06-01","ailment":"Otitis","symptoms":"ear pain, after swimming","label":["ent"]}`,
		`{"id":"visit-3","interaction_date":"2024-07-01","metrics":{"temp":37,"weight":60.0}}`,
		`{"id":"visit-4","interaction_date":"2024-08-01","ailment":"Sprain","label":["ortho"]}`,
		`{"id":"visit-5","interaction_date":"2024-09-01","ailment":"Flu"}`)
	e.changeInteraction("PATCH", "visit-4", "typo", `{"ailment":"Sprain of ankle","metrics":{"HR":70}}`)
	e.changeInteraction("DELETE", "visit-5", "wrong patient", "")

	path := e.exportToFile("EXP3")
	into := newEnv(t)
	importFHIR(t, into.repo, path)

	sameFields(t, "patient", e.mustDo(200, "GET", "/api/v1/patients/EXP3", ""), into.mustDo(200, "GET", "/api/v1/patients/EXP3", ""), roundTripPatient)
	original, back := e.chart("EXP3", false), into.chart("EXP3", true)
	if len(back) != len(original) || len(original) != 4 {
		t.Fatalf("%d interactions came back, want the %d not entered in error", len(back), len(original))
	}
	for i, in := range original {
		if want := "fhir-" + in["id"].(string); back[i]["id"] != want {
			t.Errorf("interaction %v came back as %v, want %s", in["id"], back[i]["id"], want)
		}
		sameFields(t, in["id"].(string), in, back[i], roundTripInteraction)
	}
}

// TestExportRoundTripSynthea imports the Synthea sample, exports every patient and
// imports the exports into an empty store: every patient and interaction comes back
// the same, ids and sources included, but for what the store sets (creation times,
// author).
func TestExportRoundTripSynthea(t *testing.T) {
	const sample = "../../shared/data/synthea-10"
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("the Synthea sample is not here (%v)", err)
	}
	e := newEnv(t)
	importFHIR(t, e.repo, sample)
	nos := patientsOf(t, e)
	into := newEnv(t)
	importFHIR(t, into.repo, e.exportToFile(nos...))
	if len(nos) != 13 || len(patientsOf(t, into)) != 13 {
		t.Fatalf("%d patients, %d came back; want 13", len(nos), len(patientsOf(t, into)))
	}
	server := []string{"created_at", "updated_at", "recorded_by"}
	total := 0
	for _, no := range nos {
		p, back := e.mustDo(200, "GET", "/api/v1/patients/"+no, ""), into.mustDo(200, "GET", "/api/v1/patients/"+no, "")
		if g, w := jsonText(t, without(back, server)), jsonText(t, without(p, server)); g != w {
			t.Errorf("patient %s came back as\n%s\nwant\n%s", no, g, w)
		}
		original, again := e.chart(no, true), into.chart(no, true)
		total += len(original)
		if len(again) != len(original) {
			t.Errorf("patient %s: %d interactions came back, want %d", no, len(again), len(original))
			continue
		}
		for i := range original {
			if g, w := jsonText(t, without(again[i], server)), jsonText(t, without(original[i], server)); g != w {
				t.Errorf("interaction came back as\n%s\nwant\n%s", g, w)
			}
		}
	}
	if total != 1215 {
		t.Errorf("%d interactions, want the sample's 1,215", total)
	}
}

// patientsOf returns the insurance numbers of every patient in e's store.
func patientsOf(t testing.TB, e *env) []string {
	t.Helper()
	nos, err := e.db.Collection("patients").Distinct(context.Background(), "_id", bson.D{}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	values, _ := nos.Values()
	for _, v := range values {
		out = append(out, v.StringValue())
	}
	slices.Sort(out)
	return out
}

func without(m map[string]any, keys []string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

// TestExportStreams checks, on a real connection, that an export is sent as it is
// written: in chunks, with no length announced.
func TestExportStreams(t *testing.T) {
	e := newEnv(t)
	e.createChart(`{"insurance_no":"EXP4"}`, `{"id":"v1"}`)
	req, _ := http.NewRequest("GET", e.listen()+"/api/v1/patients/EXP4/export", nil)
	req.Header.Set("Authorization", "Bearer "+e.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != -1 || !slices.Equal(res.TransferEncoding, []string{"chunked"}) {
		t.Errorf("status %d, length %d, transfer encoding %q: want 200, chunked", res.StatusCode, res.ContentLength, res.TransferEncoding)
	}
}
