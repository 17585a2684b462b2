package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinic/interactions/app"
)

// startStore starts an embedded store over dir on a free loopback port, as the
// server does, until the test ends, and returns its address.
func startStore(t *testing.T, dir string) (*app.Connection, string) {
	t.Helper()
	cfg := app.Config{Database: "clinic", DataDir: dir, EmbeddedAddr: "127.0.0.1:0"}
	conn, err := app.Connect(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{})
	if err != nil {
		t.Fatalf("start store: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, rest, _ := strings.Cut(conn.URI, "://")
	addr, _, _ := strings.Cut(rest, "/")
	return conn, addr
}

// keysList runs `keys list` with the given data directory and store address.
func keysList(t *testing.T, dataDir, addr string) error {
	t.Helper()
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", dataDir)
	t.Setenv("EMBEDDED_MONGO_ADDR", addr)
	return app.Run(context.Background(), []string{"keys", "list"}, io.Discard, io.Discard)
}

// TestAttachChecksTheStoreMarker checks that a command beside a server works on the
// server's store only when its DATA_DIR is the server's: whoever starts the embedded
// store leaves a token in DATA_DIR, readable by its owner alone, and in the store,
// and a command that finds a store already listening compares the two.
func TestAttachChecksTheStoreMarker(t *testing.T) {
	dir := t.TempDir()
	_, addr := startStore(t, dir)
	marker := filepath.Join(dir, app.MarkerFile)
	info, err := os.Stat(marker)
	if err != nil {
		t.Fatalf("the store left no marker: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("the marker's mode is %o, want 600", mode)
	}
	token, err := os.ReadFile(marker)
	if err != nil || len(strings.TrimSpace(string(token))) < 32 {
		t.Fatalf("the marker holds %q (%v), want a random token", token, err)
	}

	if err := keysList(t, dir, addr); err != nil {
		t.Fatalf("with the store's DATA_DIR: %v", err)
	}

	// Another data directory, whose own store (now stopped) left a marker of its own.
	other := t.TempDir()
	otherConn, _ := startStore(t, other)
	if err := otherConn.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A data directory whose marker cannot be read.
	unreadable := t.TempDir()
	if err := os.Mkdir(filepath.Join(unreadable, app.MarkerFile), 0o700); err != nil {
		t.Fatal(err)
	}
	// A data directory whose marker was altered.
	altered := t.TempDir()
	if err := os.WriteFile(filepath.Join(altered, app.MarkerFile), []byte(strings.ToUpper(string(token))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, dir, want string }{
		{"no marker", t.TempDir(), "cannot be read"},
		{"another store's marker", other, "is not the store over DATA_DIR"},
		{"an unreadable marker", unreadable, "cannot be read"},
		{"an altered marker", altered, "is not the store over DATA_DIR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadDir(tt.dir)
			err := keysList(t, tt.dir, addr)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "EMBEDDED_MONGO_ADDR") {
				t.Fatalf("keys list = %v, want a refusal saying %q", err, tt.want)
			}
			if after, _ := os.ReadDir(tt.dir); len(after) != len(before) {
				t.Errorf("the refused command wrote to DATA_DIR: %v", after)
			}
		})
	}

	t.Run("no server runs", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		free := ln.Addr().String()
		ln.Close()
		own := t.TempDir()
		if err := keysList(t, own, free); err != nil {
			t.Fatalf("keys list starting the store itself: %v", err)
		}
		if _, err := os.Stat(filepath.Join(own, app.MarkerFile)); err != nil {
			t.Errorf("the store the command started left no marker: %v", err)
		}
	})
}
