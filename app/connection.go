package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/admission"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/sideindex"
)

// Connection is an open connection to the configured database, and the embedded
// store behind it when this process runs one.
type Connection struct {
	Client *mongo.Client
	DB     *mongo.Database
	// URI is the connection string in use, without credentials.
	URI string
	// Embedded tells whether this process runs the embedded store.
	Embedded bool
	// FerretDB tells whether the store is FerretDB, as the embedded store is: a store
	// that finds a document fast only by a filter of _id alone.
	FerretDB bool
	// side reads the SQLite files of the embedded store this process runs.
	side *sideindex.Files
	stop func()
}

// ConnectOptions adjusts how Connect reaches the store.
type ConnectOptions struct {
	// Lazy makes Connect to MongoDB return without waiting for the store to
	// answer: each operation then waits for it within its own deadline, and
	// fails with the driver's errors while it does not answer.
	Lazy bool
	// Attach makes Connect use an embedded store already listening (a running
	// server's), on DataDir's socket or on EmbeddedAddr when it is set, before
	// starting one of its own, once it has checked the store's marker against
	// DataDir's (see MarkerFile).
	Attach bool
	// AttachOnly, with Attach, makes Connect fail rather than start an embedded
	// store of its own when no store of DataDir's answers: for a command that must
	// work on the running server's store.
	AttachOnly bool
	// Monitor, when set, is told of every command the client of MongoDB
	// (MONGODB_URI) sends: for tests of what the service asks of MongoDB.
	Monitor *event.CommandMonitor
}

