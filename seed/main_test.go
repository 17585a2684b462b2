package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/loader"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

// testStore is the one store of this test binary (see storetest).
var testStore *storetest.Store

func TestMain(m *testing.M) {
	os.Exit(storetest.Main(m, &testStore))
}

// newDatabase returns an empty database for t alone, dropped when t ends.
func newDatabase(t *testing.T) *mongo.Database {
	t.Helper()
	return testStore.Database(t)
}

// newRepository returns a repository over a new database, with its indexes.
func newRepository(t *testing.T) (*repository.DB, *mongo.Database) {
	t.Helper()
	return testStore.DB(t)
}

// seedRuns counts the runs of the command: each is made an hour after the one
// before, so that whatever a later run rewrote would show in its timestamps.
var seedRuns atomic.Int64

// runSeed runs the command with args against db, configured through the environment
// as a user would: MONGODB_URI when the tests use MongoDB, otherwise the address and
// the data directory of the test store, which the command attaches to.
func runSeed(t *testing.T, db *mongo.Database, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runSeedAt(t, db, time.Now().Add(time.Duration(seedRuns.Add(1))*time.Hour), args...)
}

// runSeedAt is runSeed with now as the time of the run.
func runSeedAt(t *testing.T, db *mongo.Database, now time.Time, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runSeedTo(t, db, now, &out, &errOut, args...)
	return out.String(), errOut.String(), err
}

// runSeedTo is runSeedAt writing to the given stdout and stderr, which may be one
// writer, as a terminal shows both.
func runSeedTo(t *testing.T, db *mongo.Database, now time.Time, stdout, stderr io.Writer, args ...string) error {
	t.Helper()
	t.Setenv("MONGODB_DATABASE", db.Name())
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("LOG_LEVEL", "info")
	if testStore.Embedded() {
		// The command attaches to the store once it has checked the marker in the
		// store's data directory.
		t.Setenv("EMBEDDED_MONGO_ADDR", testStore.Addr())
		t.Setenv("DATA_DIR", testStore.DataDir())
	}
	return run(context.Background(), args, stdout, stderr, func() time.Time { return now })
}

// lookup returns the value of key in d, or nil.
func lookup(d bson.D, key string) any {
	for _, e := range d {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad date in test: %v", err)
	}
	return d
}

