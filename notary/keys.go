// Package notary keeps signed checkpoints of the audit chains outside the database,
// and verifies the trail against them. A checkpoint names a chain, its size (the
// sequence number of its last event) and the hash of that event, and is signed
// with an Ed25519 key kept outside the database, as a note
// (golang.org/x/mod/sumdb/note) in the shape of a transparency log's checkpoint
// (C2SP tlog-checkpoint):
//
//	<key name>/audit/<chain>
//	<size>
//	<hash of the chain's last event, base64>
//	key-id <id of the audit key the chain is hashed with>
//
//	— <key name> <signature, base64>
//
// The key-id line is there when the chain is keyed. Checkpoints are appended to a
// log, each note followed by an empty line; the log is a plain text file that any
// note reader can read back. Whoever holds the database and the audit key can
// rewrite the trail and its heads, but cannot make a chain shorter than a
// checkpoint signed earlier without Verify finding it, unless they hold the signing
// key too, or can rewrite the log.
package notary

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// The names of the key files GenerateKeys writes.
const (
	PrivateKeyFile = "audit-signing.key"
	PublicKeyFile  = "audit-signing.pub"
)

// GenerateKeys makes a new signing key named name (letters, digits, '.', '-', '_';
// it starts every checkpoint's origin) and writes it into dir, created if missing:
// the private key to PrivateKeyFile, readable by its owner only, and the public
// key, which verifies the checkpoints, to PublicKeyFile. It returns the two paths,
// and an error when either file exists already, and the file system's errors.
func GenerateKeys(dir, name string) (private, public string, err error) {
	if name == "" || strings.ContainsAny(name, "+/ \t\n") {
		return "", "", fmt.Errorf("the key's name %q is empty or holds a '+', a '/' or a space", name)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("generate the signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create %s: %w", dir, err)
	}
	private, public = filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	for _, path := range []string{private, public} {
		if _, err := os.Lstat(path); err == nil {
			return "", "", fmt.Errorf("%s exists: keep it, or move it aside to make a new key", path)
		}
	}
	if err := writeNew(private, skey+"\n", 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(public, vkey+"\n", 0o644); err != nil {
		return "", "", err
	}
	return private, public, nil
}

// writeNew writes data to the new file path with mode perm, synced.
func writeNew(path, data string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadSigner reads the private key at path (see GenerateKeys) and returns its
// signer, and the verifier of its signatures. It returns an error naming the file
// when it cannot be read, is open to other accounts, or holds no such key.
func LoadSigner(path string) (note.Signer, note.Verifier, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read the signing key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("the signing key %s is open to other accounts (mode %o): chmod 600 it", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read the signing key: %w", err)
	}
	skey := strings.TrimSpace(string(data))
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, nil, fmt.Errorf("the signing key %s: %w (make one with: audit keygen -out DIR)", path, err)
	}
	verifier, err := verifierOf(skey)
	if err != nil {
		return nil, nil, fmt.Errorf("the signing key %s: %w", path, err)
	}
	return signer, verifier, nil
}

// verifierOf returns the verifier of the Ed25519 private key skey, a key
// note.NewSigner accepts: PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 and the seed>.
func verifierOf(skey string) (note.Verifier, error) {
	// The key itself, in base64, may hold a '+'.
	fields := strings.SplitN(strings.TrimPrefix(skey, "PRIVATE+KEY+"), "+", 3)
	if len(fields) != 3 {
		return nil, errors.New("not a private key")
	}
	raw, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 private key")
	}
	public := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(fields[0], public)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// LoadVerifier reads the public key at path (see GenerateKeys). It returns an error
// naming the file when it cannot be read or holds no such key.
func LoadVerifier(path string) (note.Verifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the public key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("the public key %s: %w", path, err)
	}
	return v, nil
}
