package diskspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// reader is a free-space reader whose answer the test sets.
type reader struct {
	mu   sync.Mutex
	free uint64
	err  error
	dirs []string
}

func (r *reader) set(free uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.free, r.err = free, err
}

func (r *reader) read(dir string) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirs = append(r.dirs, dir)
	return r.free, r.err
}

const gib = 1 << 30

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		free     uint64
		readErr  error
		min      uint64
		low      bool
		wantErr  error
		wantFree uint64
	}{
		{"plenty", 5 * gib, nil, gib, false, nil, 5 * gib},
		{"exactly the minimum", gib, nil, gib, false, nil, gib},
		{"below the minimum", gib - 1, nil, gib, true, nil, gib - 1},
		{"empty, the check off", 0, nil, 0, false, nil, 0},
		{"unreadable", 0, errors.New("statfs: no such file or directory"), gib, false, models.ErrUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &reader{free: tc.free, err: tc.readErr}
			w := Watch{Dir: "/data", Min: tc.min, Free: r.read}
			space, err := w.Check()
			var low *models.LowDiskError
			switch {
			case tc.low:
				if !errors.As(err, &low) || low.Free != tc.free || low.Min != tc.min {
					t.Fatalf("Check = %+v, %v; want a LowDiskError of %d under %d", space, err, tc.free, tc.min)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Check = %+v, %v; want %v", space, err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("Check = %v", err)
			}
			if err == nil && (space.FreeBytes != tc.wantFree || space.MinFreeBytes != tc.min) {
				t.Errorf("Check = %+v, want %d free of %d", space, tc.wantFree, tc.min)
			}
			if len(r.dirs) != 1 || r.dirs[0] != "/data" {
				t.Errorf("read %q, want /data once", r.dirs)
			}
		})
	}
}

// TestWarn checks that the watch logs a warning at start and at every tick while
// free space is low, says once when it is enough again, logs a failed read, and
// names no more than the directory and the figures.
func TestWarn(t *testing.T) {
	r := &reader{free: gib / 2}
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &logs}, nil))
	lines := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if l != "" && json.Unmarshal([]byte(l), &m) == nil {
				out = append(out, m)
			}
		}
		return out
	}
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch{Dir: "/data", Min: gib, Free: r.read}.Warn(ctx, logger, ticks)
	}()
	reads := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.dirs)
	}
	// waitForReads waits until the watch has read the free space n times.
	waitForReads := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); reads() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the watch read the free space %d times, want %d", reads(), n)
			}
		}
	}
	tick := func() {
		t.Helper()
		n := reads()
		ticks <- time.Time{}
		waitForReads(n + 1)
	}

	waitForReads(1) // at start: low
	tick()          // low still
	r.set(2*gib, nil)
	tick() // enough again
	tick() // enough still: nothing
	r.set(0, errors.New("statfs: input/output error"))
	tick()
	r.set(gib-1, nil)
	tick()
	cancel()
	<-done

	got := lines()
	var summary []string
	for _, l := range got {
		summary = append(summary, l["level"].(string)+" "+l["msg"].(string))
	}
	want := []string{
		"WARN " + lowMessage, "WARN " + lowMessage,
		"INFO " + enoughMessage,
		"WARN " + unreadableMessage,
		"WARN " + lowMessage,
	}
	if strings.Join(summary, "\n") != strings.Join(want, "\n") {
		t.Fatalf("logged\n%s\nwant\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	first := got[0]
	if first["free_bytes"] != float64(gib/2) || first["min_free_bytes"] != float64(gib) || first["data_dir"] != "/data" {
		t.Errorf("the warning says %v", first)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestFree reads the free space of a real directory: some, and no more than its
// file system holds.
func TestFree(t *testing.T) {
	free, err := Free(t.TempDir())
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("skipped: this system has no statfs")
	}
	if err != nil || free == 0 {
		t.Fatalf("Free = %d, %v", free, err)
	}
	if _, err := Free(t.TempDir() + "/missing"); err == nil {
		t.Error("the free space of a missing directory was read")
	}
}
