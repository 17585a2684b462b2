package app_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/clinic/interactions/app"
)

// TestEmbeddedAddrIsLoopback checks that the embedded store, which asks for no
// password, listens only where this machine alone reaches it, unless
// EMBEDDED_MONGO_ALLOW_REMOTE says otherwise.
func TestEmbeddedAddrIsLoopback(t *testing.T) {
	tests := []struct {
		addr, allowRemote, uri string
		wantErr                string // a part of the error; "" for none
	}{
		{addr: "", wantErr: ""}, // the default, a Unix socket in DATA_DIR
		{addr: "127.0.0.1:27017"},
		{addr: "127.0.0.2:0"},
		{addr: "[::1]:27017"},
		{addr: "localhost:27017"},
		{addr: "LOCALHOST:27017"},
		{addr: "0.0.0.0:27017", wantErr: "EMBEDDED_MONGO_ADDR"},
		{addr: ":27017", wantErr: "EMBEDDED_MONGO_ADDR"},
		{addr: "[::]:27017", wantErr: "EMBEDDED_MONGO_ADDR"},
		{addr: "192.168.1.10:27017", wantErr: "EMBEDDED_MONGO_ADDR"},
		{addr: "db.example.org:27017", wantErr: "EMBEDDED_MONGO_ADDR"},
		{addr: "127.0.0.1", wantErr: "EMBEDDED_MONGO_ADDR"},
		{addr: "0.0.0.0:27017", allowRemote: "true"},
		{addr: "0.0.0.0:27017", allowRemote: "false", wantErr: "EMBEDDED_MONGO_ADDR"},
		{addr: "127.0.0.1:27017", allowRemote: "yes", wantErr: "EMBEDDED_MONGO_ALLOW_REMOTE"},
		// With MONGODB_URI the embedded store does not run: its address is not read.
		{addr: "0.0.0.0:27017", uri: "mongodb://db.example.org:27017"},
	}
	for _, tt := range tests {
		t.Run(tt.addr+" "+tt.allowRemote+" "+tt.uri, func(t *testing.T) {
			env := map[string]string{
				"EMBEDDED_MONGO_ADDR":         tt.addr,
				"EMBEDDED_MONGO_ALLOW_REMOTE": tt.allowRemote,
				"MONGODB_URI":                 tt.uri,
			}
			cfg, err := app.ConfigFrom(func(k string) string { return env[k] })
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ConfigFrom: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr+":")):
				t.Fatalf("ConfigFrom = %v, want an error naming %s", err, tt.wantErr)
			case err == nil && tt.allowRemote == "true" && !cfg.EmbeddedAllowRemote:
				t.Error("EmbeddedAllowRemote is false")
			}
		})
	}
}

func TestScanLimit(t *testing.T) {
	for _, tt := range []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", app.AutoScanLimit, false},
		{"0", 0, false},
		{"4", 4, false},
		{"-1", 0, true},
		{"two", 0, true},
	} {
		cfg, err := app.ConfigFrom(func(k string) string {
			if k == "SCAN_LIMIT" {
				return tt.value
			}
			return ""
		})
		switch {
		case tt.wantErr && (err == nil || !strings.HasPrefix(err.Error(), "SCAN_LIMIT:")):
			t.Errorf("SCAN_LIMIT=%q: %v, want an error naming it", tt.value, err)
		case !tt.wantErr && (err != nil || cfg.ScanLimit != tt.want):
			t.Errorf("SCAN_LIMIT=%q: %d, %v; want %d", tt.value, cfg.ScanLimit, err, tt.want)
		}
	}
}

