// Package app assembles the service: configuration, the store, the HTTP server and
// their start-up and shutdown.
package app

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/clinic/interactions/llm"
	"github.com/clinic/interactions/notary"
)

// Config is the service's configuration, read once from the environment.
type Config struct {
	// Port is the HTTP port (PORT, default 8000).
	Port int
	// MongoURI selects MongoDB (MONGODB_URI); empty starts the embedded store.
	MongoURI string
	// Mongo is how MongoDB keeps and reads the data; the embedded store, one process
	// committing to one file, has no use for it.
	Mongo MongoSettings
	// Database is the database name (MONGODB_DATABASE, default clinic).
	Database string
	// DataDir holds the embedded store's files (DATA_DIR, default ./data).
	DataDir string
	// EmbeddedAddr is the TCP address the embedded store listens on
	// (EMBEDDED_MONGO_ADDR). Empty, the default, it listens on a Unix socket in
	// DataDir that only its owner may use (see EmbeddedSocket), and on no TCP port.
	// The store asks for no password, so an address must be a loopback one unless
	// EmbeddedAllowRemote is set.
	EmbeddedAddr string
	// EmbeddedAllowRemote lets EmbeddedAddr be an address other machines can reach
	// (EMBEDDED_MONGO_ALLOW_REMOTE, default false).
	EmbeddedAllowRemote bool
	// MinFreeDisk is the free space, in bytes, of DATA_DIR's file system below which
	// the embedded store's server says space is low (MIN_FREE_DISK, default 1GiB; 0
	// turns the check off): /readyz answers 503 and the log warns every minute.
	MinFreeDisk uint64
	// RequestTimeout bounds each request's store work (REQUEST_TIMEOUT, default 10s).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the whole shutdown (SHUTDOWN_TIMEOUT, default 15s):
	// open requests get half of it, the process is gone by 70% of it.
	ShutdownTimeout time.Duration
	// IdempotencyKeyTTL is how long Idempotency-Key answers are kept
	// (IDEMPOTENCY_KEY_TTL, default 24h, at least 24h).
	IdempotencyKeyTTL time.Duration
	// RateLimit is how many requests an API key may make a minute
	// (RATE_LIMIT_PER_MINUTE, default 600; 0 turns the limit off).
	RateLimit int
	// ClientRateLimit is how many requests a client address may make a minute, with
	// or without a key (CLIENT_RATE_LIMIT_PER_MINUTE, default 3000; 0 turns it off).
	ClientRateLimit int
	// HeavyRequestsPerKey is how many heavy requests (summary, report, export,
	// analytics, similar patients, suggestions, FHIR $everything and $summary) an API
	// key may have running at once (HEAVY_REQUESTS_PER_KEY, default 2; 0 turns the
	// limit off).
	HeavyRequestsPerKey int
	// AuthFailureLimit is how many failed authentications a client address may
	// have a minute before its requests are refused without looking their key up
	// (AUTH_FAILURE_LIMIT_PER_MINUTE, default 60; 0 turns it off).
	AuthFailureLimit int
	// ScanLimit is how many queries that read a whole collection may run at once on
	// FerretDB, the embedded store (SCAN_LIMIT; 0 turns the limit off). Unset, it is
	// AutoScanLimit: the number of CPUs on FerretDB, no limit on MongoDB, whose
	// indexes serve those queries.
	ScanLimit int
	// CORSOrigins lists the origins browsers may call the API from (CORS_ORIGINS,
	// comma-separated; empty, the default, turns CORS off).
	CORSOrigins []string
	// AuditKey keys the audit trail's hashes (AUDIT_HMAC_KEY, optional): with it, only
	// holders of the key can forge a chain.
	AuditKey []byte
	// AuditPreviousKeys are the keys of the audit trail before a rotation
	// (AUDIT_HMAC_PREVIOUS_KEYS, comma-separated): the chains keyed with them still
	// verify.
	AuditPreviousKeys [][]byte
	// AuditSigningKeyFile is the file of the Ed25519 key that signs checkpoints of
	// the audit chains, kept outside the database (AUDIT_SIGNING_KEY_FILE, optional;
	// see notary.GenerateKeys). Without it nothing is signed.
	AuditSigningKeyFile string
	// AuditCheckpointLog is where signed checkpoints are appended
	// (AUDIT_CHECKPOINT_LOG): the path of a file, or "stdout". It is set with
	// AuditSigningKeyFile, and neither is in DATA_DIR.
	AuditCheckpointLog string
	// LogLevel is debug, info, warn or error (LOG_LEVEL, default info).
	LogLevel string
	// LLM is the optional language model (LLM_BASE_URL, LLM_MODEL, LLM_API_KEY,
	// LLM_TIMEOUT, default 5s, LLM_SEND_FREE_TEXT, default false); off unless
	// LLM_BASE_URL and LLM_MODEL are set. LLM_BASE_URL is https, or http to a
	// loopback address.
	LLM llm.Config
}

