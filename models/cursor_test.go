package models_test

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// FuzzCursor feeds arbitrary strings to the cursor parsers, as the cursor query
// parameter of a list does: they never panic, they refuse with a validation error,
// and a cursor they accept encodes to a string they read back as the same cursor.
// Each input is also given encoded as a cursor is (URL-safe base64), so that the
// fuzzer explores the JSON inside as well as the text outside.
func FuzzCursor(f *testing.F) {
	key := models.QueryKey("interactions", "A11", "fever", "false", "false")
	for _, seed := range []string{
		models.Cursor{Date: time.Date(2024, 10, 1, 9, 30, 0, 0, time.UTC), ID: "visit-1", Query: key}.Encode(),
		models.Cursor{Date: time.Date(1970, 1, 1, 0, 0, 0, 1e6, time.UTC), ID: "0", Query: "q"}.Encode(),
		models.VersionCursor{Version: 3, Query: key}.Encode(),
		base64.RawURLEncoding.EncodeToString([]byte(`{"d":"2024-10-01T09:30:00.123456+02:00","i":"x","q":"q"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"v":2,"q":"q","x":1}`)),
		"", "e30", "!!!", "eyJ2IjoxfQ",
		`{"d":"2024-10-01T09:30:00+02:00","i":"visit-1","q":"q"}`,
		`{"d":"0000-01-01T00:00:00-00:01","i":"x","q":"q"}`, // the earliest date, with an offset
		`{"v":7,"q":"5d41402abc4b2a76"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkCursor(t, s)
		checkCursor(t, base64.RawURLEncoding.EncodeToString([]byte(s)))
	})
}

// checkCursor fails t unless the cursor parsers refuse s with a validation error,
// or accept it as a cursor they read back from its encoding.
func checkCursor(t *testing.T, s string) {
	t.Helper()
	{
		var invalid *models.ValidationError
		c, err := models.ParseCursor(s)
		switch {
		case err != nil && !errors.As(err, &invalid):
			t.Fatalf("ParseCursor(%q): error %T %v, want a validation error", s, err, err)
		case err == nil:
			encoded := c.Encode()
			back, err := models.ParseCursor(encoded)
			if err != nil {
				t.Fatalf("ParseCursor(%q) = %+v, whose encoding %q it refuses: %v", s, *c, encoded, err)
			}
			if !back.Date.Equal(c.Date) || back.ID != c.ID || back.Query != c.Query {
				t.Fatalf("ParseCursor(%q) = %+v, read back from its encoding as %+v", s, *c, *back)
			}
		}

		v, err := models.ParseVersionCursor(s)
		switch {
		case err != nil && !errors.As(err, &invalid):
			t.Fatalf("ParseVersionCursor(%q): error %T %v, want a validation error", s, err, err)
		case err == nil:
			encoded := v.Encode()
			back, err := models.ParseVersionCursor(encoded)
			if err != nil || back != v {
				t.Fatalf("ParseVersionCursor(%q) = %+v, read back from its encoding %q as %+v, %v", s, v, encoded, back, err)
			}
		}
	}
}