func TestMongoSettings(t *testing.T) {
	cfg, err := app.ConfigFrom(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if want := (app.MongoSettings{WriteConcern: "majority", Journal: true, ReadConcern: "majority",
		ReadPreference: "primary", OperationTimeout: 30 * time.Second}); cfg.Mongo != want {
		t.Errorf("defaults = %+v, want %+v", cfg.Mongo, want)
	}
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		{"MONGODB_WRITE_CONCERN", "2", true},
		{"MONGODB_WRITE_CONCERN", "0", false},
		{"MONGODB_WRITE_CONCERN", "all", false},
		{"MONGODB_JOURNAL", "false", true},
		{"MONGODB_JOURNAL", "maybe", false},
		{"MONGODB_READ_CONCERN", "local", true},
		{"MONGODB_READ_CONCERN", "available", false},
		{"MONGODB_READ_PREFERENCE", "primaryPreferred", true},
		{"MONGODB_READ_PREFERENCE", "secondary", false},
		{"MONGODB_OPERATION_TIMEOUT", "1m", true},
		{"MONGODB_OPERATION_TIMEOUT", "0s", false},
	} {
		_, err := app.ConfigFrom(func(k string) string {
			if k == tc.key {
				return tc.value
			}
			return ""
		})
		if (err == nil) != tc.ok || err != nil && !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("%s=%s: %v, want ok %v", tc.key, tc.value, err, tc.ok)
		}
	}
}

// TestMongoSettingsReachTheDriver connects through MONGODB_URI, as to MongoDB, and
// captures the commands the driver sends: writes ask for a journaled majority, reads
// for majority data from the primary.
func TestMongoSettingsReachTheDriver(t *testing.T) {
	if testStore.URI() == "" {
		t.Skip("needs the test store's URI")
	}
	var mu sync.Mutex
	commands := map[string]bson.Raw{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		defer mu.Unlock()
		commands[e.CommandName] = e.Command
	}}
	cfg, err := app.ConfigFrom(func(k string) string {
		return map[string]string{"MONGODB_URI": testStore.URI(), "MONGODB_DATABASE": "settings"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := app.Connect(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{Monitor: monitor})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLogged(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	coll := conn.DB.Collection("probe")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if wc := commands["insert"].Lookup("writeConcern").String(); wc != `{"w": "majority","j": true}` {
		t.Errorf("insert's writeConcern = %s", wc)
	}
	if rc := commands["find"].Lookup("readConcern").String(); rc != `{"level": "majority"}` {
		t.Errorf("find's readConcern = %s", rc)
	}
	if rp := commands["find"].Lookup("$readPreference"); rp.Validate() == nil && rp.String() != `{"mode": "primary"}` {
		t.Errorf("find's read preference = %s", rp)
	}
}

func TestLanguageModelConfig(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		enabled bool
		wantErr string
	}{
		{"off by default", nil, false, ""},
		{"on", map[string]string{"LLM_BASE_URL": "http://127.0.0.1:8080/v1", "LLM_MODEL": "m", "LLM_TIMEOUT": "2s"}, true, ""},
		{"a URL without a model", map[string]string{"LLM_BASE_URL": "http://127.0.0.1:8080/v1"}, false, "LLM_BASE_URL and LLM_MODEL"},
		{"a model without a URL", map[string]string{"LLM_MODEL": "m"}, false, "LLM_BASE_URL and LLM_MODEL"},
		{"not a URL", map[string]string{"LLM_BASE_URL": "ftp://x", "LLM_MODEL": "m"}, false, "LLM_BASE_URL:"},
		{"a bad timeout", map[string]string{"LLM_TIMEOUT": "soon"}, false, "LLM_TIMEOUT:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := app.ConfigFrom(func(k string) string { return tt.env[k] })
			switch {
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one starting %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr == "" && cfg.LLM.Enabled() != tt.enabled:
				t.Errorf("enabled %v", cfg.LLM.Enabled())
			case tt.enabled && cfg.LLM.Timeout != 2*time.Second:
				t.Errorf("timeout %v", cfg.LLM.Timeout)
			case tt.wantErr == "" && !tt.enabled && cfg.LLM.Timeout != 5*time.Second:
				t.Errorf("default timeout %v", cfg.LLM.Timeout)
			}
		})
	}
}

func TestHeavyRequestsConfig(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  int
		err   bool
	}{
		{"", 2, false}, {"0", 0, false}, {"5", 5, false}, {"-1", 0, true}, {"two", 0, true},
	} {
		cfg, err := app.ConfigFrom(func(k string) string { return map[string]string{"HEAVY_REQUESTS_PER_KEY": tt.value}[k] })
		switch {
		case tt.err && (err == nil || !strings.HasPrefix(err.Error(), "HEAVY_REQUESTS_PER_KEY:")):
			t.Errorf("%q: error %v, want one naming HEAVY_REQUESTS_PER_KEY", tt.value, err)
		case !tt.err && (err != nil || cfg.HeavyRequestsPerKey != tt.want):
			t.Errorf("%q: %d, %v; want %d", tt.value, cfg.HeavyRequestsPerKey, err, tt.want)
		}
	}
}

