// Package fhir maps FHIR R4 bulk data to the service's patients and interactions.
//
// Read takes a folder as a FHIR bulk export (or Synthea) writes it: NDJSON files, one
// resource per line, named for their resource type ("Patient.000.ndjson"); or one
// NDJSON file of resources of any types, as the service's export writes it. Each
// Patient becomes a patient and each Encounter an interaction, enriched with the
// Conditions, MedicationRequests, Procedures, ServiceRequests, Observations and
// DocumentReferences that refer to it. Documents are built as a client would send
// them to the API and validated as the API validates them. Files are read line by
// line; what is kept between files is one compact entry per patient and encounter.
//
// Writer goes the other way: a patient and the interactions of their chart as FHIR
// R4 resources, in a Bundle or as NDJSON that Read reads back.
package fhir

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clinic/interactions/models"
)

// DefaultMaxLine is the longest line Read accepts unless told otherwise; longer lines
// are skipped and reported.
const DefaultMaxLine = 16 << 20

// MaxListed is how many places Report keeps for each reason resources were skipped.
const MaxListed = 20

// Origin is where a resource was read: a file of the folder and a line in it.
type Origin struct {
	File string
	Line int
}

// String gives "file:line".
func (o Origin) String() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// Sink receives the records Read builds, each validated as the API validates a
// create: every patient first, then every interaction, whose patients are among those
// received. An error returned by a Sink stops Read.
type Sink interface {
	Patient(ctx context.Context, p models.Patient, at Origin) error
	Interaction(ctx context.Context, in models.Interaction, at Origin) error
}

// Options adjust Read.
type Options struct {
	// Now is when the records are created, and the day ages are counted at; the
	// zero time means the start of Read.
	Now time.Time
	// MaxLine bounds the length of a line in bytes; zero means DefaultMaxLine.
	MaxLine int
	// Progress, when set, is called as the files are read, with the bytes read so
	// far and the size of all the files to read.
	Progress func(done, total int64)
}

// Report says what Read read, passed on and left out.
type Report struct {
	// Read counts the resources read, by resource type.
	Read map[string]int
	// Patients and Interactions count the records passed to the Sink.
	Patients, Interactions int
	// Ignored counts what the import leaves out by design, by what it is: resources
	// of a type it does not import, observations that are not vital signs it maps.
	Ignored map[string]int
	// Skipped groups the resources that could not be imported, by reason, in the
	// order the reasons first came up.
	Skipped []Skipped
	// Bytes is the size of the files read.
	Bytes int64
}

// Skipped is the resources skipped for one reason.
type Skipped struct {
	// Reason says what is wrong without quoting the resource, which holds patient data.
	Reason string
	Count  int
	// At lists where the first MaxListed of them were read.
	At []Origin
}

// Skip records that the resource read at at was skipped for reason.
func (r *Report) Skip(at Origin, reason string) {
	for i := range r.Skipped {
		if s := &r.Skipped[i]; s.Reason == reason {
			s.Count++
			if len(s.At) < MaxListed {
				s.At = append(s.At, at)
			}
			return
		}
	}
	r.Skipped = append(r.Skipped, Skipped{Reason: reason, Count: 1, At: []Origin{at}})
}

// SkippedCount returns the number of resources skipped.
func (r *Report) SkippedCount() int {
	n := 0
	for _, s := range r.Skipped {
		n += s.Count
	}
	return n
}

// Read reads the FHIR resources at path and passes the patients and interactions they
// hold to sink, as the package comment describes. path is a folder, whose NDJSON files
// (those named *.ndjson) each hold the resources of the type their name starts with,
// or one NDJSON file, where each line's resourceType says what it holds. A line that
// cannot be imported (malformed, of an unknown type, referring to a resource not
// read, invalid, or longer than opts.MaxLine) is skipped and recorded in the report
// with its file and line; the rest is imported regardless. A resource entered in
// error, and what refers to an Encounter entered in error, is counted as ignored.
//
// It returns an error when path cannot be read, is a folder without .ndjson files,
// when a file cannot be read, when ctx ends, and the first error of sink, wrapped;
// the report then covers what was done until then.
func Read(ctx context.Context, path string, opts Options, sink Sink) (Report, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	info, err := os.Stat(path)
	if err != nil {
		return Report{}, fmt.Errorf("read %s: %w", path, err)
	}
	r := &reader{
		opts:     opts,
		sink:     sink,
		report:   Report{Read: map[string]int{}, Ignored: map[string]int{}},
		patients: map[string]string{},
		taken:    map[string]bool{},
		visits:   map[string]*visit{},
		voided:   map[string]bool{},
		passes:   1,
	}
	if !info.IsDir() {
		f := file{name: filepath.Base(path), path: path, size: info.Size()}
		r.passes, r.total = len(mixedPasses), f.size*int64(len(mixedPasses))
		err = r.readMixed(ctx, f)
		r.report.Bytes = r.done / int64(r.passes)
		return r.report, err
	}
	files, err := listFiles(path)
	if err != nil {
		return Report{}, err
	}
	for _, fs := range files {
		for _, f := range fs {
			r.total += f.size
		}
	}
	err = r.read(ctx, files)
	r.report.Bytes = r.done
	return r.report, err
}

