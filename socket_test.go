package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildSeed builds the seed tool once, from ./seed, and returns its path.
var buildSeed = buildOnce("seed", "./seed")

// TestEmbeddedStoreListensOnAnOwnerOnlySocket runs the server with the defaults, as
// `go run .` does, over a DATA_DIR it creates: its embedded store listens on a Unix
// socket in DATA_DIR that only its owner may use (the socket 0600, DATA_DIR 0700),
// and the process listens on no TCP port but the API's. The keys command, the seed
// tool and mongosh reach the store through the socket, whose connection string the
// server prints. After kill -9 the server starts again over the socket left behind;
// a second server over the same DATA_DIR is refused and leaves the first serving.
func TestEmbeddedStoreListensOnAnOwnerOnlySocket(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	p := startProcess(t, dataDir, "EMBEDDED_MONGO_ADDR=")
	socket := filepath.Join(dataDir, "embedded-store.sock")

	for path, want := range map[string]os.FileMode{dataDir: os.ModeDir | 0o700, socket: os.ModeSocket | 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode() & (os.ModeType | os.ModePerm); got != want {
			t.Errorf("%s has mode %v, want %v", path, got, want)
		}
	}

	// What the process listens on: its API's port on TCP, and the socket.
	port, err := strconv.Atoi(p.base[strings.LastIndexByte(p.base, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	tcp, unix, err := listeners(p.cmd.Process.Pid)
	if err != nil {
		t.Skipf("skipped: the process's listeners cannot be read from /proc (%v)", err)
	}
	if !slices.Equal(tcp, []int{port}) {
		t.Errorf("the process listens on TCP ports %v, want only the API's, %d", tcp, port)
	}
	if !slices.Contains(unix, socket) {
		t.Errorf("the process listens on the Unix sockets %q, not on %s", unix, socket)
	}

	// The server printed the connection string of the socket, for mongosh.
	m := regexp.MustCompile(`mongosh "(mongodb://[^"]+)"`).FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the server printed no mongosh command:\n%s", p.stdout)
	}
	uri := m[1]
	if want := "mongodb://" + strings.ReplaceAll(socket, "/", "%2F") + "/clinic"; uri != want {
		t.Errorf("the server printed %s, want %s", uri, want)
	}

	// The keys command attaches to the store through the socket.
	key := p.createKey("dr-sock", "clinician")
	if status, _, body := p.do("POST", "/api/v1/patients", key, `{"insurance_no":"SOCK-1"}`); status != 201 {
		t.Fatalf("a key the command made: %d %s", status, body)
	}

	// So does the seed tool.
	seed, err := buildSeed()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(seed)
	cmd.Dir = t.TempDir() // no .env there
	cmd.Env = environment(dataDir, "EMBEDDED_MONGO_ADDR=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "store: embedded store of a running server") {
		t.Errorf("the seed tool did not attach to the server's store:\n%s", out)
	}
	if status, _, body := p.do("GET", "/api/v1/patients/A11", key, ""); status != 200 {
		t.Errorf("a patient the seed tool loaded: %d %s", status, body)
	}

	// And mongosh reads through it.
	if _, err := exec.LookPath("mongosh"); err != nil {
		t.Log("mongosh not checked: it is not on PATH (.ci/run installs it)")
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "mongosh", uri, "--quiet", "--eval", `db.patients.countDocuments({_id: "SOCK-1"})`)
		cmd.Env = append(os.Environ(), "MONGOSH_NO_UPDATE_CHECK=1")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Errorf("mongosh through the socket: %v\n%s", err, out)
		}
	}

	// A second server over the same DATA_DIR is refused, and leaves the first serving.
	second := exec.Command(binary(t))
	second.Dir = t.TempDir()
	second.Env = environment(dataDir, "EMBEDDED_MONGO_ADDR=")
	out, err = second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATA_DIR") {
		t.Errorf("a second server over the same DATA_DIR: %v\n%s", err, out)
	}
	if status, _, body := p.do("GET", "/api/v1/patients/SOCK-1", key, ""); status != 200 {
		t.Errorf("the first server after a second tried to start: %d %s", status, body)
	}

	// Killed, the server leaves its socket behind; it starts again over it.
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	if _, err := os.Stat(socket); err != nil {
		t.Logf("the killed server left no socket behind (%v)", err)
	}
	again := startProcess(t, dataDir, "EMBEDDED_MONGO_ADDR=")
	if status, _, body := again.do("GET", "/api/v1/patients/SOCK-1", key, ""); status != 200 {
		t.Errorf("after a restart over the socket left behind: %d %s", status, body)
	}
}

// listeners returns the TCP ports and the paths of the Unix sockets process pid
// listens on, from /proc: the inodes of its sockets (/proc/pid/fd), matched with the
// listening sockets of its network namespace (/proc/pid/net/tcp, tcp6, unix). It
// returns an error when /proc cannot be read.
func listeners(pid int) (tcp []int, unix []string, err error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	for _, table := range []string{"tcp", "tcp6"} {
		err := eachLine(fmt.Sprintf("/proc/%d/net/%s", pid, table), func(f []string) {
			// local address (hex ip:port), state (0A is listening), inode
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] {
				if port, err := strconv.ParseInt(f[1][strings.LastIndexByte(f[1], ':')+1:], 16, 32); err == nil && !slices.Contains(tcp, int(port)) {
					tcp = append(tcp, int(port))
				}
			}
		})
		if err != nil {
			return nil, nil, err
		}
	}
	err = eachLine(fmt.Sprintf("/proc/%d/net/unix", pid), func(f []string) {
		// flags 00010000 is __SO_ACCEPTCON: a listening socket; then type, state, inode, path
		if len(f) > 7 && f[3] == "00010000" && inodes[f[6]] {
			unix = append(unix, f[7])
		}
	})
	slices.Sort(tcp)
	return tcp, unix, err
}

// eachLine calls fn with the fields of every line of the file at path but the first.
func eachLine(path string, fn func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for first := true; lines.Scan(); first = false {
		if !first {
			fn(strings.Fields(lines.Text()))
		}
	}
	return lines.Err()
}
