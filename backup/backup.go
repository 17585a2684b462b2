// Package backup copies the embedded store's SQLite file while the server serves
// writes, restores such a copy into an empty data directory, and checks the files
// with SQLite's own integrity check. It opens the store's files as SQLite files
// (database/sql): the online backup of SQLite, integrity_check, and no document
// read or written; what the files hold (collections and their tables, documents)
// it reads through package sideindex.
//
// A backup is a directory holding a copy of the database's file, <database>.sqlite,
// consistent as of one moment (SQLite's online backup copies it, its write-ahead
// log included, within one read transaction, so that writers go on meanwhile), and
// a manifest (see Manifest) with the SHA-256 of each file, the documents of each
// collection and the heads of the audit chains, counted in the copy itself.
package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/clinic/interactions/sideindex"
)

// Options are what Backup copies, and where to.
type Options struct {
	// DataDir is the embedded store's data directory (DATA_DIR).
	DataDir string
	// Database is the database to copy (MONGODB_DATABASE).
	Database string
	// Out is the backup's directory: new, or empty.
	Out string
}

// ErrNotEmpty is the error of a backup into a directory that holds something, and
// of a restore into a data directory that does.
var ErrNotEmpty = errors.New("the directory is not empty")

// Backup copies the database's file in opts.DataDir into opts.Out, consistent as of
// the moment the copy began, while the store goes on serving, and writes the
// manifest last, once the copy passes SQLite's quick check: a directory without a
// manifest is a backup cut short. The copy holds one file, without a write-ahead
// log. It returns the manifest; an error wrapping ErrNotEmpty when opts.Out holds
// anything; an error when the data directory holds no such database, and the
// errors of SQLite and of the file system.
func Backup(ctx context.Context, opts Options) (Manifest, error) {
	name := opts.Database + ".sqlite"
	src := filepath.Join(opts.DataDir, name)
	if _, err := os.Stat(src); err != nil {
		return Manifest{}, fmt.Errorf("DATA_DIR %s holds no embedded store of database %q (%w): set DATA_DIR and MONGODB_DATABASE to the server's",
			opts.DataDir, opts.Database, err)
	}
	if err := emptyDir(opts.Out); err != nil {
		return Manifest{}, fmt.Errorf("backup into %s: %w: back up into a new directory", opts.Out, err)
	}
	if err := os.MkdirAll(opts.Out, 0o700); err != nil {
		return Manifest{}, fmt.Errorf("create the backup's directory: %w", err)
	}
	dst := filepath.Join(opts.Out, name)
	// Made empty first, so that the copy of every record is its owner's alone from
	// the start.
	if err := writeNew(dst); err != nil {
		return Manifest{}, fmt.Errorf("create the copy: %w", err)
	}
	takenAt := time.Now().UTC()
	if err := copyOnline(ctx, src, dst); err != nil {
		return Manifest{}, err
	}
	if err := settle(ctx, dst); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Format: manifestFormat, TakenAt: takenAt, Service: ThisBuild(), Database: opts.Database}
	var err error
	if m.Collections, m.AuditChains, err = contents(ctx, opts.Out, opts.Database); err != nil {
		return Manifest{}, err
	}
	file, err := describe(opts.Out, name)
	if err != nil {
		return Manifest{}, err
	}
	m.Files = []File{file}
	if err := syncFile(dst); err != nil {
		return Manifest{}, fmt.Errorf("sync the copy: %w", err)
	}
	if err := writeManifest(opts.Out, m); err != nil {
		return Manifest{}, fmt.Errorf("write the manifest: %w", err)
	}
	return m, nil
}

// emptyDir returns nil when dir does not exist or holds nothing, and an error
// wrapping ErrNotEmpty when it holds something.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%w: it holds %s", ErrNotEmpty, entries[0].Name())
	}
	return nil
}

// fileURI is the SQLite driver's name of the file at path, with the query given.
func fileURI(path, query string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return (&url.URL{Scheme: "file", Path: path, RawQuery: query}).String()
}

// busy makes a connection wait up to 10 s for a lock, as the store's own do.
const busy = "_pragma=busy_timeout(10000)"

