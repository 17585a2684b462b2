package notary

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement that a chain held Size events, the last with
// Hash.
type Checkpoint struct {
	// Chain is the chain's name.
	Chain string
	// Size is the sequence number of its last event.
	Size int64
	// Hash is the hash of that event, hex, as the trail records it.
	Hash string
	// KeyID is the id of the audit key the chain is hashed with (see audit.KeyID);
	// empty for a chain without a key.
	KeyID string
	// Line is the line of the log the note starts at, counting from 1; 0 for one not
	// read from a log.
	Line int
}

// originPart separates the key's name from the chain's in a checkpoint's origin.
const originPart = "/audit/"

// keyIDExtension starts the extension line that names the audit key.
const keyIDExtension = "key-id "

// text returns the checkpoint's text, as signed by the key named name. It returns
// an error when Hash is not a hash in hex.
func (c Checkpoint) text(name string) (string, error) {
	raw, err := hex.DecodeString(c.Hash)
	if err != nil || len(raw) == 0 {
		return "", fmt.Errorf("the head of chain %s holds no hash", c.Chain)
	}
	text := fmt.Sprintf("%s%s%s\n%d\n%s\n", name, originPart, c.Chain, c.Size, base64.StdEncoding.EncodeToString(raw))
	if c.KeyID != "" {
		text += keyIDExtension + c.KeyID + "\n"
	}
	return text, nil
}

// parseCheckpoint reads the text of a checkpoint signed by the key named name.
func parseCheckpoint(name, text string) (Checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, errors.New("fewer than three lines")
	}
	chain, ok := strings.CutPrefix(lines[0], name+originPart)
	if !ok || chain == "" {
		return Checkpoint{}, fmt.Errorf("its origin %q is not %s%s<chain>", lines[0], name, originPart)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 1 {
		return Checkpoint{}, fmt.Errorf("its size %q is not a count of events", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) == 0 {
		return Checkpoint{}, fmt.Errorf("its hash %q is not base64", lines[2])
	}
	c := Checkpoint{Chain: chain, Size: size, Hash: hex.EncodeToString(raw)}
	for _, ext := range lines[3:] {
		if id, ok := strings.CutPrefix(ext, keyIDExtension); ok {
			c.KeyID = id
		}
	}
	return c, nil
}

// sign returns c signed by signer, as a note followed by an empty line, which
// separates it from the next in a log.
func sign(c Checkpoint, signer note.Signer) ([]byte, error) {
	text, err := c.text(signer.Name())
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign the checkpoint of chain %s: %w", c.Chain, err)
	}
	return append(msg, '\n'), nil
}

// Log is where signed checkpoints are appended.
type Log interface {
	// Append appends one signed note, whole.
	Append(note []byte) error
}

// Stdout is the name of the log that is the process's standard output.
const Stdout = "stdout"

// OpenLog returns the log named by where: Stdout for stdout, else the path of a file,
// created with mode 0600 if missing, to which each note is appended with one write,
// then synced. The file is opened for each note, so that it may be rotated.
func OpenLog(where string, stdout io.Writer) Log {
	if where == Stdout {
		return &writerLog{w: stdout}
	}
	return fileLog(where)
}

type fileLog string

func (path fileLog) Append(note []byte) error {
	f, err := os.OpenFile(string(path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the checkpoint log: %w", err)
	}
	if _, err := f.Write(note); err != nil {
		f.Close()
		return fmt.Errorf("append to the checkpoint log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync the checkpoint log: %w", err)
	}
	return f.Close()
}

type writerLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *writerLog) Append(note []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(note); err != nil {
		return fmt.Errorf("write the checkpoint: %w", err)
	}
	return nil
}

// signatureStart starts every signature line of a note.
const signatureStart = "— "

// ReadLog reads the checkpoints of the log r signed by verifier's key. A note is a
// run of lines, an empty line, and one or more signature lines; other text (a log
// that is a process's standard output holds more) is passed over. A note that is not
// signed by the key, whose signature does not verify, or that is not a checkpoint
// of this key's origin is a problem, one line each, naming the line it starts at. It
// returns the errors of reading r.
func ReadLog(r io.Reader, verifier note.Verifier) (checkpoints []Checkpoint, problems []string, err error) {
	known := note.VerifierList(verifier)
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	var (
		text, sigs []string
		start, n   int
		inSigs     bool
	)
	flush := func() {
		if len(sigs) > 0 {
			msg := strings.Join(text, "\n") + "\n\n" + strings.Join(sigs, "\n") + "\n"
			c, problem := open(msg, known, verifier.Name())
			if problem != "" {
				problems = append(problems, fmt.Sprintf("line %d: %s", start, problem))
			} else {
				c.Line = start
				checkpoints = append(checkpoints, c)
			}
		}
		text, sigs, inSigs = nil, nil, false
	}
	for scanner.Scan() {
		n++
		line := scanner.Text()
		switch {
		case line == "" && !inSigs && len(text) > 0:
			inSigs = true
		case line == "":
			flush()
		case inSigs && strings.HasPrefix(line, signatureStart):
			sigs = append(sigs, line)
		default:
			if inSigs {
				flush() // text that was not a note, or a note without its empty line
			}
			if len(text) == 0 {
				start = n
			}
			text = append(text, line)
		}
	}
	flush()
	if err := scanner.Err(); err != nil {
		return nil, nil, fmt.Errorf("read the checkpoint log: %w", err)
	}
	return checkpoints, problems, nil
}

// open verifies the note msg and reads its checkpoint; problem says what is wrong
// with it, when anything is.
func open(msg string, known note.Verifiers, name string) (Checkpoint, string) {
	n, err := note.Open([]byte(msg), known)
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		return Checkpoint{}, "a note not signed by the key " + name
	case errors.As(err, &invalid):
		return Checkpoint{}, "a note whose signature does not verify with the key " + name + ": it was changed"
	case err != nil:
		return Checkpoint{}, "a note that does not read: " + err.Error()
	}
	c, err := parseCheckpoint(name, n.Text)
	if err != nil {
		return Checkpoint{}, "a signed note that is not a checkpoint of the audit trail: " + err.Error()
	}
	return c, ""
}
