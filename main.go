// Command interactions serves the clinical interactions record API.
//
//	@title						Clinical interactions record service
//	@version					1.0
//	@description				Record every patient visit as an interaction and read a patient's history back, filtered by labels. Every error has the shape {"error": {"code", "message", "fields"}}.
//	@BasePath					/
//	@accept						json
//	@produce					json
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
