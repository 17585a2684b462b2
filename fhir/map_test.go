package fhir

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestSourceID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"00c7f717-4030-5582-2ed8-888ad2bc878e", "fhir-00c7f717-4030-5582-2ed8-888ad2bc878e"},
		{"enc.1", "fhir-enc.1"},
		{strings.Repeat("a", 59), "fhir-" + strings.Repeat("a", 59)},
		// Too long, or not a valid identifier: hashed (SHA-256, first 40 hex digits).
		{strings.Repeat("a", 60), "fhir_11ee391211c6256460b6ed375957fadd8061cafb"},
		{"bad id/with slash", "fhir_b33ade8dd37fed2be94baa61c27139a43ccc8948"},
	}
	for _, tt := range tests {
		if got := SourceID(tt.id); got != tt.want {
			t.Errorf("SourceID(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestInsuranceNo(t *testing.T) {
	mb := `{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MB"}]},"value":%q}`
	tests := []struct {
		name, identifiers, want string
	}{
		{"member number", `[` + strings.Replace(mb, "%q", `"INS-4711"`, 1) + `]`, "INS-4711"},
		{"member number after others", `[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"SS"}]},"value":"999-12-3456"},` +
			strings.Replace(mb, "%q", `"A11"`, 1) + `]`, "A11"},
		{"member number not a valid identifier", `[` + strings.Replace(mb, "%q", `"INS 4711"`, 1) + `]`, "fhir-p1"},
		{"MB of another code system", `[{"type":{"coding":[{"system":"urn:other","code":"MB"}]},"value":"X1"}]`, "fhir-p1"},
		{"no identifier", `[]`, "fhir-p1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := patient{base: base{ID: "p1"}}
			if err := json.Unmarshal([]byte(tt.identifiers), &p.Identifier); err != nil {
				t.Fatal(err)
			}
			if got := insuranceNo(&p); got != tt.want {
				t.Errorf("insuranceNo = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPatientDocument(t *testing.T) {
	now := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, json string
		want       bson.D
	}{
		{
			name: "full",
			json: `{"resourceType":"Patient","id":"p1",
				"name":[{"use":"maiden","family":"Old","given":["Ana"]},{"use":"official","family":"Lopez","given":["Ana","Maria"]}],
				"telecom":[{"system":"email","value":"ana@example.com"},{"system":"phone","value":"0171 234567"}],
				"gender":"female","birthDate":"1980-03-15",
				"address":[{"line":["Berliner Straße 123"],"city":"Berlin","postalCode":"10115","country":"DE"}]}`,
			want: bson.D{
				{Key: "insurance_no", Value: "fhir-p1"}, {Key: "fname", Value: "Ana Maria"}, {Key: "lname", Value: "Lopez"},
				{Key: "addr", Value: "Berliner Straße 123, Berlin, 10115, DE"}, {Key: "age", Value: int32(44)},
				{Key: "sex", Value: "F"}, {Key: "ph_no", Value: "0171 234567"}, {Key: "email", Value: "ana@example.com"},
				{Key: "birth_date", Value: "1980-03-15"},
			},
		},
		{
			name: "deceased: age at death, on the day written",
			json: `{"resourceType":"Patient","id":"p2","gender":"male","birthDate":"1950-07-01",
				"deceasedDateTime":"2020-06-30T23:30:00-04:00","address":[{"use":"home","text":"Somewhere 1"}]}`,
			want: bson.D{
				{Key: "insurance_no", Value: "fhir-p2"}, {Key: "addr", Value: "Somewhere 1"}, {Key: "age", Value: int32(69)},
				{Key: "sex", Value: "M"}, {Key: "birth_date", Value: "1950-07-01"}, {Key: "deceased_date", Value: "2020-06-30"},
			},
		},
		{
			name: "minimal: unknown gender, partial birth date, name text only",
			json: `{"resourceType":"Patient","id":"p3","gender":"unknown","birthDate":"2001","name":[{"text":"Sam"}]}`,
			want: bson.D{
				{Key: "insurance_no", Value: "fhir-p3"}, {Key: "lname", Value: "Sam"}, {Key: "age", Value: int32(24)},
				{Key: "birth_date", Value: "2001"},
			},
		},
		{
			name: "unreadable birth date is left out",
			json: `{"resourceType":"Patient","id":"p4","birthDate":"15.03.1980"}`,
			want: bson.D{
				{Key: "insurance_no", Value: "fhir-p4"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p patient
			if err := json.Unmarshal([]byte(tt.json), &p); err != nil {
				t.Fatal(err)
			}
			assertDoc(t, patientDocument(&p, now), tt.want)
			assertDoc(t, patientSource(&p), bson.D{{Key: "system", Value: "fhir"}, {Key: "patient", Value: p.ID}})
		})
	}
}

// assertDoc compares two documents through their BSON encoding, which keeps types.
func assertDoc(t *testing.T, got, want bson.D) {
	t.Helper()
	g, err := bson.MarshalExtJSON(got, false, false)
	if err != nil {
		t.Fatal(err)
	}
	w, err := bson.MarshalExtJSON(want, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("document\n got %s\nwant %s", g, w)
	}
}

func TestReferenceID(t *testing.T) {
	tests := []struct{ ref, typ, want string }{
		{"Encounter/e1", "Encounter", "e1"},
		{"https://fhir.example.org/r4/Encounter/e1", "Encounter", "e1"},
		{"Encounter/e1/_history/2", "Encounter", "e1"},
		{"urn:uuid:0a1b", "Encounter", "0a1b"},
		{"Patient/p1", "Encounter", ""},
		{"Encounter?identifier=urn:x|1", "Encounter", ""},
		{"e1", "Encounter", ""},
		{"", "Encounter", ""},
	}
	for _, tt := range tests {
		if got := (reference{Reference: tt.ref}).id(tt.typ); got != tt.want {
			t.Errorf("id(%q, %s) = %q, want %q", tt.ref, tt.typ, got, tt.want)
		}
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Chronic kidney disease stage 4 (disorder)", "chronic kidney disease stage 4"},
		{"Non-small cell carcinoma of lung, TNM stage 1 (disorder)", "non-small cell carcinoma of lung"},
		{"Transplantation of kidney regime (regime/therapy)", "transplantation of kidney regime"},
		{"  Normal   pregnancy ", "normal pregnancy"},
		{"Hyperlipidemia; familial", "hyperlipidemia"},
		{"Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi", "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda"},
		{strings.Repeat("x", 70), strings.Repeat("x", 64)},
		{strings.Repeat("é", 40), strings.Repeat("é", 32)},
	}
	for _, tt := range tests {
		got := label(tt.in)
		if got != tt.want {
			t.Errorf("label(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) > 64 || !utf8.ValidString(got) {
			t.Errorf("label(%q) = %q: longer than 64 bytes or not UTF-8", tt.in, got)
		}
	}
}

func TestSplitTag(t *testing.T) {
	tests := []struct{ in, name, tag string }{
		{"Sepsis (disorder)", "Sepsis", "disorder"},
		{"Stress (finding)", "Stress", "finding"},
		{"Hospice care (regime/therapy)", "Hospice care", "regime/therapy"},
		{"Normal pregnancy", "Normal pregnancy", ""},
		{"Epoetin Alfa 4000 UNT/ML Injection [Epogen]", "Epoetin Alfa 4000 UNT/ML Injection [Epogen]", ""},
		{"Vitamin D (Cholecalciferol)", "Vitamin D (Cholecalciferol)", ""},
	}
	for _, tt := range tests {
		if name, tag := splitTag(tt.in); name != tt.name || tag != tt.tag {
			t.Errorf("splitTag(%q) = %q, %q; want %q, %q", tt.in, name, tag, tt.name, tt.tag)
		}
	}
}

func TestClassLabel(t *testing.T) {
	tests := []struct {
		c    coding
		want string
	}{
		{coding{Code: "AMB"}, "ambulatory"},
		{coding{Code: "emer"}, "emergency"},
		{coding{Code: "IMP"}, "inpatient"},
		{coding{Code: "HH"}, "home health"},
		{coding{Code: "VR"}, "virtual"},
		{coding{Code: "XYZ", Display: "Mobile Unit"}, "mobile unit"},
		{coding{Code: "XYZ"}, "xyz"},
		{coding{}, ""},
	}
	for _, tt := range tests {
		if got := classLabel(tt.c); got != tt.want {
			t.Errorf("classLabel(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestVisitAilmentSymptomsLabels(t *testing.T) {
	tests := []struct {
		name              string
		v                 visit
		ailment, symptoms string
		labels            []string
	}{
		{
			name:    "reason first; the same condition is not a symptom",
			v:       visit{class: "ambulatory", reason: "Acute bronchitis (disorder)", kind: "Encounter for problem", conditions: []string{"Fever (finding)", "Acute bronchitis (disorder)"}},
			ailment: "Acute bronchitis", symptoms: "Fever", labels: []string{"ambulatory", "acute bronchitis"},
		},
		{
			name:    "no reason: the first diagnosis, findings and situations as symptoms",
			v:       visit{class: "emergency", kind: "Emergency room admission (procedure)", conditions: []string{"Stress (finding)", "History of single seizure (situation)", "Seizure disorder", "Anemia (disorder)"}},
			ailment: "Seizure disorder", symptoms: "Stress; History of single seizure; Anemia", labels: []string{"emergency", "seizure disorder", "anemia"},
		},
		{
			name:    "no reason, no diagnosis: the encounter type",
			v:       visit{class: "ambulatory", kind: "General examination of patient (procedure)", conditions: []string{"Full-time employment (finding)"}},
			ailment: "General examination of patient", symptoms: "Full-time employment", labels: []string{"ambulatory", "general examination of patient"},
		},
		{
			name:    "nothing at all",
			v:       visit{},
			ailment: "", symptoms: "", labels: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.v.ailment()
			if a != tt.ailment {
				t.Errorf("ailment = %q, want %q", a, tt.ailment)
			}
			if s := tt.v.symptoms(a); s != tt.symptoms {
				t.Errorf("symptoms = %q, want %q", s, tt.symptoms)
			}
			if l := tt.v.labels(a); strings.Join(l, "|") != strings.Join(tt.labels, "|") {
				t.Errorf("labels = %q, want %q", l, tt.labels)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	f := func(v string) *quantity { n := json.Number(v); return &quantity{Value: &n} }
	at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	var vs vitals
	if got := vs.metrics(); got != nil {
		t.Errorf("no vitals: metrics = %v, want none", got)
	}
	vs.temp.take(&quantity{Value: f("38.4").Value, Unit: "Cel"}, at)
	vs.temp.take(f("37.0"), at.Add(-time.Hour)) // earlier: ignored
	vs.systolic.take(&quantity{Value: f("120.0").Value, Code: "mm[Hg]"}, at)
	vs.heartRate.take(f("72"), at)
	vs.heartRate.take(f("80.5"), at) // same time, read later: wins
	if vs.spo2.take(f("1e999"), at) {
		t.Error("a number out of range was taken")
	}
	want := bson.D{
		{Key: "temp", Value: 38.4}, {Key: "HR", Value: 80.5},
		{Key: "units", Value: bson.D{{Key: "temp", Value: "Cel"}}},
	}
	assertDoc(t, vs.metrics(), want) // BP needs both numbers
	vs.diastolic.take(f("8e1"), at)
	want = bson.D{
		{Key: "temp", Value: 38.4}, {Key: "BP", Value: "120/80"}, {Key: "HR", Value: 80.5},
		{Key: "units", Value: bson.D{{Key: "temp", Value: "Cel"}, {Key: "BP", Value: "mm[Hg]"}}},
	}
	assertDoc(t, vs.metrics(), want)
	vs.weight.take(f("70"), at)
	if got := lookup(vs.metrics(), "weight"); got != int32(70) {
		t.Errorf("weight = %v (%T), want int32 70, as the API stores 70", got, got)
	}
	if got := decimal("120.50"); got != "120.5" {
		t.Errorf("decimal(120.50) = %q", got)
	}
}

func TestNotes(t *testing.T) {
	long := strings.Repeat("word ", 500) // 2,500 characters
	tests := []struct {
		name  string
		notes []string
		check func(t *testing.T, got string)
	}{
		{"trimmed of blank lines", []string{"\n\nSore throat.\n"}, func(t *testing.T, got string) {
			if got != "Sore throat." {
				t.Errorf("note = %q", got)
			}
		}},
		{"the same note twice is kept once", []string{"A note.", "A note."}, func(t *testing.T, got string) {
			if got != "A note." {
				t.Errorf("note = %q", got)
			}
		}},
		{"two notes are joined", []string{"First.", "Second."}, func(t *testing.T, got string) {
			if got != "First.\n\nSecond." {
				t.Errorf("note = %q", got)
			}
		}},
		{"a long note is cut at a word", []string{long}, func(t *testing.T, got string) {
			if n := utf8.RuneCountInString(got); n > MaxNote || n < MaxNote-100 {
				t.Errorf("note has %d characters, want at most %d and not much fewer", n, MaxNote)
			}
			if !strings.HasSuffix(got, "word…") {
				t.Errorf("note ends %q, want a whole word and …", got[len(got)-12:])
			}
		}},
		{"many notes stay within the limit", []string{long, "More.", long + "x"}, func(t *testing.T, got string) {
			if n := utf8.RuneCountInString(got); n > MaxNote {
				t.Errorf("note has %d characters, want at most %d", n, MaxNote)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v visit
			for _, n := range tt.notes {
				v.addNote(n)
			}
			tt.check(t, v.note)
		})
	}
}

func TestDecodeNote(t *testing.T) {
	text := strings.Repeat("ü", 5000) // 10,000 bytes
	got, ok := decodeNote(base64.StdEncoding.EncodeToString([]byte(text)))
	if !ok || !utf8.ValidString(got) || utf8.RuneCountInString(got) < MaxNote || len(got) > 4*MaxNote {
		t.Errorf("decodeNote of a long text: %d characters, %d bytes, ok %v; want at least %d characters, valid UTF-8, decoded only so far",
			utf8.RuneCountInString(got), len(got), ok, MaxNote)
	}
	if got, ok := decodeNote(base64.RawStdEncoding.EncodeToString([]byte("no padding!"))); !ok || got != "no padding!" {
		t.Errorf("decodeNote without padding = %q, %v", got, ok)
	}
	if _, ok := decodeNote("not base64 at all!"); ok {
		t.Error("decodeNote accepted text that is not base64")
	}
}

func TestReadLine(t *testing.T) {
	input := "short\r\n" + strings.Repeat("x", 100) + "\n\nlast"
	br := bufio.NewReaderSize(strings.NewReader(input), 16)
	type result struct {
		line    string
		tooLong bool
	}
	var got []result
	var buf []byte
	for {
		line, tooLong, err := readLine(br, buf[:0], 50)
		buf = line
		got = append(got, result{string(line), tooLong})
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []result{{"short", false}, {"", true}, {"", false}, {"last", false}}
	if len(got) != len(want) {
		t.Fatalf("lines = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}
}
