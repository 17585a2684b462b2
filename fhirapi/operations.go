package fhirapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
)

// refuse adds an error for each of names the request gave: parameters every search
// takes that an operation does not.
func (q *query) refuse(names ...string) {
	for _, n := range names {
		if _, ok := q.values[n]; ok {
			q.errs.Add(n, "this operation does not take it")
		}
	}
}

// Everything returns one page of Patient/{id}/$everything: the Patient (on the
// first page), then every resource of each of the patient's interactions, those
// entered in error included and marked so, newest first, each exactly once across
// the pages however many visits are added meanwhile (new ones are left to a new
// $everything). _since keeps the resources of records changed since then (the
// Patient too), start and end those of visits in that period (and the Patient).
// _count bounds a page (100 by default, 1,000 at most). It returns
// models.ErrNotFound for an unknown patient, a *models.ValidationError for bad
// parameters, and the errors of the store.
func (a *API) Everything(ctx context.Context, id string, r Request) ([]byte, error) {
	q := readQuery(r, "_since", "start", "end")
	q.refuse("_sort")
	limit := q.count(DefaultEverything, MaxEverything)
	counted := q.counted()
	var since time.Time
	if v := q.one("_since"); v != "" {
		start, _, ok := dateRange(v)
		if !ok {
			q.errs.Add("_since", "must be an instant (2024-03-05T10:00:00Z) or a date")
		}
		since = start
	}
	var care span
	if v := q.one("start"); v != "" {
		start, _, ok := dateRange(v)
		if !ok {
			q.errs.Add("start", "must be a date or date-time")
		}
		care.From = start
	}
	if v := q.one("end"); v != "" {
		_, end, ok := dateRange(v)
		if !ok {
			q.errs.Add("end", "must be a date or date-time")
		}
		care.To, care.ToOpen = end, true
	}
	path := "Patient/" + id + "/$everything"
	key := searchKey(path, q.used)
	after := q.cursor(key)
	if err := q.errs.Err(); err != nil {
		return nil, err
	}
	p, err := a.patient(ctx, id)
	if err != nil {
		return nil, err
	}
	disclosed(ctx, p.InsuranceNo)
	w := &walk{
		q:     models.HistoryQuery{InsuranceNo: p.InsuranceNo, IncludeEnteredInError: true, From: care.From, To: care.To},
		batch: min(limit+1, models.MaxPageSize), subjects: &subjects{a: a, ids: map[string]string{p.InsuranceNo: fhir.PatientID(p)}},
		keep: func(in models.Interaction) bool {
			return care.contains(in.InteractionDate) && !in.UpdatedAt.Before(since)
		},
	}
	pg := page{self: selfLink(r.Base, path, q.used, cursorParam(r)...)}
	rest, from := limit, after
	if after == nil && !p.UpdatedAt.Before(since) {
		pg.items, rest = append(pg.items, fhir.PatientOf(p)), limit-1
		from = &cursor{Started: true}
	}
	var next *cursor
	if rest > 0 {
		var items []fhir.Resource
		if items, next, err = a.pageOf(ctx, w, from, rest); err != nil {
			return nil, err
		}
		pg.items = append(pg.items, items...)
	} else if n, err := a.count(ctx, w, from); err != nil {
		return nil, err
	} else if n > 0 {
		next = from
	}
	switch {
	case after != nil:
		pg.total = after.Total
	case !counted:
	case next == nil:
		pg.total = ptr(len(pg.items))
	default:
		n, err := a.count(ctx, w, next)
		if err != nil {
			return nil, err
		}
		pg.total = ptr(len(pg.items) + n)
	}
	if next != nil {
		next.Query, next.Total, next.Started = key, pg.total, true
		pg.next = selfLink(r.Base, path, q.used, Param{Name: "_cursor", Value: next.encode()})
	}
	return pg.encode(r.Base)
}