// TestLanguageModelTransport checks that LLM_BASE_URL sends the model what it sends
// over TLS, or in plain http to this machine alone, and that the free text of the
// records goes to it only when LLM_SEND_FREE_TEXT says so.
func TestLanguageModelTransport(t *testing.T) {
	for _, tt := range []struct {
		name     string
		url      string
		freeText string
		want     bool
		wantErr  string
	}{
		{"https to another machine", "https://llm.example.org/v1", "", false, ""},
		{"http to the loopback address", "http://127.0.0.1:8080/v1", "", false, ""},
		{"http to localhost", "http://localhost:11434/v1", "", false, ""},
		{"http to IPv6 loopback", "http://[::1]:8080/v1", "", false, ""},
		{"http to another machine", "http://llm.example.org/v1", "", false, "LLM_BASE_URL:"},
		{"http to a LAN address", "http://192.168.1.20:8080/v1", "", false, "LLM_BASE_URL:"},
		{"http to every interface", "http://0.0.0.0:8080/v1", "", false, "LLM_BASE_URL:"},
		{"free text allowed", "https://llm.example.org/v1", "true", true, ""},
		{"free text refused", "https://llm.example.org/v1", "false", false, ""},
		{"free text unreadable", "https://llm.example.org/v1", "sometimes", false, "LLM_SEND_FREE_TEXT:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LLM_BASE_URL": tt.url, "LLM_MODEL": "m", "LLM_SEND_FREE_TEXT": tt.freeText}
			cfg, err := app.ConfigFrom(func(k string) string { return env[k] })
			switch {
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one starting %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr == "" && cfg.LLM.SendFreeText != tt.want:
				t.Errorf("SendFreeText = %v, want %v", cfg.LLM.SendFreeText, tt.want)
			}
		})
	}
}

// TestAuditSettings reads the audit trail's settings: the limit of failed
// authentications, and the keys of the trail before a rotation.
func TestAuditSettings(t *testing.T) {
	key, old1, old2 := strings.Repeat("k", 32), strings.Repeat("o", 32), strings.Repeat("p", 40)
	for _, tt := range []struct {
		name            string
		env             map[string]string
		limit, previous int
		wantErr         string
	}{
		{"defaults", nil, 60, 0, ""},
		{"no limit", map[string]string{"AUTH_FAILURE_LIMIT_PER_MINUTE": "0"}, 0, 0, ""},
		{"a limit", map[string]string{"AUTH_FAILURE_LIMIT_PER_MINUTE": "5"}, 5, 0, ""},
		{"a bad limit", map[string]string{"AUTH_FAILURE_LIMIT_PER_MINUTE": "-1"}, 0, 0, "AUTH_FAILURE_LIMIT_PER_MINUTE"},
		{"previous keys", map[string]string{"AUDIT_HMAC_KEY": key, "AUDIT_HMAC_PREVIOUS_KEYS": old1 + ", " + old2}, 60, 2, ""},
		{"a short previous key", map[string]string{"AUDIT_HMAC_KEY": key, "AUDIT_HMAC_PREVIOUS_KEYS": old1 + ",short"}, 0, 0, "AUDIT_HMAC_PREVIOUS_KEYS"},
		{"previous keys without a key", map[string]string{"AUDIT_HMAC_PREVIOUS_KEYS": old1}, 0, 0, "AUDIT_HMAC_PREVIOUS_KEYS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := app.ConfigFrom(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr+":") {
					t.Fatalf("ConfigFrom = %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AuthFailureLimit != tt.limit || len(cfg.AuditPreviousKeys) != tt.previous {
				t.Errorf("AuthFailureLimit %d, %d previous keys; want %d and %d", cfg.AuthFailureLimit, len(cfg.AuditPreviousKeys), tt.limit, tt.previous)
			}
		})
	}
}

