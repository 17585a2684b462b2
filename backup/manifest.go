package backup

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/clinic/interactions/models"
)

// ManifestFile is the manifest's name in a backup's directory.
const ManifestFile = "manifest.json"

// manifestFormat is the version of the manifest's layout this package writes and
// reads.
const manifestFormat = 1

// Manifest describes a backup: what it holds, as counted in its own copy of the
// store, and the checksum of each of its files.
type Manifest struct {
	// Format is the version of the manifest's layout (1).
	Format int `json:"format"`
	// TakenAt is when the copy of the store was taken: it holds every write the
	// store had acknowledged then.
	TakenAt time.Time `json:"taken_at"`
	// Service is the build of the service that took it.
	Service Build `json:"service"`
	// Database is the database it holds (MONGODB_DATABASE).
	Database string `json:"database"`
	// Files are its files, besides the manifest.
	Files []File `json:"files"`
	// Collections counts the documents of each collection.
	Collections map[string]int64 `json:"collections"`
	// AuditChains are the heads of every audit chain, by chain.
	AuditChains []Head `json:"audit_chains"`
}

// Build names a build of the service, as Go recorded it in the binary (see
// debug.ReadBuildInfo).
type Build struct {
	// Module is the service's module path.
	Module string `json:"module"`
	// Version is the module's version: a tag, a pseudo-version, or "(devel)".
	Version string `json:"version"`
	// Revision is the commit the binary was built from, when Go knew it, with
	// "+modified" when the working tree had changes.
	Revision string `json:"revision,omitempty"`
	// Store is the embedded store's module and version, whose file layout the
	// backup's files have.
	Store string `json:"store"`
}

// File is one file of a backup.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Head is the head of an audit chain, as a backup holds it.
type Head struct {
	Chain    string `json:"chain"`
	LastSeq  int64  `json:"last_seq"`
	LastHash string `json:"last_hash"`
	KeyID    string `json:"key_id,omitempty"`
	Sealed   bool   `json:"sealed,omitempty"`
	Process  string `json:"process,omitempty"`
}

// storeModule is the embedded store's module.
const storeModule = "github.com/FerretDB/FerretDB"

// ThisBuild returns the build of the running binary, as Go recorded it.
func ThisBuild() Build {
	b := Build{Module: "unknown", Version: "unknown", Store: storeModule + " unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Module, b.Version = info.Main.Path, info.Main.Version
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && b.Revision != "" {
		b.Revision += "+modified"
	}
	for _, dep := range info.Deps {
		if dep.Path == storeModule {
			b.Store = storeModule + " " + dep.Version
		}
	}
	return b
}

// headsOf returns the heads as a manifest records them, by chain.
func headsOf(heads []models.AuditChainHead) []Head {
	out := make([]Head, len(heads))
	for i, h := range heads {
		out[i] = Head{Chain: h.Chain, LastSeq: h.LastSeq, LastHash: h.LastHash, KeyID: h.KeyID, Sealed: h.Sealed, Process: h.Process}
	}
	slices.SortFunc(out, func(a, b Head) int { return cmp.Compare(a.Chain, b.Chain) })
	return out
}

// Anchors returns the ends of the audit chains the backup holds, as an audit event
// records other chains' ends: those with events, by chain.
func (m Manifest) Anchors() []models.AuditAnchor {
	var anchors []models.AuditAnchor
	for _, h := range m.AuditChains {
		if h.LastSeq > 0 {
			anchors = append(anchors, models.AuditAnchor{Chain: h.Chain, Seq: h.LastSeq, Hash: h.LastHash})
		}
	}
	return anchors
}

// Compare returns how counts (the documents of each collection) and heads (of the
// audit chains), read from a restored store, differ from what the manifest says
// the backup held, one finding a line.
func (m Manifest) Compare(counts map[string]int64, heads []models.AuditChainHead) []string {
	var findings []string
	for _, name := range slices.Sorted(maps.Keys(m.Collections)) {
		if got := counts[name]; got != m.Collections[name] {
			findings = append(findings, fmt.Sprintf("collection %s holds %d documents; the backup's manifest says %d", name, got, m.Collections[name]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if _, ok := m.Collections[name]; !ok && counts[name] > 0 {
			findings = append(findings, fmt.Sprintf("collection %s holds %d documents; the backup's manifest has no such collection", name, counts[name]))
		}
	}
	want := map[string]Head{}
	for _, h := range m.AuditChains {
		want[h.Chain] = h
	}
	got := headsOf(heads)
	for _, h := range got {
		w, ok := want[h.Chain]
		switch {
		case !ok:
			findings = append(findings, fmt.Sprintf("audit chain %s is not in the backup's manifest", h.Chain))
		case w != h:
			findings = append(findings, fmt.Sprintf("audit chain %s ends at event %d; the backup's manifest says %d", h.Chain, h.LastSeq, w.LastSeq))
		}
		delete(want, h.Chain)
	}
	for _, chain := range slices.Sorted(maps.Keys(want)) {
		findings = append(findings, fmt.Sprintf("audit chain %s of the backup's manifest is missing", chain))
	}
	return findings
}

// ReadManifest reads the manifest of the backup in dir, and returns it with the
// SHA-256 of its file, hex, which names the backup. It returns an error when the
// manifest is missing, does not parse, is of a layout this build does not know, or
// names a file that is not a plain name of a SQLite file in dir.
func ReadManifest(dir string) (Manifest, string, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return Manifest{}, "", fmt.Errorf("%s holds no %s: it is not a backup, or one cut short", dir, ManifestFile)
	}
	if err != nil {
		return Manifest{}, "", fmt.Errorf("read the backup's manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, "", fmt.Errorf("read the backup's manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != manifestFormat {
		return Manifest{}, "", fmt.Errorf("the backup's manifest is of format %d; this build reads format %d", m.Format, manifestFormat)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if f.Name != filepath.Base(f.Name) || !strings.HasSuffix(f.Name, ".sqlite") || f.Name == ManifestFile || seen[f.Name] {
			return Manifest{}, "", fmt.Errorf("the backup's manifest names the file %q, which is not one a backup holds", f.Name)
		}
		seen[f.Name] = true
	}
	if !seen[m.Database+".sqlite"] {
		return Manifest{}, "", fmt.Errorf("the backup's manifest lists no file of its database %q", m.Database)
	}
	sum := sha256.Sum256(data)
	return m, hex.EncodeToString(sum[:]), nil
}

// writeManifest writes m as dir's manifest, whole or not at all, readable by its
// owner only.
func writeManifest(dir string, m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the manifest: %w", err)
	}
	return writeFile(filepath.Join(dir, ManifestFile), append(data, '\n'))
}

// writeFile writes data to path, under another name first and then renamed, synced,
// with mode 0600.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