// Connect connects to MongoDB when cfg.MongoURI is set, and otherwise to the
// embedded store, starting it over SQLite files in cfg.DataDir, listening on the
// socket in cfg.DataDir (see EmbeddedSocket) or on cfg.EmbeddedAddr when it is set,
// and marking it as that directory's (see MarkerFile). It logs one line saying which
// store is in use. It returns an error when the store cannot be started or does not
// answer a ping, when the store it would attach to is not cfg.DataDir's, and, with
// AttachOnly, when no store answers there to attach to.
func Connect(ctx context.Context, cfg Config, logger *slog.Logger, opts ConnectOptions) (*Connection, error) {
	if cfg.MongoURI != "" {
		monitor := func(o *options.ClientOptions) {
			if opts.Monitor != nil {
				o.SetMonitor(opts.Monitor)
			}
		}
		s, err := connect(ctx, cfg.MongoURI, cfg.Database, storeTimeout(cfg.RequestTimeout), !opts.Lazy, cfg.Mongo.apply, monitor)
		if err != nil {
			return nil, err
		}
		// A store that does not answer yet is taken for MongoDB.
		probe, cancel := context.WithTimeout(ctx, time.Second)
		s.FerretDB = runsFerretDB(probe, s.Client)
		cancel()
		logger.Info("store: MongoDB", append([]any{"uri", s.URI, "database", cfg.Database}, cfg.Mongo.logAttrs()...)...)
		return s, nil
	}
	if opts.Attach {
		s, err := attach(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if s != nil {
			logger.Info("store: embedded store of a running server", "uri", s.URI, "database", cfg.Database)
			return s, nil
		}
		if opts.AttachOnly {
			return nil, fmt.Errorf("no embedded store answers on %s: run this beside the server, with its DATA_DIR and EMBEDDED_MONGO_ADDR (or its MONGODB_URI)", embeddedPlace(cfg))
		}
	}
	s, err := startEmbedded(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	logger.Info("store: embedded FerretDB on SQLite (for trying the service, development and tests; use MongoDB in production)",
		"listen", s.URI, "data_dir", cfg.DataDir, "database", cfg.Database,
		"write_concern", "not applicable: one process commits each write to its SQLite file before acknowledging it; "+
			"MONGODB_WRITE_CONCERN, MONGODB_READ_CONCERN and MONGODB_READ_PREFERENCE are for MongoDB")
	return s, nil
}

// attach connects to the embedded store already listening where cfg's would (see
// embeddedPlace), once it has checked that it is cfg.DataDir's (see checkMarker).
// It returns nil and no error when no store answers there, and an error when one
// does that is not cfg.DataDir's.
func attach(ctx context.Context, cfg Config) (*Connection, error) {
	uri := "mongodb://" + cfg.EmbeddedAddr + "/"
	if cfg.EmbeddedAddr == "" {
		path, err := EmbeddedSocket(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); err != nil {
			return nil, nil // no server has made its socket
		}
		uri = socketURI(path, "")
	}
	s, err := connect(ctx, uri, cfg.Database, time.Second, true)
	if err != nil {
		return nil, nil
	}
	if !runsFerretDB(ctx, s.Client) {
		_ = s.Client.Disconnect(ctx)
		return nil, fmt.Errorf("a MongoDB server that is not this service's embedded store listens on %s: set MONGODB_URI to use it, or EMBEDDED_MONGO_ADDR to another address", embeddedPlace(cfg))
	}
	if err := checkMarker(ctx, s.Client, cfg); err != nil {
		_ = s.Client.Disconnect(ctx)
		return nil, err
	}
	s.FerretDB = true
	return s, nil
}

// embeddedPlace names where the embedded store of cfg listens, for messages: the
// TCP address EMBEDDED_MONGO_ADDR names, or the socket in DATA_DIR.
func embeddedPlace(cfg Config) string {
	if cfg.EmbeddedAddr != "" {
		return "EMBEDDED_MONGO_ADDR " + cfg.EmbeddedAddr
	}
	path, err := EmbeddedSocket(cfg.DataDir)
	if err != nil {
		path = filepath.Join(cfg.DataDir, SocketFile)
	}
	return "the socket in DATA_DIR, " + path
}

// storeTimeout is how long the server's client waits to select the store and to
// open a connection to it: half the request timeout, at most 10 s, so that a store
// that does not answer makes a request fail with 503 within its time, with time left
// for its audit event. A zero request timeout (a Config made in code) gives 10 s.
func storeTimeout(requestTimeout time.Duration) time.Duration {
	if requestTimeout <= 0 {
		return 10 * time.Second
	}
	return min(requestTimeout/2, 10*time.Second)
}

// connect makes a client of the store at uri that waits at most timeout to select
// the store and to open a connection to it, with the options settings set. With ping
// it waits for the store to answer, for at most timeout, and returns an error when
// it does not.
func connect(ctx context.Context, uri, database string, timeout time.Duration, ping bool, settings ...func(*options.ClientOptions)) (*Connection, error) {
	opts := options.Client().ApplyURI(uri).SetServerSelectionTimeout(timeout).SetConnectTimeout(timeout)
	for _, set := range settings {
		set(opts)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to store: %w", err)
	}
	if ping {
		pingCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := client.Ping(pingCtx, nil); err != nil {
			_ = client.Disconnect(context.Background())
			return nil, fmt.Errorf("store at %s does not answer: %w", redact(uri), err)
		}
	}
	return &Connection{Client: client, DB: client.Database(database), URI: redact(uri), stop: func() {}}, nil
}

// runsFerretDB reports whether the server behind client is FerretDB, as the embedded
// store is: its buildInfo carries a FerretDB version.
func runsFerretDB(ctx context.Context, client *mongo.Client) bool {
	var info struct {
		FerretDBVersion string `bson:"ferretdbVersion"`
	}
	err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	return err == nil && info.FerretDBVersion != ""
}

func startEmbedded(ctx context.Context, cfg Config, logger *slog.Logger) (*Connection, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("DATA_DIR %q: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create DATA_DIR: %w", err)
	}
	if info, err := os.Stat(dir); err == nil && info.Mode().Perm()&0o077 != 0 {
		logger.Warn("DATA_DIR is open to other accounts of this machine, and its files hold every record: chmod 700 it",
			"data_dir", dir, "mode", fmt.Sprintf("%o", info.Mode().Perm()))
	}
	listener := ferretdb.ListenerConfig{TCP: cfg.EmbeddedAddr}
	socket := ""
	if cfg.EmbeddedAddr == "" {
		if socket, err = EmbeddedSocket(dir); err != nil {
			return nil, err
		}
		if err := clearStaleSocket(socket); err != nil {
			return nil, err
		}
		listener = ferretdb.ListenerConfig{Unix: socket}
	}
	var fdb *ferretdb.FerretDB
	// The socket is its owner's alone from the moment it exists.
	err = withOwnerOnlyFiles(func() (err error) {
		fdb, err = ferretdb.New(&ferretdb.Config{
			Listener:  listener,
			Handler:   "sqlite",
			SQLiteURL: "file:" + dir + "/",
			// At lower levels the store logs every error reply, documents included.
			Logger: slog.New(levelFilter{Handler: logger.Handler(), min: slog.LevelError}),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded store on %s (is another server using it?): %w", embeddedPlace(cfg), err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fdb.Run(runCtx) // returns nil when runCtx ends
	}()
	stop := func() { cancel(); <-done }

	var uri string
	if socket != "" {
		// Readable and writable by its owner (it is so from the start, by the
		// umask); a socket has no use for the x bit.
		if err := os.Chmod(socket, 0o600); err != nil {
			stop()
			return nil, fmt.Errorf("the embedded store's socket: %w", err)
		}
		uri = socketURI(socket, "")
	} else {
		uri = fdb.MongoDBURI() // once Run has made the TCP listener's address known
	}
	s, err := connect(ctx, uri, cfg.Database, storeTimeout(cfg.RequestTimeout), true)
	if err != nil {
		stop()
		return nil, err
	}
	if err := mark(ctx, s.Client, dir); err != nil {
		_ = s.Client.Disconnect(context.Background())
		stop()
		return nil, err
	}
	s.Embedded, s.FerretDB, s.side, s.stop = true, true, sideindex.New(dir), stop
	return s, nil
}

// Close disconnects from the store and stops the embedded one, if any. When ctx
// ends first it returns without waiting for the embedded store to stop: what the
// store acknowledged is on disk, and a write it had not finished is rolled back when
// it next starts, as after a crash.
func (s *Connection) Close(ctx context.Context) error {
	err := s.Client.Disconnect(ctx)
	if s.side != nil {
		err = errors.Join(err, s.side.Close())
	}
	stopped := make(chan struct{})
	go func() {
		s.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		return err
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("the embedded store did not stop in time: %w", ctx.Err()))
	}
}

// redact drops credentials from a connection string.
func redact(uri string) string {
	scheme := strings.Index(uri, "://")
	if scheme < 0 {
		return uri
	}
	rest := uri[scheme+3:]
	hosts, _, _ := strings.Cut(rest, "/")
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		return uri[:scheme+3] + "***@" + rest[at+1:]
	}
	return uri
}

// Open connects to the configured store (see Connect) and prepares it (see
// repository.DB.Prepare, Connection.IndexLookups), for the server and for the
// commands beside it. The caller closes the connection. It returns the errors of
// Connect and of preparing the store.
func Open(ctx context.Context, cfg Config, logger *slog.Logger, opts ConnectOptions) (*Connection, *repository.DB, error) {
	conn, err := Connect(ctx, cfg, logger, opts)
	if err != nil {
		return nil, nil, err
	}
	db := conn.repositoryOf(cfg)
	if err := conn.prepare(ctx, db, cfg.Database); err != nil {
		conn.CloseLogged(logger)
		return nil, nil, err
	}
	return conn, db, nil
}

// repositoryOf returns the repository of cfg's database over the connection, with
// the options that suit its store (see RepositoryOptions).
func (s *Connection) repositoryOf(cfg Config) *repository.DB {
	return repository.New(s.DB, s.RepositoryOptions(cfg.Database, cfg.ScanLimit)...)
}

// prepare prepares db, the repository of database over the connection, for use
// (see repository.DB.Prepare, IndexLookups). It returns the store's errors.
func (s *Connection) prepare(ctx context.Context, db *repository.DB, database string) error {
	if err := db.Prepare(ctx); err != nil {
		return err
	}
	return s.IndexLookups(ctx, database)
}

// RepositoryOptions returns the options of a repository.DB over database that suit
// the store: on FerretDB, conditional writes by lookups of _id alone, the inserts of
// concurrent creates grouped (SQLite commits one write at a time), and at most
// scanLimit queries reading a whole collection at once (see Config.ScanLimit); on
// the embedded store this process runs, listings and counts by its side index.
func (s *Connection) RepositoryOptions(database string, scanLimit int) []repository.Option {
	opts := []repository.Option{repository.WithSideIndex(s.SideIndex(database))}
	if s.FerretDB {
		opts = append(opts, repository.WithLoneIDFilters(), repository.WithOneWriter())
	}
	if scanLimit == AutoScanLimit {
		scanLimit = 0
		if s.FerretDB {
			scanLimit = runtime.NumCPU()
		}
	}
	if scanLimit > 0 {
		opts = append(opts, repository.WithScanGate(admission.New(scanLimit, nil)))
	}
	return opts
}

// IndexLookups gives the collections of database the indexes of the side index (see
// sideindex.Files.CreateIndexes) when this process runs the embedded store; for
// MongoDB, which has indexes of its own, and for a store another process runs, it
// does nothing. It returns the errors of the store's SQLite file.
func (s *Connection) IndexLookups(ctx context.Context, database string) error {
	if s.side == nil {
		return nil
	}
	return s.side.CreateIndexes(ctx, database)
}

// SideIndex returns the side index of database (see sideindex.Index) when this
// process runs the embedded store, and nil otherwise.
func (s *Connection) SideIndex(database string) repository.SideIndex {
	if s.side == nil {
		return nil
	}
	return s.side.Index(database)
}

// CloseLogged closes the connection, logging a failure to logger.
func (s *Connection) CloseLogged(logger *slog.Logger) {
	if err := s.Close(context.Background()); err != nil {
		logger.Warn("close store", "error", err.Error())
	}
}
