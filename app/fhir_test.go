package app_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clinic/interactions/models"
)

// fhirChart records patient P1 with n visits, each with vitals, a symptom, a med and
// a test, dated a day apart from 2024-01-01, and returns the ids.
func fhirChart(e *env, no string, n int) []string {
	e.t.Helper()
	e.mustDo(201, "POST", "/api/v1/patients", fmt.Sprintf(`{"insurance_no":%q,"fname":"Ada","lname":"Byron","age":36,"sex":"F","pre_existing_conditions":["Asthma"]}`, no))
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-v%d", no, i+1)
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(
			`{"id":%q,"insurance_no":%q,"interaction_date":"2024-01-%02dT09:00:00Z","ailment":"Influenza","symptoms":"cough",`+
				`"metrics":{"temp":%v,"BP":"%d/80","HR":72},"next_steps":{"prescribed_meds":["Oseltamivir"],"prescribed_tests":["CRP"]},"label":["fever"]}`,
			id, no, i%28+1, 37+float64(i%3), 110+i%20))
		ids = append(ids, id)
	}
	return ids
}

// bundle is a FHIR Bundle as the tests read it.
type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        *int   `json:"total"`
	Link         []struct{ Relation, URL string }
	Entry        []struct {
		FullURL  string         `json:"fullUrl"`
		Resource map[string]any `json:"resource"`
	}
}

func (b bundle) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

func (b bundle) ids() []string {
	var out []string
	for _, e := range b.Entry {
		out = append(out, fmt.Sprint(e.Resource["resourceType"], "/", e.Resource["id"]))
	}
	return out
}

