// Package csvimport reads the original project's CSV export, Patient.csv and
// Interaction.csv, into records validated as the API validates a request, with the
// rows it leaves out and why.
package csvimport

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// The files of a dataset, as the original project exports them.
const (
	PatientFile     = "Patient.csv"
	InteractionFile = "Interaction.csv"
)

// patientColumns and interactionColumns are the columns the files may have, located by
// header name in any order.
var (
	patientColumns = []string{
		"insurance_no", "fname", "lname", "addr", "age", "sex", "ph_no", "email", "related_docs",
		"habits", "pre_existing_conditions", "pre_existing_medications", "blood_type", "insurance_provider",
	}
	interactionColumns = []string{
		"id", "insurance_no", "ailment", "symptoms", "metrics", "remarks", "health_status", "qa",
		"next_steps", "label", "interaction_date",
	}
)

// Problem is a row left out of an import, and why. Reason names fields and says what
// is wrong with them; it never repeats the values, which may be patient data.
type Problem struct {
	File   string
	Line   int
	Reason string
}

// String gives the file, the line and the reason.
func (p Problem) String() string {
	return fmt.Sprintf("%s line %d: %s", p.File, p.Line, p.Reason)
}

// SortProblems orders problems as the files are read: Patient.csv first, then by line.
func SortProblems(ps []Problem) {
	rank := func(p Problem) int {
		if strings.HasSuffix(p.File, PatientFile) {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// Interaction is an interaction read from a file, with the line it came from.
type Interaction struct {
	Line   int
	File   string
	Record models.Interaction
}

// Dataset is what a pair of CSV files holds once read and validated.
type Dataset struct {
	Patients     []models.Patient
	Interactions []Interaction
	// PatientRows and InteractionRows count the data rows read from each file,
	// valid or not.
	PatientRows, InteractionRows int
	Problems                     []Problem
	// Notes are remarks about whole files: a missing file, an ignored column.
	Notes []string
}

// Read reads Patient.csv and Interaction.csv from fsys; either may be missing, but
// not both. Each row is turned into a request document and passed through
// models.NewPatient or models.NewInteraction, so it is validated exactly as the API
// validates a request; rows that fail, and rows repeating an insurance number or id
// seen earlier in the file, are reported in the dataset's problems and left out.
// Problems name files as dir joined with the file name (just the file name when dir is
// empty).
//
// Timestamps: every record's created_at and updated_at is start, the import's start
// time, one timestamp for the whole run. An interaction whose interaction_date column
// is missing or empty is dated start as well, which is the API's default for a record
// created at that moment.
//
// It returns an error when neither file exists, when a file cannot be read, or when a
// header lacks a required column (insurance_no; for interactions also id) or names a
// column twice.
func Read(fsys fs.FS, dir string, start time.Time) (Dataset, error) {
	var ds Dataset
	name := func(file string) string { return filepath.Join(dir, file) }

	patients, err := readTable(fsys, PatientFile, name(PatientFile), patientColumns, []string{"insurance_no"})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ds.Notes = append(ds.Notes, name(PatientFile)+": not found; loading interactions only")
	case err != nil:
		return Dataset{}, err
	}
	interactions, err := readTable(fsys, InteractionFile, name(InteractionFile), interactionColumns, []string{"id", "insurance_no"})
	switch {
	case errors.Is(err, fs.ErrNotExist) && patients.file == "":
		return Dataset{}, fmt.Errorf("neither %s nor %s found", name(PatientFile), name(InteractionFile))
	case errors.Is(err, fs.ErrNotExist):
		ds.Notes = append(ds.Notes, name(InteractionFile)+": not found; loading patients only")
	case err != nil:
		return Dataset{}, err
	}

	ds.Notes = append(ds.Notes, patients.notes...)
	ds.Notes = append(ds.Notes, interactions.notes...)
	ds.PatientRows = len(patients.rows) + len(patients.problems)
	ds.InteractionRows = len(interactions.rows) + len(interactions.problems)
	validPatients, problems := validRows(patients, "insurance_no", func(cells []cell) (models.Patient, string, error) {
		p, err := models.NewPatient(patientDocument(cells), start)
		return p, p.InsuranceNo, err
	})
	ds.Problems = append(ds.Problems, problems...)
	for _, p := range validPatients {
		ds.Patients = append(ds.Patients, p.record)
	}
	validInteractions, problems := validRows(interactions, "id", func(cells []cell) (models.Interaction, string, error) {
		in, err := newCSVInteraction(cells, start)
		return in, in.ID, err
	})
	ds.Problems = append(ds.Problems, problems...)
	for _, in := range validInteractions {
		ds.Interactions = append(ds.Interactions, Interaction{Line: in.line, File: interactions.file, Record: in.record})
	}
	SortProblems(ds.Problems)
	return ds, nil
}

// validRow is a record made of a row that passed validation, with the row's line.
type validRow[T any] struct {
	line   int
	record T
}

// validRows turns each row of t into a record with parse, which also returns the
// record's key, and returns the records that are valid and whose key no earlier row
// of t had. It reports the other rows, and those t could not read, as problems,
// naming the key field when a key repeats.
func validRows[T any](t table, field string, parse func([]cell) (T, string, error)) ([]validRow[T], []Problem) {
	problems := append([]Problem(nil), t.problems...)
	var valid []validRow[T]
	seen := map[string]int{}
	for _, row := range t.rows {
		record, key, err := parse(row.cells)
		if err != nil {
			problems = append(problems, Problem{t.file, row.line, reason(err)})
			continue
		}
		if first, ok := seen[key]; ok {
			problems = append(problems, Problem{t.file, row.line,
				fmt.Sprintf("%s: repeats line %d; only the first row is loaded", field, first)})
			continue
		}
		seen[key] = row.line
		valid = append(valid, validRow[T]{line: row.line, record: record})
	}
	return valid, problems
}

// cell is one non-empty cell of a row, with its column's name.
type cell struct {
	column, value string
}

// row is one data row: the line it starts on and its non-empty cells, trimmed, in
// column order.
type row struct {
	line  int
	cells []cell
}

// table is a CSV file read by readTable.
type table struct {
	// file is the name used in problems and notes.
	file     string
	rows     []row
	problems []Problem
	notes    []string
}

// readTable reads path from fsys with encoding/csv. The header names the columns; a
// leading byte order mark, surrounding spaces and letter case are ignored, and columns
// not in known are noted and ignored. Rows that cannot be parsed or do not have one
// cell per column are reported as problems.
//
// It returns an error wrapping fs.ErrNotExist when the file is missing, and an error
// when it cannot be read, has no header, lacks a required column or names one twice.
func readTable(fsys fs.FS, path, file string, known, required []string) (table, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return table{}, fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()

	t := table{file: file}
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return table{}, fmt.Errorf("%s: empty file; a header row is required", file)
	}
	if err != nil {
		return table{}, fmt.Errorf("read %s header: %w", file, err)
	}
	columns := make([]string, len(header))
	index := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		name := strings.ToLower(strings.TrimSpace(h))
		if name != "" && index[name] {
			return table{}, fmt.Errorf("%s: column %q appears twice in the header", file, name)
		}
		index[name] = true
		if !slices.Contains(known, name) {
			t.notes = append(t.notes, fmt.Sprintf("%s: column %q is not one of %s and is ignored",
				file, name, strings.Join(known, ", ")))
			continue
		}
		columns[i] = name
	}
	for _, c := range required {
		if !index[c] {
			return table{}, fmt.Errorf("%s: the header has no %s column", file, c)
		}
	}

	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var parseErr *csv.ParseError
		switch {
		case errors.As(err, &parseErr):
			t.problems = append(t.problems, Problem{file, parseErr.StartLine, "not valid CSV: " + parseErr.Err.Error()})
			continue
		case err != nil:
			return table{}, fmt.Errorf("read %s: %w", file, err)
		}
		line, _ := r.FieldPos(0)
		if len(record) != len(columns) {
			t.problems = append(t.problems, Problem{file, line,
				fmt.Sprintf("has %d cells where the header has %d columns", len(record), len(columns))})
			continue
		}
		var cells []cell
		for i, v := range record {
			if v = strings.TrimSpace(v); v != "" && columns[i] != "" {
				cells = append(cells, cell{column: columns[i], value: v})
			}
		}
		t.rows = append(t.rows, row{line: line, cells: cells})
	}
	return t, nil
}

