package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// fakePatients knows one patient, at version 2.
type fakePatients struct{ p models.Patient }

func (f fakePatients) Get(_ context.Context, no string) (models.Patient, error) {
	if no != f.p.InsuranceNo {
		return models.Patient{}, models.ErrNotFound
	}
	return f.p, nil
}

func (f fakePatients) EachVersion(_ context.Context, current models.Patient, fn func(models.Patient) error) error {
	first := current
	first.Version, first.FName = 1, "First"
	if err := fn(first); err != nil {
		return err
	}
	return fn(current)
}

// fakeChart makes n interactions of patient no on the fly, newest first, as
// Interactions.Each reads them a page at a time: interaction i is dated i hours
// after a start, and every third is entered in error, at version 2. It fails with
// err after n of them when err is set.
type fakeChart struct {
	no  string
	n   int
	err error
	// query is the query Each was asked.
	query models.HistoryQuery
	// every, when set, is called after each interaction Each has passed on.
	every func(i int)
}

func (f *fakeChart) interaction(i int) models.Interaction {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	in := models.Interaction{
		ID: fmt.Sprintf("visit-%06d", i), InsuranceNo: f.no, Ailment: "Influenza", Symptoms: "fever; cough",
		InteractionDate: start.Add(time.Duration(i) * time.Hour), Version: 1, Label: []string{"fever", "ambulatory"},
		Metrics:   bson.D{{Key: "temp", Value: 38.4}, {Key: "BP", Value: "120/80"}, {Key: "HR", Value: int32(88)}},
		NextSteps: &models.NextSteps{PrescribedMeds: []string{"Oseltamivir 75mg"}, PrescribedTests: []string{"CRP"}},
		Remarks:   "visited other specialists",
	}
	if i%3 == 0 {
		in.Status, in.Version, in.AmendmentReason = models.StatusEnteredInError, 2, "wrong patient"
	}
	return in
}

func (f *fakeChart) Each(_ context.Context, q models.HistoryQuery, fn func(models.Interaction) error) error {
	f.query = q
	for i := f.n - 1; i >= 0; i-- {
		if err := fn(f.interaction(i)); err != nil {
			return err
		}
		if f.every != nil {
			f.every(f.n - i)
		}
	}
	return f.err
}

func (f *fakeChart) EachVersion(_ context.Context, current models.Interaction, fn func(models.Interaction) error) error {
	for v := 1; v < current.Version; v++ {
		earlier := current
		earlier.Version, earlier.Status, earlier.AmendmentReason = v, "", ""
		if err := fn(earlier); err != nil {
			return err
		}
	}
	return fn(current)
}

func newExporter(chart *fakeChart) *Exporter {
	p := models.Patient{InsuranceNo: chart.no, FName: "Vera", LName: "Ortiz", Version: 2}
	return New(fakePatients{p}, chart, Options{Now: func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }})
}