// file is an NDJSON file of the folder.
type file struct {
	name, path string
	size       int64
}

// listFiles returns the .ndjson files of dir by resource type: the part of the name
// before the first dot. It returns an error when dir cannot be listed or has none.
func listFiles(dir string) (map[string][]file, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	out := map[string][]file{}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".ndjson") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		typ, _, _ := strings.Cut(e.Name(), ".")
		out[typ] = append(out[typ], file{name: e.Name(), path: filepath.Join(dir, e.Name()), size: info.Size()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no .ndjson files", dir)
	}
	return out, nil
}

// reader is the state of one Read.
type reader struct {
	opts   Options
	sink   Sink
	report Report
	// patients maps the id of each Patient read to its insurance number, or to ""
	// when the Patient was skipped.
	patients map[string]string
	// taken holds the insurance numbers passed on.
	taken map[string]bool
	// visits maps the id of each Encounter read to its visit, or to nil when the
	// Encounter was skipped; order holds the visits in the order read.
	visits map[string]*visit
	order  []*visit
	// voided holds the ids of the Encounters entered in error.
	voided map[string]bool
	// passes is how many times each file is read; done and total count the bytes
	// of all the passes.
	passes      int
	done, total int64
}

// read reads the files in the order the join needs: patients, encounters, what
// refers to encounters, the rest (only counted); then it passes on the interactions.
func (r *reader) read(ctx context.Context, files map[string][]file) error {
	if err := r.each(ctx, files["Patient"], r.patient); err != nil {
		return err
	}
	if err := r.each(ctx, files["Encounter"], r.encounter); err != nil {
		return err
	}
	for _, typ := range findingTypes {
		if err := r.each(ctx, files[typ], r.finding(typ)); err != nil {
			return err
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(files)) {
		if typ == "Patient" || typ == "Encounter" || newFinding(typ) != nil {
			continue
		}
		err := r.each(ctx, files[typ], func(_ context.Context, typ string, _ []byte, _ Origin) error {
			r.report.Ignored[typ+" (type not imported)"]++
			return nil
		})
		if err != nil {
			return err
		}
	}
	return r.emit(ctx)
}

// mixedPasses are the resource types each pass over a file of mixed types reads, in
// the order the join needs: patients, encounters, then the rest.
var mixedPasses = []func(typ string) bool{
	func(typ string) bool { return typ == "Patient" },
	func(typ string) bool { return typ == "Encounter" },
	func(typ string) bool { return typ != "Patient" && typ != "Encounter" },
}

// readMixed reads a file of resources of any types, as read does a folder: it reads
// the file once for each of mixedPasses, taking each line's type from its
// resourceType. What cannot be read, lines too long included, is reported in the last
// pass. Then it passes on the interactions.
func (r *reader) readMixed(ctx context.Context, f file) error {
	for i, wants := range mixedPasses {
		last := i == len(mixedPasses)-1
		err := r.eachLine(ctx, f, last, func(line []byte, at Origin) error {
			typ, problem := lineType(line)
			switch {
			case problem != "":
				if last {
					r.report.Skip(at, problem)
				}
				return nil
			case !wants(typ):
				return nil
			case typ == "Patient":
				return r.patient(ctx, typ, line, at)
			case typ == "Encounter":
				return r.encounter(ctx, typ, line, at)
			case newFinding(typ) != nil:
				return r.finding(typ)(ctx, typ, line, at)
			case !plausibleType(typ):
				r.report.Skip(at, "unknown resource type")
			default:
				r.report.Ignored[typ+" (type not imported)"]++
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return r.emit(ctx)
}

// lineType returns the resourceType of the resource on line, or why it has none.
func lineType(line []byte) (typ, problem string) {
	var h struct {
		ResourceType string `json:"resourceType"`
	}
	err := json.Unmarshal(line, &h)
	var wrongType *json.UnmarshalTypeError
	switch {
	case err != nil && (!errors.As(err, &wrongType) || wrongType.Field == ""): // not JSON, or not an object
		return "", "malformed JSON"
	case h.ResourceType == "":
		return "", "no resourceType"
	}
	return h.ResourceType, ""
}

// each calls fn with ctx, the type of the files (from their names), each non-blank line
// of the files and where it was read. Lines longer than opts.MaxLine are recorded
// as skipped instead. It returns the errors of reading, of fn and of ctx.
func (r *reader) each(ctx context.Context, files []file, fn func(ctx context.Context, typ string, line []byte, at Origin) error) error {
	for _, f := range files {
		typ, _, _ := strings.Cut(f.name, ".")
		err := r.eachLine(ctx, f, true, func(line []byte, at Origin) error { return fn(ctx, typ, line, at) })
		if err != nil {
			return err
		}
	}
	return nil
}

// eachLine calls fn with each non-blank line of f and where it was read, and records
// the lines longer than opts.MaxLine as skipped when reportLong is set. It returns the
// errors of reading, of fn and of ctx.
func (r *reader) eachLine(ctx context.Context, f file, reportLong bool, fn func(line []byte, at Origin) error) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.name, err)
	}
	defer fh.Close()
	br := bufio.NewReaderSize(progressReader{fh, r}, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, tooLong, err := readLine(br, buf[:0], r.opts.MaxLine)
		buf = line
		at := Origin{File: f.name, Line: n}
		if tooLong {
			if reportLong {
				r.report.Skip(at, fmt.Sprintf("line longer than %d bytes", r.opts.MaxLine))
			}
		} else if len(bytes.TrimSpace(line)) > 0 {
			if err := fn(line, at); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.name, err)
		}
	}
}

// readLine reads one line from br into buf (without its end) and returns it, or
// reports it too long when it holds more than max bytes; the rest of a long line is
// read and dropped, so memory stays within max. The error is io.EOF at the end of the
// input, with the last line when it has no line end.
func readLine(br *bufio.Reader, buf []byte, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			chunk = bytes.TrimRight(chunk, "\r\n")
			if len(buf)+len(chunk) > max {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, tooLong, err
	}
}

// progressReader reports the bytes read through it to the reader's Progress.
type progressReader struct {
	src io.Reader
	r   *reader
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.src.Read(b)
	p.r.done += int64(n)
	if p.r.opts.Progress != nil && n > 0 {
		p.r.opts.Progress(p.r.done, p.r.total)
	}
	return n, err
}

// decode decodes line, read from a file of resources of type typ, into v. It returns
// false, having recorded why, when the line is not JSON, holds a resource of another
// type, does not fit FHIR R4 or is entered in error (which is counted as ignored,
// and for an Encounter noted in voided).
func (r *reader) decode(line []byte, at Origin, typ string, v interface{ header() *base }) bool {
	err := json.Unmarshal(line, v)
	var wrongType *json.UnmarshalTypeError
	if err != nil && (!errors.As(err, &wrongType) || wrongType.Field == "") { // not JSON, or not an object
		r.report.Skip(at, "malformed JSON")
		return false
	}
	h := v.header()
	switch {
	case h.ResourceType == typ:
	case h.ResourceType == "":
		r.report.Skip(at, "no resourceType")
		return false
	case h.ResourceType == "Patient" || h.ResourceType == "Encounter" || newFinding(h.ResourceType) != nil:
		r.report.Skip(at, fmt.Sprintf("%s resource in a file of %s resources", h.ResourceType, typ))
		return false
	default:
		r.report.Skip(at, unknownType(h.ResourceType))
		return false
	}
	r.report.Read[typ]++
	switch {
	case wrongType != nil:
		r.report.Skip(at, fmt.Sprintf("%s does not follow FHIR R4: %s has the wrong type", typ, wrongType.Field))
		return false
	case enteredInError(v):
		r.report.Ignored[typ+" (entered in error)"]++
		if typ == "Encounter" && h.ID != "" {
			r.voided[h.ID] = true
		}
		return false
	}
	return true
}

// decodeFirst decodes line as r.decode does into v, a Patient or an Encounter, and
// returns true when it holds the first resource of its id: it returns false, having
// recorded why, when decode does, when the resource has no id, and when read, the
// resources of its type read so far by id, holds its id.
func decodeFirst[V any](r *reader, line []byte, at Origin, typ string, v interface{ header() *base }, read map[string]V) bool {
	if !r.decode(line, at, typ, v) {
		return false
	}
	id := v.header().ID
	if id == "" {
		r.report.Skip(at, typ+" has no id")
		return false
	}
	if _, seen := read[id]; seen {
		r.report.Skip(at, typ+" id read before (the first one is imported)")
		return false
	}
	return true
}

// conditionStatus is the code system of a Condition's verification status.
const conditionStatus = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

// enteredInError reports whether a resource is marked entered in error: by its
// status, or a Condition by its verification status.
func enteredInError(v interface{ header() *base }) bool {
	if c, ok := v.(*condition); ok && c.VerificationStatus.has(conditionStatus, models.StatusEnteredInError) {
		return true
	}
	return v.header().Status == models.StatusEnteredInError
}

// unknownType gives the reason for a resource of a type the import does not know,
// naming the type when it looks like one.
func unknownType(t string) string {
	if !plausibleType(t) {
		return "unknown resource type"
	}
	return fmt.Sprintf("unknown resource type %q", t)
}

// plausibleType reports whether t could name a FHIR resource type: at most 64
// letters, and nothing else, so that it may be quoted in a report.
func plausibleType(t string) bool {
	return len(t) <= 64 && strings.IndexFunc(t, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
	}) < 0
}

