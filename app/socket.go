package app

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// By default (EMBEDDED_MONGO_ADDR empty) the embedded store listens on a Unix socket
// in DATA_DIR, not on TCP: the store asks for no password, and a socket whose file
// only its owner may open (mode 0600, in a DATA_DIR of mode 0700 when the server
// makes it) keeps every other account of the machine out, where a loopback port
// lets each of them in. mongosh, the keys command, the seed tool and the bench reach
// it through the same socket, found from DATA_DIR.

// SocketFile is the embedded store's socket's file name in DATA_DIR.
const SocketFile = "embedded-store.sock"

// maxSocketPath is the longest path a Unix socket may have here and on the other
// systems the service builds on: sun_path holds 108 bytes on Linux, 104 on macOS
// and the BSDs, the terminating NUL included.
const maxSocketPath = 103

// EmbeddedSocket returns the absolute path of the embedded store's socket in
// dataDir. It returns an error naming DATA_DIR and EMBEDDED_MONGO_ADDR when the
// path is longer than a socket's may be, or holds a colon, which a connection
// string cannot carry in a socket's path.
func EmbeddedSocket(dataDir string) (string, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("DATA_DIR: %q: %w", dataDir, err)
	}
	path := filepath.Join(dir, SocketFile)
	switch {
	case len(path) > maxSocketPath:
		return "", fmt.Errorf("DATA_DIR: the embedded store's socket, %s, would be %d bytes long, and a socket's path may be %d at most: "+
			"use a shorter DATA_DIR, or set EMBEDDED_MONGO_ADDR to listen on a loopback TCP address instead", path, len(path), maxSocketPath)
	case strings.Contains(path, ":"):
		return "", fmt.Errorf("DATA_DIR: the embedded store's socket, %s, holds a colon, which a connection string cannot carry: "+
			"use a DATA_DIR without one, or set EMBEDDED_MONGO_ADDR to listen on a loopback TCP address instead", path)
	}
	return path, nil
}

// socketURI returns the connection string of the Unix socket at path, to the
// database database ("" for none): mongodb://, the path with every byte but
// letters, digits and -._~ percent-encoded (each / as %2F), then /database. The Go
// driver and mongosh read a host ending in .sock as a socket's path.
func socketURI(path, database string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString("mongodb://")
	for i := range len(path) {
		c := path[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String() + "/" + database
}

// clearStaleSocket removes the socket at path when a store that ended without
// closing it (killed) left it behind, so that a new store may listen there. It
// returns an error, and removes nothing, when a store still answers there (another
// server over the same DATA_DIR) or the path is not a socket.
func clearStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the embedded store's socket: %w", err)
	}
	if info.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s is in DATA_DIR where the embedded store's socket goes, and is not a socket: move it away", path)
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("an embedded store already listens on %s: another server (or command) runs over this DATA_DIR; "+
			"stop it, or run this with another DATA_DIR", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the socket a stopped store left in DATA_DIR: %w", err)
	}
	return nil
}