// export runs an export of patient P1 and returns its lines.
func export(t *testing.T, e *Exporter, r Request) []string {
	t.Helper()
	ctx := context.Background()
	p, err := e.Patient(ctx, "P1")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.Write(ctx, &buf, p, r); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

// line is a line of an NDJSON export.
type line struct {
	Patient     *models.Patient     `json:"patient"`
	Interaction *models.Interaction `json:"interaction"`
}

func decodeLines(t *testing.T, lines []string) []line {
	t.Helper()
	out := make([]line, len(lines))
	for i, l := range lines {
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil || (out[i].Patient == nil) == (out[i].Interaction == nil) {
			t.Fatalf("line %d %q: %v, want one of patient and interaction", i+1, l, err)
		}
	}
	return out
}

func TestNDJSON(t *testing.T) {
	chart := &fakeChart{no: "P1", n: 4}
	lines := decodeLines(t, export(t, newExporter(chart), Request{Format: NDJSON}))
	if len(lines) != 5 || lines[0].Patient == nil || lines[0].Patient.InsuranceNo != "P1" || lines[0].Patient.Version != 2 {
		t.Fatalf("%d lines, first %+v: want the patient, then 4 interactions", len(lines), lines[0])
	}
	if !chart.query.IncludeEnteredInError || chart.query.InsuranceNo != "P1" {
		t.Errorf("asked %+v, want every interaction of P1, entered-in-error ones included", chart.query)
	}
	var ids []string
	for _, l := range lines[1:] {
		ids = append(ids, fmt.Sprintf("%s/%d/%s", l.Interaction.ID, l.Interaction.Version, l.Interaction.Status))
	}
	want := "visit-000003/2/entered-in-error visit-000002/1/ visit-000001/1/ visit-000000/2/entered-in-error"
	if strings.Join(ids, " ") != want {
		t.Errorf("interactions %q, want newest first, those entered in error marked: %q", ids, want)
	}
}

func TestNDJSONHistory(t *testing.T) {
	lines := decodeLines(t, export(t, newExporter(&fakeChart{no: "P1", n: 2}), Request{Format: NDJSON, History: true}))
	var got []string
	for _, l := range lines {
		if l.Patient != nil {
			got = append(got, fmt.Sprintf("patient/%d", l.Patient.Version))
			continue
		}
		got = append(got, fmt.Sprintf("%s/%d", l.Interaction.ID, l.Interaction.Version))
	}
	want := "patient/1 patient/2 visit-000001/1 visit-000000/1 visit-000000/2"
	if strings.Join(got, " ") != want {
		t.Errorf("lines %q, want every version, oldest first: %q", got, want)
	}
}

func TestFHIRFormats(t *testing.T) {
	chart := &fakeChart{no: "P1", n: 3}
	lines := export(t, newExporter(chart), Request{Format: FHIRNDJSON})
	types := map[string]int{}
	for _, l := range lines {
		var r struct {
			ResourceType string `json:"resourceType"`
			Status       string `json:"status"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		types[r.ResourceType]++
	}
	if types["Patient"] != 1 || types["Encounter"] != 3 || types["MedicationRequest"] != 3 || !strings.Contains(lines[0], `"resourceType":"Patient"`) {
		t.Errorf("resources %v, first %.60q", types, lines[0])
	}

	bundle := export(t, newExporter(chart), Request{Format: FHIR})
	var b struct {
		ResourceType, Type string
		Entry              []json.RawMessage
	}
	if len(bundle) != 1 || json.Unmarshal([]byte(bundle[0]), &b) != nil || b.ResourceType != "Bundle" || b.Type != "collection" || len(b.Entry) != len(lines) {
		t.Errorf("bundle %.200q: want one Bundle holding the %d resources", bundle, len(lines))
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := newExporter(&fakeChart{no: "P1"}).Patient(ctx, "P2"); !errors.Is(err, models.ErrPatientNotFound) {
		t.Errorf("Patient(P2) = %v, want models.ErrPatientNotFound", err)
	}
	down := errors.New("store down")
	for _, f := range []Format{NDJSON, FHIR, FHIRNDJSON} {
		e := newExporter(&fakeChart{no: "P1", n: 2, err: down})
		if err := e.Write(ctx, io.Discard, models.Patient{InsuranceNo: "P1"}, Request{Format: f}); !errors.Is(err, down) {
			t.Errorf("%s: Write = %v, want the store's error", f, err)
		}
	}
	e := newExporter(&fakeChart{no: "P1", n: 2})
	if err := e.Write(ctx, failingWriter{}, models.Patient{InsuranceNo: "P1"}, Request{}); !errors.Is(err, errFull) {
		t.Errorf("Write to a failing writer = %v, want its error", err)
	}
}

var errFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"": NDJSON, "ndjson": NDJSON, "fhir": FHIR, "fhir-ndjson": FHIRNDJSON} {
		if f, ok := ParseFormat(s); !ok || f != want {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, ok)
		}
	}
	if _, ok := ParseFormat("FHIR"); ok {
		t.Error("ParseFormat(FHIR) accepted it")
	}
	for f, want := range map[Format]string{NDJSON: "application/x-ndjson", FHIR: "application/fhir+json", FHIRNDJSON: "application/fhir+ndjson"} {
		if f.ContentType() != want {
			t.Errorf("%s: %s", f, f.ContentType())
		}
	}
}