// AutoScanLimit is the ScanLimit that picks the default for the store.
const AutoScanLimit = -1

// LoadConfig reads .env when present (variables already set win), then the
// environment. It returns an error naming the first variable that does not parse.
func LoadConfig() (Config, error) {
	if err := godotenv.Load(); err != nil && !os.IsNotExist(err) {
		return Config{}, fmt.Errorf("read .env: %w", err)
	}
	return ConfigFrom(os.Getenv)
}

// ConfigFrom reads the configuration through getenv, applying defaults. It returns an
// error naming the first variable that does not parse.
func ConfigFrom(getenv func(string) string) (Config, error) {
	get := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		MongoURI:     getenv("MONGODB_URI"),
		Database:     get("MONGODB_DATABASE", "clinic"),
		DataDir:      get("DATA_DIR", "./data"),
		EmbeddedAddr: getenv("EMBEDDED_MONGO_ADDR"),
		LogLevel:     get("LOG_LEVEL", "info"),
	}
	port, err := strconv.Atoi(get("PORT", "8000"))
	if err != nil || port < 0 || port > 65535 {
		return Config{}, fmt.Errorf("PORT: %q is not a port number", getenv("PORT"))
	}
	cfg.Port = port
	if cfg.Mongo, err = mongoSettingsFrom(get); err != nil {
		return Config{}, err
	}
	for _, r := range []struct {
		key, def string
		into     *int
	}{
		{"RATE_LIMIT_PER_MINUTE", "600", &cfg.RateLimit},
		{"CLIENT_RATE_LIMIT_PER_MINUTE", "3000", &cfg.ClientRateLimit},
		{"HEAVY_REQUESTS_PER_KEY", "2", &cfg.HeavyRequestsPerKey},
		{"AUTH_FAILURE_LIMIT_PER_MINUTE", "60", &cfg.AuthFailureLimit},
	} {
		n, err := strconv.Atoi(get(r.key, r.def))
		if err != nil || n < 0 {
			return Config{}, fmt.Errorf("%s: %q is not a count of requests (0 for no limit)", r.key, getenv(r.key))
		}
		*r.into = n
	}
	cfg.ScanLimit = AutoScanLimit
	if v := getenv("SCAN_LIMIT"); v != "" {
		if cfg.ScanLimit, err = strconv.Atoi(v); err != nil || cfg.ScanLimit < 0 {
			return Config{}, fmt.Errorf("SCAN_LIMIT: %q is not a count of queries (0 for no limit; leave it unset for the default)", v)
		}
	}
	if cfg.EmbeddedAllowRemote, err = strconv.ParseBool(get("EMBEDDED_MONGO_ALLOW_REMOTE", "false")); err != nil {
		return Config{}, fmt.Errorf("EMBEDDED_MONGO_ALLOW_REMOTE: %q is not true or false", getenv("EMBEDDED_MONGO_ALLOW_REMOTE"))
	}
	switch {
	case cfg.MongoURI != "":
	case cfg.EmbeddedAddr != "":
		if err := checkEmbeddedAddr(cfg.EmbeddedAddr, cfg.EmbeddedAllowRemote); err != nil {
			return Config{}, err
		}
	default:
		if _, err := EmbeddedSocket(cfg.DataDir); err != nil {
			return Config{}, err
		}
	}
	if cfg.MinFreeDisk, err = parseSize(get("MIN_FREE_DISK", "1GiB")); err != nil {
		return Config{}, fmt.Errorf("MIN_FREE_DISK: %q is not a size such as 512MiB, 2GiB or 0 (%w)", getenv("MIN_FREE_DISK"), err)
	}
	for _, o := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	if k := getenv("AUDIT_HMAC_KEY"); k != "" {
		if len(k) < 32 {
			return Config{}, errors.New("AUDIT_HMAC_KEY: use at least 32 characters (for example: openssl rand -hex 32)")
		}
		cfg.AuditKey = []byte(k)
	}
	for _, k := range strings.Split(getenv("AUDIT_HMAC_PREVIOUS_KEYS"), ",") {
		switch k = strings.TrimSpace(k); {
		case k == "":
		case len(cfg.AuditKey) == 0:
			return Config{}, errors.New("AUDIT_HMAC_PREVIOUS_KEYS: earlier keys are given without AUDIT_HMAC_KEY, the current one")
		case len(k) < 32:
			return Config{}, errors.New("AUDIT_HMAC_PREVIOUS_KEYS: each earlier key has at least 32 characters, as AUDIT_HMAC_KEY has")
		default:
			cfg.AuditPreviousKeys = append(cfg.AuditPreviousKeys, []byte(k))
		}
	}
	if err := cfg.signingFrom(getenv); err != nil {
		return Config{}, err
	}
	for _, d := range []struct {
		key  string
		def  string
		into *time.Duration
	}{
		{"REQUEST_TIMEOUT", "10s", &cfg.RequestTimeout},
		{"SHUTDOWN_TIMEOUT", "15s", &cfg.ShutdownTimeout},
		{"IDEMPOTENCY_KEY_TTL", "24h", &cfg.IdempotencyKeyTTL},
		{"LLM_TIMEOUT", "5s", &cfg.LLM.Timeout},
	} {
		v, err := time.ParseDuration(get(d.key, d.def))
		if err != nil || v <= 0 {
			return Config{}, fmt.Errorf("%s: %q is not a positive duration such as 10s", d.key, getenv(d.key))
		}
		*d.into = v
	}
	if cfg.IdempotencyKeyTTL < 24*time.Hour {
		return Config{}, fmt.Errorf("IDEMPOTENCY_KEY_TTL: %s is under the 24h clients may rely on", cfg.IdempotencyKeyTTL)
	}
	cfg.LLM.BaseURL, cfg.LLM.Model, cfg.LLM.APIKey = getenv("LLM_BASE_URL"), getenv("LLM_MODEL"), getenv("LLM_API_KEY")
	if (cfg.LLM.BaseURL == "") != (cfg.LLM.Model == "") {
		return Config{}, errors.New("LLM_BASE_URL and LLM_MODEL: set both to use a language model, or neither")
	}
	if cfg.LLM.BaseURL != "" {
		u, err := url.Parse(cfg.LLM.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("LLM_BASE_URL: %q is not an http(s) URL", cfg.LLM.BaseURL)
		}
		// What goes to the model is health data: in the clear, only to this machine.
		if u.Scheme == "http" && !LoopbackHost(u.Hostname()) {
			return Config{}, fmt.Errorf("LLM_BASE_URL: %q sends health data unencrypted to another machine; "+
				"use https, or http only to a loopback address (127.0.0.1, ::1, localhost)", cfg.LLM.BaseURL)
		}
	}
	if cfg.LLM.SendFreeText, err = strconv.ParseBool(get("LLM_SEND_FREE_TEXT", "false")); err != nil {
		return Config{}, fmt.Errorf("LLM_SEND_FREE_TEXT: %q is not true or false", getenv("LLM_SEND_FREE_TEXT"))
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return Config{}, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", cfg.LogLevel)
	}
	return cfg, nil
}

