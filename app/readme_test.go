package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/clinic/interactions/app"
)

// walkthroughFiles are the files whose code blocks marked <!-- walkthrough --> the
// walkthrough runs, in the order it runs them, as the README states: each part
// relies on what the parts before it did. The README makes the key; Patients and
// visits records P100 and visit-1 and loads A11's history; the insights read visit-1
// before Records and audit amends it, marks it entered-in-error and makes the
// auditor's key; mongosh then reads visit-1's versions; the export shows the marked
// visit.
var walkthroughFiles = []string{
	"README.md",
	"docs/guides/patients-and-visits.md",
	"docs/guides/workspace-and-insights.md",
	"docs/guides/records-and-audit.md",
	"docs/guides/operations.md",
	"docs/guides/fhir.md",
}

// minWalkthrough is the number of commands the walkthrough holds: fewer means a
// block has lost its mark or its file is not listed. Lower it only with a command
// removed on purpose.
const minWalkthrough = 55

// TestREADMEWalkthrough runs the walkthrough as a reader would: every code block
// marked <!-- walkthrough --> in the README and in the guides, file by file in the
// order of walkthroughFiles, against a fresh server started as `go run .` starts it.
// Each command must succeed; a command that names a status in its comment
// ("# 404 ...") must answer it. Keys the commands print are put where the text says
// <the key printed above>, and the store's connection string the server printed
// where it says <the store URI the server printed>; localhost:8000 stands for the
// server's address. The server runs with the defaults: its embedded store listens
// on its Unix socket in DATA_DIR, where the commands beside it, mongosh's
// included, reach it.
func TestREADMEWalkthrough(t *testing.T) {
	commands, err := walkthroughOf(os.DirFS(".."), walkthroughFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(commands) < minWalkthrough {
		t.Fatalf("the walkthrough holds %d commands, fewer than %d: are its blocks marked?", len(commands), minWalkthrough)
	}
	t.Setenv("MONGODB_URI", "")
	t.Setenv("MONGODB_DATABASE", "")
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("EMBEDDED_MONGO_ADDR", "")
	t.Setenv("PORT", "0")
	srv := startRun(t)
	defer srv.stop()

	r := &reader{t: t, base: srv.base, vars: map[string]string{}}
	r.adminKey = regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(srv.stdout.String())
	if m := regexp.MustCompile(`mongosh "(mongodb://[^"]+)"`).FindStringSubmatch(srv.stdout.String()); m != nil {
		r.storeURI = m[1]
	}
	if r.storeURI != srv.storeURI+"clinic" || !strings.Contains(r.storeURI, "embedded-store.sock") {
		t.Fatalf("the server printed the store's connection string %q, want its socket's, %sclinic:\n%s", r.storeURI, srv.storeURI, srv.stdout)
	}
	for i, cmd := range commands {
		if t.Failed() {
			t.Fatalf("stopped at command %d: %s", i+1, cmd.text)
		}
		r.run(cmd)
	}
}

// guidesGlob matches the guides, whose marked blocks run only when they are listed.
const guidesGlob = "docs/guides/*.md"

// walkthroughOf returns the walkthrough's commands: those of the blocks marked
// <!-- walkthrough --> in files, read from repo, file by file in order. It returns an
// error when a listed file has no marked block, and when a guide has marked blocks
// but is not listed, since nothing would say when they run.
func walkthroughOf(repo fs.FS, files []string) ([]command, error) {
	var all []command
	listed := map[string]bool{}
	for _, name := range files {
		listed[name] = true
		text, err := fs.ReadFile(repo, name)
		if err != nil {
			return nil, err
		}
		commands, err := walkthrough(name, string(text))
		if err != nil {
			return nil, err
		}
		if len(commands) == 0 {
			return nil, fmt.Errorf("%s is in the walkthrough's files but has no block marked %s", name, walkthroughMark)
		}
		all = append(all, commands...)
	}
	guides, err := fs.Glob(repo, guidesGlob)
	if err != nil {
		return nil, err
	}
	for _, name := range guides {
		if listed[name] {
			continue
		}
		text, err := fs.ReadFile(repo, name)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(strings.Split(string(text), "\n"), isWalkthroughMark) {
			return nil, fmt.Errorf("%s has blocks marked %s but is not in the walkthrough's files, which say when they run", name, walkthroughMark)
		}
	}
	return all, nil
}

func TestWalkthroughOf(t *testing.T) {
	block := func(cmd string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("Text.\n\n" + walkthroughMark + "\n```sh\n" + cmd + "\n```\n")}
	}
	plain := &fstest.MapFile{Data: []byte("Blocks marked `" + walkthroughMark + "` run.\n\n```sh\ngo run .\n```\n")}
	repo := fstest.MapFS{
		"README.md":            block("go run . keys list"),
		"docs/guides/first.md": block("curl localhost:8000/healthz   # 200"),
		"docs/guides/plain.md": plain,
	}
	commands, err := walkthroughOf(repo, []string{"README.md", "docs/guides/first.md"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range commands {
		got = append(got, c.text)
	}
	if want := []string{"go run . keys list", "curl localhost:8000/healthz   # 200"}; !slices.Equal(got, want) {
		t.Errorf("walkthroughOf gave %q, want %q, in the order of the files", got, want)
	}

	for _, tc := range []struct {
		name  string
		repo  fstest.MapFS
		files []string
		want  string
	}{
		{"a listed file without a marked block", fstest.MapFS{"README.md": block("go run ."), "docs/guides/plain.md": plain},
			[]string{"README.md", "docs/guides/plain.md"}, "docs/guides/plain.md is in the walkthrough's files but has no block"},
		{"a guide with a marked block, not listed", fstest.MapFS{"README.md": block("go run ."), "docs/guides/first.md": block("go run .")},
			[]string{"README.md"}, "docs/guides/first.md has blocks marked"},
		{"a listed file that is missing", fstest.MapFS{"README.md": block("go run .")},
			[]string{"README.md", "docs/guides/gone.md"}, "gone.md"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := walkthroughOf(tc.repo, tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("walkthroughOf = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// command is one command of the walkthrough: its words, unexpanded, the status its
// comment expects (0 for none) and its text, for messages.
type command struct {
	words  [][]part
	status int
	text   string
}

// part is a piece of a shell word: literal text, or a variable to expand.
type part struct {
	text     string
	variable bool
}

var statusComment = regexp.MustCompile(`^\s*(\d{3})\b`)

// walkthroughMark, alone on its line, marks a code block the walkthrough runs.
const walkthroughMark = "<!-- walkthrough -->"

func isWalkthroughMark(line string) bool { return strings.TrimSpace(line) == walkthroughMark }

// walkthrough returns the commands of the code blocks of markdown, the text of the
// file name, marked <!-- walkthrough -->, in order.
func walkthrough(name, markdown string) ([]command, error) {
	var out []command
	lines := strings.Split(markdown, "\n")
	for i := 0; i < len(lines); i++ {
		if !isWalkthroughMark(lines[i]) {
			continue
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
			return nil, fmt.Errorf("%s line %d: a walkthrough mark not followed by a ```sh block", name, i+1)
		}
		var block []string
		for i += 2; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			block = append(block, lines[i])
		}
		cmds, err := lex(strings.Join(block, "\n") + "\n")
		if err != nil {
			return nil, fmt.Errorf("%s block before line %d: %w", name, i+1, err)
		}
		out = append(out, cmds...)
	}
	return out, nil
}

// lex splits shell text into commands, as sh would: words separated by blanks,
// commands by newlines; single quotes keep everything, double quotes expand $NAME;
// a backslash at the end of a line continues it; # starts a comment.
func lex(src string) ([]command, error) {
	var (
		cmds    []command
		words   [][]part
		word    []part
		inWord  bool
		comment string
		start   int
	)
	endWord := func() {
		if inWord {
			words = append(words, word)
		}
		word, inWord = nil, false
	}
	endCommand := func(end int) {
		endWord()
		if len(words) > 0 {
			c := command{words: words, text: strings.TrimSpace(src[start:end])}
			if m := statusComment.FindStringSubmatch(comment); m != nil {
				c.status, _ = strconv.Atoi(m[1])
			}
			cmds = append(cmds, c)
		}
		words, comment, start = nil, "", end+1
	}
	literal := func(s string) { word = append(word, part{text: s}); inWord = true }
	variable := func(i int) int { // reads $NAME or ${NAME} at src[i]; returns the index after it
		j := i + 1
		if j < len(src) && src[j] == '{' {
			k := strings.IndexByte(src[j:], '}')
			if k < 0 {
				return -1
			}
			word, inWord = append(word, part{text: src[j+1 : j+k], variable: true}), true
			return j + k + 1
		}
		for j < len(src) && (src[j] == '_' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= '0' && src[j] <= '9') {
			j++
		}
		if j == i+1 {
			literal("$")
			return j
		}
		word, inWord = append(word, part{text: src[i+1 : j], variable: true}), true
		return j
	}
	for i := 0; i < len(src); {
		switch c := src[i]; {
		case c == '\\' && i+1 < len(src) && src[i+1] == '\n':
			i += 2
		case c == '\\' && i+1 < len(src):
			literal(src[i+1 : i+2])
			i += 2
		case c == '\n':
			endCommand(i)
			i++
		case c == ' ' || c == '\t':
			endWord()
			i++
		case c == '#' && !inWord:
			end := strings.IndexByte(src[i:], '\n')
			comment = src[i+1 : i+end]
			i += end
		case c == '\'':
			end := strings.IndexByte(src[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("an unclosed single quote: %q", src[start:])
			}
			literal(src[i+1 : i+1+end])
			i += end + 2
		case c == '"':
			i++
			inWord = true
			for i < len(src) && src[i] != '"' {
				switch {
				case src[i] == '\\' && i+1 < len(src) && strings.ContainsRune(`"\$`+"`", rune(src[i+1])):
					literal(src[i+1 : i+2])
					i += 2
				case src[i] == '$':
					if i = variable(i); i < 0 {
						return nil, fmt.Errorf("an unclosed ${: %q", src[start:])
					}
				default:
					literal(src[i : i+1])
					i++
				}
			}
			if i >= len(src) {
				return nil, fmt.Errorf("an unclosed double quote: %q", src[start:])
			}
			i++
		case c == '$':
			if i = variable(i); i < 0 {
				return nil, fmt.Errorf("an unclosed ${: %q", src[start:])
			}
		case c == '|' || c == ';' || c == '&' || c == '>' || c == '<' || c == '`' || c == '(':
			return nil, fmt.Errorf("%q: the walkthrough runs plain commands, without %q", strings.TrimSpace(src[start:min(len(src), i+20)]), c)
		default:
			literal(src[i : i+1])
			i++
		}
	}
	endCommand(len(src) - 1)
	return cmds, nil
}

// reader runs the walkthrough's commands as a reader does.
type reader struct {
	t    *testing.T
	base string // http://127.0.0.1:port
	// storeURI is the connection string of the store's socket the server printed.
	storeURI string
	vars     map[string]string
	// adminKey is the key the server printed at its first start; lastKey the last
	// API key a command printed; lastCursor the next_cursor of the last answer.
	adminKey, lastKey, lastCursor string
}

// The walkthrough's placeholders for what the reader pastes from what came before.
const (
	keyPlaceholder    = "<the key printed above>"
	adminPlaceholder  = "<the admin key the server printed>"
	cursorPlaceholder = "<the next_cursor above>"
	storePlaceholder  = "<the store URI the server printed>"
)

func (r *reader) expand(word []part) string {
	var b strings.Builder
	for _, p := range word {
		if p.variable {
			v, ok := r.vars[p.text]
			if !ok {
				r.t.Errorf("$%s is used before it is set", p.text)
			}
			b.WriteString(v)
			continue
		}
		b.WriteString(p.text)
	}
	return b.String()
}

func (r *reader) run(cmd command) {
	t := r.t
	t.Helper()
	args := make([]string, len(cmd.words))
	for i, w := range cmd.words {
		args[i] = r.paste(cmd, r.expand(w))
	}
	switch {
	case args[0] == "export" && len(args) == 2, len(args) == 1 && strings.Contains(args[0], "="):
		name, value, _ := strings.Cut(args[len(args)-1], "=")
		r.vars[name] = value
	case args[0] == "curl":
		r.curl(cmd, args[1:])
	case len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == ".":
		if len(args) == 3 {
			return // the server: this test started it
		}
		var out bytes.Buffer
		if err := app.Run(context.Background(), args[3:], &out, io.Discard); err != nil {
			t.Errorf("%s: %v", cmd.text, err)
		}
		r.remember(out.String())
	case len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == "./seed":
		r.exec(cmd, "go", args[1:]...)
	case args[0] == "mongosh":
		// The guide's mongosh reaches the server's store through its socket, by the
		// connection string the server printed.
		if len(args) < 2 || args[1] != r.storeURI {
			t.Errorf("%s: mongosh is not given the connection string the server printed, %s", cmd.text, r.storeURI)
			return
		}
		if _, err := exec.LookPath("mongosh"); err != nil {
			t.Logf("skipped, as mongosh is not on PATH (.ci/run installs it): %s", cmd.text)
			return
		}
		r.exec(cmd, "mongosh", args[1:]...)
	default:
		t.Errorf("the walkthrough runs %q, which this test does not know how to run", cmd.text)
	}
}

// paste puts into s what its placeholders ask for.
func (r *reader) paste(cmd command, s string) string {
	for placeholder, value := range map[string]string{
		keyPlaceholder: r.lastKey, adminPlaceholder: r.adminKey, cursorPlaceholder: r.lastCursor, storePlaceholder: r.storeURI,
	} {
		if !strings.Contains(s, placeholder) {
			continue
		}
		if value == "" {
			r.t.Errorf("%s: nothing before gave %s", cmd.text, placeholder)
		}
		s = strings.ReplaceAll(s, placeholder, value)
	}
	return s
}

// remember keeps the last API key and next_cursor in a command's output.
func (r *reader) remember(out string) {
	if key := regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(out); key != "" {
		r.lastKey = key
	}
	if m := regexp.MustCompile(`"next_cursor":"([A-Za-z0-9_-]+)"`).FindStringSubmatch(out); m != nil {
		r.lastCursor = m[1]
	}
}

// exec runs a program from the repository's root, with the test's environment, and
// fails the test when it does not exit 0.
func (r *reader) exec(cmd command, name string, args ...string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = ".."
	c.Env = append(os.Environ(), "MONGOSH_NO_UPDATE_CHECK=1")
	out, err := c.CombinedOutput()
	if err != nil {
		r.t.Errorf("%s: %v\n%s", cmd.text, err, out)
	}
	r.remember(string(out))
}

// curl sends the request a curl command line describes and checks its status.
func (r *reader) curl(cmd command, args []string) {
	t := r.t
	t.Helper()
	method, target, body := "", "", ""
	header := http.Header{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() string {
			if i+1 >= len(args) {
				t.Errorf("%s: %s needs a value", cmd.text, a)
				return ""
			}
			i++
			return args[i]
		}
		switch a {
		case "-i", "-s", "-sS", "-si", "--include", "--silent", "--show-error":
		case "-X", "--request":
			method = value()
		case "-H", "--header":
			name, v, _ := strings.Cut(value(), ":")
			header.Add(strings.TrimSpace(name), strings.TrimSpace(v))
		case "-d", "--data", "--data-raw":
			body = value()
		default:
			if strings.HasPrefix(a, "-") {
				t.Errorf("%s: curl's %s is not supported here", cmd.text, a)
				return
			}
			target = a
		}
	}
	if method == "" {
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	u, err := url.Parse(target)
	if err != nil || u.Host != "localhost:8000" {
		t.Errorf("%s: the walkthrough's requests go to localhost:8000", cmd.text)
		return
	}
	base, _ := url.Parse(r.base)
	u.Host = base.Host
	req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
	if err != nil {
		t.Errorf("%s: %v", cmd.text, err)
		return
	}
	req.Header = header
	if body != "" && header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl -d does
	}
	sent := req.Clone(context.Background())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: %v", cmd.text, err)
		return
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(bufio.NewReader(res.Body))
	checkContract(t, sent, []byte(body), res.StatusCode, res.Header, data, true)
	want := cmd.status
	switch {
	case want != 0 && res.StatusCode != want:
		t.Errorf("%s\nanswered %d, the README says %d:\n%s", cmd.text, res.StatusCode, want, data)
	case want == 0 && res.StatusCode >= 300:
		t.Errorf("%s\nanswered %d; a command without a status in its comment must succeed:\n%s", cmd.text, res.StatusCode, data)
	}
	r.remember(string(data))
}

func TestLex(t *testing.T) {
	cmds, err := lex(`curl -H "$AUTH" -i -X POST localhost:8000/x -d '{
  "a": "b c"
}'    # 201 Created
export AUTH="Authorization: Bearer <the key printed above>"
go run . keys create \
  -name dr-house -role clinician
echo "a\"b" ${X}y # no status
`)
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{t: t, vars: map[string]string{"AUTH": "k", "X": "x"}}
	var got []string
	for _, c := range cmds {
		var words []string
		for _, w := range c.words {
			words = append(words, r.expand(w))
		}
		got = append(got, fmt.Sprintf("%d %q", c.status, words))
	}
	want := []string{
		`201 ["curl" "-H" "k" "-i" "-X" "POST" "localhost:8000/x" "-d" "{\n  \"a\": \"b c\"\n}"]`,
		`0 ["export" "AUTH=Authorization: Bearer <the key printed above>"]`,
		`0 ["go" "run" "." "keys" "create" "-name" "dr-house" "-role" "clinician"]`,
		`0 ["echo" "a\"b" "xy"]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lex gave\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"a | b\n", "echo 'x\n", "a > f\n", "echo $(date)\n"} {
		if _, err := lex(bad); err == nil {
			t.Errorf("lex(%q) accepted it", bad)
		}
	}
}
