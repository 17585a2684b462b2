package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLevelFilter logs through the filter the embedded store logs through: records
// below its level are dropped; those it passes carry the attributes and groups
// given before them, in order, and those given to one logger do not reach another.
func TestLevelFilter(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(levelFilter{Handler: slog.NewJSONHandler(&out, nil), min: slog.LevelError})
	base := logger.With("conn", 1)
	query := base.WithGroup("sql").With("query", "SELECT 1")
	other := base.With("other", true)
	query.Info("ran")
	if out.Len() > 0 {
		t.Fatalf("a record below the level was logged: %s", out.String())
	}
	query.Error("failed", "code", 5)
	got := out.String()
	if want := `"msg":"failed","conn":1,"sql":{"query":"SELECT 1","code":5}}`; !strings.Contains(got, want) {
		t.Errorf("logged %s, want it to end with %s", got, want)
	}
	out.Reset()
	other.Error("also")
	if got := out.String(); !strings.Contains(got, `"conn":1,"other":true}`) || strings.Contains(got, "sql") {
		t.Errorf("the other logger logged %s", got)
	}
}
