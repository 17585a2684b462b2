package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
)

// terminal stands for a terminal showing both stdout and stderr: one buffer, safe
// for concurrent writes.
type terminal struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.Write(p)
}

func (t *terminal) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// checkLogLines fails t when a log line of out does not stand on a line of its own:
// every line holding a JSON log record must be that record and nothing else.
func checkLogLines(t *testing.T, out string) (records int) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `{"time":`) {
			continue
		}
		records++
		if !strings.HasPrefix(line, `{"time":`) || !json.Valid([]byte(line)) {
			t.Errorf("line %d is not one whole log record: %q", i+1, line)
		}
	}
	return records
}

func TestConsoleKeepsLogLinesOutOfTheBar(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out)
	logger := app.NewLogger(con, "info")

	bar := con.newProgress("inserting")
	bar.Start(10)
	bar.Add(1) // the first update always draws the bar
	if !strings.HasPrefix(out.String(), "\rinserting  10%") {
		t.Fatalf("the first update did not draw the bar: %q", out.String())
	}
	logger.Info("while the bar is drawn")
	bar.Add(9) // reaching the total always draws the bar
	bar.Finish()
	bar.stop()
	_, _ = bar.out.Write([]byte("\rinserting late frame"))
	logger.Info("after the bar")
	fmt.Fprintln(&out, "summary")

	got := out.String()
	if n := checkLogLines(t, got); n != 2 {
		t.Errorf("%d log records, want 2:\n%q", n, got)
	}
	lines := strings.Split(got, "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "\rinserting  10%") ||
		!strings.Contains(lines[1], "while the bar is drawn") ||
		!strings.HasPrefix(lines[2], "\r") || !strings.HasSuffix(lines[2], "(10/10)") ||
		!strings.Contains(lines[3], "after the bar") || lines[4] != "summary" || lines[5] != "" {
		t.Errorf("want the bar, a log line, the bar again below it and ended, a log line, the summary; got\n%q", got)
	}
	if strings.Contains(got, "late frame") {
		t.Errorf("the bar wrote after it ended:\n%q", got)
	}
}

func TestRunOutputIsOrderly(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// bar starts each frame of the bar; summary starts the summary's first line.
		bar, summary string
	}{
		{"generate", []string{"-generate", "40", "-batch", "25"}, "\rinserting", "inserted "},
		{"fhir", []string{"-fhir", fhirFixture}, "\rreading", fhirFixture + ": read "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDatabase(t)
			var term terminal
			err := runSeedTo(t, db, time.Now(), &term, &term, tt.args...)
			if status := exitStatus(err, &term); status != 0 && status != 3 {
				t.Fatalf("run: %v\n%s", err, term.String())
			}
			out := term.String()
			checkLogLines(t, out)

			store := strings.Index(out, `"msg":"store: `)
			firstFrame := strings.Index(out, tt.bar)
			lastFrame := strings.LastIndex(out, "\r")
			summary := strings.Index(out, "\n"+tt.summary)
			switch {
			case store < 0 || firstFrame < 0 || summary < 0:
				t.Fatalf("want the store's log line, the bar and the summary; got\n%q", out)
			case store > firstFrame:
				t.Errorf("the store's log line comes after the bar started:\n%q", out)
			case lastFrame > summary:
				t.Errorf("the bar is drawn after the summary started:\n%q", out)
			case strings.Count(out[lastFrame:summary+1], "\n") != 1:
				t.Errorf("the bar's last frame is not ended by one newline before the summary:\n%q", out[lastFrame:])
			}
		})
	}
}
