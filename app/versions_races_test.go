package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/storetest"
)

// interruptedAmend makes the amendment patch (with reason) of interaction id from
// version 1 as a writer that stops at step would: another process that crashed
// there, or whose store failed. It returns the writer's error.
func (e *env) interruptedAmend(id, patch, reason string, step storetest.Step) error {
	e.t.Helper()
	return e.interruptedAmendBy("test-clinician", id, patch, reason, step)
}

// interruptedAmendBy is interruptedAmend by the holder of the API key named key.
func (e *env) interruptedAmendBy(key, id, patch, reason string, step storetest.Step) error {
	e.t.Helper()
	doc, err := models.ParseDocument([]byte(patch))
	if err != nil {
		e.t.Fatal(err)
	}
	writer := records.NewInteractions(e.repo, storetest.Interrupt(e.repo.InteractionVersions(), step), nil)
	// An earlier attempt, in a request of its own.
	ctx := models.WithAuthor(context.Background(), models.Author{Key: key, RequestID: "earlier-attempt"})
	_, err = writer.Amend(ctx, id, func(v int) bool { return v == 1 }, doc, reason)
	return err
}

// TestAmendmentInterrupted interrupts an amendment before and between each of its
// writes, as a crash or a store error would, and checks that the record and its
// history stay whole: the current version is 1 or 2, every version up to it is
// retrievable and unchanged, nothing beyond it shows, and the client's retry with the
// ETag it holds leaves the amendment made exactly once.
func TestAmendmentInterrupted(t *testing.T) {
	for _, tc := range []struct {
		step      storetest.Step
		committed bool
	}{
		{storetest.BeforeArchive, false},
		{storetest.BeforeIntent, false},
		{storetest.BeforeCommit, false},
		{storetest.AfterCommit, true},
	} {
		t.Run(string(tc.step), func(t *testing.T) {
			e, v1 := newAmendEnv(t)
			patch := `{"remarks":"amended","health_status":5}`
			if err := e.interruptedAmend("1", patch, "fix", tc.step); !errors.Is(err, storetest.ErrInterrupted) {
				t.Fatalf("interrupted amendment: %v", err)
			}

			cur := e.mustDo(200, "GET", "/api/v1/interactions/1", "")
			wantVersion, wantHistory := "1", "1"
			if tc.committed {
				wantVersion, wantHistory = "2", "2 1"
			}
			if got := jsonText(t, cur["version"]); got != wantVersion {
				t.Fatalf("current version %s, want %s", got, wantVersion)
			}
			if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != wantHistory {
				t.Errorf("history %q, want %q", got, wantHistory)
			}
			if got := e.do("GET", "/api/v1/interactions/1/history/1", ""); string(got.body) != v1 {
				t.Errorf("version 1 changed:\n%s\nwant\n%s", got.body, v1)
			}
			if !tc.committed {
				assertError(t, e.do("GET", "/api/v1/interactions/1/history/2", ""), 404, "not_found")
			}
			ids, _ := historyIDs(t, e, "/api/v1/patients/A11/interactions")
			if len(ids) != 1 {
				t.Errorf("list holds %v", ids)
			}

			// The client retries with the ETag it holds: the amendment is made once. When
			// it was already committed the retry is told the record changed, and the
			// client finds its change there.
			retry := e.patch("/api/v1/interactions/1?reason=fix", `"1"`, patch)
			if tc.committed {
				assertError(t, retry, 412, "precondition_failed")
			} else if retry.status != 200 || retry.header.Get("ETag") != `"2"` {
				t.Fatalf("retry: %d %q %s", retry.status, retry.header.Get("ETag"), retry.body)
			}
			if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != "2 1" {
				t.Errorf("history after the retry %q, want \"2 1\"", got)
			}
			v2 := e.mustDo(200, "GET", "/api/v1/interactions/1", "")
			if v2["remarks"] != "amended" || v2["amendment_reason"] != "fix" || jsonText(t, v2["version"]) != "2" {
				t.Errorf("current = %v", v2)
			}
			if got := e.do("GET", "/api/v1/interactions/1/history/1", ""); string(got.body) != v1 {
				t.Errorf("version 1 changed after the retry:\n%s", got.body)
			}
			// A different change made with the old ETag is refused.
			assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"other"}`), 412, "precondition_failed")
		})
	}
}

// TestAbandonedAmendmentIsCompleted leaves an amendment after its intent is written
// (a crashed writer), then has another client amend the version it holds: the
// abandoned change is completed rather than lost or left blocking, and the other
// client is told the record changed.
func TestAbandonedAmendmentIsCompleted(t *testing.T) {
	e, _ := newAmendEnv(t)
	if err := e.interruptedAmend("1", `{"remarks":"abandoned"}`, "", storetest.BeforeCommit); !errors.Is(err, storetest.ErrInterrupted) {
		t.Fatalf("interrupted amendment: %v", err)
	}

	assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"other"}`), 412, "precondition_failed")
	cur := e.do("GET", "/api/v1/interactions/1", "")
	if cur.status != 200 || cur.header.Get("ETag") != `"2"` || cur.json(t)["remarks"] != "abandoned" {
		t.Fatalf("current: %d %q %s", cur.status, cur.header.Get("ETag"), cur.body)
	}
	res := e.patch("/api/v1/interactions/1", `"2"`, `{"remarks":"other"}`)
	if res.status != 200 || res.header.Get("ETag") != `"3"` {
		t.Fatalf("amend version 2: %d %s", res.status, res.body)
	}
	if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != "3 2 1" {
		t.Errorf("history %q", got)
	}
}

