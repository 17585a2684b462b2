package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
)

// TestRunServesAndKeepsData starts the service as `go run .` does, on the embedded
// store, records a patient, shuts down, starts again on the same data directory and
// reads the patient back.
func TestRunServesAndKeepsData(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", dataDir)
	t.Setenv("EMBEDDED_MONGO_ADDR", "127.0.0.1:0")
	t.Setenv("PORT", "0")

	start := func() (string, func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		logs := &lockedBuffer{}
		done := make(chan error, 1)
		go func() { done <- app.Run(ctx, logs) }()
		addr := regexp.MustCompile(`"msg":"serving","addr":"\[::\]:(\d+)"`)
		deadline := time.Now().Add(30 * time.Second)
		for {
			if m := addr.FindStringSubmatch(logs.String()); m != nil {
				stop := func() {
					cancel()
					if err := <-done; err != nil {
						t.Errorf("Run returned %v", err)
					}
					if !strings.Contains(logs.String(), "embedded FerretDB") {
						t.Errorf("no line names the store in use:\n%s", logs)
					}
				}
				return "http://127.0.0.1:" + m[1], stop
			}
			select {
			case err := <-done:
				t.Fatalf("Run ended early: %v\n%s", err, logs)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("server did not start:\n%s", logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	base, stop := start()
	res, err := http.Post(base+"/api/v1/patients", "application/json", strings.NewReader(`{"insurance_no":"R1","fname":"Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create: %d", res.StatusCode)
	}
	stop()

	base, stop = start()
	defer stop()
	res, err = http.Get(base + "/api/v1/patients/R1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var p map[string]any
	if res.StatusCode != 200 || json.Unmarshal(data, &p) != nil || p["fname"] != "Ada" {
		t.Fatalf("after a restart: %d %s", res.StatusCode, data)
	}
}
