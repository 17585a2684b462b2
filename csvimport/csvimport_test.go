package csvimport

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

var importStart = time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)

// files returns an in-memory file system holding the given files.
func files(nameContent ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(nameContent); i += 2 {
		fsys[nameContent[i]] = &fstest.MapFile{Data: []byte(nameContent[i+1])}
	}
	return fsys
}

func TestReadDatasetInteractions(t *testing.T) {
	const patientsCSV = "insurance_no\nA11\n"
	tests := []struct {
		name  string
		csv   string
		check func(t *testing.T, in models.Interaction)
	}{
		{
			name: "next_visit day-month-year becomes a date",
			csv:  "id,insurance_no,next_steps\n1,A11,\"{\"\"next_visit\"\": \"\"12-10-2024\"\", \"\"prescribed_tests\"\": [\"\"MNO-A\"\"]}\"\n",
			check: func(t *testing.T, in models.Interaction) {
				want := time.Date(2024, 10, 12, 0, 0, 0, 0, time.UTC)
				if in.NextSteps == nil || in.NextSteps.NextVisit == nil || !in.NextSteps.NextVisit.Equal(want) {
					t.Errorf("next_steps = %+v, want next_visit %s", in.NextSteps, want)
				}
				if in.NextSteps != nil && !slices.Equal(in.NextSteps.PrescribedTests, []string{"MNO-A"}) {
					t.Errorf("prescribed_tests = %q", in.NextSteps.PrescribedTests)
				}
			},
		},
		{
			name: "next_visit single-digit day and month",
			csv:  "id,insurance_no,next_steps\n1,A11,\"{\"\"next_visit\"\": \"\"2-3-2024\"\"}\"\n",
			check: func(t *testing.T, in models.Interaction) {
				if got := in.NextSteps.NextVisit.Format(time.DateOnly); got != "2024-03-02" {
					t.Errorf("next_visit = %s, want 2024-03-02", got)
				}
			},
		},
		{
			name: "interaction_date day-month-year",
			csv:  "id,insurance_no,interaction_date\n1,A11,05-08-2024\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := time.Date(2024, 8, 5, 0, 0, 0, 0, time.UTC); !in.InteractionDate.Equal(want) {
					t.Errorf("interaction_date = %s, want %s", in.InteractionDate, want)
				}
			},
		},
		{
			name: "interaction_date RFC 3339 with offset",
			csv:  "id,insurance_no,interaction_date\n1,A11,2024-08-05T11:30:00+02:00\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := time.Date(2024, 8, 5, 9, 30, 0, 0, time.UTC); !in.InteractionDate.Equal(want) {
					t.Errorf("interaction_date = %s, want %s", in.InteractionDate, want)
				}
			},
		},
		{
			name: "empty interaction_date is the import's start",
			csv:  "id,insurance_no,interaction_date\n1,A11,\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := models.StoreTime(importStart); !in.InteractionDate.Equal(want) || !in.CreatedAt.Equal(want) {
					t.Errorf("interaction_date = %s, created_at = %s, want both %s", in.InteractionDate, in.CreatedAt, want)
				}
			},
		},
		{
			name: "missing interaction_date column is the import's start",
			csv:  "id,insurance_no\n1,A11\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := models.StoreTime(importStart); !in.InteractionDate.Equal(want) {
					t.Errorf("interaction_date = %s, want %s", in.InteractionDate, want)
				}
			},
		},
		{
			name: "label comma-separated, trimmed, lower-cased",
			csv:  "id,insurance_no,label\n1,A11,\"Fever,  SKIN ,fever\"\n",
			check: func(t *testing.T, in models.Interaction) {
				if !slices.Equal(in.Label, []string{"fever", "skin"}) {
					t.Errorf("label = %q, want [fever skin]", in.Label)
				}
			},
		},
		{
			name: "empty cells are absent",
			csv:  "id,insurance_no,ailment,symptoms,metrics,remarks,health_status,qa,next_steps,label\n1,A11,,,,,,,,\n",
			check: func(t *testing.T, in models.Interaction) {
				if in.Ailment != "" || in.Metrics != nil || in.HealthStatus != nil || in.QA != nil || in.NextSteps != nil || len(in.Label) != 0 {
					t.Errorf("interaction = %+v, want only id and insurance_no", in)
				}
			},
		},
		{
			name: "columns found by name in any order",
			csv:  "label,health_status,metrics,insurance_no,id\ngut,7,\"{\"\"temp\"\": 37.5, \"\"BP\"\": \"\"130/85\"\"}\",A11,x-9\n",
			check: func(t *testing.T, in models.Interaction) {
				if in.ID != "x-9" || in.InsuranceNo != "A11" || in.HealthStatus == nil || *in.HealthStatus != 7 ||
					!slices.Equal(in.Label, []string{"gut"}) || !reflect.DeepEqual(in.Metrics, bson.D{{Key: "temp", Value: 37.5}, {Key: "BP", Value: "130/85"}}) {
					t.Errorf("interaction = %+v", in)
				}
			},
		},
		{
			name: "qa object keeps its order",
			csv:  "id,insurance_no,qa\n1,A11,\"{\"\"since\"\": \"\"4 weeks\"\", \"\"smoker\"\": \"\"no\"\"}\"\n",
			check: func(t *testing.T, in models.Interaction) {
				if len(in.QA) != 2 || in.QA[0].Key != "since" || in.QA[1].Value != "no" {
					t.Errorf("qa = %v", in.QA)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Read(files(PatientFile, patientsCSV, InteractionFile, tt.csv), "", importStart)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(ds.Problems) > 0 || len(ds.Interactions) != 1 {
				t.Fatalf("got %d interactions and problems %v, want one interaction and no problem", len(ds.Interactions), ds.Problems)
			}
			tt.check(t, ds.Interactions[0].Record)
		})
	}
}

