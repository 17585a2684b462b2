package sideindex

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// storedVisits are documents as the table may hold them: as the service stores
// them, and with whatever a writer beside it (mongosh) may have stored.
var storedVisits = []string{
	`{"$s":{"p":{"_id":{"t":"string"}}},"_id":"v1","insurance_no":"P1","ailment":"Influenza","symptoms":"fever, \"dry\" cough",
	  "interaction_date":1792689300000,"metrics":{"temp":38.6,"BP":"126/75","heart_rate":94,"big":12345678901,"ok":true,"none":null},
	  "health_status":5,"qa":{"Since when?":"3 days"},"label":["fever","respiratory"],"status":"","ailment_key":"influenza",
	  "search_tokens":["influenza","fever","dry","cough"],"recorded_by":{"key_name":"k","request_id":"r"}}`,
	`{"_id":"v2","insurance_no":"P1","interaction_date":0,"metrics":{},"qa":{},"label":[],"health_status":null,"search_tokens":[]}`,
	`{ "_id" : "v3" , "ailment" : "Migr\u00e4ne \\ x" , "metrics" : { "units" : { "HR" : "/min" } , "HR" : "72 bpm" } , "label" : null }`,
	`{"_id":"v4","metrics":{"a.b":1},"qa":{"$x":1},"status":"entered-in-error"}`,
	`{"_id":"v5","metrics":{"t":1,"t":2},"label":["a",null],"health_status":1e1}`,
	`{"_id":"v6","ailment":1}`,
	`{"_id":"v7","AILMENT":"upper case","Label":["x"]}`,
	`{"_id":"v8","ailment":"a","ailment":null,"label":["a"],"label":null}`,
	`{"_id":"v9","interaction_date":1.5}`,
	`{"_id":"v10","interaction_date":"2024"}`,
	`{"_id":"v11","search_tokens":["a",1]}`,
	`{"_id":"v12","metrics":{"big":1e400},"qa":null}`,
	`{"_id":"v13","metrics":{"x":"a\u0000b","y":[1,2],"z":-0.5E-2}}`,
	"{\"_id\":\"v14\",\"symptoms\":\"caf\xc3\xa9 \xff\",\"metrics\":{\"\xff\":\"\xfe\"}}",
	`{"_id":"v15","ſtatus":"long s"}`,
	`{}`, `null`, `[]`, `"x"`, `{"_id":"v16",  "label":[ "a" , "b" ]  }`,
}

// referenceVisit reads data as json.Unmarshal does, what readVisit must give.
func referenceVisit(data []byte) (storedVisit, error) {
	var v storedVisit
	err := json.Unmarshal(data, &v)
	return v, err
}

// checkStoredVisit checks that readVisit reads data, valid JSON, as json.Unmarshal
// does, and its objects as models.ParseDocument does.
func checkStoredVisit(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := referenceVisit(data)
	got, gotErr := readVisit(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: error %v, json.Unmarshal's %v", data, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	got.Tokens()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", data, got, want)
	}
	for _, raw := range []json.RawMessage{got.Metrics, got.QA} {
		doc, err := storedObject(raw)
		var wantDoc bson.D
		var wantErr error
		if len(raw) > 0 && string(raw) != "null" {
			wantDoc, wantErr = models.ParseDocument(raw)
		}
		if got, want := fmt.Sprintf("%#v %v", doc, err), fmt.Sprintf("%#v %v", wantDoc, wantErr); got != want {
			t.Fatalf("%s: object read as %s; ParseDocument reads %s", raw, got, want)
		}
	}
}

// TestReadVisitIsJSONUnmarshal reads stored interactions of every kind both ways:
// the side index's own reading of the fields it needs gives what json.Unmarshal and
// models.ParseDocument give, errors included.
func TestReadVisitIsJSONUnmarshal(t *testing.T) {
	for _, doc := range storedVisits {
		if !json.Valid([]byte(doc)) {
			t.Fatalf("not valid JSON: %s", doc)
		}
		checkStoredVisit(t, []byte(doc))
	}
}

// FuzzReadVisit checks readVisit against json.Unmarshal on any valid JSON: the
// store writes only that.
func FuzzReadVisit(f *testing.F) {
	for _, doc := range storedVisits {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			t.Skip()
		}
		checkStoredVisit(t, data)
	})
}
