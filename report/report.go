// Package report renders a patient's summary as a self-contained HTML page a
// clinician can print: the patient, the summary, SVG charts of every vital sign and
// of the health status over time, and the visits. The page loads nothing and runs
// nothing: no script, no font, no image, no link; its only style is one inline
// stylesheet, which ContentSecurityPolicy allows by its hash, and every value from
// the chart is escaped by html/template.
package report

import (
	"bytes"
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
func ContentSecurityPolicy() string {
	sum := sha256.Sum256([]byte(style))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// Page is what a report shows.
type Page struct {
	Summary summary.Summary
	// Visits are the patient's visits, in any order (see VisitOf).
	Visits []Visit
}

// Visit is a visit as the report lists it.
type Visit struct {
	Date         time.Time
	Ailment      string
	Labels       []string
	HealthStatus *int
	Meds, Tests  []string
}

// VisitOf returns what the report shows of in.
func VisitOf(in models.Interaction) Visit {
	v := Visit{Date: in.InteractionDate, Ailment: in.Ailment, Labels: in.Label, HealthStatus: in.HealthStatus}
	if in.NextSteps != nil {
		v.Meds, v.Tests = in.NextSteps.PrescribedMeds, in.NextSteps.PrescribedTests
	}
	return v
}

// view is what the template reads.
type view struct {
	S           summary.Summary
	Name        string
	Style       template.CSS
	Charts      []chart
	Timeline    timeline
	Visits      []Visit
	VisitsTotal int
}

// Render writes p as an HTML page to w. It returns an error when the page cannot be
// made (a bug) and the errors of writing to w.
func Render(w io.Writer, p Page) error {
	s := p.Summary
	v := view{S: s, Name: name(s.Patient), Style: template.CSS(style), VisitsTotal: len(p.Visits)}
	if len(s.HealthStatus.Points) > 0 {
		v.Charts = append(v.Charts, newChart(s.HealthStatus))
	}
	for _, series := range s.Vitals.Series {
		v.Charts = append(v.Charts, newChart(series))
	}
	dates := make([]time.Time, len(p.Visits))
	for i, visit := range p.Visits {
		dates[i] = visit.Date
	}
	v.Timeline = newTimeline(dates)
	v.Visits = newestFirst(p.Visits, MaxVisitsListed)

	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return fmt.Errorf("render the report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// name returns the patient's name, or their insurance number when the record has
// none.
func name(p summary.Patient) string {
	if n := strings.TrimSpace(p.FName + " " + p.LName); n != "" {
		return n
	}
	return "Patient " + p.InsuranceNo
}

// newestFirst returns the n most recent of visits, newest first.
func newestFirst(visits []Visit, n int) []Visit {
	out := slices.Clone(visits)
	slices.SortStableFunc(out, func(a, b Visit) int { return b.Date.Compare(a.Date) })
	return out[:min(n, len(out))]
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