func TestReadDatasetPatients(t *testing.T) {
	csv := "insurance_no,fname,age,email,related_docs,habits,pre_existing_conditions,pre_existing_medications,blood_type\n" +
		"A11,Vernon,30,vernon@example.com,,\"smoking, drinking\",Asthma,GTH 30mg,B+\n" +
		"B11,Beth,45,,\" , \",smoking,\"Hypertension, Obesity\",,AB+\n"
	ds, err := Read(files(PatientFile, csv), "", importStart)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(ds.Problems) > 0 || len(ds.Patients) != 2 {
		t.Fatalf("got %d patients and problems %v, want 2 and none", len(ds.Patients), ds.Problems)
	}
	if !slices.Contains(ds.Notes, InteractionFile+": not found; loading patients only") {
		t.Errorf("notes = %q, want one about the missing %s", ds.Notes, InteractionFile)
	}
	a, b := ds.Patients[0], ds.Patients[1]
	if a.Age == nil || *a.Age != 30 || !slices.Equal(a.Habits, []string{"smoking", "drinking"}) ||
		!slices.Equal(a.PreExistingConditions, []string{"Asthma"}) || !slices.Equal(a.PreExistingMedications, []string{"GTH 30mg"}) {
		t.Errorf("A11 = %+v", a)
	}
	if b.Email != "" || b.RelatedDocs != nil || b.PreExistingMedications != nil ||
		!slices.Equal(b.PreExistingConditions, []string{"Hypertension", "Obesity"}) {
		t.Errorf("B11 = %+v; empty cells and lists must be absent", b)
	}
	if !a.CreatedAt.Equal(models.StoreTime(importStart)) {
		t.Errorf("created_at = %s, want the import's start", a.CreatedAt)
	}
}

