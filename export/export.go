// Package export writes a patient's whole record for a clinician to take away or for
// another system to import: the service's own records as NDJSON, or FHIR R4 (a Bundle,
// or NDJSON resources, which the FHIR import reads back). It reads the chart a page
// at a time and writes each record as it reads it, so memory does not grow with the
// chart.
//
// What an export holds: the patient, then every interaction of the patient, newest
// first (interaction_date, then id, descending, as a history lists them), those
// marked entered-in-error included and marked so (status "entered-in-error" in the
// records, the same status on every FHIR resource of the interaction).
package export

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
)

// Format is the form an export is written in.
type Format string

// The formats.
const (
	// NDJSON is the service's records as the API answers them, one a line:
	// {"patient": {...}} first, then {"interaction": {...}} per interaction.
	NDJSON Format = "ndjson"
	// FHIR is one FHIR R4 Bundle of type collection.
	FHIR Format = "fhir"
	// FHIRNDJSON is the resources of the Bundle, one a line, as a FHIR bulk export
	// writes them and the import reads them.
	FHIRNDJSON Format = "fhir-ndjson"
)

// ParseFormat returns the format named s, NDJSON for "", and false for a name that
// is none of them.
func ParseFormat(s string) (Format, bool) {
	switch f := Format(s); f {
	case "":
		return NDJSON, true
	case NDJSON, FHIR, FHIRNDJSON:
		return f, true
	}
	return "", false
}

// ContentType returns the media type of an export in f.
func (f Format) ContentType() string {
	switch f {
	case FHIR:
		return "application/fhir+json"
	case FHIRNDJSON:
		return "application/fhir+ndjson"
	}
	return "application/x-ndjson"
}

// Request is what to export.
type Request struct {
	Format Format
	// History writes every version of the patient and of each interaction, oldest
	// version first, instead of the current ones. NDJSON only: FHIR has no room for
	// earlier versions in a collection.
	History bool
}

// Patients reads patients (records.Patients).
type Patients interface {
	// Get returns the patient no at its current version, or models.ErrNotFound.
	Get(ctx context.Context, no string) (models.Patient, error)
	// EachVersion calls fn with every version of current, oldest first.
	EachVersion(ctx context.Context, current models.Patient, fn func(models.Patient) error) error
}

// Interactions reads interactions (records.Interactions).
type Interactions interface {
	// Each calls fn with every interaction q selects, newest first.
	Each(ctx context.Context, q models.HistoryQuery, fn func(models.Interaction) error) error
	// EachVersion calls fn with every version of current, oldest first.
	EachVersion(ctx context.Context, current models.Interaction, fn func(models.Interaction) error) error
}

// Options adjust an Exporter.
type Options struct {
	// Encode encodes a record as the API answers it; nil means encoding/json.
	Encode func(v any) ([]byte, error)
	// Now reads the time a FHIR Bundle is stamped with; nil means time.Now.
	Now func() time.Time
}

// Exporter writes patients' records.
type Exporter struct {
	patients     Patients
	interactions Interactions
	opts         Options
}

// New returns an Exporter reading through patients and interactions.
func New(patients Patients, interactions Interactions, opts Options) *Exporter {
	if opts.Encode == nil {
		opts.Encode = json.Marshal
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Exporter{patients: patients, interactions: interactions, opts: opts}
}

// Patient returns the patient no, whose record Write writes. It returns
// models.ErrPatientNotFound when there is none, and the errors of the store.
func (e *Exporter) Patient(ctx context.Context, no string) (models.Patient, error) {
	p, err := e.patients.Get(ctx, no)
	if errors.Is(err, models.ErrNotFound) {
		return models.Patient{}, fmt.Errorf("export %w", models.ErrPatientNotFound)
	}
	return p, err
}

// writeBuffer is how much Write gathers before it writes to its writer.
const writeBuffer = 32 << 10

// Write writes the record of p, as Patient returned it, to w as r asks. It returns
// the errors of the store and of w; what was written until then stays written, so a
// caller that has started answering must make the answer visibly incomplete.
func (e *Exporter) Write(ctx context.Context, w io.Writer, p models.Patient, r Request) error {
	bw := bufio.NewWriterSize(w, writeBuffer)
	var out recordWriter
	switch r.Format {
	case FHIR:
		out = fhir.NewBundleWriter(bw, e.opts.Now())
	case FHIRNDJSON:
		out = fhir.NewNDJSONWriter(bw)
	default:
		out = &recordLines{w: bw, encode: e.opts.Encode}
	}
	if err := e.write(ctx, out, p, r); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// write writes the patient, then each interaction, newest first.
func (e *Exporter) write(ctx context.Context, out recordWriter, p models.Patient, r Request) error {
	var err error
	if r.History {
		err = e.patients.EachVersion(ctx, p, out.Patient)
	} else {
		err = out.Patient(p)
	}
	if err != nil {
		return err
	}
	q := models.HistoryQuery{InsuranceNo: p.InsuranceNo, IncludeEnteredInError: true}
	return e.interactions.Each(ctx, q, func(in models.Interaction) error {
		if r.History {
			return e.interactions.EachVersion(ctx, in, out.Interaction)
		}
		return out.Interaction(in)
	})
}

// recordWriter writes the records of an export in one format (fhir.Writer, recordLines).
type recordWriter interface {
	Patient(p models.Patient) error
	Interaction(in models.Interaction) error
	Close() error
}

// recordLines writes records as NDJSON, each line an object naming what it holds:
// {"patient": {...}} or {"interaction": {...}}.
type recordLines struct {
	w      io.Writer
	encode func(v any) ([]byte, error)
}

func (l *recordLines) Patient(p models.Patient) error { return l.line(`{"patient":`, p) }

func (l *recordLines) Interaction(in models.Interaction) error {
	return l.line(`{"interaction":`, in)
}

func (l *recordLines) Close() error { return nil }

func (l *recordLines) line(open string, record any) error {
	data, err := l.encode(record)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	if _, err := io.WriteString(l.w, open); err != nil {
		return err
	}
	if _, err := l.w.Write(data); err != nil {
		return err
	}
	_, err = io.WriteString(l.w, "}\n")
	return err
}
