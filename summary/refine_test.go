package summary

import (
	"context"
	"errors"
	"testing"
)

func TestRefine(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		err        error
		want       string
		wantSource string
	}{
		{"the model's answer", "A paragraph the model wrote.", nil, "A paragraph the model wrote.", SourceLLM},
		{"a failure keeps the templates' text", "", errors.New("the model answered status 500"), "The templates' paragraph.", SourceDeterministic},
		{"a slow model keeps the templates' text", "late", context.DeadlineExceeded, "The templates' paragraph.", SourceDeterministic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got, source, err := Refine("The templates' paragraph.", func() (string, error) {
				calls++
				return tc.text, tc.err
			})
			if got != tc.want || source != tc.wantSource || !errors.Is(err, tc.err) || calls != 1 {
				t.Errorf("Refine = %q, %s, %v after %d calls; want %q, %s, %v after 1", got, source, err, calls, tc.want, tc.wantSource, tc.err)
			}
		})
	}
}
