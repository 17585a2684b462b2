package app_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/insights"
	"github.com/clinic/interactions/models"
)

// disclosurePatients are the patients of disclosureEnv: F1 to F6 with influenza, H1
// and H2 with hypertension, N1 without visits.
var disclosurePatients = []string{"F1", "F2", "F3", "F4", "F5", "F6", "H1", "H2", "N1"}

// disclosureEnv returns an env holding disclosurePatients. Every influenza visit but
// F1's asks "Since when?"; only F3's asks "Travelled recently?"; F2's and H1's symptoms
// mention wheeze; H1 and H2 both ask about their medication.
func disclosureEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	for i, no := range disclosurePatients {
		e.mustDo(201, "POST", "/api/v1/patients", fmt.Sprintf(
			`{"insurance_no":%q,"fname":"Given%d","lname":"Family%s","age":%d,"sex":"F"}`, no, i, strings.ToLower(no), 30+i))
	}
	for i, no := range disclosurePatients[:6] {
		symptoms, qa := "fever and cough", `{"Since when?":"2 days"}`
		if no == "F2" {
			symptoms = "fever and a wheeze"
		}
		switch no {
		case "F1":
			qa = `{"How high was the fever?":"39"}`
		case "F3":
			qa = `{"Since when?":"3 days","Travelled recently?":"no"}`
		}
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(
			`{"id":"v-%s","insurance_no":%q,"ailment":"Influenza","symptoms":%q,"interaction_date":"2024-09-%02dT09:00:00Z",
			  "metrics":{"temp":38.5,"HR":90},"health_status":4,"qa":%s,"label":["fever"]}`, no, no, symptoms, i+1, qa))
	}
	for i, no := range []string{"H1", "H2"} {
		symptoms := "headache"
		if no == "H1" {
			symptoms = "headache and a wheeze"
		}
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(
			`{"id":"v-%s","insurance_no":%q,"ailment":"Hypertension","symptoms":%q,"interaction_date":"2024-10-%02dT09:00:00Z",
			  "metrics":{"BP":"170/100","HR":70},"health_status":7,"qa":{"Takes medication?":"yes"},"label":["cardio"]}`, no, no, symptoms, i+1))
	}
	return e
}

