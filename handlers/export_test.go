package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/export"
	"github.com/clinic/interactions/models"
)

// fakeExporter knows the patient A11 and writes lines of the requested format:
// lines of them, or without end when lines is negative, then fails with err.
type fakeExporter struct {
	lines int
	err   error
	// done receives what Write returned.
	done chan error
	req  export.Request
}

func (f *fakeExporter) Patient(_ context.Context, no string) (models.Patient, error) {
	if no != "A11" {
		return models.Patient{}, models.ErrPatientNotFound
	}
	return models.Patient{InsuranceNo: no}, nil
}

func (f *fakeExporter) Write(ctx context.Context, w io.Writer, p models.Patient, r export.Request) error {
	f.req = r
	err := f.write(ctx, w, p, r)
	if f.done != nil {
		f.done <- err
	}
	return err
}

func (f *fakeExporter) write(ctx context.Context, w io.Writer, p models.Patient, r export.Request) error {
	for i := 0; f.lines < 0 || i < f.lines; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "{\"%s\":%d,\"patient\":%q}\n", r.Format, i, p.InsuranceNo); err != nil {
			return err
		}
	}
	return f.err
}

// newExportApp serves the export route of an Exports over exporter as the server
// does, errors rendered by ErrorHandler, streams bound by timeout.
func newExportApp(exporter Exporter, timeout time.Duration) *fiber.App {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(logger), DisableStartupMessage: true})
	app.Get("/api/v1/patients/:insurance_no/export", NewExports(context.Background(), exporter, timeout, logger).Export)
	return app
}

// listenApp serves app on a loopback port until the test ends and returns its base URL.
func listenApp(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestExportRequest(t *testing.T) {
	exporter := &fakeExporter{lines: 2}
	app := newExportApp(exporter, time.Minute)
	for _, tc := range []struct {
		query, contentType string
		want               export.Request
	}{
		{"", "application/x-ndjson", export.Request{Format: export.NDJSON}},
		{"?format=ndjson&include=history", "application/x-ndjson", export.Request{Format: export.NDJSON, History: true}},
		{"?format=fhir", "application/fhir+json", export.Request{Format: export.FHIR}},
		{"?format=fhir-ndjson", "application/fhir+ndjson", export.Request{Format: export.FHIRNDJSON}},
	} {
		res := send(t, app, "GET", "/api/v1/patients/A11/export"+tc.query, "")
		if res.status != 200 || res.header["Content-Type"] != tc.contentType || exporter.req != tc.want {
			t.Errorf("%q: %d %q, asked %+v; want 200 %q, %+v", tc.query, res.status, res.header["Content-Type"], exporter.req, tc.contentType, tc.want)
		}
		if want := fmt.Sprintf("{\"%s\":0,\"patient\":\"A11\"}\n{\"%[1]s\":1,\"patient\":\"A11\"}\n", tc.want.Format); res.body != want {
			t.Errorf("%q: body %q, want %q", tc.query, res.body, want)
		}
	}
	for _, tc := range []struct{ path, code, field string }{
		{"/api/v1/patients/A11/export?format=xml", "validation_failed", "format"},
		{"/api/v1/patients/A11/export?include=versions", "validation_failed", "include"},
		{"/api/v1/patients/A11/export?format=fhir&include=history", "validation_failed", "include"},
		{"/api/v1/patients/A11/export?format=fhir&format=ndjson", "validation_failed", "format"},
		{"/api/v1/patients/A11/export?limit=5", "validation_failed", "limit"},
		{"/api/v1/patients/A%20B/export", "validation_failed", "insurance_no"},
		{"/api/v1/patients/Z99/export", "patient_not_found", ""},
	} {
		res := send(t, app, "GET", tc.path, "")
		if code := errorCode(t, res); code != tc.code || !strings.Contains(res.body, tc.field) {
			t.Errorf("%s: %d %s, want %s naming %q", tc.path, res.status, res.body, tc.code, tc.field)
		}
	}
}

// TestExportStreamFails checks that an export failing after its answer has started
// ends without the last chunk, so that the client cannot take it for whole.
func TestExportStreamFails(t *testing.T) {
	exporter := &fakeExporter{lines: 5000, err: errors.New("the store went away")}
	base := listenApp(t, newExportApp(exporter, time.Minute))
	res, err := http.Get(base + "/api/v1/patients/A11/export")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	data, err := io.ReadAll(res.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the body: %v after %d bytes, want io.ErrUnexpectedEOF", err, len(data))
	}
	if !strings.HasPrefix(string(data), `{"ndjson":0,"patient":"A11"}`) {
		t.Errorf("body starts %.40q, want the lines written before the failure", data)
	}
}

// TestExportStreamStops checks that the goroutine writing an export stops when the
// client goes away, and when the export's time is up.
func TestExportStreamStops(t *testing.T) {
	t.Run("the client goes away", func(t *testing.T) {
		exporter := &fakeExporter{lines: -1, done: make(chan error, 1)}
		base := listenApp(t, newExportApp(exporter, time.Hour))
		res, err := http.Get(base + "/api/v1/patients/A11/export")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(res.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if err := waitFor(exporter.done); !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, context.Canceled) {
			t.Errorf("Write returned %v, want it stopped by the closed body", err)
		}
	})
	t.Run("the time is up", func(t *testing.T) {
		exporter := &fakeExporter{lines: -1, done: make(chan error, 1)}
		base := listenApp(t, newExportApp(exporter, 100*time.Millisecond))
		res, err := http.Get(base + "/api/v1/patients/A11/export")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("reading the body: %v, want io.ErrUnexpectedEOF", err)
		}
		if err := waitFor(exporter.done); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Write returned %v, want context.DeadlineExceeded", err)
		}
	})
}

// waitFor returns what done receives; a minute without stands for never.
func waitFor(done chan error) error {
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		return errors.New("Write did not return")
	}
}
