package fhir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// sampleDir is the real Synthea sample of the shared data, absent from a user's clone.
const sampleDir = "../../shared/data/synthea-10"

// collector is a Sink that keeps what it receives.
type collector struct {
	patients     []models.Patient
	interactions []models.Interaction
	at           map[string]Origin
	// fail, when set, is returned for every interaction.
	fail error
}

func (c *collector) Patient(_ context.Context, p models.Patient, at Origin) error {
	if len(c.interactions) > 0 {
		return errors.New("a patient came after an interaction")
	}
	c.patients = append(c.patients, p)
	c.origin(p.InsuranceNo, at)
	return nil
}

func (c *collector) Interaction(_ context.Context, in models.Interaction, at Origin) error {
	if c.fail != nil {
		return c.fail
	}
	c.interactions = append(c.interactions, in)
	c.origin(in.ID, at)
	return nil
}

func (c *collector) origin(key string, at Origin) {
	if c.at == nil {
		c.at = map[string]Origin{}
	}
	c.at[key] = at
}

func (c *collector) patient(t *testing.T, no string) models.Patient {
	t.Helper()
	for _, p := range c.patients {
		if p.InsuranceNo == no {
			return p
		}
	}
	t.Fatalf("no patient %s", no)
	return models.Patient{}
}

func (c *collector) interaction(t *testing.T, id string) models.Interaction {
	t.Helper()
	for _, in := range c.interactions {
		if in.ID == id {
			return in
		}
	}
	t.Fatalf("no interaction %s", id)
	return models.Interaction{}
}

var testNow = time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)