func (r *reader) patient(ctx context.Context, typ string, line []byte, at Origin) error {
	var p patient
	if !decodeFirst(r, line, at, typ, &p, r.patients) {
		return nil
	}
	pt, err := models.NewPatient(patientDocument(&p, r.opts.Now), r.opts.Now)
	pt.Source = patientSource(&p)
	switch {
	case err != nil:
		r.patients[p.ID] = ""
		r.report.Skip(at, "invalid patient: "+invalidFields(err))
		return nil
	case r.taken[pt.InsuranceNo]:
		r.patients[p.ID] = ""
		r.report.Skip(at, "Patient has the insurance number of another Patient")
		return nil
	}
	r.patients[p.ID] = pt.InsuranceNo
	r.taken[pt.InsuranceNo] = true
	r.report.Patients++
	if err := r.sink.Patient(ctx, pt, at); err != nil {
		return fmt.Errorf("store patient of %s: %w", at, err)
	}
	return nil
}

func (r *reader) encounter(_ context.Context, typ string, line []byte, at Origin) error {
	var e encounter
	if !decodeFirst(r, line, at, typ, &e, r.visits) {
		return nil
	}
	r.visits[e.ID] = nil
	insuranceNo, known := r.patients[e.Subject.id("Patient")]
	switch {
	case !known:
		r.report.Skip(at, "reference to a missing Patient")
		return nil
	case insuranceNo == "":
		r.report.Skip(at, "its Patient was skipped")
		return nil
	}
	v, why := newVisit(&e, insuranceNo, at)
	if why != "" {
		r.report.Skip(at, why)
		return nil
	}
	r.visits[e.ID] = v
	r.order = append(r.order, v)
	return nil
}

