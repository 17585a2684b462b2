package app_test

import (
	"strings"
	"testing"

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
		{addr: "", wantErr: ""}, // the default, 127.0.0.1:27017
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
