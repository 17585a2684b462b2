// Package app assembles the service: configuration, the store, the HTTP server and
// their start-up and shutdown.
package app

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/clinic/interactions/llm"
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
	// EmbeddedAddr is where the embedded store listens (EMBEDDED_MONGO_ADDR,
	// default 127.0.0.1:27017). The store asks for no password, so it must be a
	// loopback address unless EmbeddedAllowRemote is set.
	EmbeddedAddr string
	// EmbeddedAllowRemote lets EmbeddedAddr be an address other machines can reach
	// (EMBEDDED_MONGO_ALLOW_REMOTE, default false).
	EmbeddedAllowRemote bool
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
	// analytics, similar patients, suggestions) an API key may have running at once
	// (HEAVY_REQUESTS_PER_KEY, default 2; 0 turns the limit off).
	HeavyRequestsPerKey int
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
	// LogLevel is debug, info, warn or error (LOG_LEVEL, default info).
	LogLevel string
	// LLM is the optional language model (LLM_BASE_URL, LLM_MODEL, LLM_API_KEY,
	// LLM_TIMEOUT, default 5s); off unless LLM_BASE_URL and LLM_MODEL are set.
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
		EmbeddedAddr: get("EMBEDDED_MONGO_ADDR", "127.0.0.1:27017"),
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
	if cfg.MongoURI == "" {
		if err := checkEmbeddedAddr(cfg.EmbeddedAddr, cfg.EmbeddedAllowRemote); err != nil {
			return Config{}, err
		}
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
		if u, err := url.Parse(cfg.LLM.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("LLM_BASE_URL: %q is not an http(s) URL", cfg.LLM.BaseURL)
		}
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return Config{}, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", cfg.LogLevel)
	}
	return cfg, nil
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
