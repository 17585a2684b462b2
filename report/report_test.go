package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
		p.Visits = append(p.Visits, VisitOf(in))
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
	for _, want := range []string{
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
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
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

func TestRenderWithoutVisits(t *testing.T) {
	page := render(t, models.Patient{InsuranceNo: "Z99"}, nil)
	for _, want := range []string{"<h1>Patient Z99</h1>", "<td><span class=\"none\">none recorded</span></td>", "No vitals recorded.", "nothing to chart", "No visits recorded.", "none scheduled"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
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
	for _, escaped := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;/title&gt;&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;",
		"&lt;img src=x onerror=alert(2)&gt;",
		"&#34;quoted&#34; &#39;label&#39;, a&amp;b",
		"&#34;&gt;&lt;img_src=x&gt;",
		"&lt;svg onload=alert(4)&gt;",
		"&lt;/text&gt;&lt;script&gt;alert(5)&lt;/script&gt;",
		"Drug &#34;X&#34; &lt;b&gt;bold&lt;/b&gt;",
	} {
		if !strings.Contains(page, escaped) {
			t.Errorf("the page lacks %q", escaped)
		}
	}
	checkSelfContained(t, page)
}

// checkSelfContained fails t when page could run a script or load anything: a
// script element or handler, a URL, or an attribute that loads one. Values are
// escaped, so every '<' of the page starts a tag; text (an ailment
// "javascript:alert()", say) loads nothing.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	tags := strings.Join(regexp.MustCompile(`<[^>]*>`).FindAllString(page, -1), "\n")
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