// TestDisclosuresAreAudited sends a request of every route whose answer holds
// patients' data and, for each, lists the audit trail by every patient: the
// request's event is found under each patient its answer disclosed, and under no
// other, and it names exactly those.
func TestDisclosuresAreAudited(t *testing.T) {
	e := disclosureEnv(t)
	type sent struct {
		name, requestID string
		disclosed       []string
	}
	var requests []sent
	request := func(name, method, path, body string) response {
		t.Helper()
		res := e.do(method, path, body)
		if res.status != 200 {
			t.Fatalf("%s: %s %s: status %d\n%s", name, method, path, res.status, res.body)
		}
		return res
	}
	record := func(name string, res response, disclosed ...string) {
		t.Helper()
		slices.Sort(disclosed)
		requests = append(requests, sent{name, res.header.Get("X-Request-Id"), slices.Compact(disclosed)})
	}
	itemsOf := func(res response, key string) []string {
		var out []string
		for _, it := range res.json(t)[key].([]any) {
			out = append(out, it.(map[string]any)["insurance_no"].(string))
		}
		return out
	}

	record("list", request("list", "GET", "/api/v1/patients/F4/interactions", ""), "F4")
	record("search across patients", request("search", "GET", "/api/v1/interactions?q=wheeze", ""), "F2", "H1")
	directory := request("directory", "GET", "/api/v1/patients?limit=3", "")
	if got := itemsOf(directory, "items"); len(got) != 3 {
		t.Fatalf("directory page: %v", got)
	} else {
		record("directory", directory, got...)
	}
	record("directory with q", request("directory with q", "GET", "/api/v1/patients?q=familyf5", ""), "F5")

	// The cohorts are described from their members: a cohort of fewer than
	// insights.MinGroupSize discloses every member, a larger one none but those on
	// the page.
	all := decode[handlers.Cohorts](t, request("cohort members", "GET", "/api/v1/analytics/cohorts?k=2&limit=100", ""))
	members := map[int][]string{}
	for _, m := range all.Members.Items {
		members[m.Cohort] = append(members[m.Cohort], m.InsuranceNo)
	}
	if len(all.Cohorts) != 2 || all.Cohorts[0].Size < insights.MinGroupSize || all.Cohorts[1].Size >= insights.MinGroupSize {
		t.Fatalf("cohorts of sizes %v; the test needs one of %d members or more and one of fewer", members, insights.MinGroupSize)
	}
	page := request("cohort members", "GET", "/api/v1/analytics/cohorts?k=2&cohort=0&limit=1", "")
	onPage := decode[handlers.Cohorts](t, page).Members.Items
	if len(onPage) != 1 || onPage[0].InsuranceNo != members[0][0] {
		t.Fatalf("cohort 0's first page: %+v, want %s", onPage, members[0][0])
	}
	record("cohort members", page, append([]string{onPage[0].InsuranceNo}, members[1]...)...)

	similar := request("similar patients", "GET", "/api/v1/patients/F1/similar?k=2", "")
	record("similar patients", similar, append(itemsOf(similar, "items"), "F1")...)
	record("export", request("export", "GET", "/api/v1/patients/F3/export", ""), "F3")
	record("report", request("report", "GET", "/api/v1/patients/F3/report", ""), "F3")
	record("summary", request("summary", "GET", "/api/v1/patients/F3/summary", ""), "F3")
	record("summary as text", request("summary", "GET", "/api/v1/patients/F3/summary?format=text", ""), "F3")
	// "Since when?" was asked by five other patients, and discloses none of them;
	// "Travelled recently?" by F3 alone.
	asked := request("suggested questions", "GET", "/api/v1/interactions/v-F1/suggested-questions", "")
	if got := decode[handlers.QuestionSuggestions](t, asked).Items; len(got) != 2 || got[0].Support != 5 {
		t.Fatalf("suggestions for F1's visit: %+v", got)
	}
	record("suggested questions", asked, "F1", "F3")
	record("suggestions of a context", request("suggestions", "POST", "/api/v1/suggestions/questions",
		`{"ailment":"hypertension"}`), "H1", "H2")
	record("counts by month", request("counts by month", "GET", "/api/v1/analytics/labels", ""))
	// The FHIR API notes whom its answers disclose itself: a search across patients
	// names every patient it found.
	fhirSearch, bundle := e.fhirGet(200, "/fhir/R4/Encounter?_count=3")
	var found []string
	for _, entry := range bundle["entry"].([]any) {
		ref := entry.(map[string]any)["resource"].(map[string]any)["subject"].(map[string]any)["reference"].(string)
		found = append(found, strings.TrimPrefix(ref, "Patient/"))
	}
	if len(found) != 3 {
		t.Fatalf("the FHIR search's page: %v", found)
	}
	record("FHIR search across patients", fhirSearch, found...)

	auditor := e.as(models.RoleAuditor)
	listed := map[string]map[string]map[string]any{} // patient -> request id -> event
	for _, no := range disclosurePatients {
		listed[no] = map[string]map[string]any{}
		path := "/api/v1/audit?limit=100&insurance_no=" + no
		for {
			p := auditor.mustDo(200, "GET", path, "")
			for _, it := range p["items"].([]any) {
				ev := it.(map[string]any)
				listed[no][ev["request_id"].(string)] = ev
			}
			next, _ := p["next_cursor"].(string)
			if next == "" {
				break
			}
			path = "/api/v1/audit?limit=100&insurance_no=" + no + "&cursor=" + url.QueryEscape(next)
		}
	}
	for _, r := range requests {
		t.Run(r.name, func(t *testing.T) {
			for _, no := range disclosurePatients {
				ev, found := listed[no][r.requestID]
				if want := slices.Contains(r.disclosed, no); found != want {
					t.Errorf("listed under %s: %v, want %v (it disclosed %v)", no, found, want, r.disclosed)
				}
				if !found {
					continue
				}
				var names []string
				patients, _ := ev["patients"].([]any)
				for _, p := range patients {
					names = append(names, p.(string))
				}
				if !slices.Equal(names, r.disclosed) {
					t.Errorf("the event names %v, want %v", names, r.disclosed)
				}
			}
		})
	}
}
