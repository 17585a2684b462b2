package loadtest

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Linux tells which process listens on a port and how much memory a process holds
// through the files of /proc; these read them. proc is where /proc is mounted
// ("/proc"; tests give a directory of their own).

// listenState is the state of a listening socket in /proc/net/tcp.
const listenState = "0A"

// ListenerPID returns the id of the process listening on TCP port: the inode of the
// listening socket, from proc/net/tcp and proc/net/tcp6, then the process holding
// it among the proc/<pid>/fd links. It returns an error when proc cannot be read
// (another system than Linux), when nothing listens on port, and when the process
// holding the socket cannot be seen (another user's).
func ListenerPID(proc string, port int) (int, error) {
	inodes := map[string]bool{}
	read := 0
	for _, name := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join(proc, "net", name))
		if err != nil {
			continue
		}
		read++
		for _, inode := range listeningInodes(string(data), port) {
			inodes[inode] = true
		}
	}
	if read == 0 {
		return 0, fmt.Errorf("no %s/net/tcp to read: not Linux?", proc)
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d", port)
	}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(proc, e.Name(), "fd"))
		if err != nil {
			continue // gone, or another user's
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(proc, e.Name(), "fd", fd.Name()))
			if err != nil {
				continue
			}
			if inode, ok := strings.CutPrefix(target, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("the process listening on port %d cannot be seen (another user's?)", port)
}

// URLListenerPID returns the id of the process listening on the port of the http(s)
// URL u (80 or 443 when u names none), as ListenerPID finds it: u must name this
// machine. It returns ListenerPID's errors, and an error when the port is not a
// number.
func URLListenerPID(proc string, u *url.URL) (int, error) {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	return ListenerPID(proc, n)
}

// listeningInodes returns the inodes of the sockets listening on port in the text of
// /proc/net/tcp or tcp6: a heading, then one socket a line, whose second field is
// the local address as hex IP:port, fourth the state, tenth the inode.
func listeningInodes(table string, port int) []string {
	var inodes []string
	want := fmt.Sprintf(":%04X", port)
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 10 {
			continue
		}
		if strings.HasSuffix(f[1], want) && f[3] == listenState && f[9] != "0" {
			inodes = append(inodes, f[9])
		}
	}
	return inodes
}

// Memory is how much memory a process holds.
type Memory struct {
	// RSS is its resident memory now, in bytes (VmRSS).
	RSS int64
	// Peak is the most resident memory it has held since it started, in bytes (VmHWM).
	Peak int64
}

// ReadMemory returns the memory of process pid, from proc/<pid>/status. It returns
// an error when the file cannot be read or lacks VmRSS or VmHWM.
func ReadMemory(proc string, pid int) (Memory, error) {
	f, err := os.Open(filepath.Join(proc, strconv.Itoa(pid), "status"))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	return parseStatus(bufio.NewScanner(f))
}

// parseStatus reads VmRSS and VmHWM, in kB, from the lines of a /proc/<pid>/status.
func parseStatus(lines *bufio.Scanner) (Memory, error) {
	var m Memory
	found := 0
	for lines.Scan() {
		key, value, ok := strings.Cut(lines.Text(), ":")
		var into *int64
		switch {
		case !ok:
			continue
		case key == "VmRSS":
			into = &m.RSS
		case key == "VmHWM":
			into = &m.Peak
		default:
			continue
		}
		kb, unit, _ := strings.Cut(strings.TrimSpace(value), " ")
		n, err := strconv.ParseInt(kb, 10, 64)
		if err != nil || unit != "kB" {
			return Memory{}, fmt.Errorf("status: %s is %q, not a size in kB", key, strings.TrimSpace(value))
		}
		*into = n << 10
		found++
	}
	if err := lines.Err(); err != nil {
		return Memory{}, err
	}
	if found < 2 {
		return Memory{}, errors.New("status: no VmRSS and VmHWM (a kernel thread, or not Linux?)")
	}
	return m, nil
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, 100 a second
// on every Linux architecture in use.
const clockTick = 10 * time.Millisecond

// ReadCPU returns the CPU time process pid has used so far, user and system, from
// proc/<pid>/stat. It returns an error when the file cannot be read or parsed.
func ReadCPU(proc string, pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	return parseStat(string(data))
}

// parseStat reads the CPU time from the text of a /proc/<pid>/stat: the pid, the
// command in parentheses (which may hold spaces and parentheses), then fields from
// the state on, of which the 12th and 13th are the user and system time in ticks.
func parseStat(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("stat: no command in parentheses")
	}
	f := strings.Fields(stat[end+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command, want 13 at least", len(f))
	}
	var ticks int64
	for _, field := range f[11:13] {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: CPU time %q is not a number", field)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
