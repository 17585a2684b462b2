// Command interactions serves the clinical interactions record API.
//
//	@title						Clinical interactions record service
//	@version					1.0
//	@description				Record every patient visit as an interaction and read a patient's history back, filtered by labels. Every error has the shape {"error": {"code", "message", "fields"}}. Beyond the operations below, a path the API does not have answers 404 not_found, and a method a path does not take answers 405 method_not_allowed with an Allow header, both in that shape.
//	@BasePath					/
//	@accept						json
//	@produce					json
//	@tag.name					patients
//	@tag.description			Patient records, by insurance number, with their versions.
//	@tag.name					interactions
//	@tag.description			Visits: record, read, amend, mark entered-in-error, list a patient's history.
//	@tag.name					insights
//	@tag.description			Computed from many patients' records: suggested questions, similar patients, cohorts, counts by month.
//	@tag.name					audit
//	@tag.description			The hash-chained audit trail of every API request. For auditors.
//	@tag.name					keys
//	@tag.description			API keys and their roles. For admins.
//	@tag.name					health
//	@tag.description			Liveness and readiness, without a key.
//	@tag.name					fhir
//	@tag.description			The read-only FHIR R4 API: reads, searches, $everything, $lastn, $summary. Errors are OperationOutcomes (application/fhir+json).
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				An API key, as "Bearer <key>". Keys come from "go run . keys create" or POST /api/v1/keys.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/clinic/interactions/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
