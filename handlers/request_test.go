package handlers

import "testing"

func TestETags(t *testing.T) {
	cases := []struct {
		header string
		strong bool // If-Match
		weak   bool // If-None-Match
	}{
		{`"3"`, true, true},
		{`W/"3"`, false, true},
		{`"1", "3"`, true, true},
		{`*`, true, true},
		{`"4"`, false, false},
		{`3`, false, false},
		{``, false, false},
	}
	for _, tc := range cases {
		if got := matchesETag(tc.header, 3); got != tc.strong {
			t.Errorf("matchesETag(%q, 3) = %v", tc.header, got)
		}
		if got := matchesETagWeak(tc.header, 3); got != tc.weak {
			t.Errorf("matchesETagWeak(%q, 3) = %v", tc.header, got)
		}
	}
}
