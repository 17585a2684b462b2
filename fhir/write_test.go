package fhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

var update = flag.Bool("update", false, "write the FHIR sample of the repository (../seed/data/fhir-sample.ndjson) anew")

// fhirSample is the FHIR sample the FHIR guide imports: the export of sampleCharts.
const fhirSample = "../seed/data/fhir-sample.ndjson"

// chart is a patient with the interactions of their chart, newest first.
type chart struct {
	patient      models.Patient
	interactions []models.Interaction
}

// sampleCharts are the records the repository's FHIR sample is the export of: two
// made-up patients, one recorded with an age, the other with a birth date, and
// visits that use every field the export maps.
func sampleCharts(t testing.TB) []chart {
	t.Helper()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	patient := func(s string) models.Patient {
		p, err := models.NewPatient(parseDoc(t, s), now)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	interaction := func(s string) models.Interaction {
		in, err := models.NewInteraction(parseDoc(t, s), now)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	return []chart{
		{
			patient: patient(`{"insurance_no": "DEMO-001", "fname": "Maria", "lname": "Schmidt", "addr": "Hauptstraße 5, 10115 Berlin",
				"age": 47, "sex": "F", "ph_no": "030 1234567", "email": "maria.schmidt@example.org", "blood_type": "A+"}`),
			interactions: []models.Interaction{
				interaction(`{"id": "demo-001-3", "insurance_no": "DEMO-001", "interaction_date": "2024-06-20T08:45:00Z",
					"ailment": "Essential hypertension", "metrics": {"BP": "142/91", "HR": 78, "ECG": "Normal sinus rhythm"},
					"health_status": 7, "next_steps": {"next_visit": "2024-09-20", "prescribed_meds": ["Ramipril 5 mg oral tablet"]},
					"label": ["cardiology", "ambulatory"]}`),
				interaction(`{"id": "demo-001-2", "insurance_no": "DEMO-001", "interaction_date": "2024-03-01T10:00:00Z",
					"ailment": "Acute bronchitis", "symptoms": "cough resolving", "metrics": {"temp": 36.8, "SpO2": 98},
					"remarks": "Follow-up: lungs clear, no further treatment.", "label": ["respiratory", "follow-up"]}`),
				interaction(`{"id": "demo-001-1", "insurance_no": "DEMO-001", "interaction_date": "2024-02-12T09:15:00Z",
					"ailment": "Acute bronchitis", "symptoms": "productive cough; mild fever",
					"metrics": {"temp": 38.1, "BP": "128/84", "HR": 92, "SpO2": 96, "weight": 64.5},
					"remarks": "Advised rest and fluids; return if breathless.",
					"qa": {"since when?": "5 days", "smoker?": "no"},
					"next_steps": {"prescribed_meds": ["Amoxicillin 500 mg oral capsule"], "prescribed_tests": ["Chest X-ray"]},
					"label": ["respiratory", "ambulatory"]}`),
			},
		},
		{
			patient: patient(`{"insurance_no": "DEMO-002", "fname": "Jonas", "lname": "Weber", "sex": "M", "birth_date": "1990-07-14",
				"addr": "Lindenallee 12, 50668 Köln"}`),
			interactions: []models.Interaction{
				interaction(`{"id": "demo-002-1", "insurance_no": "DEMO-002", "interaction_date": "2025-01-08T16:40:00Z",
					"ailment": "Sprain of ankle", "symptoms": "swelling; pain on weight bearing",
					"metrics": {"HR": 88, "weight": 81, "units": {"weight": "kg"}},
					"next_steps": {"prescribed_tests": ["Radiography of ankle"], "prescribed_specialist": "orthopedist"},
					"label": ["emergency", "orthopedics"]}`),
			},
		},
	}
}

func parseDoc(t testing.TB, s string) bson.D {
	t.Helper()
	d, err := models.ParseDocument([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// writeCharts writes charts with w, each patient then their interactions.
func writeCharts(t testing.TB, w *Writer, charts []chart) {
	t.Helper()
	for _, c := range charts {
		if err := w.Patient(c.patient); err != nil {
			t.Fatal(err)
		}
		for _, in := range c.interactions {
			if err := w.Interaction(in); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSample checks that the repository's FHIR sample is the export of sampleCharts
// (go test ./fhir -run TestSample -update writes it anew) and that Read reads the
// sample back as the records it was made from.
func TestSample(t *testing.T) {
	var buf bytes.Buffer
	for _, c := range sampleCharts(t) {
		writeCharts(t, NewNDJSONWriter(&buf), []chart{c})
	}
	if *update {
		if err := os.WriteFile(fhirSample, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := os.ReadFile(fhirSample)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, buf.Bytes()) {
		t.Errorf("%s is not the export of sampleCharts: run go test ./fhir -run TestSample -update", fhirSample)
	}
	got, rep := readDir(t, fhirSample, Options{})
	// The import reads no answers, and no metrics but vital signs (ECG).
	wantIgnored := map[string]int{"QuestionnaireResponse (type not imported)": 1, "Observation (not a vital sign the import maps)": 1}
	if len(rep.Skipped) > 0 || !maps.Equal(rep.Ignored, wantIgnored) {
		t.Errorf("reading the sample skipped %+v, ignored %v, want %v", rep.Skipped, rep.Ignored, wantIgnored)
	}
	assertRoundTrip(t, sampleCharts(t), got)
}

// assertRoundTrip checks that what Read passed on is the records of charts, their
// interactions entered in error left out: the same patients, and the same
// interactions, under the ids of the import's rule, with the same dates, ailments,
// symptoms, vitals, meds, tests, labels and remarks.
func assertRoundTrip(t *testing.T, charts []chart, got *collector) {
	t.Helper()
	var want int
	for _, c := range charts {
		p, back := c.patient, got.patient(t, c.patient.InsuranceNo)
		if p.FName != back.FName || p.LName != back.LName || p.Addr != back.Addr || p.Sex != back.Sex || p.PhNo != back.PhNo || p.Email != back.Email {
			t.Errorf("patient %s came back as %+v", p.InsuranceNo, back)
		}
		if lookup(p.Extra, "birth_date") != lookup(back.Extra, "birth_date") || p.Age != nil && (back.Age == nil || *back.Age != *p.Age) {
			t.Errorf("patient %s: birth date, age %v %v came back as %v %v", p.InsuranceNo,
				lookup(p.Extra, "birth_date"), p.Age, lookup(back.Extra, "birth_date"), back.Age)
		}
		for _, in := range c.interactions {
			if in.Status == models.StatusEnteredInError {
				continue
			}
			want++
			back := got.interaction(t, SourceID(encounterID(in)))
			if back.InsuranceNo != in.InsuranceNo || !back.InteractionDate.Equal(in.InteractionDate) || back.Ailment != in.Ailment ||
				back.Symptoms != in.Symptoms || back.Remarks != in.Remarks || !slices.Equal(back.Label, in.Label) {
				t.Errorf("interaction %s came back as %+v", in.ID, back)
			}
			if !slices.Equal(meds(back), meds(in)) || !slices.Equal(tests(back), tests(in)) {
				t.Errorf("interaction %s: meds, tests %q %q came back as %q %q", in.ID, meds(in), tests(in), meds(back), tests(back))
			}
			assertDoc(t, vitalsOf(back.Metrics), vitalsOf(in.Metrics))
		}
	}
	if len(got.interactions) != want {
		t.Errorf("%d interactions came back, want %d", len(got.interactions), want)
	}
}

func meds(in models.Interaction) []string {
	if in.NextSteps == nil {
		return nil
	}
	return in.NextSteps.PrescribedMeds
}

func tests(in models.Interaction) []string {
	if in.NextSteps == nil {
		return nil
	}
	return in.NextSteps.PrescribedTests
}

// vitalsOf returns the vital signs among metrics that the export writes as such (a
// number; for BP, two), in their order.
func vitalsOf(metrics bson.D) bson.D {
	var out bson.D
	for _, e := range metrics {
		if vs, ok := vitalOf(e.Key); ok && (&mapping{}).vital(vs, "", e.Value, "") != nil {
			out = append(out, e)
		}
	}
	return out
}

// TestWriteNDJSONRoundTrip writes records that use the edges of the mapping and
// reads them back: an interaction entered in error, an id that is no FHIR id, no
// labels, symptoms that are not a "; " list, numbers of each stored type.
func TestWriteNDJSONRoundTrip(t *testing.T) {
	charts := sampleCharts(t)[:1]
	c := &charts[0]
	voided := c.interactions[0]
	voided.Status, voided.Version = models.StatusEnteredInError, 2
	c.interactions[0] = voided
	odd, err := models.NewInteraction(parseDoc(t, `{"id": "visit_1:a", "insurance_no": "DEMO-001", "interaction_date": "2023-12-31T23:59:59.123Z",
		"ailment": "Gout", "symptoms": "pain; pain;  swelling", "metrics": {"temp": 38, "HR": 3000000000, "weight": 70.0, "BP": "n/a"},
		"next_steps": {"prescribed_meds": ["Colchicine 0.5 mg", "Ibuprofen <400 mg> & water"]}}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	c.interactions = append(c.interactions, odd)

	path := filepath.Join(t.TempDir(), "export.ndjson")
	var buf bytes.Buffer
	writeCharts(t, NewNDJSONWriter(&buf), charts)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, rep := readDir(t, path, Options{})
	if len(rep.Skipped) > 0 {
		t.Errorf("skipped %+v", rep.Skipped)
	}
	if rep.Ignored["Encounter (entered in error)"] != 1 || rep.Ignored["Condition (entered in error)"] != 1 ||
		rep.Ignored["Observation (entered in error)"] != 3 || rep.Ignored["MedicationRequest (entered in error)"] != 1 {
		t.Errorf("ignored %v, want the resources of the interaction entered in error", rep.Ignored)
	}
	if rep.Ignored["Observation (not a vital sign the import maps)"] != 1 { // the BP that is no pressure
		t.Errorf("ignored %v, want the metrics that are no vital signs", rep.Ignored)
	}
	assertRoundTrip(t, charts, got)
	back := got.interaction(t, SourceID(resourceID("visit_1:a")))
	if !strings.HasPrefix(back.ID, "fhir-x") || len(back.Label) != 0 {
		t.Errorf("the interaction whose id is no FHIR id came back as %s, labels %q", back.ID, back.Label)
	}
	// Numbers keep their stored types: int32, int64, float64 (38 stays an integer,
	// 70.0 a float).
	assertDoc(t, vitalsOf(back.Metrics), bson.D{{Key: "temp", Value: int32(38)}, {Key: "HR", Value: int64(3000000000)}, {Key: "weight", Value: 70.0}})
}

// bundle is a Bundle as tests read it.
type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Timestamp    string `json:"timestamp"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

// TestWriteBundle checks the Bundle resource by resource.
func TestWriteBundle(t *testing.T) {
	charts := sampleCharts(t)[:1]
	var buf bytes.Buffer
	writeCharts(t, NewBundleWriter(&buf, testNow), charts)
	var b bundle
	if err := json.Unmarshal(buf.Bytes(), &b); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.Bytes())
	}
	if b.ResourceType != "Bundle" || b.Type != "collection" || b.Timestamp != "2025-01-15T12:00:00Z" {
		t.Errorf("bundle %s %s %s", b.ResourceType, b.Type, b.Timestamp)
	}
	byURL := map[string]map[string]any{}
	var types []string
	for _, e := range b.Entry {
		var r map[string]any
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.FullURL, "urn:uuid:") || byURL[e.FullURL] != nil {
			t.Errorf("fullUrl %q: not a urn:uuid, or twice", e.FullURL)
		}
		byURL[e.FullURL] = r
		types = append(types, r["resourceType"].(string))
	}
	want := []string{"Patient",
		"Encounter", "Condition", "Observation", "Observation", "Observation", "MedicationRequest",
		"Encounter", "Condition", "Observation", "Observation", "Observation", "DocumentReference",
		"Encounter", "Condition", "Observation", "Observation", "Observation", "Observation", "Observation", "Observation", "Observation",
		"MedicationRequest", "ServiceRequest", "QuestionnaireResponse", "DocumentReference"}
	if !slices.Equal(types, want) {
		t.Errorf("resources %q\nwant %q", types, want)
	}
	// Every reference resolves to an entry: each resource but the Patient refers to
	// the patient, and each but the Encounters to its encounter.
	var refs, wantRefs int
	for _, r := range byURL {
		walk(map[string]any(r), func(key string, v any) {
			if key == "reference" {
				refs++
				if byURL[v.(string)] == nil {
					t.Errorf("reference %v resolves to no entry", v)
				}
			}
		})
		switch r["resourceType"] {
		case "Patient":
		case "Encounter":
			wantRefs++
		default:
			wantRefs += 2
		}
	}
	if refs != wantRefs {
		t.Errorf("%d references, want %d", refs, wantRefs)
	}
	p := b.resource(t, 0)
	if id := p["identifier"].([]any)[0].(map[string]any); id["value"] != "DEMO-001" ||
		!hasCoding(id["type"], "http://terminology.hl7.org/CodeSystem/v2-0203", "MB") {
		t.Errorf("patient identifier %v, want the insurance number, of type MB", id)
	}
	if p["gender"] != "female" || p["extension"].([]any)[0].(map[string]any)["valueAge"].(map[string]any)["value"] != 47.0 {
		t.Errorf("patient %v", p)
	}
	enc := b.resource(t, 13)
	if enc["id"] != "demo-001-1" || enc["status"] != "finished" || enc["period"].(map[string]any)["start"] != "2024-02-12T09:15:00Z" ||
		enc["class"].(map[string]any)["code"] != "AMB" || enc["reasonCode"].([]any)[0].(map[string]any)["text"] != "Acute bronchitis" {
		t.Errorf("encounter %v", enc)
	}
	vitals := map[string][3]any{} // LOINC code: value, unit code, components
	for i := 15; i < 22; i++ {
		o := b.resource(t, i)
		code := o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
		q, _ := o["valueQuantity"].(map[string]any)
		var comps []string
		for _, c := range asSlice(o["component"]) {
			cq := c.(map[string]any)["valueQuantity"].(map[string]any)
			comps = append(comps, c.(map[string]any)["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)+
				"="+string(mustJSON(t, cq["value"]))+" "+cq["code"].(string))
		}
		if q != nil {
			vitals[code] = [3]any{q["value"], q["code"], nil}
			if q["system"] != "http://unitsofmeasure.org" {
				t.Errorf("%s unit %v, want UCUM", code, q)
			}
		} else {
			vitals[code] = [3]any{o["valueString"], nil, strings.Join(comps, ",")}
		}
	}
	wantVitals := map[string][3]any{
		"75325-1": {"mild fever", nil, ""},
		"8310-5":  {38.1, "Cel", nil},
		"85354-9": {nil, nil, "8480-6=128 mm[Hg],8462-4=84 mm[Hg]"},
		"8867-4":  {92.0, "/min", nil},
		"59408-5": {96.0, "%", nil},
		"29463-7": {64.5, "kg", nil},
	}
	for code, v := range wantVitals {
		if vitals[code] != v {
			t.Errorf("observation %s: %v, want %v", code, vitals[code], v)
		}
	}
	qr := b.resource(t, 24)
	if items := qr["item"].([]any); len(items) != 2 || items[0].(map[string]any)["text"] != "since when?" ||
		items[0].(map[string]any)["answer"].([]any)[0].(map[string]any)["valueString"] != "5 days" {
		t.Errorf("questionnaire response %v", qr)
	}
	doc := b.resource(t, 25)
	data, _ := base64.StdEncoding.DecodeString(doc["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["data"].(string))
	if string(data) != "Advised rest and fluids; return if breathless." {
		t.Errorf("document reference %v", doc)
	}
}

func (b bundle) resource(t *testing.T, i int) map[string]any {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal(b.Entry[i].Resource, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// walk calls fn with every key and value inside v.
func walk(v any, fn func(key string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			fn(k, e)
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func hasCoding(concept any, system, code string) bool {
	c, _ := concept.(map[string]any)
	for _, cd := range asSlice(c["coding"]) {
		if m := cd.(map[string]any); m["system"] == system && m["code"] == code {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestWriteInteractionFirst checks that an interaction needs its patient first.
func TestWriteInteractionFirst(t *testing.T) {
	if err := NewNDJSONWriter(&bytes.Buffer{}).Interaction(models.Interaction{ID: "1"}); err == nil {
		t.Error("an interaction without its patient was written")
	}
}

// TestWriteVitalAliases writes metrics under the other names of the vital signs
// (see vitals.Name) as those vital signs, with their LOINC codes: the service's own
// generator writes heart_rate and spo2.
func TestWriteVitalAliases(t *testing.T) {
	p, err := models.NewPatient(parseDoc(t, `{"insurance_no": "V1"}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	in, err := models.NewInteraction(parseDoc(t, `{"id": "v1", "insurance_no": "V1", "interaction_date": "2024-01-01T10:00:00Z",
		"metrics": {"heart_rate": 72, "Body Temp": 37.5, "spo2": 97, "Blood Pressure": "120/80", "body_weight": 70, "glucose": 5.4}}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	writeCharts(t, NewNDJSONWriter(&buf), []chart{{patient: p, interactions: []models.Interaction{in}}})
	codes := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r struct {
			ResourceType string `json:"resourceType"`
			Code         struct {
				Coding []struct{ Code string } `json:"coding"`
				Text   string                  `json:"text"`
			} `json:"code"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.ResourceType != "Observation" {
			continue
		}
		if len(r.Code.Coding) > 0 {
			codes[r.Code.Coding[0].Code] = true
		} else {
			codes[r.Code.Text] = true
		}
	}
	for _, want := range []string{"8867-4", "8310-5", "59408-5", "85354-9", "29463-7", "glucose"} {
		if !codes[want] {
			t.Errorf("no Observation coded %s among %v", want, codes)
		}
	}
}

// TestWriteUnansweredQuestion writes a question without an answer as an item without
// one: FHIR allows no empty string.
func TestWriteUnansweredQuestion(t *testing.T) {
	p, err := models.NewPatient(parseDoc(t, `{"insurance_no": "V1"}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	in, err := models.NewInteraction(parseDoc(t, `{"id": "v1", "insurance_no": "V1", "interaction_date": "2024-01-01T10:00:00Z",
		"qa": {"since when?": "", "fever?": "no"}}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	writeCharts(t, NewNDJSONWriter(&buf), []chart{{patient: p, interactions: []models.Interaction{in}}})
	out := buf.String()
	if strings.Contains(out, `""`) {
		t.Errorf("an empty string written:\n%s", out)
	}
	if !strings.Contains(out, `{"linkId":"1","text":"since when?"}`) || !strings.Contains(out, `"answer":[{"valueString":"no"}]`) {
		t.Errorf("the questions written:\n%s", out)
	}
}