// TestConcurrentAmendments sends 50 amendments with the same ETag at once: exactly
// one wins, the others are told the record changed, and the history holds the
// original and the winner only.
func TestConcurrentAmendments(t *testing.T) {
	e, v1 := newAmendEnv(t)
	const n = 50
	results := make([]response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i] = e.patch("/api/v1/interactions/1", `"1"`, fmt.Sprintf(`{"remarks":"writer %d"}`, i))
		}(i)
	}
	close(start)
	wg.Wait()

	winner := ""
	for i, res := range results {
		switch res.status {
		case 200:
			if winner != "" {
				t.Errorf("two amendments won: %s and writer %d", winner, i)
			}
			winner = fmt.Sprintf("writer %d", i)
		case 412:
		default:
			t.Errorf("writer %d: %d %s", i, res.status, res.body)
		}
	}
	if winner == "" {
		t.Fatal("no amendment won")
	}
	if got := strings.Join(e.versions("/api/v1/interactions/1/history", 100), " "); got != "2 1" {
		t.Errorf("history %q, want \"2 1\"", got)
	}
	if cur := e.mustDo(200, "GET", "/api/v1/interactions/1", ""); cur["remarks"] != winner {
		t.Errorf("current remarks %v, want %s", cur["remarks"], winner)
	}
	if got := e.do("GET", "/api/v1/interactions/1/history/1", ""); string(got.body) != v1 {
		t.Errorf("version 1 changed:\n%s", got.body)
	}
	if n := e.count("interaction_versions"); n != 2 {
		t.Errorf("%d archived versions, want 2 (version 1 and the winner)", n)
	}
}

// staleCommit is a store whose Commit checks its condition, then waits for release
// before it writes, unconditionally: what the embedded store's update does when its
// writer stalls between the check and the write.
type staleCommit struct {
	records.Versions[models.Interaction]
	coll             *mongo.Collection
	checked, release chan struct{}
}

func (s *staleCommit) Commit(ctx context.Context, next models.Interaction) error {
	var stored struct {
		Version int `bson:"version"`
	}
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: next.ID}}).Decode(&stored); err != nil {
		return err
	}
	if stored.Version >= next.Version {
		return nil
	}
	close(s.checked)
	<-s.release
	_, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: next.ID}}, next)
	return err
}

// TestAVersionNeverGoesBack races three writers as the embedded store lets them:
// A claims version 2 and stalls between the check and the write of its commit; B,
// amending version 1 too, completes A's change and is told the record changed; C
// makes version 3; then A's write lands, putting version 2 back where the record is
// stored. No reader sees version 2 again, and the record is written forward.
func TestAVersionNeverGoesBack(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11","remarks":"first","label":["fever"]}`)
	coll := e.db.Collection("interactions")
	stalled := &staleCommit{Versions: e.repo.InteractionVersions(), coll: coll,
		checked: make(chan struct{}), release: make(chan struct{})}
	writerA := records.NewInteractions(e.repo, stalled, nil)
	done := make(chan error, 1)
	go func() {
		ctx := models.WithAuthor(context.Background(), models.Author{Key: "dr-a"})
		_, err := writerA.Amend(ctx, "1", func(v int) bool { return v == 1 }, bson.D{{Key: "remarks", Value: "by A"}}, "")
		done <- err
	}()
	<-stalled.checked

	assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"by B"}`), 412, "precondition_failed")
	if res := e.patch("/api/v1/interactions/1", `"2"`, `{"remarks":"by C"}`); res.status != 200 || res.header.Get("ETag") != `"3"` {
		t.Fatalf("C: %d %s", res.status, res.body)
	}
	close(stalled.release)
	if err := <-done; err != nil {
		t.Fatalf("A: %v", err)
	}
	stored := func() int {
		var doc struct {
			Version int `bson:"version"`
		}
		if err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: "1"}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return doc.Version
	}
	if v := stored(); v != 2 {
		t.Fatalf("the record is stored at version %d: A's stalled write did not land over version 3", v)
	}

	list := e.mustDo(200, "GET", "/api/v1/patients/A11/interactions?label=fever", "")
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["remarks"] != "by C" {
		t.Errorf("the list shows %v, want version 3", items)
	}
	if v := stored(); v != 3 {
		t.Errorf("after a read the record is stored at version %d, want 3", v)
	}
	cur := e.do("GET", "/api/v1/interactions/1", "")
	if cur.header.Get("ETag") != `"3"` || cur.json(t)["remarks"] != "by C" {
		t.Errorf("GET: %s %s", cur.header.Get("ETag"), cur.body)
	}
	if got := strings.Join(e.versions("/api/v1/interactions/1/history", 10), " "); got != "3 2 1" {
		t.Errorf("versions %q", got)
	}
	if by := e.mustDo(200, "GET", "/api/v1/interactions/1/history/2", "")["recorded_by"].(map[string]any); by["key"] != "dr-a" {
		t.Errorf("version 2 recorded_by %v, want A's", by)
	}
	if res := e.patch("/api/v1/interactions/1", `"3"`, `{"remarks":"by D"}`); res.status != 200 || res.header.Get("ETag") != `"4"` {
		t.Errorf("D: %d %s", res.status, res.body)
	}
}