func TestMinFreeDisk(t *testing.T) {
	for _, tt := range []struct {
		value   string
		want    uint64
		wantErr bool
	}{
		{"", 1 << 30, false},
		{"0", 0, false},
		{"512MiB", 512 << 20, false},
		{"2GiB", 2 << 30, false},
		{"2 gib", 2 << 30, false},
		{"10GB", 10e9, false},
		{"1048576", 1 << 20, false},
		{"100B", 100, false},
		{"1000000TiB", 1000000 << 40, false},
		{"lots", 0, true},
		{"-1GiB", 0, true},
		{"1.5GiB", 0, true},
		{"2PiB", 0, true},
		{"GiB", 0, true},
		{"99999999999TiB", 0, true},
	} {
		t.Run(tt.value, func(t *testing.T) {
			cfg, err := app.ConfigFrom(func(k string) string { return map[string]string{"MIN_FREE_DISK": tt.value}[k] })
			switch {
			case tt.wantErr && (err == nil || !strings.HasPrefix(err.Error(), "MIN_FREE_DISK:")):
				t.Errorf("error %v, want one naming MIN_FREE_DISK", err)
			case !tt.wantErr && (err != nil || cfg.MinFreeDisk != tt.want):
				t.Errorf("MinFreeDisk = %d, %v; want %d", cfg.MinFreeDisk, err, tt.want)
			}
		})
	}
}

// TestEmbeddedSocketFits checks that the default, a Unix socket in DATA_DIR, is
// refused at start, naming DATA_DIR and EMBEDDED_MONGO_ADDR, when its path is longer
// than a socket's path may be, or holds what a connection string cannot name; and
// that a DATA_DIR as deep as the tests' own fits.
func TestEmbeddedSocketFits(t *testing.T) {
	long := "/tmp/" + strings.Repeat("d", 90)
	for _, tt := range []struct {
		name, dataDir, addr, uri string
		wantErr                  bool
	}{
		{name: "the default DATA_DIR", dataDir: ""},
		{name: "a test's directory", dataDir: t.TempDir()},
		{name: "too long a path", dataDir: long, wantErr: true},
		{name: "a colon in the path", dataDir: "/tmp/a:b", wantErr: true},
		{name: "too long a path, on TCP", dataDir: long, addr: "127.0.0.1:27017"},
		{name: "too long a path, on MongoDB", dataDir: long, uri: "mongodb://db.example.org:27017"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": tt.dataDir, "EMBEDDED_MONGO_ADDR": tt.addr, "MONGODB_URI": tt.uri}
			_, err := app.ConfigFrom(func(k string) string { return env[k] })
			switch {
			case !tt.wantErr && err != nil:
				t.Fatalf("ConfigFrom: %v", err)
			case tt.wantErr && (err == nil || !strings.HasPrefix(err.Error(), "DATA_DIR:") || !strings.Contains(err.Error(), "EMBEDDED_MONGO_ADDR")):
				t.Fatalf("ConfigFrom = %v, want an error naming DATA_DIR and EMBEDDED_MONGO_ADDR", err)
			}
		})
	}
	if path, err := app.EmbeddedSocket("data"); err != nil || !filepath.IsAbs(path) || filepath.Base(path) != "embedded-store.sock" {
		t.Errorf("EmbeddedSocket(data) = %q, %v; want an absolute path to embedded-store.sock", path, err)
	}
}