// signingFrom reads AUDIT_SIGNING_KEY_FILE and AUDIT_CHECKPOINT_LOG into cfg, whose
// MongoURI and DataDir are read. It returns an error naming the variable when one
// is set without the other, and, on the embedded store, when either is in DATA_DIR:
// whoever holds the store's files must not hold the key or the log too.
func (cfg *Config) signingFrom(getenv func(string) string) error {
	cfg.AuditSigningKeyFile, cfg.AuditCheckpointLog = getenv("AUDIT_SIGNING_KEY_FILE"), getenv("AUDIT_CHECKPOINT_LOG")
	switch {
	case cfg.AuditSigningKeyFile == "" && cfg.AuditCheckpointLog == "":
		return nil
	case cfg.AuditCheckpointLog == "":
		return errors.New("AUDIT_CHECKPOINT_LOG: set where the checkpoints AUDIT_SIGNING_KEY_FILE signs go: a file outside DATA_DIR, or stdout")
	case cfg.AuditSigningKeyFile == "":
		return errors.New("AUDIT_SIGNING_KEY_FILE: AUDIT_CHECKPOINT_LOG is set, and no key signs checkpoints for it (make one with: go run . audit keygen -out DIR)")
	}
	if cfg.MongoURI != "" {
		return nil
	}
	data, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("DATA_DIR %q: %w", cfg.DataDir, err)
	}
	for _, v := range []struct{ name, path string }{
		{"AUDIT_SIGNING_KEY_FILE", cfg.AuditSigningKeyFile}, {"AUDIT_CHECKPOINT_LOG", cfg.AuditCheckpointLog},
	} {
		if v.path == notary.Stdout && v.name == "AUDIT_CHECKPOINT_LOG" {
			continue
		}
		abs, err := filepath.Abs(v.path)
		if err != nil {
			return fmt.Errorf("%s %q: %w", v.name, v.path, err)
		}
		if rel, err := filepath.Rel(data, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s: %s is in DATA_DIR, beside the store: keep it elsewhere, where whoever holds the store's files cannot change it", v.name, v.path)
		}
	}
	return nil
}

