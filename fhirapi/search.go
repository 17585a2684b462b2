package fhirapi

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
)

// searchParams are the parameters each resource type is searched by, beyond those
// of every search (_count, _sort, _total, _format, _cursor).
var searchParams = map[string][]string{
	"Patient":           {"name", "family", "given", "identifier", "birthdate"},
	"Encounter":         {"patient", "date"},
	"Observation":       {"patient", "code", "category", "date"},
	"Condition":         {"patient"},
	"MedicationRequest": {"patient", "status"},
}

// namingParams are the parameters that name the patient a search is about: a search
// with one of them set reads one patient's chart (or finds patients by name or
// identifier) rather than listing every patient's.
var namingParams = []string{"patient", "name", "family", "given", "identifier"}

// NamesPatient reports whether a request with params names the patient it is about,
// as a role limited to named charts must: patient= on a search of a chart's
// resources, or name, family, given or identifier on a search of patients. An empty
// value names none.
func NamesPatient(params []Param) bool {
	return slices.ContainsFunc(params, func(p Param) bool {
		return slices.Contains(namingParams, p.Name) && strings.TrimSpace(p.Value) != ""
	})
}

// Search returns one page of the search of typ r asks for, as a searchset Bundle:
// its resources, its total (counted on the first page and carried by the cursor;
// left out of a page of every patient's records that is not the last, and with
// _total=none), its self link and, when more follow, its next link. It returns
// ErrUnknownType for a type it does not search, a *models.ValidationError for bad
// or unknown parameters (unknown ones are ignored when r is lenient), and the
// errors of the store.
func (a *API) Search(ctx context.Context, typ string, r Request) ([]byte, error) {
	known, ok := searchParams[typ]
	if !ok {
		return nil, ErrUnknownType
	}
	q := readQuery(r, known...)
	if typ == "Patient" {
		return a.searchPatients(ctx, r, q)
	}
	limit := q.count(DefaultCount, MaxCount)
	w := &walk{q: models.HistoryQuery{Ascending: q.ascending(), IncludeEnteredInError: true}, batch: min(limit+1, models.MaxPageSize), subjects: &subjects{a: a}}
	counted := q.counted()
	id := q.patient()
	kind := func(res fhir.Resource) bool { return res.Type == typ }
	w.only, w.match = typ, kind
	switch typ {
	case "Encounter", "Observation":
		if dates := q.dates("date"); len(q.values["date"]) > 0 {
			w.q.From, w.q.To = dates.From, dates.To
			w.keep = func(in models.Interaction) bool { return dates.contains(in.InteractionDate) }
		}
	}
	switch typ {
	case "Observation":
		codes, categories := q.values["code"], q.values["category"]
		w.match = func(res fhir.Resource) bool {
			return kind(res) && allOf(codes, res.HasCode) && allOf(categories, res.HasCategory)
		}
	case "MedicationRequest":
		statuses := q.values["status"]
		w.match = func(res fhir.Resource) bool {
			return kind(res) && allOf(statuses, func(_, code string) bool { return res.Status() == code })
		}
	}
	after := q.cursor(searchKey(typ, q.used))
	if err := q.errs.Err(); err != nil {
		return nil, err
	}
	self := selfLink(r.Base, typ, q.used, cursorParam(r)...)
	if id != "" {
		p, err := a.subject(ctx, id)
		if errors.Is(err, models.ErrNotFound) {
			return page{self: self, total: ptr(0)}.encode(r.Base)
		}
		if err != nil {
			return nil, err
		}
		w.q.InsuranceNo = p.InsuranceNo
		w.subjects.ids = map[string]string{p.InsuranceNo: fhir.PatientID(p)}
	}
	items, next, err := a.pageOf(ctx, w, after, limit)
	if err != nil {
		return nil, err
	}
	pg := page{items: items, self: self}
	switch {
	case after != nil:
		pg.total = after.Total
	case !counted:
	case next == nil:
		pg.total = ptr(len(items))
	case id != "":
		n, err := a.total(ctx, typ, w, len(items), next)
		if err != nil {
			return nil, err
		}
		pg.total = ptr(n)
	}
	if next != nil {
		next.Query, next.Total = searchKey(typ, q.used), pg.total
		pg.next = selfLink(r.Base, typ, q.used, Param{Name: "_cursor", Value: next.encode()})
	}
	return pg.encode(r.Base)
}

// total counts the resources of w, whose first page held first and ended at next:
// for Encounters, one per interaction, by a count of the store's index; otherwise by
// walking the rest of the chart.
func (a *API) total(ctx context.Context, typ string, w *walk, first int, next *cursor) (int, error) {
	if typ == "Encounter" && a.counter != nil && w.keep == nil {
		n, err := a.counter.CountHistory(ctx, w.q)
		return int(n), err
	}
	n, err := a.count(ctx, w, next)
	return first + n, err
}

// allOf reports whether every value (of a parameter given once per value) has one of
// its comma-separated tokens that has accepts.
func allOf(values []string, has func(system, code string) bool) bool {
	for _, v := range values {
		if !slices.ContainsFunc(strings.Split(v, ","), func(t string) bool { return has(token(t)) }) {
			return false
		}
	}
	return true
}

// searchKey identifies a search (not its page size or total), for its cursors.
func searchKey(typ string, used []Param) string {
	parts := []string{typ}
	for _, p := range used {
		if p.Name != "_count" && p.Name != "_total" {
			parts = append(parts, p.Name+"="+p.Value)
		}
	}
	return models.QueryKey(parts...)
}

// cursorParam returns the _cursor r was sent with, for its page's self link.
func cursorParam(r Request) []Param {
	for _, p := range r.Params {
		if p.Name == "_cursor" {
			return []Param{p}
		}
	}
	return nil
}

func ptr(n int) *int { return &n }
