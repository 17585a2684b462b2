package fhirapi

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
)

// maxDirectoryReads bounds how many pages of the directory one page of a search of
// patients reads, when few of them match what the store cannot filter (a birth
// date): the page then ends early, with a next link from where it stopped.
const maxDirectoryReads = 20

// patientFilter is what a search of patients keeps, beyond the words the store
// finds patients by.
type patientFilter struct {
	name, family, given [][]string
	birth               span
	births              bool
}

// matches reports whether p has every word of every name, family and given value
// at the start of a word of the name part searched, and a birth date in the span.
func (f patientFilter) matches(p models.Patient) bool {
	for _, c := range []struct {
		values [][]string
		words  []string
	}{
		{f.name, models.Words(p.FName + " " + p.LName)},
		{f.family, models.Words(p.LName)},
		{f.given, models.Words(p.FName)},
	} {
		for _, want := range c.values {
			for _, w := range want {
				if !slices.ContainsFunc(c.words, func(have string) bool { return strings.HasPrefix(have, w) }) {
					return false
				}
			}
		}
	}
	if f.births {
		born, _ := fieldString(p, "birth_date")
		start, _, ok := dateRange(born)
		if !ok || !f.birth.contains(start) {
			return false
		}
	}
	return true
}

// fieldString returns the string a patient record holds under key among its further
// fields.
func fieldString(p models.Patient, key string) (string, bool) {
	if i := models.FieldIndex(p.Extra, key); i >= 0 {
		s, ok := p.Extra[i].Value.(string)
		return s, ok
	}
	return "", false
}

// searchPatients answers a search of patients: by identifier (the insurance number),
// exactly, or else by name, family and given name (each word the start of a word of
// the name), and birthdate, by last name, first name and insurance number.
func (a *API) searchPatients(ctx context.Context, r Request, q *query) ([]byte, error) {
	limit := q.count(DefaultCount, MaxCount)
	counted := q.counted()
	if _, sorted := q.values["_sort"]; sorted {
		q.errs.Add("_sort", "patients are listed by name; _sort is not taken")
	}
	var f patientFilter
	var words []string
	for _, part := range []struct {
		name string
		into *[][]string
	}{{"name", &f.name}, {"family", &f.family}, {"given", &f.given}} {
		for _, v := range q.values[part.name] {
			w := models.Words(v)
			if len(w) == 0 {
				q.errs.Add(part.name, "must hold a letter or digit")
			}
			*part.into = append(*part.into, w)
			words = append(words, w...)
		}
	}
	f.birth, f.births = q.dates("birthdate"), len(q.values["birthdate"]) > 0
	identifiers := q.values["identifier"]
	key := searchKey("Patient", q.used)
	after := q.cursor(key)
	if err := q.errs.Err(); err != nil {
		return nil, err
	}
	pg := page{self: selfLink(r.Base, "Patient", q.used, cursorParam(r)...)}
	if len(identifiers) > 0 {
		found, err := a.byIdentifier(ctx, identifiers, f)
		if err != nil {
			return nil, err
		}
		pg.items, pg.total = found, ptr(len(found))
		return pg.encode(r.Base)
	}
	pq := models.PatientQuery{Words: words, Limit: limit + 1}
	if after != nil {
		pq.After = after.Name
	}
	found, next, err := a.patientPage(ctx, pq, f, limit)
	if err != nil {
		return nil, err
	}
	for _, p := range found {
		disclosed(ctx, p.InsuranceNo)
		pg.items = append(pg.items, fhir.PatientOf(p))
	}
	switch {
	case after != nil:
		pg.total = after.Total
	case !counted:
	case next == nil:
		pg.total = ptr(len(found))
	case len(words) > 0:
		n := len(found)
		for at := next; at != nil; {
			more, again, err := a.patientPage(ctx, models.PatientQuery{Words: words, Limit: MaxCount + 1, After: at}, f, MaxCount)
			if err != nil {
				return nil, err
			}
			n, at = n+len(more), again
		}
		pg.total = ptr(n)
	}
	if next != nil {
		c := cursor{Query: key, Name: next, Total: pg.total}
		pg.next = selfLink(r.Base, "Patient", q.used, Param{Name: "_cursor", Value: c.encode()})
	}
	return pg.encode(r.Base)
}

// byIdentifier returns the patients whose insurance number is one of identifiers
// ("value" or "system|value") and that f keeps.
func (a *API) byIdentifier(ctx context.Context, identifiers []string, f patientFilter) ([]fhir.Resource, error) {
	var out []fhir.Resource
	for _, v := range identifiers {
		_, no := token(v)
		p, err := a.patients.Get(ctx, no)
		if errors.Is(err, models.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if f.matches(p) && !slices.ContainsFunc(out, func(r fhir.Resource) bool { return r.ID == fhir.PatientID(p) }) {
			disclosed(ctx, p.InsuranceNo)
			out = append(out, fhir.PatientOf(p))
		}
	}
	return out, nil
}

// patientPage reads the directory from q.After on until it holds limit patients f
// keeps and knows whether more follow, or it has read maxDirectoryReads pages: it
// returns those patients and the position the next page starts after, nil when
// the directory has no more.
func (a *API) patientPage(ctx context.Context, q models.PatientQuery, f patientFilter, limit int) ([]models.Patient, *models.NameCursor, error) {
	var out []models.Patient
	key := q.Key()
	for range maxDirectoryReads {
		found, next, err := a.directory.Patients(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range found {
			if !f.matches(p) {
				continue
			}
			if len(out) == limit {
				c := models.NameCursorAt(out[limit-1], key)
				return out, &c, nil
			}
			out = append(out, p)
		}
		if next == nil {
			return out, nil, nil
		}
		if q.After, err = models.ParseNameCursor(*next); err != nil {
			return nil, nil, err
		}
	}
	return out, q.After, nil
}
