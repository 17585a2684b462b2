package loadtest

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tcpTable is a /proc/net/tcp: port 8000 (1F40) listening twice (two sockets, as
// with SO_REUSEPORT), a connection to it, and 27017 (6989) listening.
const tcpTable = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:6989 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F40 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 6161 1 0000000000000000 20 4 30 10 -1
   3: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
`

// tcp6Table is a /proc/net/tcp6 with port 8000 listening on [::].
const tcp6Table = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7777 1 0000000000000000 100 0 0 10 0
`

func TestListeningInodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		table string
		port  int
		want  []string
	}{
		{"two listeners, not the connection", tcpTable, 8000, []string{"4242", "4343"}},
		{"another port", tcpTable, 27017, []string{"5151"}},
		{"no listener", tcpTable, 8001, nil},
		{"ipv6", tcp6Table, 8000, []string{"7777"}},
		{"heading only", "  sl  local_address rem_address   st\n", 8000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listeningInodes(tc.table, tc.port); !slices.Equal(got, tc.want) {
				t.Errorf("listeningInodes = %q, want %q", got, tc.want)
			}
		})
	}
}

// fakeProc lays out a /proc with net/tcp, net/tcp6 and processes whose fd links
// point where fds says (pid → targets), and returns its path.
func fakeProc(t *testing.T, fds map[string][]string) string {
	t.Helper()
	proc := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(proc, "net", "tcp"), tcpTable)
	write(filepath.Join(proc, "net", "tcp6"), tcp6Table)
	write(filepath.Join(proc, "self", "status"), "VmRSS: 1 kB\n") // not a pid
	for pid, targets := range fds {
		dir := filepath.Join(proc, pid, "fd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, target := range targets {
			if err := os.Symlink(target, filepath.Join(dir, string(rune('0'+i)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return proc
}

func TestListenerPID(t *testing.T) {
	proc := fakeProc(t, map[string][]string{
		"100": {"/dev/null", "socket:[9999]"},
		"200": {"/dev/null", "pipe:[12]", "socket:[7777]"},
		"300": {"socket:[5151]"},
	})
	for _, tc := range []struct {
		name string
		port int
		want int
		err  string
	}{
		{"through tcp6", 8000, 200, ""},
		{"through tcp", 27017, 300, ""},
		{"nothing listens", 8001, 0, "nothing listens on port 8001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ListenerPID(proc, tc.port)
			if wantedError(t, "ListenerPID", err, tc.err) {
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ListenerPID = %d, %v; want %d", got, err, tc.want)
			}
		})
	}

	hidden := fakeProc(t, map[string][]string{"100": {"socket:[1]"}})
	if _, err := ListenerPID(hidden, 8000); err == nil || !strings.Contains(err.Error(), "cannot be seen") {
		t.Errorf("a listener no process shows: %v", err)
	}
	if _, err := ListenerPID(t.TempDir(), 8000); err == nil || !strings.Contains(err.Error(), "not Linux") {
		t.Errorf("no /proc/net: %v", err)
	}
}

func TestURLListenerPID(t *testing.T) {
	proc := fakeProc(t, map[string][]string{"200": {"socket:[7777]"}, "300": {"socket:[5151]"}})
	for _, tc := range []struct {
		url  string
		want int
		err  string
	}{
		{"http://127.0.0.1:8000", 200, ""},
		{"http://localhost:27017/api", 300, ""},
		{"http://127.0.0.1", 0, "nothing listens on port 80"},
		{"https://[::1]", 0, "nothing listens on port 443"},
		{"ftp://127.0.0.1", 0, "invalid syntax"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := URLListenerPID(proc, u)
			if wantedError(t, "URLListenerPID", err, tc.err) {
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("URLListenerPID = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status string
		want   Memory
		err    string
	}{
		{"a process", "Name:\tinteractions\nVmPeak:\t 2000000 kB\nVmHWM:\t  183000 kB\nVmRSS:\t   97540 kB\nThreads:\t12\n",
			Memory{RSS: 97540 << 10, Peak: 183000 << 10}, ""},
		{"a kernel thread", "Name:\tkworker/0:1\nState:\tI (idle)\n", Memory{}, "no VmRSS and VmHWM"},
		{"a bad size", "VmHWM:\t12 MB\nVmRSS:\t1 kB\n", Memory{}, `VmHWM is "12 MB"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus(bufio.NewScanner(strings.NewReader(tc.status)))
			if wantedError(t, "parseStatus", err, tc.err) {
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStatus = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestSampleMemory samples a process whose memory shrinks: the largest RSS is the
// one read when the sampling started, the memory now is the last, and a process
// gone by the end is an error.
func TestSampleMemory(t *testing.T) {
	proc := t.TempDir()
	status := filepath.Join(proc, "42", "status")
	if err := os.MkdirAll(filepath.Dir(status), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(rssKB int) {
		t.Helper()
		text := fmt.Sprintf("Name:\tinteractions\nVmHWM:\t  900000 kB\nVmRSS:\t  %d kB\n", rssKB)
		if err := os.WriteFile(status, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(500_000)
	s := SampleMemory(proc, 42, time.Hour)
	write(100_000)
	now, most, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Memory{RSS: 100_000 << 10, Peak: 900_000 << 10}); now != want || most != 500_000<<10 {
		t.Errorf("Stop = %+v, largest RSS %d; want %+v and %d", now, most, want, 500_000<<10)
	}

	s = SampleMemory(proc, 42, time.Hour)
	if err := os.Remove(status); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Stop(); err == nil {
		t.Error("Stop with the process gone: no error")
	}
}

// TestReadMemoryOfThisProcess reads this test's own memory where there is a /proc.
func TestReadMemoryOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: not Linux")
	}
	m, err := ReadMemory("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("memory %+v: want 0 < RSS ≤ peak", m)
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name string
		stat string
		want time.Duration
		err  string
	}{
		{"a process", "17684 (interactions) S 1 17684 1 0 -1 4194560 88437 0 0 0 9512 1203 0 0 20 0 14 0 1234 0 0",
			(9512 + 1203) * 10 * time.Millisecond, ""},
		{"a command with spaces and parentheses", "42 (a (b) c) R 1 42 1 0 -1 0 0 0 0 0 250 50 0 0 20 0",
			3 * time.Second, ""},
		{"no command", "42 a R 1", 0, "no command"},
		{"cut short", "42 (a) R 1 42", 0, "fields after the command"},
		{"not a number", "42 (a) R 1 42 1 0 -1 0 0 0 0 0 x 50", 0, `"x" is not a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat(tc.stat)
			if wantedError(t, "parseStat", err, tc.err) {
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStat = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