func TestReadDatasetReportsBadRows(t *testing.T) {
	patientsCSV := "\ufeffinsurance_no, AGE ,email,blood_type,shoe_size,,\n" +
		"A11,30,a@example.com,B+,42,,\n" +
		"B11,abc,not-an-email,Q+,40,,\n" +
		"A11,31,,,,,\n" +
		"C11,1\n"
	interactionsCSV := "id,insurance_no,health_status,metrics,qa,next_steps\r\n" +
		"1,A11,5,,,\r\n" +
		"2,A11,11,,,\r\n" +
		"3,A11,4,\"{\"\"temp\"\": 37,\",,\r\n" +
		",A11,4,,,\r\n" +
		"1,A11,4,,,\r\n" +
		"5,A11,4,[1],\"{\"\"since\"\": 4}\",\"{\"\"next_visit\"\": \"\"31-02-2024\"\", \"\"doctor\"\": \"\"X\"\"}\"\r\n" +
		"6,A 11,4,\"{\"\"$gt\"\": 1}\",,\r\n"
	ds, err := Read(files(PatientFile, patientsCSV, InteractionFile, interactionsCSV), "dir", importStart)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(ds.Patients) != 1 || ds.Patients[0].InsuranceNo != "A11" || ds.Patients[0].Extra != nil {
		t.Errorf("patients = %+v, want A11 only, without the ignored column", ds.Patients)
	}
	if len(ds.Interactions) != 1 || ds.Interactions[0].Record.ID != "1" {
		t.Errorf("interactions = %+v, want id 1 only", ds.Interactions)
	}
	if ds.PatientRows != 4 || ds.InteractionRows != 7 {
		t.Errorf("rows = %d and %d, want 4 and 7", ds.PatientRows, ds.InteractionRows)
	}
	if note := `dir/Patient.csv: column "shoe_size" is not one of`; !strings.Contains(strings.Join(ds.Notes, "\n"), note) {
		t.Errorf("notes %q do not contain %q", ds.Notes, note)
	}

	want := []string{
		"dir/Patient.csv line 3: age: must be an integer from 0 to 150; blood_type: must be one of A+, A-, B+, B-, AB+, AB-, O+, O-; email: must be an email address",
		"dir/Patient.csv line 4: insurance_no: repeats line 2; only the first row is loaded",
		"dir/Patient.csv line 5: has 2 cells where the header has 7 columns",
		"dir/Interaction.csv line 3: health_status: must be an integer from 1 to 10",
		"dir/Interaction.csv line 4: metrics: is not valid JSON (it ends too early)",
		"dir/Interaction.csv line 5: id: is required in an import, so that loading the file again adds nothing",
		"dir/Interaction.csv line 6: id: repeats line 2; only the first row is loaded",
		"dir/Interaction.csv line 7: metrics: must hold a JSON object; next_steps.doctor: unknown field; next_steps holds next_visit, prescribed_meds, prescribed_tests and prescribed_specialist; next_steps.next_visit: must be an RFC 3339 date (2024-10-12) or date-time (2024-10-12T09:30:00Z); qa.since: answers must be strings",
		"dir/Interaction.csv line 8: insurance_no: must be 1-64 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit; metrics.$gt: field names must not start with '$'",
	}
	var got []string
	for _, p := range ds.Problems {
		got = append(got, p.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, value := range []string{"not-an-email", "Q+", "abc", "A 11", "31-02-2024"} {
		if strings.Contains(strings.Join(got, "\n"), value) {
			t.Errorf("problems repeat the value %q", value)
		}
	}
}

func TestReadDatasetFileErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no files", files(), "neither Patient.csv nor Interaction.csv found"},
		{"no insurance_no column", files(PatientFile, "fname,age\nA,3\n"), "Patient.csv: the header has no insurance_no column"},
		{"no id column", files(InteractionFile, "insurance_no,label\nA11,x\n"), "Interaction.csv: the header has no id column"},
		{"column twice", files(PatientFile, "insurance_no,Age,age\nA11,3,4\n"), `column "age" appears twice`},
		{"empty file", files(InteractionFile, ""), "Interaction.csv: empty file"},
		{"broken header", files(PatientFile, "insurance_no,\"fname\n"), "read Patient.csv header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.fsys, "", importStart)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readDataset = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestReadDatasetBadCSVRow(t *testing.T) {
	csv := "id,insurance_no\n1,A11\n2,\"A11\"x\n3,A11\n"
	ds, err := Read(files(InteractionFile, csv), "", importStart)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(ds.Interactions) != 2 || ds.Interactions[1].Record.ID != "3" || ds.Interactions[1].Line != 4 {
		t.Errorf("interactions = %+v, want ids 1 and 3", ds.Interactions)
	}
	if len(ds.Problems) != 1 || ds.Problems[0].Line != 3 || !strings.Contains(ds.Problems[0].Reason, "not valid CSV") {
		t.Errorf("problems = %v, want line 3 not valid CSV", ds.Problems)
	}
}