// LastN returns Observation/$lastn: for the patient named, the latest max readings
// (1 by default, 100 at most) of each code, newest first, grouped by code in the
// order of their latest reading, as a searchset Bundle; category and code narrow it
// as in a search of Observations. Interactions entered in error are left out. It
// reads the patient's visits newest first, a batch at a time from the history's
// index, and stops once every code asked for (the vital signs, for
// category=vital-signs) has max readings, or at the chart's end. It returns a
// *models.ValidationError without a patient or with bad parameters, and the errors
// of the store.
func (a *API) LastN(ctx context.Context, r Request) ([]byte, error) {
	q := readQuery(r, "patient", "category", "code", "max")
	q.refuse("_count", "_sort", "_cursor", "_total")
	id := q.patient()
	if id == "" {
		q.errs.Add("patient", "is required")
	}
	most := 1
	if v := q.one("max"); v != "" {
		n, err := fmt.Sscanf(v, "%d", &most)
		if err != nil || n != 1 || fmt.Sprint(most) != v || most < 1 || most > MaxLastN {
			q.errs.Add("max", fmt.Sprintf("must be a whole number from 1 to %d", MaxLastN))
		}
	}
	codes, categories := q.values["code"], q.values["category"]
	if err := q.errs.Err(); err != nil {
		return nil, err
	}
	pg := page{self: selfLink(r.Base, "Observation/$lastn", q.used)}
	p, err := a.patient(ctx, id)
	if err != nil {
		pg.total = ptr(0)
		if errors.Is(err, models.ErrNotFound) {
			return pg.encode(r.Base)
		}
		return nil, err
	}
	// targets are the codes asked for: each must reach max for the read to stop early.
	var targets []string
	for _, v := range codes {
		targets = append(targets, splitTokens(v)...)
	}
	if len(targets) == 0 && allOf(categories, func(_, code string) bool { return code == "vital-signs" }) && len(categories) > 0 {
		targets = fhir.VitalSignCodes()
	}
	w := &walk{
		q:     models.HistoryQuery{InsuranceNo: p.InsuranceNo},
		batch: 50, subjects: &subjects{a: a, ids: map[string]string{p.InsuranceNo: fhir.PatientID(p)}},
		match: func(res fhir.Resource) bool {
			return res.Type == "Observation" && allOf(codes, res.HasCode) && allOf(categories, res.HasCategory)
		},
	}
	byCode := map[string][]fhir.Resource{}
	var order []string
	done := func() bool {
		if len(targets) == 0 {
			return false
		}
		for _, t := range targets {
			n := 0
			for _, k := range order {
				if rs := byCode[k]; len(rs) > 0 && rs[0].HasCode(token(t)) {
					n += len(rs)
				}
			}
			if n < most {
				return false
			}
		}
		return true
	}
	err = a.each(ctx, w, nil, func(res fhir.Resource, _ cursor, _ string) error {
		k := res.CodeKey()
		if len(byCode[k]) == most {
			return nil
		}
		if byCode[k] == nil {
			order = append(order, k)
		}
		byCode[k] = append(byCode[k], res)
		if done() {
			return errStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range order {
		pg.items = append(pg.items, byCode[k]...)
	}
	if len(pg.items) > 0 {
		disclosed(ctx, p.InsuranceNo)
	}
	pg.total = ptr(len(pg.items))
	return pg.encode(r.Base)
}

// splitTokens splits a token parameter's comma-separated values.
func splitTokens(v string) []string {
	return slices.DeleteFunc(strings.Split(v, ","), func(t string) bool { return t == "" })
}

// Summary returns Patient/{id}/$summary: the patient's summary (the one the
// printable report shows, from every interaction not entered in error) as a
// document Bundle shaped like the International Patient Summary (see
// fhir.SummaryDocument). It returns models.ErrNotFound for an unknown patient, a
// *models.ValidationError for any parameter but _format, and the errors of the store.
func (a *API) Summary(ctx context.Context, id string, r Request) ([]byte, error) {
	q := readQuery(r)
	q.refuse("_count", "_sort", "_cursor", "_total")
	if err := q.errs.Err(); err != nil {
		return nil, err
	}
	p, err := a.patient(ctx, id)
	if err != nil {
		return nil, err
	}
	disclosed(ctx, p.InsuranceNo)
	b := summary.NewBuilder(p, a.now())
	err = a.interactions.Each(ctx, models.HistoryQuery{InsuranceNo: p.InsuranceNo}, func(in models.Interaction) error {
		b.Add(in)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return encode(fhir.SummaryDocument(p, b.Summary()))
}