// patientDocument turns a row of Patient.csv into the document a client would send:
// age becomes an integer, the list columns (related_docs, habits,
// pre_existing_conditions, pre_existing_medications) become arrays of the trimmed,
// comma-separated entries, and everything else stays a string. A value that does not
// convert is kept as the string it is, for models.NewPatient to report.
func patientDocument(cells []cell) bson.D {
	doc := make(bson.D, 0, len(cells))
	for _, c := range cells {
		var v any = c.value
		switch c.column {
		case "age":
			v = integer(c.value)
		case "related_docs", "habits", "pre_existing_conditions", "pre_existing_medications":
			list := splitList(c.value)
			if len(list) == 0 {
				continue
			}
			v = list
		}
		doc = append(doc, bson.E{Key: c.column, Value: v})
	}
	return doc
}

// newCSVInteraction turns a row of Interaction.csv into the document a client would
// send and passes it through models.NewInteraction with start as the time of creation.
// metrics, qa and next_steps hold JSON objects; dates written day-month-year
// (12-10-2024), in interaction_date and next_steps.next_visit, become dates; label
// stays the comma-separated string the API accepts. Unlike the API, an import requires
// an id, so that loading the same file again adds nothing.
//
// It returns a *models.ValidationError listing every field that does not fit.
func newCSVInteraction(cells []cell, start time.Time) (models.Interaction, error) {
	errs := &models.ValidationError{}
	doc := make(bson.D, 0, len(cells))
	hasID := false
	for _, c := range cells {
		var v any = c.value
		switch c.column {
		case "id":
			hasID = true
		case "health_status":
			v = integer(c.value)
		case "interaction_date":
			v = dayMonthYear(c.value)
		case "metrics", "qa", "next_steps":
			obj := jsonObject(c.column, c.value, errs)
			if obj == nil {
				continue
			}
			if c.column == "next_steps" {
				for i, e := range obj {
					if s, ok := e.Value.(string); ok && e.Key == "next_visit" {
						obj[i].Value = dayMonthYear(s)
					}
				}
			}
			v = obj
		}
		doc = append(doc, bson.E{Key: c.column, Value: v})
	}
	if !hasID {
		errs.Add("id", "is required in an import, so that loading the file again adds nothing")
	}
	in, err := models.NewInteraction(doc, start)
	var invalid *models.ValidationError
	if errors.As(err, &invalid) {
		for field, msg := range invalid.Fields {
			errs.Add(field, msg)
		}
	} else if err != nil {
		return models.Interaction{}, err
	}
	if err := errs.Err(); err != nil {
		return models.Interaction{}, err
	}
	return in, nil
}