func TestBundledDataset(t *testing.T) {
	db := newDatabase(t)
	stdout, stderr, err := runSeed(t, db)
	if err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, stderr)
	}
	mustContain(t, "summary", stdout,
		"bundled dataset: 2 patient rows, 13 interaction rows",
		"patients:     2 inserted, 0 already present",
		"interactions: 13 inserted, 0 already present",
		"skipped rows: none")
	for _, private := range []string{"A11", "B11", "Vernon", "Lopez", "Beth", "Martin", "vernon@"} {
		if strings.Contains(stderr, private) {
			t.Errorf("logs hold patient data %q:\n%s", private, stderr)
		}
	}

	ps := storetest.Patients(t, db)
	if len(ps) != 2 {
		t.Fatalf("%d patients stored, want 2", len(ps))
	}
	a11, b11 := ps["A11"], ps["B11"]
	if a11.Age == nil || *a11.Age != 30 || a11.FName != "Vernon" || a11.Addr != "Berliner Straße 123" || a11.PhNo != "0171 234567" {
		t.Errorf("A11 = %+v", a11)
	}
	if got := strings.Join(a11.Habits, "|"); got != "smoking|drinking" {
		t.Errorf("A11 habits = %q, want smoking|drinking", got)
	}
	if got := strings.Join(b11.PreExistingConditions, "|"); got != "Hypertension|Obesity" {
		t.Errorf("B11 conditions = %q, want Hypertension|Obesity", got)
	}
	if b11.Email != "" || b11.PreExistingMedications != nil || b11.RelatedDocs != nil || b11.BloodType != "AB+" {
		t.Errorf("B11 = %+v; empty cells must be absent", b11)
	}

	ins := storetest.Interactions(t, db)
	if len(ins) != 13 {
		t.Fatalf("%d interactions stored, want 13", len(ins))
	}
	tests := []struct {
		id, patient string
		labels      []string
		date        string
	}{
		{"1", "A11", []string{"fever"}, "2024-08-05T09:30:00Z"},
		{"2", "A11", []string{"fever", "skin"}, "2024-08-19T10:15:00Z"},
		{"3", "A11", []string{"fever"}, "2024-09-02T08:45:00Z"},
		{"4", "A11", []string{"skin"}, "2024-09-16T11:00:00Z"},
		{"5", "A11", []string{"fever"}, "2024-10-12T09:30:00Z"},
		{"6", "A11", []string{"fever"}, "2024-10-22T10:00:00Z"},
		{"7", "B11", []string{"skin"}, "2024-05-06T08:30:00Z"},
		{"8", "B11", []string{"gut"}, "2024-05-21T10:00:00Z"},
		{"9", "B11", []string{"gut", "skin"}, "2024-06-04T09:15:00Z"},
		{"10", "B11", []string{"gut", "fever"}, "2024-06-18T15:40:00Z"},
		{"11", "B11", []string{"fever"}, "2024-07-02T11:20:00Z"},
		{"12", "B11", []string{"cold", "fever"}, "2024-07-16T09:00:00Z"},
		{"13", "B11", []string{}, "2024-07-30T16:10:00Z"},
	}
	for _, tt := range tests {
		t.Run("interaction "+tt.id, func(t *testing.T) {
			in, ok := ins[tt.id]
			if !ok {
				t.Fatal("not stored")
			}
			if in.InsuranceNo != tt.patient {
				t.Errorf("insurance_no = %q, want %q", in.InsuranceNo, tt.patient)
			}
			if strings.Join(in.Label, "|") != strings.Join(tt.labels, "|") || in.Label == nil {
				t.Errorf("label = %q, want %q", in.Label, tt.labels)
			}
			if !in.InteractionDate.Equal(mustDate(t, tt.date)) {
				t.Errorf("interaction_date = %s, want %s", in.InteractionDate, tt.date)
			}
			if in.NextSteps != nil && in.NextSteps.NextVisit != nil && !in.NextSteps.NextVisit.After(in.InteractionDate) {
				t.Errorf("next_visit %s is not after interaction_date %s", in.NextSteps.NextVisit, in.InteractionDate)
			}
			if !in.CreatedAt.Equal(ps["A11"].CreatedAt) {
				t.Errorf("created_at = %s, want the import's one timestamp %s", in.CreatedAt, ps["A11"].CreatedAt)
			}
		})
	}

	one := ins["1"]
	if one.NextSteps == nil || one.NextSteps.NextVisit == nil || !one.NextSteps.NextVisit.Equal(mustDate(t, "2024-10-12T00:00:00Z")) {
		t.Errorf("next_steps of 1 = %+v, want next_visit 2024-10-12", one.NextSteps)
	} else if got := strings.Join(one.NextSteps.PrescribedMeds, "|"); got != "ABC 20mg|DEF 4mg" {
		t.Errorf("prescribed_meds of 1 = %q", got)
	}
	if qa := one.QA; len(qa) != 1 || qa[0].Key != "since" || qa[0].Value != "4 weeks" {
		t.Errorf("qa of 1 = %v, want since: 4 weeks", qa)
	}
	if bp, _ := lookup(ins["4"].Metrics, "BP").(string); bp != "90/80" {
		t.Errorf("metrics.BP of 4 = %v, want 90/80", ins["4"].Metrics)
	}
	if temp := lookup(ins["10"].Metrics, "temp"); temp != 37.8 {
		t.Errorf("metrics.temp of 10 = %v (%T), want 37.8", temp, temp)
	}
	if ins["8"].Metrics != nil || ins["8"].Symptoms != "itching, irritation" {
		t.Errorf("interaction 8 = %+v; its metrics cell is empty", ins["8"])
	}
}

