package records_test

import (
	"encoding/json"
	"testing"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

func TestMergePatch(t *testing.T) {
	// Cases from RFC 7396, appendix A.
	cases := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{`{"a":"x"}`, `{"a":{"b":null,"c":1}}`, `{"a":{"c":1}}`},
	}
	for _, tc := range cases {
		target, err := models.ParseDocument([]byte(tc.target))
		if err != nil {
			t.Fatal(err)
		}
		patch, err := models.ParseDocument([]byte(tc.patch))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(records.MergePatch(target, patch))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("MergePatch(%s, %s) = %s, want %s", tc.target, tc.patch, got, tc.want)
		}
		if again, _ := json.Marshal(target); string(again) != tc.target {
			t.Errorf("MergePatch changed its target to %s", again)
		}
	}
}
