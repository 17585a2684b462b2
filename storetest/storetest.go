// Package storetest gives a test binary one store for all its tests: MongoDB when
// MONGODB_URI is set, otherwise the embedded store over a temporary directory. Each
// test takes a database of its own from it, dropped when the test ends.
//
//	var testStore *storetest.Store
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m, &testStore)) }
package storetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/repository"
)

// Store is the test binary's store.
type Store struct {
	conn    *app.Connection
	dir     string
	counter atomic.Int64
}

// Open opens the store: MongoDB at MONGODB_URI when it is set, otherwise a new
// embedded store over a temporary directory, on a free loopback port. It returns the
// errors of starting or reaching the store.
func Open() (*Store, error) {
	dir, err := os.MkdirTemp("", "interactions-test-")
	if err != nil {
		return nil, err
	}
	cfg := app.Config{
		MongoURI:     os.Getenv("MONGODB_URI"),
		Database:     "test",
		DataDir:      dir,
		EmbeddedAddr: "127.0.0.1:0",
	}
	conn, err := app.Connect(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open test store: %w", err)
	}
	return &Store{conn: conn, dir: dir}, nil
}

// Close closes the store and removes the embedded store's files.
func (s *Store) Close() {
	_ = s.conn.Close(context.Background())
	os.RemoveAll(s.dir)
}

// Main opens the store into *store, runs the tests and closes the store. It returns
// the exit code for os.Exit: the tests', or 1 when the store cannot be opened.
func Main(m *testing.M, store **Store) int {
	s, err := Open()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	*store = s
	return m.Run()
}

// URI returns the store's connection string, without credentials.
func (s *Store) URI() string { return s.conn.URI }

// Embedded reports whether the store is the embedded one.
func (s *Store) Embedded() bool { return s.conn.Embedded }

// FerretDB reports whether the store is FerretDB, as the embedded store is: a store
// that finds a document fast only by a filter of _id alone (see app.Connection).
func (s *Store) FerretDB() bool { return s.conn.FerretDB }

// DataDir returns the embedded store's data directory, which holds the marker a
// command attaching to the store checks (see app.ConnectOptions); "" with MongoDB.
func (s *Store) DataDir() string {
	if !s.conn.Embedded {
		return ""
	}
	return s.dir
}

// Addr returns the host:port the store listens on, as EMBEDDED_MONGO_ADDR names it.
func (s *Store) Addr() string {
	_, rest, _ := strings.Cut(s.conn.URI, "://")
	hosts, _, _ := strings.Cut(rest, "/")
	return hosts
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9]+`)

// Database returns an empty database for t alone, named after it and dropped when
// it ends.
func (s *Store) Database(t testing.TB) *mongo.Database {
	t.Helper()
	name := nonName.ReplaceAllString(t.Name(), "_")
	if len(name) > 30 {
		name = name[:30]
	}
	name = fmt.Sprintf("t_%s_%s_%d", name, strconv.FormatInt(time.Now().UnixNano()%1e9, 36), s.counter.Add(1))
	db := s.conn.Client.Database(name)
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

// DB returns the repository over a new database for t, with its indexes.
func (s *Store) DB(t testing.TB) (*repository.DB, *mongo.Database) {
	t.Helper()
	db := s.Database(t)
	repo := repository.New(db, s.conn.RepositoryOptions(db.Name(), app.AutoScanLimit)...)
	if err := repo.Prepare(context.Background()); err != nil {
		t.Fatalf("ensure indexes: %v", err)
	}
	if err := s.conn.IndexLookups(context.Background(), db.Name()); err != nil {
		t.Fatalf("index lookups: %v", err)
	}
	return repo, db
}
