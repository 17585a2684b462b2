// Package report renders a patient's summary as a self-contained HTML page a
// clinician can print: the patient, the summary, SVG charts of every vital sign and
// of the health status over time, and the visits. The page loads nothing and runs
// nothing: no script, no font, no image, no link; its only style is one inline
// stylesheet, which ContentSecurityPolicy allows by its hash, and every value from
// the chart is escaped by html/template.
package report

import (
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
	"github.com/clinic/interactions/vitals"
)

// MaxVisitsListed is how many visits, the most recent, the page lists in its table;
// its timeline marks every visit.
const MaxVisitsListed = 50

// MaxCountsListed is how many labels, and how many ailments, the most frequent, the
// page lists; it says how many more there are.
const MaxCountsListed = 50

var (
	//go:embed style.css
	style string
	//go:embed page.html
	pageTemplate string

	page = template.Must(template.New("page").Funcs(template.FuncMap{
		"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
		"datetime": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
		"list":     func(s []string) string { return strings.Join(s, ", ") },
		"value":    valueText,
		"title":    title,
		"add":      func(a, b float64) float64 { return a + b },
		"sub":      func(a, b float64) float64 { return a - b },
		"flag":     flag,
		"reading":  vitals.InterpretationDisplay,
	}).Parse(pageTemplate))
)

// ContentSecurityPolicy returns the policy to serve the page with: it allows the
// page's own stylesheet, by its SHA-256 hash, and inline SVG, and nothing else: no
// script, no other style, nothing loaded from anywhere, no form, no framing.
func ContentSecurityPolicy() string { return pagePolicy() + "; frame-ancestors 'none'" }

// pagePolicy is the policy the page carries itself, in a meta element, so that it
// still holds when the page is saved to a file and opened without the header: the
// header's policy but for frame-ancestors, which a browser ignores in a meta
// element (and warns of), so that only the header keeps the page out of frames.
func pagePolicy() string {
	sum := sha256.Sum256([]byte(style))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"base-uri 'none'; form-action 'none'"
}

// Page is what a report shows.
type Page struct {
	Summary summary.Summary
	// Visits are the patient's visits.
	Visits Visits
}

// Visit is a visit as the report lists it.
type Visit struct {
	Date         time.Time
	Ailment      string
	Labels       []string
	HealthStatus *int
	Meds, Tests  []string
	// id places visits of the same date as a history does.
	id string
}

// Visits collects what a page shows of a patient's visits, handed to Add one at a
// time in any order: the date of each, for the timeline, and the MaxVisitsListed
// most recent, for the table. It holds no more than twice those, however long the
// chart.
type Visits struct {
	dates []time.Time
	// recent holds the most recent visits, in no order; listed sorts and cuts it.
	recent []Visit
}

// Add counts in among the visits.
func (v *Visits) Add(in models.Interaction) {
	v.dates = append(v.dates, in.InteractionDate)
	visit := Visit{Date: in.InteractionDate, Ailment: in.Ailment, Labels: in.Label, HealthStatus: in.HealthStatus, id: in.ID}
	if in.NextSteps != nil {
		visit.Meds, visit.Tests = in.NextSteps.PrescribedMeds, in.NextSteps.PrescribedTests
	}
	v.recent = append(v.recent, visit)
	if len(v.recent) == 2*MaxVisitsListed {
		v.recent = v.listed()
	}
}

// listed returns the MaxVisitsListed most recent visits, newest first (of two at
// the same time, the one with the greater id, as a history orders them).
func (v *Visits) listed() []Visit {
	slices.SortFunc(v.recent, func(a, b Visit) int { return cmp.Or(b.Date.Compare(a.Date), strings.Compare(b.id, a.id)) })
	return v.recent[:min(MaxVisitsListed, len(v.recent))]
}

// view is what the template reads.
type view struct {
	S           summary.Summary
	Name        string
	Policy      string
	Style       template.CSS
	Charts      []chart
	Timeline    timeline
	Visits      []Visit
	VisitsTotal int
	// Labels and Ailments are the most frequent, and MoreLabels and MoreAilments
	// count the rest.
	Labels, Ailments         []summary.Count
	MoreLabels, MoreAilments int
}

// Render writes p as an HTML page to w. It returns an error when the page cannot be
// made (a bug) and the errors of writing to w; w may then hold part of the page.
func Render(w io.Writer, p Page) error {
	s := p.Summary
	v := view{S: s, Name: name(s.Patient), Policy: pagePolicy(), Style: template.CSS(style), VisitsTotal: len(p.Visits.dates)}
	if len(s.HealthStatus.Points) > 0 {
		v.Charts = append(v.Charts, newChart(s.HealthStatus))
	}
	for _, series := range s.Vitals.Series {
		v.Charts = append(v.Charts, newChart(series))
	}
	v.Timeline = newTimeline(p.Visits.dates)
	v.Visits = p.Visits.listed()
	v.Labels, v.MoreLabels = mostFrequent(s.Labels)
	v.Ailments, v.MoreAilments = mostFrequent(s.Ailments)
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("render the report: %w", err)
	}
	return nil
}

// mostFrequent returns the first MaxCountsListed of counts, most frequent first,
// and how many more there are.
func mostFrequent(counts []summary.Count) ([]summary.Count, int) {
	n := min(len(counts), MaxCountsListed)
	return counts[:n], len(counts) - n
}

// name returns the patient's name, or their insurance number when the record has
// none.
func name(p summary.Patient) string {
	if n := strings.TrimSpace(p.FName + " " + p.LName); n != "" {
		return n
	}
	return "Patient " + p.InsuranceNo
}

// valueText writes a metric's value as recorded: a string as it is, a number in
// its shortest form, anything else as JSON.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int32, int64, int:
		return fmt.Sprint(x)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