func readDir(t *testing.T, dir string, opts Options) (*collector, Report) {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	c := &collector{}
	rep, err := Read(context.Background(), dir, opts, c)
	if err != nil {
		t.Fatalf("Read(%s): %v", dir, err)
	}
	return c, rep
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func join(ss []string) string { return strings.Join(ss, "|") }

func TestReadFixture(t *testing.T) {
	c, rep := readDir(t, "testdata/bulk", Options{})

	t.Run("patients", func(t *testing.T) {
		if len(c.patients) != 2 || rep.Patients != 2 {
			t.Fatalf("%d patients passed on (report: %d), want 2", len(c.patients), rep.Patients)
		}
		ana := c.patient(t, "INS-4711")
		if ana.FName != "Ana Maria" || ana.LName != "Lopez" || ana.Sex != "F" || ana.Age == nil || *ana.Age != 44 {
			t.Errorf("INS-4711 name, sex, age = %q %q %q %v", ana.FName, ana.LName, ana.Sex, ana.Age)
		}
		if ana.Addr != "Berliner Straße 123, Hinterhaus, Berlin, 10115, DE" || ana.PhNo != "+49 171 234567" || ana.Email != "ana@example.com" {
			t.Errorf("INS-4711 addr, phone, email = %q %q %q", ana.Addr, ana.PhNo, ana.Email)
		}
		if lookup(ana.Extra, "birth_date") != "1980-03-15" || lookup(ana.Extra, "deceased_date") != nil {
			t.Errorf("INS-4711 extra = %v", ana.Extra)
		}
		if lookup(ana.Source, "system") != "fhir" || lookup(ana.Source, "patient") != "pat-1" || lookup(ana.Extra, "source") != nil {
			t.Errorf("INS-4711 source = %v, extra %v", ana.Source, ana.Extra)
		}
		if !ana.CreatedAt.Equal(testNow) || ana.Version != 1 {
			t.Errorf("INS-4711 created_at, version = %s, %d", ana.CreatedAt, ana.Version)
		}
		devin := c.patient(t, "fhir-pat-2")
		if devin.Age == nil || *devin.Age != 69 || devin.Sex != "M" || devin.Addr != "" || devin.PhNo != "" || devin.Email != "" {
			t.Errorf("fhir-pat-2 = %+v", devin)
		}
		if lookup(devin.Extra, "deceased_date") != "2020-06-30" {
			t.Errorf("fhir-pat-2 deceased_date = %v", lookup(devin.Extra, "deceased_date"))
		}
	})

	t.Run("interactions", func(t *testing.T) {
		if len(c.interactions) != 3 || rep.Interactions != 3 {
			t.Fatalf("%d interactions passed on (report: %d), want 3", len(c.interactions), rep.Interactions)
		}
		if ids := []string{c.interactions[0].ID, c.interactions[1].ID, c.interactions[2].ID}; join(ids) != "fhir-enc-1|fhir-enc-2|fhir-enc-3" {
			t.Errorf("interactions in order %q, want the order of Encounter.ndjson", ids)
		}

		one := c.interaction(t, "fhir-enc-1")
		if one.InsuranceNo != "INS-4711" || !one.InteractionDate.Equal(mustTime(t, "2024-03-01T08:30:00Z")) {
			t.Errorf("enc-1 patient, date = %s, %s", one.InsuranceNo, one.InteractionDate)
		}
		if one.Ailment != "Acute viral pharyngitis" || one.Symptoms != "Fever" {
			t.Errorf("enc-1 ailment, symptoms = %q, %q", one.Ailment, one.Symptoms)
		}
		if join(one.Label) != "ambulatory|acute viral pharyngitis" {
			t.Errorf("enc-1 labels = %q", one.Label)
		}
		if one.NextSteps == nil || join(one.NextSteps.PrescribedMeds) != "Acetaminophen 325 MG Oral Tablet|Penicillin V Potassium 250 MG Oral Tablet" ||
			join(one.NextSteps.PrescribedTests) != "Throat culture" {
			t.Errorf("enc-1 next_steps = %+v (the entered-in-error request must be left out)", one.NextSteps)
		}
		wantMetrics := bson.D{
			{Key: "temp", Value: 38.4}, {Key: "BP", Value: "120/80"}, {Key: "HR", Value: int32(88)},
			{Key: "SpO2", Value: int32(97)}, {Key: "weight", Value: 68.5},
			{Key: "units", Value: bson.D{
				{Key: "temp", Value: "Cel"}, {Key: "BP", Value: "mm[Hg]"}, {Key: "HR", Value: "/min"},
				{Key: "SpO2", Value: "%"}, {Key: "weight", Value: "kg"},
			}},
		}
		assertDoc(t, one.Metrics, wantMetrics)
		wantNote := "Patient presents with sore throat and fever since two days.\nPlan: rest, fluids; throat culture sent. Return if worse — or in 1 week."
		if one.Remarks != wantNote {
			t.Errorf("enc-1 remarks = %q, want the decoded text attachment", one.Remarks)
		}
		if lookup(one.Source, "system") != "fhir" || lookup(one.Source, "encounter") != "enc-1" || lookup(one.Extra, "source") != nil {
			t.Errorf("enc-1 source = %v, extra %v", one.Source, one.Extra)
		}
		if c.at["fhir-enc-1"] != (Origin{File: "Encounter.ndjson", Line: 1}) {
			t.Errorf("enc-1 read at %v", c.at["fhir-enc-1"])
		}

		two := c.interaction(t, "fhir-enc-2")
		if two.Ailment != "Fracture of ankle" || two.Symptoms != "Stress" || join(two.Label) != "emergency|fracture of ankle" {
			t.Errorf("enc-2 ailment, symptoms, labels = %q, %q, %q", two.Ailment, two.Symptoms, two.Label)
		}
		if two.NextSteps == nil || two.NextSteps.PrescribedMeds != nil || join(two.NextSteps.PrescribedTests) != "Radiography of ankle" {
			t.Errorf("enc-2 next_steps = %+v", two.NextSteps)
		}
		assertDoc(t, two.Metrics, bson.D{{Key: "HR", Value: int32(72)}, {Key: "units", Value: bson.D{{Key: "HR", Value: "/min"}}}})
		if two.Remarks != "" || !two.InteractionDate.Equal(mustTime(t, "2024-05-10T22:15:00Z")) {
			t.Errorf("enc-2 remarks, date = %q, %s", two.Remarks, two.InteractionDate)
		}

		three := c.interaction(t, "fhir-enc-3")
		if three.InsuranceNo != "fhir-pat-2" || three.Ailment != "Non-small cell carcinoma of lung, TNM stage 1" ||
			join(three.Label) != "inpatient|non-small cell carcinoma of lung" {
			t.Errorf("enc-3 = %s %q %q", three.InsuranceNo, three.Ailment, three.Label)
		}
		if three.NextSteps == nil || join(three.NextSteps.PrescribedMeds) != "Cisplatin 50 MG Injection" ||
			join(three.NextSteps.PrescribedTests) != "Combined chemotherapy and radiation therapy" {
			t.Errorf("enc-3 next_steps = %+v", three.NextSteps)
		}
		if three.Metrics != nil || three.Remarks != "Admitted for combined chemotherapy and radiation therapy." {
			t.Errorf("enc-3 metrics, remarks = %v, %q", three.Metrics, three.Remarks)
		}
	})

	t.Run("report", func(t *testing.T) {
		want := []Skipped{
			{Reason: "malformed JSON", Count: 1, At: []Origin{{"Patient.ndjson", 3}}},
			{Reason: "reference to a missing Patient", Count: 1, At: []Origin{{"Encounter.ndjson", 4}}},
			{Reason: `unknown resource type "Frobnicate"`, Count: 1, At: []Origin{{"Encounter.ndjson", 5}}},
			{Reason: "reference to a missing Encounter", Count: 1, At: []Origin{{"Condition.ndjson", 5}}},
		}
		if len(rep.Skipped) != len(want) {
			t.Fatalf("skipped = %+v\nwant %+v", rep.Skipped, want)
		}
		for i := range want {
			if rep.Skipped[i].Reason != want[i].Reason || rep.Skipped[i].Count != want[i].Count || !slices.Equal(rep.Skipped[i].At, want[i].At) {
				t.Errorf("skipped[%d] = %+v, want %+v", i, rep.Skipped[i], want[i])
			}
		}
		if rep.SkippedCount() != 4 {
			t.Errorf("SkippedCount = %d, want 4", rep.SkippedCount())
		}
		wantRead := map[string]int{"Patient": 2, "Encounter": 4, "Condition": 5, "MedicationRequest": 4,
			"Procedure": 2, "ServiceRequest": 1, "Observation": 8, "DocumentReference": 2}
		for typ, n := range wantRead {
			if rep.Read[typ] != n {
				t.Errorf("read %d %s, want %d", rep.Read[typ], typ, n)
			}
		}
		if rep.Ignored["Immunization (type not imported)"] != 1 || rep.Ignored["Observation (not a vital sign the import maps)"] != 1 ||
			rep.Ignored["MedicationRequest (entered in error)"] != 1 {
			t.Errorf("ignored = %v", rep.Ignored)
		}
		var size int64
		entries, _ := os.ReadDir("testdata/bulk")
		for _, e := range entries {
			info, _ := e.Info()
			size += info.Size()
		}
		if rep.Bytes != size {
			t.Errorf("bytes read = %d, want %d", rep.Bytes, size)
		}
	})
}

// writeFiles writes files (name → lines) into a new directory and returns it.
func writeFiles(t *testing.T, files map[string][]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, lines := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadBadInput(t *testing.T) {
	const (
		pat = `{"resourceType":"Patient","id":"p1","birthDate":"1990-01-01"}`
		enc = `{"resourceType":"Encounter","id":"e1","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"},"period":{"start":"2024-01-01T10:00:00Z"}}`
	)
	dir := writeFiles(t, map[string][]string{
		"Patient.000.ndjson": {
			pat,
			`{"resourceType":"Patient","id":"p2","note":"` + strings.Repeat("x", 400) + `"}`,
			pat, // the same id again
			`{"resourceType":"Patient","id":"p3","birthDate":"1800-01-01"}`,
			`{"resourceType":"Patient","id":"p4","telecom":[{"system":"email","value":"not an address"}]}`,
			`{"resourceType":"Patient","name":[{"family":"NoId"}]}`,
		},
		"Patient.001.ndjson": {
			`{"resourceType":"Encounter","id":"e9"}`,
			`{"id":"p5"}`,
			`[1, 2]`,
			`{"resourceType":"Patient","id":"p6","gender":7}`,
		},
		"Encounter.ndjson": {
			enc,
			`{"resourceType":"Encounter","id":"e2","subject":{"reference":"Patient/p3"},"period":{"start":"2024-01-01"}}`,
			`{"resourceType":"Encounter","id":"e3","subject":{"reference":"Patient/p1"}}`,
			`{"resourceType":"Encounter","id":"e4","subject":{"reference":"Patient/p1"},"period":{"start":"yesterday"}}`,
			`{"resourceType":"Encounter","id":"e5","status":"entered-in-error","subject":{"reference":"Patient/p1"},"period":{"start":"2024-01-01"}}`,
			enc, // the same id again
			`{"resourceType":"Encounter","subject":{"reference":"Patient/p1"},"period":{"start":"2024-01-01"}}`,
		},
		"Condition.ndjson": {
			`{"resourceType":"Condition","code":{"text":"Asthma"},"subject":{"reference":"Patient/p1"}}`,
			`{"resourceType":"Condition","code":{"text":"Asthma"},"encounter":{"reference":"Encounter/e2"}}`,
			`{"resourceType":"Condition","encounter":{"reference":"Encounter/e1"}}`,
			`{"resourceType":"Condition","code":{"text":"Flu"},"encounter":{"reference":"Encounter/e1"},` +
				`"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"refuted"}]}}`,
			`{"resourceType":"Condition","code":{"text":"Flu"},"encounter":{"reference":"Encounter/e1"},` +
				`"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"entered-in-error"}]}}`,
			`{"resourceType":"Condition","code":{"text":"Flu"},"encounter":{"reference":"Encounter/e5"}}`,
		},
		"Observation.ndjson": {
			`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"encounter":{"reference":"Encounter/e1"}}`,
		},
		"DocumentReference.ndjson": {
			`{"resourceType":"DocumentReference","context":{"encounter":[{"reference":"Encounter/e1"}]},"content":[{"attachment":{"contentType":"text/plain","data":"!!!"}}]}`,
			`{"resourceType":"DocumentReference","context":{"encounter":[{"reference":"Encounter/e1"}]},"content":[{"attachment":{"contentType":"application/pdf","data":"JVBE"}}]}`,
		},
		"notes.txt": {"not NDJSON, not read"},
	})
	c, rep := readDir(t, dir, Options{MaxLine: 300})

	want := map[string][]Origin{
		"line longer than 300 bytes":                                 {{"Patient.000.ndjson", 2}},
		"Patient id read before (the first one is imported)":         {{"Patient.000.ndjson", 3}},
		"invalid patient: age: must be an integer from 0 to 150":     {{"Patient.000.ndjson", 4}},
		"invalid patient: email: must be an email address":           {{"Patient.000.ndjson", 5}},
		"Patient has no id":                                          {{"Patient.000.ndjson", 6}},
		"Encounter resource in a file of Patient resources":          {{"Patient.001.ndjson", 1}},
		"no resourceType":                                            {{"Patient.001.ndjson", 2}},
		"malformed JSON":                                             {{"Patient.001.ndjson", 3}},
		"Patient does not follow FHIR R4: gender has the wrong type": {{"Patient.001.ndjson", 4}},
		"its Patient was skipped":                                    {{"Encounter.ndjson", 2}},
		"Encounter id read before (the first one is imported)":       {{"Encounter.ndjson", 6}},
		"Encounter has no id":                                        {{"Encounter.ndjson", 7}},
		"Encounter has no period to date the interaction by":         {{"Encounter.ndjson", 3}},
		"Condition refers to no Encounter":                           {{"Condition.ndjson", 1}},
		"its Encounter was skipped":                                  {{"Condition.ndjson", 2}},
		"Condition has no code to name it by":                        {{"Condition.ndjson", 3}},
		"Condition is refuted":                                       {{"Condition.ndjson", 4}},
		"Observation has no value":                                   {{"Observation.ndjson", 1}},
		"DocumentReference attachment is not valid base64":           {{"DocumentReference.ndjson", 1}},
		"DocumentReference has no text attachment":                   {{"DocumentReference.ndjson", 2}},
		"invalid interaction: interaction_date: must be an RFC 3339 date (2024-10-12) or date-time (2024-10-12T09:30:00Z)": {{"Encounter.ndjson", 4}},
	}
	got := map[string][]Origin{}
	for _, s := range rep.Skipped {
		got[s.Reason] = s.At
		if s.Count != len(s.At) {
			t.Errorf("%q: count %d, %d places", s.Reason, s.Count, len(s.At))
		}
	}
	for reason, at := range want {
		if !slices.Equal(got[reason], at) {
			t.Errorf("%q at %v, want %v", reason, got[reason], at)
		}
	}
	for reason, at := range got {
		if _, ok := want[reason]; !ok {
			t.Errorf("unexpected skip %q at %v", reason, at)
		}
	}
	// Entered in error is no bad input: the source withdrew the resource. It is
	// counted as ignored, with what refers to an Encounter entered in error.
	for what, n := range map[string]int{
		"Encounter (entered in error)": 1, "Condition (entered in error)": 1, "Condition (of an Encounter entered in error)": 1,
	} {
		if rep.Ignored[what] != n {
			t.Errorf("ignored %q: %d, want %d (all: %v)", what, rep.Ignored[what], n, rep.Ignored)
		}
	}
	if len(c.patients) != 1 || len(c.interactions) != 1 || c.interactions[0].ID != "fhir-e1" {
		t.Errorf("passed on %d patients and %d interactions, want only p1 and e1", len(c.patients), len(c.interactions))
	}
	if c.interactions[0].Remarks != "" || c.interactions[0].Symptoms != "" || c.interactions[0].Metrics != nil {
		t.Errorf("e1 took something from a skipped resource: %+v", c.interactions[0])
	}
}

func TestReadListsAtMostMaxListedPerReason(t *testing.T) {
	lines := make([]string, MaxListed+5)
	for i := range lines {
		lines[i] = "{not json"
	}
	_, rep := readDir(t, writeFiles(t, map[string][]string{"Patient.ndjson": lines}), Options{})
	if len(rep.Skipped) != 1 || rep.Skipped[0].Count != MaxListed+5 || len(rep.Skipped[0].At) != MaxListed {
		t.Errorf("skipped = %+v, want one reason, %d counted, %d listed", rep.Skipped, MaxListed+5, MaxListed)
	}
}

func TestReadErrors(t *testing.T) {
	t.Run("no such folder", func(t *testing.T) {
		if _, err := Read(context.Background(), filepath.Join(t.TempDir(), "nope"), Options{}, &collector{}); err == nil {
			t.Error("Read of a missing folder succeeded")
		}
	})
	t.Run("no NDJSON files", func(t *testing.T) {
		dir := writeFiles(t, map[string][]string{"README.md": {"hello"}})
		_, err := Read(context.Background(), dir, Options{}, &collector{})
		if err == nil || !strings.Contains(err.Error(), "holds no .ndjson files") {
			t.Errorf("Read = %v, want an error saying there are no .ndjson files", err)
		}
	})
	t.Run("sink error stops the import", func(t *testing.T) {
		stop := errors.New("store down")
		c := &collector{fail: stop}
		rep, err := Read(context.Background(), "testdata/bulk", Options{Now: testNow}, c)
		if !errors.Is(err, stop) {
			t.Fatalf("Read = %v, want the sink's error", err)
		}
		if !strings.Contains(err.Error(), "Encounter.ndjson:1") {
			t.Errorf("error %q does not say where", err)
		}
		if rep.Patients != 2 || rep.Interactions != 1 {
			t.Errorf("report: %d patients, %d interactions; want 2 and the 1 that failed", rep.Patients, rep.Interactions)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Read(ctx, "testdata/bulk", Options{}, &collector{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Read = %v, want context.Canceled", err)
		}
	})
	t.Run("progress", func(t *testing.T) {
		var calls int
		var last, total int64
		_, err := Read(context.Background(), "testdata/bulk", Options{Progress: func(d, tot int64) {
			calls, last, total = calls+1, d, tot
		}}, &collector{})
		if err != nil {
			t.Fatal(err)
		}
		if calls == 0 || last != total || total == 0 {
			t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
		}
	})
}

// TestReadSample reads the real 10-patient Synthea sample, when present, and checks
// counts and records verified by hand against its NDJSON.
func TestReadSample(t *testing.T) {
	if _, err := os.Stat(sampleDir); err != nil {
		t.Skipf("skipped: the shared Synthea sample is absent (it is beside the repository, not in it): %v", err)
	}
	c, rep := readDir(t, sampleDir, Options{})
	if len(c.patients) != 13 || len(c.interactions) != 1215 {
		t.Fatalf("%d patients, %d interactions; want 13 and 1,215", len(c.patients), len(c.interactions))
	}
	if len(rep.Skipped) != 0 {
		t.Errorf("skipped: %+v", rep.Skipped)
	}
	if rep.Read["Encounter"] != 1215 || rep.Read["Condition"] != 555 || rep.Read["MedicationRequest"] != 1745 ||
		rep.Read["Procedure"] != 2056 || rep.Read["DocumentReference"] != 1215 {
		t.Errorf("read = %v", rep.Read)
	}
	if rep.Ignored["Immunization (type not imported)"] != 161 {
		t.Errorf("ignored = %v", rep.Ignored)
	}
	ids := map[string]bool{}
	for _, in := range c.interactions {
		if ids[in.ID] {
			t.Errorf("interaction %s passed on twice", in.ID)
		}
		ids[in.ID] = true
		if utf8.RuneCountInString(in.Remarks) > MaxNote {
			t.Errorf("%s: remarks of %d characters", in.ID, utf8.RuneCountInString(in.Remarks))
		}
	}

	devin := c.patient(t, "fhir-3af3708d-41f1-cd80-f3dd-ec5ac76072bf")
	if devin.FName != "Devin82 Anibal473" || devin.LName != "Cole117" || devin.Sex != "M" || devin.Age == nil || *devin.Age != 11 ||
		devin.Addr != "319 Hahn Dam, Haysville, KS 67216, US" || devin.PhNo != "555-478-8993" || lookup(devin.Extra, "deceased_date") != "1971-10-01" {
		t.Errorf("patient 3af3708d = %+v", devin)
	}

	tests := []struct {
		encounter, patient, date, ailment, symptoms string
		labels, meds, tests                         []string
		remarks                                     string
	}{
		{
			// Emergency, no reasonCode: the ailment is its one Condition.
			encounter: "069907eb-16f5-2c4d-b76f-beef954662b3", patient: "fhir-3af3708d-41f1-cd80-f3dd-ec5ac76072bf",
			date: "1970-12-07T16:43:52Z", ailment: "Fracture of ankle",
			labels: []string{"emergency", "fracture of ankle"},
			meds:   []string{"Aspirin 81 MG Oral Tablet"}, tests: []string{"Bone immobilization", "Ankle X-ray"},
			remarks: "1970-12-07\n\n# Chief Complaint\nNo complaints.",
		},
		{
			// reasonCode "Seizure disorder"; the situation goes to symptoms, not labels.
			encounter: "5bda154a-78f1-25fd-b0d0-65038042a21b", patient: "fhir-3af3708d-41f1-cd80-f3dd-ec5ac76072bf",
			date: "1970-07-20T16:31:08Z", ailment: "Seizure disorder", symptoms: "History of single seizure",
			labels: []string{"emergency", "seizure disorder"},
			meds:   []string{"Diazepam 5 MG Oral Tablet"}, tests: []string{"Electroencephalogram"},
		},
		{
			// Inpatient: 14 MedicationRequests and 14 Procedures, repeated names kept once;
			// a 3,012-character note, cut.
			encounter: "78cbcee4-5c37-aa56-ac25-1b9244646fb2", patient: "fhir-79a66c97-6131-3213-f3c9-4606946ab056",
			date: "1990-10-28T03:58:16Z", ailment: "Awaiting transplantation of kidney", symptoms: "History of renal transplant",
			labels:  []string{"inpatient", "awaiting transplantation of kidney"},
			meds:    []string{"1 ML tacrolimus 5 MG/ML Injection", "24 HR tacrolimus 1 MG Extended Release Oral Tablet"},
			tests:   []string{"Transplantation of kidney regime", "Pretransplant evaluation of kidney recipient", "Transplant of kidney"},
			remarks: "1990-10-27\n\n# Chief Complaint\n- Hunger\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.encounter, func(t *testing.T) {
			in := c.interaction(t, "fhir-"+tt.encounter)
			if in.InsuranceNo != tt.patient || !in.InteractionDate.Equal(mustTime(t, tt.date)) {
				t.Errorf("patient, date = %s, %s; want %s, %s", in.InsuranceNo, in.InteractionDate, tt.patient, tt.date)
			}
			if in.Ailment != tt.ailment || in.Symptoms != tt.symptoms {
				t.Errorf("ailment, symptoms = %q, %q; want %q, %q", in.Ailment, in.Symptoms, tt.ailment, tt.symptoms)
			}
			if join(in.Label) != join(tt.labels) {
				t.Errorf("labels = %q, want %q", in.Label, tt.labels)
			}
			if in.NextSteps == nil || join(in.NextSteps.PrescribedMeds) != join(tt.meds) || join(in.NextSteps.PrescribedTests) != join(tt.tests) {
				t.Errorf("next_steps = %+v; want meds %q, tests %q", in.NextSteps, tt.meds, tt.tests)
			}
			if !strings.HasPrefix(in.Remarks, tt.remarks) {
				t.Errorf("remarks start %q, want %q", in.Remarks[:min(60, len(in.Remarks))], tt.remarks)
			}
		})
	}
	if long := c.interaction(t, "fhir-78cbcee4-5c37-aa56-ac25-1b9244646fb2").Remarks; !strings.HasSuffix(long, "…") {
		t.Errorf("the 3,012-character note was not cut: it ends %q", long[len(long)-20:])
	}
}

// TestReadFileOfMixedTypes reads one file of resources of any types, in any order.
func TestReadFileOfMixedTypes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mixed.ndjson")
	lines := []string{
		// Findings before their encounter, the encounter before its patient: the
		// passes put them in order.
		`{"resourceType":"Condition","code":{"text":"Asthma"},"encounter":{"reference":"Encounter/e1"}}`,
		`{"resourceType":"Encounter","id":"e1","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"},"period":{"start":"2024-01-01T10:00:00Z"}}`,
		`{"resourceType":"Patient","id":"p1","birthDate":"1990-01-01"}`,
		`{"resourceType":"Immunization","id":"i1"}`,
		`{not json`,
		`{"id":"x"}`,
		`{"resourceType":"Bad Type!"}`,
		`{"resourceType":"Patient","id":"p2","note":"` + strings.Repeat("x", 300) + `"}`,
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, rep := readDir(t, path, Options{MaxLine: 200})
	if len(c.patients) != 1 || len(c.interactions) != 1 || c.interactions[0].Ailment != "Asthma" {
		t.Errorf("patients %+v, interactions %+v", c.patients, c.interactions)
	}
	wantSkipped := map[string]Origin{
		"malformed JSON": {"mixed.ndjson", 5}, "no resourceType": {"mixed.ndjson", 6},
		"unknown resource type": {"mixed.ndjson", 7}, "line longer than 200 bytes": {"mixed.ndjson", 8},
	}
	if len(rep.Skipped) != len(wantSkipped) {
		t.Errorf("skipped %+v, want once each of %v", rep.Skipped, wantSkipped)
	}
	for _, s := range rep.Skipped {
		if at, ok := wantSkipped[s.Reason]; !ok || s.Count != 1 || s.At[0] != at {
			t.Errorf("skipped %+v", s)
		}
	}
	if rep.Ignored["Immunization (type not imported)"] != 1 || rep.Read["Patient"] != 1 || rep.Read["Condition"] != 1 {
		t.Errorf("read %v, ignored %v", rep.Read, rep.Ignored)
	}
	info, _ := os.Stat(path)
	if rep.Bytes != info.Size() {
		t.Errorf("bytes %d, want the file's size %d", rep.Bytes, info.Size())
	}
	if _, err := Read(context.Background(), filepath.Join(dir, "nope.ndjson"), Options{}, &collector{}); err == nil {
		t.Error("Read of a missing file succeeded")
	}
}
