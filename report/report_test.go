package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
)

var asOf = time.Date(2024, 11, 5, 10, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// render renders the report of patient and visits as of asOf.
func render(t *testing.T, patient models.Patient, visits []models.Interaction) string {
	t.Helper()
	b := summary.NewBuilder(patient, asOf)
	p := Page{}
	for _, in := range visits {
		b.Add(in)
		p.Visits.Add(in)
	}
	p.Summary = b.Summary()
	var out bytes.Buffer
	if err := Render(&out, p); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// history returns n visits of patient A11, a week apart up to asOf, with vitals.
func history(n int) []models.Interaction {
	var out []models.Interaction
	for i := range n {
		date := asOf.AddDate(0, 0, -7*(n-1-i))
		out = append(out, models.Interaction{
			ID: "v" + string(rune('a'+i%26)), InsuranceNo: "A11", InteractionDate: date,
			Ailment: "Influenza", Label: []string{"fever", "respiratory"}, HealthStatus: ptr(3 + i%5),
			Metrics: bson.D{
				{Key: "temp", Value: 37 + float64(i%4)/2}, {Key: "BP", Value: "120/80"}, {Key: "HR", Value: int32(70 + i%9)},
				{Key: "ECG", Value: "Normal"}, {Key: "units", Value: bson.D{{Key: "HR", Value: "/min"}}},
			},
			NextSteps: &models.NextSteps{PrescribedMeds: []string{"Oseltamivir 75mg"}, PrescribedTests: []string{"CRP"}},
		})
	}
	return out
}

var patient = models.Patient{InsuranceNo: "A11", FName: "Vernon", LName: "Lopez", Age: ptr(30), Sex: "M", BloodType: "B+",
	PreExistingConditions: []string{"Asthma"}, PreExistingMedications: []string{"GTH 30mg"}}

func TestRenderContent(t *testing.T) {
	page := render(t, patient, history(12))
	checkHolds(t, page,
		"<title>Vernon Lopez (A11): clinical summary as of 5 Nov 2024</title>",
		"<h1>Vernon Lopez</h1>",
		"<dt>Blood type</dt><dd>B&#43;</dd>",
		"<td>Asthma</td>", "<td>GTH 30mg</td>",
		"<td>Oseltamivir 75mg</td>",
		"<td>CRP</td>",
		"<b>Health status (1 to 10)</b>: 12 readings",
		"<b>Temperature</b> (°C): 12 readings; trend",
		"<b>Blood pressure, systolic</b> (mmHg)",
		"<b>Heart rate</b> (/min)",
		"<td>ECG</td><td>Normal</td><td></td><td></td>",
		// 120/80 is above the 2017 ACC/AHA normal (below 120/80): marked high.
		`<td>Blood pressure</td><td><b class="abnormal">120/80</b></td><td>mmHg</td><td><span class="abnormal">High</span></td>`,
		"Influenza <span class=\"note\">×12</span>",
		"<b>Every visit</b>",
	)
	// A chart a series (health status, temperature, systolic, diastolic, heart
	// rate) and the timeline.
	if n := strings.Count(page, "<svg "); n != 6 {
		t.Errorf("%d SVG elements, want 6", n)
	}
	if n := strings.Count(page, `<circle class="dot`); n != 5*12 {
		t.Errorf("%d dots, want 60", n)
	}
	// Every systolic (120) and diastolic (80) reading is high, and so is every fourth
	// temperature (38.5 °C); no other reading is out of its range.
	if n := strings.Count(page, `<circle class="dot abnormal"`); n != 12+12+3 {
		t.Errorf("%d dots marked abnormal, want 27", n)
	}
	if n := strings.Count(page, `<line class="trend"`); n != 5 {
		t.Errorf("%d trend lines, want 5", n)
	}
	checkSelfContained(t, page)
}

func TestRenderListsTheMostRecentVisits(t *testing.T) {
	page := render(t, patient, history(MaxVisitsListed+10))
	body := page[strings.Index(page, "<h2>Visits</h2>"):]
	if n := strings.Count(body, "<tr><td class=\"nowrap\">"); n != MaxVisitsListed {
		t.Errorf("%d visits listed, want %d", n, MaxVisitsListed)
	}
	if !strings.Contains(body, "The 50 most recent of 60 visits") {
		t.Error("the page does not say that it lists only the most recent visits")
	}
	if first := strings.Index(body, "5 Nov 2024"); first < 0 || first > strings.Index(body, "29 Oct 2024") {
		t.Error("the visits are not listed newest first")
	}
	if n := strings.Count(body, `<line class="visit"`); n != 60 {
		t.Errorf("the timeline marks %d visits, want 60", n)
	}
}

// TestVisitsKeepTheMostRecent checks that Visits holds the date of every visit and
// no more than twice MaxVisitsListed visits, however many it is given and in
// whatever order, and lists the most recent, newest first.
func TestVisitsKeepTheMostRecent(t *testing.T) {
	visits := history(1000)
	for i := range visits {
		visits[i].ID = fmt.Sprintf("v%04d", i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(visits), func(i, j int) { visits[i], visits[j] = visits[j], visits[i] })
	var v Visits
	for _, in := range visits {
		v.Add(in)
		if len(v.recent) > 2*MaxVisitsListed {
			t.Fatalf("Visits holds %d visits", len(v.recent))
		}
	}
	listed := v.listed()
	if len(v.dates) != 1000 || len(listed) != MaxVisitsListed || !listed[0].Date.Equal(asOf) ||
		!listed[MaxVisitsListed-1].Date.Equal(asOf.AddDate(0, 0, -7*(MaxVisitsListed-1))) {
		t.Errorf("%d dates, %d listed, from %v to %v", len(v.dates), len(listed), listed[0].Date, listed[len(listed)-1].Date)
	}
}

// TestRenderSaysWhatItLeavesOut checks that the page says what its summary left
// out, and lists at most MaxCountsListed labels and ailments.
func TestRenderSaysWhatItLeavesOut(t *testing.T) {
	visits := history(3)
	for i := range 80 {
		visits[0].Label = append(visits[0].Label, fmt.Sprintf("label-%02d", i))
	}
	visits[1].Metrics = bson.D{{Key: "temp", Value: "warm"}}
	b := summary.NewBuilder(patient, asOf)
	for _, in := range visits {
		b.Add(in)
	}
	s := b.Summary()
	s.Vitals.LeftOut.Metrics, s.Vitals.LeftOut.Unread, s.Vitals.LeftOut.Unparseable = 46, 19938, 200
	var out bytes.Buffer
	if err := Render(&out, Page{Summary: s}); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	checkHolds(t, page, "46 other metrics are not charted", "19938 metrics were not read",
		"200 more values could not be read", "and 32 more labels")
	labels := page[strings.Index(page, "<h3>Labels</h3>"):]
	labels = labels[:strings.Index(labels, "</ul>")]
	if n := strings.Count(labels, "<li>"); n != MaxCountsListed {
		t.Errorf("%d labels listed, want %d", n, MaxCountsListed)
	}
}

func TestRenderWithoutVisits(t *testing.T) {
	page := render(t, models.Patient{InsuranceNo: "Z99"}, nil)
	checkHolds(t, page, "<h1>Patient Z99</h1>", "<td><span class=\"none\">none recorded</span></td>", "No vitals recorded.",
		"nothing to chart", "No visits recorded.", "none scheduled")
	if strings.Contains(page, "<svg") {
		t.Error("a page without visits draws a chart")
	}
	checkSelfContained(t, page)
}

// TestRenderEscapes records hostile values in every field the page shows and checks
// that each reaches the page as text, never as markup.
func TestRenderEscapes(t *testing.T) {
	const script = `<script>alert(1)</script>`
	hostile := patient
	hostile.FName = `</title><script>alert("name")</script>`
	hostile.PreExistingConditions = []string{`<img src=x onerror=alert(2)>`}
	hostile.Habits = []string{`</style><script>alert(3)</script>`}
	visits := history(4)
	for i := range visits {
		visits[i].Ailment = script
		visits[i].Label = []string{`"quoted" 'label'`, `a&b`}
		visits[i].Metrics = append(visits[i].Metrics,
			bson.E{Key: `"><img src=x>`, Value: int32(5 + i)},
			bson.E{Key: "note", Value: `<svg onload=alert(4)>`},
		)
		visits[i].Metrics[len(visits[i].Metrics)-3] = bson.E{Key: "units", Value: bson.D{{Key: "HR", Value: `</text><script>alert(5)</script>`}}}
		visits[i].NextSteps.PrescribedMeds = []string{`Drug "X" <b>bold</b>`}
		visits[i].NextSteps.PrescribedTests = []string{`javascript:alert(6)`}
	}
	page := render(t, hostile, visits)
	for _, raw := range []string{"<script", "<img", "<b>bold", "<svg onload", `"quoted"`, "'label'", "a&b"} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	checkHolds(t, page,
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;/title&gt;&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;",
		"&lt;img src=x onerror=alert(2)&gt;",
		"&#34;quoted&#34; &#39;label&#39;, a&amp;b",
		"&#34;&gt;&lt;img_src=x&gt;",
		"&lt;svg onload=alert(4)&gt;",
		"&lt;/text&gt;&lt;script&gt;alert(5)&lt;/script&gt;",
		"Drug &#34;X&#34; &lt;b&gt;bold&lt;/b&gt;",
	)
	checkSelfContained(t, page)
}

// checkSelfContained fails t when page could run a script or load anything: a
// script element or handler, a URL, or an attribute that loads one. Values are
// escaped, so every '<' of the page starts a tag; text (an ailment
// "javascript:alert()", say) loads nothing. The one http-equiv allowed is the
// page's policy (see TestPageCarriesItsPolicy).
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	policy := `<meta http-equiv="Content-Security-Policy" content="` + html.EscapeString(pagePolicy()) + `">`
	tags := strings.Join(regexp.MustCompile(`<[^>]*>`).FindAllString(strings.Replace(page, policy, "", 1), -1), "\n")
	for _, pattern := range []string{
		`(?i)<(script|iframe|object|embed|link|img|image|use|foreignObject|form|base|a|audio|video|source)\b`,
		`(?i)\s(on[a-z]+|src|href|xlink:href|action|formaction|srcset|poster|http-equiv)\s*=`,
		`(?i)(https?|ftp|data|javascript):`, `(?i)url\(`, `//`,
	} {
		if m := regexp.MustCompile(pattern).FindString(tags); m != "" {
			t.Errorf("a tag of the page holds %q (%s)", m, pattern)
		}
	}
	if n := strings.Count(page, "<style>"); n != 1 {
		t.Errorf("%d style elements, want 1", n)
	}
	css := page[strings.Index(page, "<style>"):strings.Index(page, "</style>")]
	for _, loads := range []string{"url(", "@import", "@font-face", "//"} {
		if strings.Contains(css, loads) {
			t.Errorf("the stylesheet holds %q", loads)
		}
	}
}

// TestContentSecurityPolicy checks that the policy allows the page's one stylesheet,
// by its hash, and nothing else.
func TestContentSecurityPolicy(t *testing.T) {
	page := render(t, patient, history(3))
	start, end := strings.Index(page, "<style>")+len("<style>"), strings.Index(page, "</style>")
	sum := sha256.Sum256([]byte(page[start:end]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(ContentSecurityPolicy(), want) {
		t.Errorf("policy %q does not allow the page's stylesheet (%s)", ContentSecurityPolicy(), want)
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(ContentSecurityPolicy(), want) {
			t.Errorf("policy %q lacks %s", ContentSecurityPolicy(), want)
		}
	}
	for _, loose := range []string{"unsafe-inline", "unsafe-eval", "script-src", "*", "http"} {
		if strings.Contains(ContentSecurityPolicy(), loose) {
			t.Errorf("policy %q holds %s", ContentSecurityPolicy(), loose)
		}
	}
}

// TestPageCarriesItsPolicy checks that the page holds its policy itself, for when it
// is saved to a file and opened without the header: the header's policy but for
// frame-ancestors, which a browser ignores in a page, in a meta element before
// anything the policy governs.
func TestPageCarriesItsPolicy(t *testing.T) {
	page := render(t, patient, history(3))
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatchIndex(page)
	if m == nil {
		t.Fatalf("the page holds no Content-Security-Policy meta element:\n%s", page[:min(len(page), 600)])
	}
	got := html.UnescapeString(page[m[2]:m[3]])
	want := strings.Replace(ContentSecurityPolicy(), "; frame-ancestors 'none'", "", 1)
	if got != want || want == ContentSecurityPolicy() {
		t.Errorf("the page's policy is %q, want the header's but for frame-ancestors: %q", got, want)
	}
	for _, after := range []string{"<style>", "<title>", "<body>"} {
		if i := strings.Index(page, after); i < m[0] {
			t.Errorf("%s comes before the policy, at %d (the policy at %d)", after, i, m[0])
		}
	}
	if strings.Count(page, "http-equiv") != 1 {
		t.Error("the page holds more than one http-equiv meta element")
	}
}

// checkHolds fails t for each of wants that page does not hold.
func checkHolds(t *testing.T, page string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