// jsonObject parses a cell that must hold a JSON object. When it does not, it records
// why under column in errs and returns nil.
func jsonObject(column, value string, errs *models.ValidationError) bson.D {
	var syntax *json.SyntaxError
	if err := json.Unmarshal([]byte(value), new(any)); err != nil {
		msg := "is not valid JSON (it ends too early)"
		if errors.As(err, &syntax) && syntax.Offset < int64(len(value)) {
			msg = fmt.Sprintf("is not valid JSON (error at character %d)", syntax.Offset)
		}
		errs.Add(column, msg)
		return nil
	}
	doc, err := models.ParseDocument([]byte(value))
	var invalid *models.ValidationError
	switch {
	case err == nil:
		return doc
	case errors.As(err, &invalid):
		for field, msg := range invalid.Fields {
			errs.Add(column+"."+field, msg)
		}
	default:
		errs.Add(column, "must hold a JSON object")
	}
	return nil
}

// dayMonthYear rewrites a day-month-year date (12-10-2024) as an RFC 3339 date
// (2024-10-12) and returns anything else unchanged, for models to accept or report.
func dayMonthYear(s string) string {
	t, err := time.Parse("2-1-2006", s)
	if err != nil {
		return s
	}
	return t.Format(time.DateOnly)
}

// integer returns s as an int64 when it is a decimal integer, and s otherwise.
func integer(s string) any {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return s
	}
	return n
}

// splitList splits a comma-separated cell into its trimmed, non-empty entries.
func splitList(s string) bson.A {
	var out bson.A
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// reason describes a rejected row by its field messages, sorted by field, without the
// values.
func reason(err error) string {
	var invalid *models.ValidationError
	if !errors.As(err, &invalid) {
		return err.Error()
	}
	return invalid.Summary()
}
