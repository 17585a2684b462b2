package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/reconcile"
)

// fhirReport says what a FHIR import did.
type fhirReport struct {
	read                   fhir.Report
	patients, interactions reconcile.Counts
	elapsed                time.Duration
}

// importFHIR imports the FHIR bulk data in dir, as fhir.Read reads it, through im
// (see package reconcile), with a progress bar on con whose line is ended when it
// returns. now is when the records are created. It returns the errors of fhir.Read
// and of im, with what im did before them.
func importFHIR(ctx context.Context, im *reconcile.Importer, dir string, now time.Time, con *console) (fhirReport, error) {
	started := time.Now()
	bar := con.newProgress(-1, "reading", progressbar.OptionShowBytes(true))
	defer bar.stop()
	read, err := fhir.Read(ctx, dir, fhir.Options{Now: now, Progress: bar.set}, im)
	if err == nil {
		err = im.Flush(ctx)
	}
	// What was read and skipped before an error too, which the run's audit event counts.
	read.Skipped = append(read.Skipped, im.Skipped()...)
	rep := fhirReport{read: read, patients: im.Patients(), interactions: im.Interactions()}
	if err != nil {
		return rep, err
	}
	bar.finish()
	rep.elapsed = time.Since(started)
	return rep, nil
}

// counts are the report's numbers as the run's audit event records them.
func (r fhirReport) counts() map[string]int {
	return map[string]int{
		"patients_inserted": r.patients.Inserted, "patients_updated": r.patients.Updated,
		"patients_unchanged":    r.patients.Unchanged,
		"interactions_inserted": r.interactions.Inserted, "interactions_updated": r.interactions.Updated,
		"interactions_unchanged": r.interactions.Unchanged, "resources_skipped": r.read.SkippedCount(),
	}
}

// print writes the report: what was read, what happened to the records, what was
// ignored and what was skipped, with where.
func (r fhirReport) print(w io.Writer, dir string) {
	var read []string
	types := slices.Sorted(maps.Keys(r.read.Read))
	slices.SortStableFunc(types, func(a, b string) int { return typeRank(a) - typeRank(b) })
	for _, t := range types {
		read = append(read, fmt.Sprintf("%d %s", r.read.Read[t], t))
	}
	fmt.Fprintf(w, "%s: read %s (%.1f MB) in %s\n", dir, strings.Join(read, ", "),
		float64(r.read.Bytes)/1e6, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "patients:     %d inserted, %d updated, %d unchanged\n", r.patients.Inserted, r.patients.Updated, r.patients.Unchanged)
	fmt.Fprintf(w, "interactions: %d inserted, %d updated, %d unchanged\n", r.interactions.Inserted, r.interactions.Updated, r.interactions.Unchanged)
	if len(r.read.Ignored) > 0 {
		fmt.Fprintln(w, "ignored:")
		for _, what := range slices.Sorted(maps.Keys(r.read.Ignored)) {
			fmt.Fprintf(w, "  %s: %d\n", what, r.read.Ignored[what])
		}
	}
	if len(r.read.Skipped) == 0 {
		fmt.Fprintln(w, "skipped: none")
		return
	}
	fmt.Fprintf(w, "skipped: %d\n", r.read.SkippedCount())
	for _, s := range r.read.Skipped {
		fmt.Fprintf(w, "  %s: %d\n", s.Reason, s.Count)
		for _, at := range s.At {
			fmt.Fprintf(w, "    %s\n", at)
		}
		if more := s.Count - len(s.At); more > 0 {
			fmt.Fprintf(w, "    … and %d more\n", more)
		}
	}
}

// typeRank orders resource types as the import reads them: patients, encounters,
// then the rest.
func typeRank(t string) int {
	switch t {
	case "Patient":
		return 0
	case "Encounter":
		return 1
	}
	return 2
}