// copyOnline copies the SQLite database src to the new file dst with SQLite's
// online backup, in one step: one read transaction, which sees every write committed
// when it began, in the file or its write-ahead log, and none after, and which
// holds off no writer.
func copyOnline(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", fileURI(src, busy))
	if err != nil {
		return fmt.Errorf("open the store's file: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open the store's file: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		source, ok := driverConn.(interface {
			NewBackup(string) (*sqlite.Backup, error)
		})
		if !ok {
			return errors.New("the SQLite driver has no online backup")
		}
		b, err := source.NewBackup(fileURI(dst, ""))
		if err != nil {
			return err
		}
		for {
			more, err := b.Step(-1)
			if err != nil {
				_ = b.Finish()
				return err
			}
			if !more {
				return b.Finish()
			}
		}
	})
	if err != nil {
		return fmt.Errorf("copy the store's file: %w", err)
	}
	return nil
}

// settle turns the copy at path into one file (rollback journal instead of a
// write-ahead log), and returns an error unless it passes SQLite's quick check: the
// structure of every page and record (the full integrity check, which also compares
// every index with its table, takes ten times as long; the check command and a
// restore run it).
func settle(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", fileURI(path, ""))
	if err != nil {
		return fmt.Errorf("open the copy: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode=DELETE`); err != nil {
		return fmt.Errorf("settle the copy: %w", err)
	}
	problems, err := integrity(ctx, db, "quick_check")
	if err != nil {
		return fmt.Errorf("check the copy: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the copy fails SQLite's quick check (is the store's file damaged? run the check command): %s",
			strings.Join(problems, "; "))
	}
	return db.Close()
}

// contents counts the documents of each collection of database in the backup in
// dir, and reads the heads of its audit chains.
func contents(ctx context.Context, dir, database string) (map[string]int64, []Head, error) {
	files := sideindex.New(dir)
	defer files.Close()
	names, err := files.Collections(ctx, database)
	if err != nil {
		return nil, nil, fmt.Errorf("read the copy: %w", err)
	}
	index := files.Index(database)
	counts := make(map[string]int64, len(names))
	for _, name := range names {
		if counts[name], err = index.Count(ctx, name); err != nil {
			return nil, nil, fmt.Errorf("read the copy: %w", err)
		}
	}
	heads, err := index.AuditChainHeads(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read the copy's audit chains: %w", err)
	}
	return counts, headsOf(heads), files.Close()
}

// describe returns the size and SHA-256 of the file name in dir.
func describe(dir, name string) (File, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", name, err)
	}
	return File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeNew creates the empty file path, with mode 0600.
func writeNew(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// syncFile makes the content of the file at path durable.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// integrity runs SQLite's check pragma (integrity_check or quick_check) on db and
// returns what it reports, the first 100 problems; none when the file is sound.
func integrity(ctx context.Context, db *sql.DB, pragma string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA "+pragma+"(100)")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	return problems, rows.Err()
}

// CheckFiles runs SQLite's integrity check on every SQLite file of the data
// directory dir (one per database), and returns what it reports, one finding a
// line, each naming the file; a file that cannot be checked at all is a finding
// too. It reads, and may run while the server serves. It returns an error when dir
// cannot be read.
func CheckFiles(ctx context.Context, dir string) ([]string, error) {
	names, err := sqliteFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("read DATA_DIR: %w", err)
	}
	var findings []string
	for _, name := range names {
		problems, err := checkFile(ctx, filepath.Join(dir, name), "integrity_check")
		if err != nil {
			problems = []string{"the check could not run: " + err.Error()}
		}
		for _, p := range problems {
			findings = append(findings, fmt.Sprintf("integrity_check %s: %s", name, p))
		}
	}
	return findings, nil
}

// checkFile runs SQLite's check pragma (integrity_check or quick_check) on the
// file at path.
func checkFile(ctx context.Context, path, pragma string) ([]string, error) {
	db, err := sql.Open("sqlite", fileURI(path, busy))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return integrity(ctx, db, pragma)
}

// sqliteFiles returns the names of the SQLite files in dir, sorted.
func sqliteFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sqlite") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}
