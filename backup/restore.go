package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RestoreOptions are what Restore restores, and where to.
type RestoreOptions struct {
	// From is the backup's directory.
	From string
	// DataDir is the data directory to restore into (DATA_DIR): new, or empty.
	DataDir string
	// Database is the database the service uses (MONGODB_DATABASE): the backup's
	// must be it.
	Database string
}

// ErrAltered is the error of a restore from a backup whose file does not match the
// checksum its manifest gives.
var ErrAltered = errors.New("a file of the backup does not match its checksum")

// RestoreNoteFile is the name, in DATA_DIR, of the note a restore leaves (see
// RestoreNote).
const RestoreNoteFile = "restored-from-backup.json"

// RestoreNote says which backup a data directory was restored from. Restore writes
// it; the first process that writes to the audit trail over the restored store
// declares the restore there, then removes it (see RemoveRestoreNote).
type RestoreNote struct {
	// From is the backup's directory.
	From string `json:"from"`
	// ManifestSHA256 is the SHA-256 of the backup's manifest file, hex: it names the
	// backup.
	ManifestSHA256 string `json:"manifest_sha256"`
	// RestoredAt is when the restore was made.
	RestoredAt time.Time `json:"restored_at"`
	// Manifest is the backup's manifest.
	Manifest Manifest `json:"manifest"`
}

// Restore restores the backup in opts.From into opts.DataDir, which must not exist
// or be empty. It reads the manifest and checks every file against its checksum
// before it writes anything; it then copies each file, checking it again as it is
// written, runs SQLite's quick check on the copies (the structure of every page and
// record; the check command runs the full integrity check), and leaves a
// RestoreNote in the data directory. On a failure before the note is written it removes what it
// copied. It returns the manifest and its SHA-256, and an error wrapping ErrAltered
// for a file that does not match its checksum, one wrapping ErrNotEmpty for a data
// directory that holds anything, one naming MONGODB_DATABASE for a backup of
// another database, one for a backup taken by a build with another version of the
// embedded store (when both builds know theirs), and the errors of SQLite and of
// the file system.
func Restore(ctx context.Context, opts RestoreOptions) (Manifest, string, error) {
	m, digest, err := ReadManifest(opts.From)
	if err != nil {
		return Manifest{}, "", err
	}
	if m.Database != opts.Database {
		return Manifest{}, "", fmt.Errorf("the backup holds database %q, and MONGODB_DATABASE is %q: set MONGODB_DATABASE=%s to restore it",
			m.Database, opts.Database, m.Database)
	}
	if this := ThisBuild().Store; m.Service.Store != this && known(this) && known(m.Service.Store) {
		return Manifest{}, "", fmt.Errorf("the backup was taken by a build on %s, whose files this build (%s) may not read: "+
			"restore it with a build of the service on the same store", m.Service.Store, this)
	}
	for _, f := range m.Files {
		got, err := describe(opts.From, f.Name)
		if err != nil {
			return Manifest{}, "", fmt.Errorf("read the backup: %w", err)
		}
		if got != f {
			return Manifest{}, "", fmt.Errorf("%w: %s (%d bytes, SHA-256 %s; the manifest says %d bytes, %s): it was altered or damaged; nothing was restored",
				ErrAltered, f.Name, got.Size, got.SHA256, f.Size, f.SHA256)
		}
	}
	if err := emptyDir(opts.DataDir); err != nil {
		return Manifest{}, "", fmt.Errorf("restore into DATA_DIR %s: %w: restore only into an empty DATA_DIR (move the current one aside)", opts.DataDir, err)
	}
	created := false
	if _, err := os.Stat(opts.DataDir); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return Manifest{}, "", fmt.Errorf("create DATA_DIR: %w", err)
	}
	var copied []string
	undo := func(err error) (Manifest, string, error) {
		for _, name := range copied {
			_ = os.Remove(filepath.Join(opts.DataDir, name))
		}
		if created {
			_ = os.Remove(opts.DataDir)
		}
		return Manifest{}, "", err
	}
	for _, f := range m.Files {
		copied = append(copied, f.Name)
		if err := copyChecked(opts.From, opts.DataDir, f); err != nil {
			return undo(err)
		}
	}
	if err := syncDir(opts.DataDir); err != nil {
		return undo(fmt.Errorf("sync DATA_DIR: %w", err))
	}
	for _, f := range m.Files {
		problems, err := checkFile(ctx, filepath.Join(opts.DataDir, f.Name), "quick_check")
		if err == nil && len(problems) > 0 {
			err = fmt.Errorf("%s fails SQLite's quick check: %s", f.Name, strings.Join(problems, "; "))
		}
		if err != nil {
			return undo(err)
		}
	}
	from, err := filepath.Abs(opts.From)
	if err != nil {
		from = opts.From
	}
	note, err := json.MarshalIndent(RestoreNote{From: from, ManifestSHA256: digest, RestoredAt: time.Now().UTC(), Manifest: m}, "", "  ")
	if err != nil {
		return undo(fmt.Errorf("encode the restore note: %w", err))
	}
	if err := writeFile(filepath.Join(opts.DataDir, RestoreNoteFile), append(note, '\n')); err != nil {
		return undo(fmt.Errorf("write the restore note: %w", err))
	}
	return m, digest, nil
}

// known reports whether store names a version of the store: a binary without its
// dependencies' versions (a test) knows none.
func known(store string) bool { return !strings.HasSuffix(store, " unknown") }

// copyChecked copies the backup's file f from dir into dataDir, under another name
// until it is whole, synced and matches f's checksum. It returns an error wrapping
// ErrAltered when it does not match.
func copyChecked(dir, dataDir string, f File) error {
	src, err := os.Open(filepath.Join(dir, f.Name))
	if err != nil {
		return fmt.Errorf("read the backup: %w", err)
	}
	defer src.Close()
	final := filepath.Join(dataDir, f.Name)
	tmp := final + ".restoring"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", f.Name, err)
	}
	defer os.Remove(tmp) // fails once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", f.Name, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.SHA256 {
		return fmt.Errorf("%w: %s changed while it was restored (SHA-256 %s; the manifest says %s)", ErrAltered, f.Name, sum, f.SHA256)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("restore %s: %w", f.Name, err)
	}
	return nil
}

// ReadRestoreNote returns the note a restore left in the data directory dir, and
// whether there is one. It returns an error when the note cannot be read or does
// not parse.
func ReadRestoreNote(dir string) (RestoreNote, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, RestoreNoteFile))
	if errors.Is(err, os.ErrNotExist) {
		return RestoreNote{}, false, nil
	}
	if err != nil {
		return RestoreNote{}, false, fmt.Errorf("read the restore note: %w", err)
	}
	var note RestoreNote
	if err := json.Unmarshal(data, &note); err != nil {
		return RestoreNote{}, false, fmt.Errorf("read the restore note %s: %w", filepath.Join(dir, RestoreNoteFile), err)
	}
	return note, true, nil
}

// RemoveRestoreNote removes the note a restore left in the data directory dir, once
// the restore is declared. It returns the file system's error.
func RemoveRestoreNote(dir string) error {
	if err := os.Remove(filepath.Join(dir, RestoreNoteFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the restore note: %w", err)
	}
	return syncDir(dir)
}
