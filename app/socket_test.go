package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinic/interactions/app"
)

// TestEmbeddedSocketInAnOpenDataDir starts the embedded store, on its socket, over
// a DATA_DIR other accounts may open: the socket is its owner's alone all the same,
// and the store warns that the directory, whose files hold every record, is open.
func TestEmbeddedSocketInAnOpenDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	conn, err := app.Connect(context.Background(), app.Config{Database: "clinic", DataDir: dir},
		slog.New(slog.NewJSONHandler(&logs, nil)), app.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	info, err := os.Stat(filepath.Join(dir, app.SocketFile))
	if err != nil || info.Mode()&os.ModeSocket == 0 || info.Mode().Perm() != 0o600 {
		t.Errorf("the socket: %v, %v; want a socket of mode 0600", info.Mode(), err)
	}
	if !strings.Contains(logs.String(), "DATA_DIR is open to other accounts of this machine") {
		t.Errorf("no warning of an open DATA_DIR:\n%s", logs.String())
	}
}

// TestEmbeddedSocketPathTaken checks that the store does not start, and removes
// nothing, when a file that is not a socket has the socket's name in DATA_DIR.
func TestEmbeddedSocketPathTaken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, app.SocketFile)
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn, err := app.Connect(context.Background(), app.Config{Database: "clinic", DataDir: dir},
		slog.New(slog.DiscardHandler), app.ConnectOptions{})
	if err == nil {
		conn.Close(context.Background())
		t.Fatal("the store started over a file in its socket's place")
	}
	if !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("error %v, want one saying the file is not a socket", err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "keep me" {
		t.Errorf("the file in the socket's place is now %q, %v", data, err)
	}
}