// checkEmbeddedAddr returns an error naming EMBEDDED_MONGO_ADDR when addr is not
// host:port, or when its host is not a loopback address (127.0.0.0/8, ::1,
// localhost) and allowRemote is false: the embedded store asks for no password, so
// whoever reaches its port reads and writes every record.
func checkEmbeddedAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("EMBEDDED_MONGO_ADDR: %q is not host:port, such as 127.0.0.1:27017", addr)
	}
	if allowRemote || LoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("EMBEDDED_MONGO_ADDR: %q is not a loopback address (127.0.0.1, ::1, localhost); "+
		"the embedded store asks for no password, so anyone who reaches it reads and writes every record. "+
		"Use MongoDB (MONGODB_URI) to serve other machines, or set EMBEDDED_MONGO_ALLOW_REMOTE=true to allow it anyway", addr)
}

// LoopbackHost reports whether host names this machine's loopback interface:
// localhost, or an address in 127.0.0.0/8 or ::1.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sizeUnits are the units parseSize reads, in bytes.
var sizeUnits = map[string]uint64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// parseSize reads a size in bytes: a whole number, then a unit, B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), in any case; a number
// alone is bytes. It returns an error for anything else and for a size beyond 64
// bits.
func parseSize(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	digits := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if digits < 0 {
		digits = len(s)
	}
	n, err := strconv.ParseUint(s[:digits], 10, 64)
	if err != nil {
		return 0, errors.New("a whole number of bytes or units comes first")
	}
	unit, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[digits:]))]
	if !ok {
		return 0, fmt.Errorf("the unit is not one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB")
	}
	if n > math.MaxUint64/unit {
		return 0, errors.New("more bytes than 64 bits count")
	}
	return n * unit, nil
}
