package records_test

import (
	"encoding/json"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// FuzzMergePatch applies arbitrary merge patches to arbitrary documents, both read
// as the API reads them: MergePatch never panics and never changes the target; the
// patch leaves its own result as it is (applying it twice is applying it once); and
// the result shows the patch: a field the patch sets to null is gone, an object is
// merged the same way, anything else is the patch's value.
func FuzzMergePatch(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"a":"b"}`, `{"a":"c"}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`},
		{`{"a":"x"}`, `{"a":{"b":null,"c":1}}`},
		{`{"metrics":{"temp":38.4,"BP":"120/80"},"label":["fever"]}`, `{"metrics":{"temp":null,"ECG":"Normal"},"label":"cough"}`},
		{`{"a":{"b":{"c":{"d":1}}}}`, `{"a":{"b":{"c":null,"e":[null,{"f":null}]}}}`},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, targetJSON, patchJSON string) {
		target, err := models.ParseDocument([]byte(targetJSON))
		if err != nil {
			return
		}
		patch, err := models.ParseDocument([]byte(patchJSON))
		if err != nil {
			return
		}
		before := encode(t, target)
		result := records.MergePatch(target, patch)
		if after := encode(t, target); after != before {
			t.Fatalf("MergePatch changed the target:\nbefore %s\nafter  %s", before, after)
		}
		if again := records.MergePatch(result, patch); encode(t, again) != encode(t, result) {
			t.Fatalf("the patch changes its own result:\nonce  %s\ntwice %s", encode(t, result), encode(t, again))
		}
		checkPatched(t, "", result, patch)
	})
}

// checkPatched fails t unless doc shows patch applied (see FuzzMergePatch); path
// names where doc is.
func checkPatched(t *testing.T, path string, doc, patch bson.D) {
	t.Helper()
	for _, p := range patch {
		var (
			value any
			found bool
		)
		for _, e := range doc {
			if e.Key == p.Key {
				value, found = e.Value, true
				break
			}
		}
		switch want := p.Value.(type) {
		case nil:
			if found {
				t.Fatalf("%s%s: the patch sets it to null, yet it is there: %s", path, p.Key, encode(t, value))
			}
		case bson.D:
			got, isDoc := value.(bson.D)
			if !isDoc {
				t.Fatalf("%s%s: the patch gives an object, the result %s", path, p.Key, encode(t, value))
			}
			checkPatched(t, path+p.Key+".", got, want)
		default:
			if !found || encode(t, value) != encode(t, want) {
				t.Fatalf("%s%s: the patch gives %s, the result %s", path, p.Key, encode(t, want), encode(t, value))
			}
		}
	}
}

func encode(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	return string(data)
}