func TestBundledDatasetTwiceChangesNothing(t *testing.T) {
	db := newDatabase(t)
	if _, stderr, err := runSeed(t, db); err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	patientsBefore := storetest.Dump(t, db.Collection(repository.PatientsCollection))
	interactionsBefore := storetest.Dump(t, db.Collection(repository.InteractionsCollection))
	if len(patientsBefore) != 2 || len(interactionsBefore) != 13 {
		t.Fatalf("first run stored %d patients and %d interactions, want 2 and 13", len(patientsBefore), len(interactionsBefore))
	}

	stdout, stderr, err := runSeed(t, db)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	mustContain(t, "summary", stdout,
		"patients:     0 inserted, 2 already present",
		"interactions: 0 inserted, 13 already present")

	for _, c := range []struct {
		coll   string
		before []bson.Raw
	}{
		{repository.PatientsCollection, patientsBefore},
		{repository.InteractionsCollection, interactionsBefore},
	} {
		after := storetest.Dump(t, db.Collection(c.coll))
		if len(after) != len(c.before) {
			t.Errorf("%s: %d documents after the second run, %d before", c.coll, len(after), len(c.before))
			continue
		}
		for i := range after {
			if !bytes.Equal(after[i], c.before[i]) {
				t.Errorf("%s: document changed by the second run:\nbefore %s\nafter  %s", c.coll, c.before[i], after[i])
			}
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"generate not a number", []string{"-generate", "x"}, `invalid value "x" for flag -generate`},
		{"generate zero", []string{"-generate", "0"}, "-generate must be from 1 to"},
		{"generate negative", []string{"-generate", "-3"}, "-generate must be from 1 to"},
		{"csv and generate", []string{"-csv", "x", "-generate", "3"}, "-csv and -generate exclude each other"},
		{"csv empty", []string{"-csv", ""}, "-csv needs a directory"},
		{"fhir empty", []string{"-fhir", ""}, "-fhir needs a folder or a file"},
		{"fhir and csv", []string{"-fhir", "x", "-csv", "y"}, "-csv and -fhir exclude each other"},
		{"fhir and generate", []string{"-generate", "3", "-fhir", "x"}, "-fhir and -generate exclude each other"},
		{"seed with fhir", []string{"-fhir", "x", "-seed", "4"}, "-seed only applies to -generate"},
		{"seed without generate", []string{"-seed", "4"}, "-seed only applies to -generate"},
		{"planted without generate", []string{"-planted"}, "-planted only applies to -generate"},
		{"planted with csv", []string{"-csv", "x", "-planted"}, "-planted only applies to -generate"},
		{"batch zero", []string{"-batch", "0"}, "-batch must be from 1 to"},
		{"inflight zero", []string{"-inflight", "0"}, "-inflight must be from 1 to"},
		{"inflight too many", []string{"-generate", "3", "-inflight", "65"}, "-inflight must be from 1 to 64, not 65"},
		{"argument", []string{"more"}, `unexpected argument "more"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr, time.Now)
			var usage *usageError
			if !errors.As(err, &usage) {
				t.Fatalf("run(%q) = %v, want a usage error", tt.args, err)
			}
			mustContain(t, "stderr", stderr.String(), tt.want, "Usage: seed")
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		want commandLine
	}{
		{nil, commandLine{batch: defaultBatch, inflight: defaultInflight, seed: defaultSeed}},
		{[]string{"-csv", "some/dir"}, commandLine{csvDir: "some/dir", batch: defaultBatch, inflight: defaultInflight, seed: defaultSeed}},
		{[]string{"-fhir", "bulk", "-batch", "10"}, commandLine{fhirDir: "bulk", batch: 10, inflight: defaultInflight, seed: defaultSeed}},
		{[]string{"-generate", "25", "-seed", "7", "-batch", "50", "-inflight", "1"}, commandLine{generate: 25, seed: 7, batch: 50, inflight: 1}},
		{[]string{"-generate=3", "-seed=0", "-inflight=8"}, commandLine{generate: 3, batch: defaultBatch, inflight: 8}},
		// The default seed is fixed, so that running -generate again adds nothing.
		{[]string{"-generate", "40"}, commandLine{generate: 40, batch: defaultBatch, inflight: defaultInflight, seed: 1}},
		{[]string{"-generate", "40", "-planted"}, commandLine{generate: 40, planted: true, batch: defaultBatch, inflight: defaultInflight, seed: 1}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			got, err := parseFlags(tt.args, &stderr)
			if err != nil {
				t.Fatalf("parseFlags: %v\n%s", err, stderr.String())
			}
			if got != tt.want {
				t.Errorf("parseFlags(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		var stderr bytes.Buffer
		if _, err := parseFlags([]string{"-h"}, &stderr); !errors.Is(err, errHelp) {
			t.Errorf("parseFlags(-h) = %v, want errHelp", err)
		}
		mustContain(t, "usage", stderr.String(), "-csv DIR", "-fhir DIR", "-generate N", "-batch SIZE", "-inflight N", "-seed SEED", "(default 1)", "-planted",
			"Exit status:", "  0  everything was loaded", "  1  an error", "  2  the command line", "  3  everything was loaded except")
	})
}

// mongoshURI returns the connection string for mongosh: the test store's, with db as
// its database. MONGODB_URI is used as given, since the store's URI has its credentials
// removed.
func mongoshURI(t *testing.T, db string) string {
	t.Helper()
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		uri = testStore.URI()
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		t.Fatalf("store URI %q has no scheme", uri)
	}
	hosts, tail, _ := strings.Cut(rest, "/")
	_, query, hasQuery := strings.Cut(tail, "?")
	if !hasQuery {
		hosts, query, hasQuery = strings.Cut(hosts, "?")
	}
	out := scheme + "://" + hosts + "/" + db
	if hasQuery {
		out += "?" + query
	}
	return out
}

func TestMongoshReadsSeededRecord(t *testing.T) {
	mongosh, err := exec.LookPath("mongosh")
	if err != nil {
		t.Skip("skipped: needs mongosh, which is not on PATH (npm install -g mongosh; .ci/run installs it)")
	}
	repo, db := newRepository(t)
	fsys, _, err := csvSource("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loader.CSV(context.Background(), repo, fsys, "", time.Now(), loader.WriteOptions{Batch: defaultBatch, Inflight: defaultInflight}); err != nil {
		t.Fatalf("import bundled dataset: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mongosh, mongoshURI(t, db.Name()), "--quiet", "--eval",
		`JSON.stringify(db.interactions.findOne({_id: "2"}))`)
	cmd.Env = append(os.Environ(), "MONGOSH_NO_UPDATE_CHECK=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mongosh: %v\n%s", err, stderr.String())
	}
	mustContain(t, "mongosh output", string(out),
		`"_id":"2"`, `"insurance_no":"A11"`, `"label":["fever","skin"]`,
		`"interaction_date":"2024-08-19T10:15:00.000Z"`, `"next_visit":"2024-10-22T00:00:00.000Z"`)
}

func TestMongoshURI(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"mongodb://127.0.0.1:27017/", "mongodb://127.0.0.1:27017/d"},
		{"mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017/d"},
		{"mongodb://u:p@h1:1,h2:2/admin?replicaSet=rs0", "mongodb://u:p@h1:1,h2:2/d?replicaSet=rs0"},
		{"mongodb://h/?tls=true", "mongodb://h/d?tls=true"},
		{"mongodb://h?tls=true", "mongodb://h/d?tls=true"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			t.Setenv("MONGODB_URI", tt.uri)
			if got := mongoshURI(t, "d"); got != tt.want {
				t.Errorf("mongoshURI(%q) = %q, want %q", tt.uri, got, tt.want)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		want    int
		message string
	}{
		{"loaded", nil, 0, ""},
		{"usage", &usageError{msg: "-csv needs a directory"}, 2, ""},
		{"skipped rows", &skippedError{count: 5, what: "row"}, 3,
			"seed: 5 rows skipped, as listed in the summary; everything else was loaded\n"},
		{"skipped resource", &skippedError{count: 1, what: "resource"}, 3,
			"seed: 1 resource skipped, as listed in the summary; everything else was loaded\n"},
		{"error", errors.New("store at x does not answer"), 1, "seed: store at x does not answer\n"},
		{"wrapped error", fmt.Errorf("insert batch of 3: %w", context.Canceled), 1, "seed: insert batch of 3: context canceled\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := exitStatus(tt.err, &stderr); got != tt.want {
				t.Errorf("exitStatus(%v) = %d, want %d", tt.err, got, tt.want)
			}
			if stderr.String() != tt.message {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.message)
			}
		})
	}
}