// fhirGet reads a FHIR answer that must have status want.
func (e *env) fhirGet(want int, path string, headers ...string) (response, map[string]any) {
	e.t.Helper()
	res := e.do("GET", path, "", headers...)
	if res.status != want {
		e.t.Fatalf("GET %s: status %d, want %d\n%s", path, res.status, want, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		e.t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return res, res.json(e.t)
}

func (e *env) fhirBundle(path string) bundle {
	e.t.Helper()
	res, _ := e.fhirGet(200, path)
	var b bundle
	if err := json.Unmarshal(res.body, &b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// pathOf returns the path and query of a link.
func pathOf(t testing.TB, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func TestFHIRReadsAndSearches(t *testing.T) {
	e := newEnv(t)
	fhirChart(e, "P1", 3)
	fhirChart(e, "P2", 1)

	_, meta := e.withKey("").fhirGet(200, "/fhir/R4/metadata")
	if meta["resourceType"] != "CapabilityStatement" {
		t.Errorf("metadata: %v", meta["resourceType"])
	}
	_, p := e.fhirGet(200, "/fhir/R4/Patient/P1")
	if p["id"] != "P1" || p["resourceType"] != "Patient" {
		t.Errorf("Patient/P1: %v", p)
	}
	_, enc := e.fhirGet(200, "/fhir/R4/Encounter/P1-v2")
	if enc["status"] != "finished" {
		t.Errorf("Encounter: %v", enc)
	}
	_, obs := e.fhirGet(200, "/fhir/R4/Observation/P1-v2-metric-1?_format=json")
	interp := obs["interpretation"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)
	if interp["code"] != "N" { // 38 °C
		t.Errorf("temperature interpretation %v", interp)
	}
	e.fhirGet(200, "/fhir/R4/Condition/P1-v1-ailment")
	e.fhirGet(200, "/fhir/R4/MedicationRequest/P1-v1-med-1")
	e.fhirGet(200, "/fhir/R4/Patient/P1/_history/1")
	e.fhirGet(404, "/fhir/R4/Patient/P1/_history/2")
	_, oo := e.fhirGet(404, "/fhir/R4/Observation/P1-v9-metric-1")
	if oo["resourceType"] != "OperationOutcome" {
		t.Errorf("404: %v", oo)
	}
	e.fhirGet(404, "/fhir/R4/Nothing/1")

	b := e.fhirBundle("/fhir/R4/Encounter?patient=P1&_count=2")
	if b.Type != "searchset" || b.Total == nil || *b.Total != 3 || len(b.Entry) != 2 || b.link("next") == "" {
		t.Fatalf("Encounter search: %+v", b)
	}
	if !strings.HasSuffix(b.link("self"), "/fhir/R4/Encounter?patient=P1&_count=2") {
		t.Errorf("self %s", b.link("self"))
	}
	b2 := e.fhirBundle(pathOf(t, b.link("next")))
	if len(b2.Entry) != 1 || b2.link("next") != "" || *b2.Total != 3 {
		t.Errorf("second page: %+v", b2)
	}
	if got := append(b.ids(), b2.ids()...); !slices.Equal(got, []string{"Encounter/P1-v3", "Encounter/P1-v2", "Encounter/P1-v1"}) {
		t.Errorf("pages: %v", got)
	}
	asc := e.fhirBundle("/fhir/R4/Encounter?patient=Patient/P1&_sort=date&date=ge2024-01-02")
	if !slices.Equal(asc.ids(), []string{"Encounter/P1-v2", "Encounter/P1-v3"}) {
		t.Errorf("sorted by date from the 2nd: %v", asc.ids())
	}
	vitals := e.fhirBundle("/fhir/R4/Observation?patient=P1&category=vital-signs&code=http://loinc.org|85354-9")
	if *vitals.Total != 3 || len(vitals.Entry) != 3 {
		t.Errorf("BP observations: %v", vitals.ids())
	}
	if b := e.fhirBundle("/fhir/R4/Condition?patient=P2"); *b.Total != 1 {
		t.Errorf("conditions: %v", b.ids())
	}
	if b := e.fhirBundle("/fhir/R4/MedicationRequest?patient=P1&status=unknown"); *b.Total != 3 {
		t.Errorf("meds: %v", b.ids())
	}
	if b := e.fhirBundle("/fhir/R4/Patient?family=byr&given=ada"); *b.Total != 2 {
		t.Errorf("patients by name: %v", b.ids())
	}
	if b := e.fhirBundle("/fhir/R4/Patient?identifier=P2"); !slices.Equal(b.ids(), []string{"Patient/P2"}) {
		t.Errorf("patients by identifier: %v", b.ids())
	}

	// An unknown parameter is an error, unless lenient; then it is left out of self.
	_, oo = e.fhirGet(400, "/fhir/R4/Encounter?patient=P1&colour=red")
	if oo["resourceType"] != "OperationOutcome" || !strings.Contains(jsonText(t, oo), "colour") {
		t.Errorf("unknown parameter: %v", oo)
	}
	res, _ := e.fhirGet(200, "/fhir/R4/Encounter?patient=P1&colour=red", "Prefer", "handling=lenient")
	if strings.Contains(string(res.body), "colour") {
		t.Errorf("the self link keeps the ignored parameter: %s", res.body)
	}
	for _, bad := range []string{"_count=0", "_count=101", "_sort=name", "date=soon", "_cursor=nope", "_format=xml", "patient="} {
		e.fhirGet(400, "/fhir/R4/Encounter?patient=P1&"+bad)
	}
	e.fhirGet(406, "/fhir/R4/Patient/P1", "Accept", "application/fhir+xml")
	e.fhirGet(200, "/fhir/R4/Patient/P1", "Accept", "application/fhir+json")
	// A cursor of another search is refused.
	e.fhirGet(400, "/fhir/R4/Encounter?patient=P2&_cursor="+url.QueryEscape(pathOf(t, b.link("next"))[strings.Index(pathOf(t, b.link("next")), "_cursor=")+8:]))

	last := e.fhirBundle("/fhir/R4/Observation/$lastn?patient=P1&category=vital-signs&max=2")
	// temp, BP and HR, two readings each, newest first.
	if len(last.Entry) != 6 || last.Entry[0].Resource["id"] != "P1-v3-metric-1" || last.Entry[1].Resource["id"] != "P1-v2-metric-1" {
		t.Errorf("$lastn: %v", last.ids())
	}
	e.fhirGet(400, "/fhir/R4/Observation/$lastn?category=vital-signs")

	doc := e.fhirBundle("/fhir/R4/Patient/P1/$summary")
	if doc.Type != "document" || doc.Entry[0].Resource["resourceType"] != "Composition" {
		t.Fatalf("$summary: %+v", doc)
	}
	var codes []string
	for _, s := range doc.Entry[0].Resource["section"].([]any) {
		codes = append(codes, s.(map[string]any)["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string))
	}
	if !slices.Equal(codes, []string{"11450-4", "10160-0", "8716-3", "18776-5"}) {
		t.Errorf("sections %v", codes)
	}
}

func TestFHIRRoles(t *testing.T) {
	e := newEnv(t)
	fhirChart(e, "R1", 1)
	viewer := e.as(models.RoleViewer)
	for _, tc := range []struct {
		env  *env
		path string
		want int
	}{
		{viewer, "/fhir/R4/Patient/R1", 200},
		{viewer, "/fhir/R4/Encounter?patient=R1", 200},
		{viewer, "/fhir/R4/Patient?name=ada", 200},
		{viewer, "/fhir/R4/Patient?identifier=R1", 200},
		{viewer, "/fhir/R4/Patient", 403},
		{viewer, "/fhir/R4/Patient?birthdate=1990", 403},
		{viewer, "/fhir/R4/Encounter", 403},
		{viewer, "/fhir/R4/Patient/R1/$everything", 200},
		{viewer, "/fhir/R4/Observation/$lastn?patient=R1", 200},
		{e, "/fhir/R4/Encounter", 200},
		{e, "/fhir/R4/Patient", 200},
		{e.as(models.RoleAuditor), "/fhir/R4/Patient/R1", 403},
		{e.as(models.RoleAdmin), "/fhir/R4/Encounter?patient=R1", 403},
		{e.withKey(""), "/fhir/R4/Patient/R1", 401},
	} {
		res := tc.env.do("GET", tc.path, "")
		if res.status != tc.want {
			t.Errorf("%s as %s: %d, want %d\n%s", tc.path, tc.env.key[:6], res.status, tc.want, res.body)
		}
	}
}
