package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/clinic/interactions/loader"
)

// printCSV writes the summary of a CSV load from source: rows read, documents
// inserted and already present, and each row left out with the reason.
func printCSV(w io.Writer, r loader.CSVReport, source string) {
	fmt.Fprintf(w, "%s: %d patient rows, %d interaction rows\n", source, r.PatientRows, r.InteractionRows)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "patients:     %d inserted, %d already present\n", r.Patients.Inserted, r.Patients.Existing)
	fmt.Fprintf(w, "interactions: %d inserted, %d already present\n", r.Interactions.Inserted, r.Interactions.Existing)
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "skipped rows: none")
		return
	}
	fmt.Fprintf(w, "skipped rows: %d\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// printGenerated writes the summary of a load of synthetic patients: the documents
// inserted, how fast, and those already present.
func printGenerated(w io.Writer, r loader.GenerateReport) {
	fmt.Fprintf(w, "inserted %d documents (%d patients, %d interactions) in %s: %.0f documents/s\n",
		r.Documents(), r.Patients.Inserted, r.Interactions.Inserted, r.Elapsed.Round(time.Millisecond), r.PerSecond())
	fmt.Fprintf(w, "already present, left unchanged: %d patients, %d interactions\n", r.Patients.Existing, r.Interactions.Existing)
}

// printFHIR writes the summary of a FHIR import from dir: what was read, what
// happened to the records, what was ignored and what was skipped, with where.
func printFHIR(w io.Writer, r loader.FHIRReport, dir string) {
	var read []string
	types := slices.Sorted(maps.Keys(r.Read.Read))
	slices.SortStableFunc(types, func(a, b string) int { return typeRank(a) - typeRank(b) })
	for _, t := range types {
		read = append(read, fmt.Sprintf("%d %s", r.Read.Read[t], t))
	}
	fmt.Fprintf(w, "%s: read %s (%.1f MB) in %s\n", dir, strings.Join(read, ", "),
		float64(r.Read.Bytes)/1e6, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "patients:     %d inserted, %d updated, %d unchanged\n", r.Patients.Inserted, r.Patients.Updated, r.Patients.Unchanged)
	fmt.Fprintf(w, "interactions: %d inserted, %d updated, %d unchanged\n", r.Interactions.Inserted, r.Interactions.Updated, r.Interactions.Unchanged)
	if len(r.Read.Ignored) > 0 {
		fmt.Fprintln(w, "ignored:")
		for _, what := range slices.Sorted(maps.Keys(r.Read.Ignored)) {
			fmt.Fprintf(w, "  %s: %d\n", what, r.Read.Ignored[what])
		}
	}
	if len(r.Read.Skipped) == 0 {
		fmt.Fprintln(w, "skipped: none")
		return
	}
	fmt.Fprintf(w, "skipped: %d\n", r.Read.SkippedCount())
	for _, s := range r.Read.Skipped {
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