// finding returns the function that reads a line of a file of findings of type typ.
func (r *reader) finding(typ string) func(context.Context, string, []byte, Origin) error {
	return func(_ context.Context, _ string, line []byte, at Origin) error {
		f := newFinding(typ)
		if !r.decode(line, at, typ, f) {
			return nil
		}
		if o, ok := f.(*observation); ok && o.ignored() {
			r.report.Ignored["Observation (not a vital sign the import maps)"]++
			return nil
		}
		id := f.encounterID()
		v, known := r.visits[id]
		switch {
		case id == "":
			r.report.Skip(at, typ+" refers to no Encounter")
		case r.voided[id]:
			r.report.Ignored[typ+" (of an Encounter entered in error)"]++
		case !known:
			r.report.Skip(at, "reference to a missing Encounter")
		case v == nil:
			r.report.Skip(at, "its Encounter was skipped")
		default:
			if why := f.addTo(v); why != "" {
				r.report.Skip(at, why)
			}
		}
		return nil
	}
}

// emit builds, validates and passes on the interaction of every visit.
func (r *reader) emit(ctx context.Context) error {
	for i, v := range r.order {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		in, err := models.NewInteraction(v.document(), r.opts.Now)
		if err != nil {
			r.report.Skip(v.at, "invalid interaction: "+invalidFields(err))
			continue
		}
		in.Source = v.source()
		r.report.Interactions++
		if err := r.sink.Interaction(ctx, in, v.at); err != nil {
			return fmt.Errorf("store interaction of %s: %w", v.at, err)
		}
	}
	return nil
}

// invalidFields lists the fields a validation error names, with their messages,
// which never quote the values.
func invalidFields(err error) string {
	var invalid *models.ValidationError
	if !errors.As(err, &invalid) {
		return "rejected"
	}
	return invalid.Summary()
}
