package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/backup"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/notary"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

// clinic is a server started as `go run .` starts it, over a new data directory,
// with a patient, visits and an amended visit recorded through its API.
type clinic struct {
	t                  *testing.T
	srv                running
	clinician, auditor string
}

// amendedVisit is the visit startClinic amends twice: it is at version 3.
const amendedVisit = "store-visit-0"

// startClinic sets the environment of a new clinic (the embedded store in a new
// data directory, an audit key, no signing key) and starts its server.
func startClinic(t *testing.T) clinic {
	t.Helper()
	freshRunEnv(t)
	t.Setenv("AUDIT_HMAC_KEY", strings.Repeat("s", 40))
	t.Setenv("AUDIT_SIGNING_KEY_FILE", "")
	t.Setenv("AUDIT_CHECKPOINT_LOG", "")
	return serveClinic(t)
}

// serveClinic starts the server of a clinic in the environment set, and records
// its data.
func serveClinic(t *testing.T) clinic {
	t.Helper()
	c := clinic{t: t, srv: startRun(t)}
	admin := adminKeyOf(t, c.srv)
	for role, into := range map[string]*string{"clinician": &c.clinician, "auditor": &c.auditor} {
		status, body := request(t, "POST", c.srv.base+"/api/v1/keys", admin, fmt.Sprintf(`{"name":"store-%s","role":"%s"}`, role, role))
		if *into = regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(string(body)); status != 201 || *into == "" {
			t.Fatalf("create the %s key: %d %s", role, status, body)
		}
	}
	c.must(201, "POST", "/api/v1/patients", `{"insurance_no":"STORE-1","fname":"Ada"}`)
	for i := range 3 {
		c.must(201, "POST", "/api/v1/interactions", fmt.Sprintf(`{"id":"store-visit-%d","insurance_no":"STORE-1","ailment":"cough"}`, i))
	}
	for v, remarks := range []string{"seen", "seen again"} {
		status, body := requestWith(t, "PATCH", c.srv.base+"/api/v1/interactions/"+amendedVisit, c.clinician,
			fmt.Sprintf(`{"remarks":%q}`, remarks), "Content-Type", "application/merge-patch+json", "If-Match", fmt.Sprintf(`"%d"`, v+1))
		if status != 200 {
			t.Fatalf("amend: %d %s", status, body)
		}
	}
	return c
}

// must sends a request as the clinician and fails the test unless it answers want.
func (c clinic) must(want int, method, path, body string) {
	c.t.Helper()
	if status, data := request(c.t, method, c.srv.base+path, c.clinician, body); status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, status, data, want)
	}
}

// reads reads the patient n times, as the clinician: n audit events.
func (c clinic) reads(n int) {
	for range n {
		c.must(200, "GET", "/api/v1/patients/STORE-1", "")
	}
}

// runCommand runs the service's command args in the environment set, and returns what
// it printed on stdout.
func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := app.Run(context.Background(), args, &out, io.Discard)
	return out.String(), err
}

// onStore calls fn with the database of the environment's store, which no server
// runs, as someone with write access to the database would change it.
func onStore(t *testing.T, fn func(db *mongo.Database)) {
	t.Helper()
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	conn, err := app.Connect(context.Background(), cfg, logger, app.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLogged(logger)
	fn(conn.DB)
}

// storeFile is the SQLite file of the environment's store.
func storeFile() string { return filepath.Join(os.Getenv("DATA_DIR"), "clinic.sqlite") }

// TestCheckFindsEachDamage runs the check command over a clinic's store: clean, it
// says so part by part and succeeds; then, in a new clinic each time, the store's
// file, a side index, the archive of versions and the audit trail are damaged in
// turn, and the check fails, naming what is damaged under the part that checks it.
func TestCheckFindsEachDamage(t *testing.T) {
	for _, tc := range []struct {
		name, part, want string
		damage           func(t *testing.T)
	}{
		{"the store's file", "SQLite integrity_check: ", "integrity_check clinic.sqlite: ", func(t *testing.T) {
			storetest.DamageIndex(t, storeFile(), repository.InteractionsCollection, "_id_")
		}},
		{"a side index", "side index: ", "side index interactions.history: ", func(t *testing.T) {
			storetest.DamageIndex(t, storeFile(), repository.InteractionsCollection, "history")
		}},
		{"the archive", "archive of the interactions' versions: 1 findings", "interaction " + amendedVisit + ": at version 3, and the archive lacks version 3", func(t *testing.T) {
			onStore(t, func(db *mongo.Database) {
				id := models.VersionID(models.RecordKey{InsuranceNo: "STORE-1", InteractionID: amendedVisit}, 3)
				if res, err := db.Collection(repository.InteractionVersionsCollection).DeleteOne(context.Background(), bson.D{{Key: "_id", Value: id}}); err != nil || res.DeletedCount != 1 {
					t.Fatalf("delete %s: %v %v", id, res, err)
				}
			})
		}},
		{"the audit trail", "audit trail (", "hash does not match the event's content", func(t *testing.T) {
			onStore(t, func(db *mongo.Database) {
				ctx := context.Background()
				events := db.Collection(repository.AuditEventsCollection)
				var e models.AuditEvent
				if err := events.FindOne(ctx, bson.D{{Key: "action", Value: "patients.create"}}).Decode(&e); err != nil {
					t.Fatal(err)
				}
				if _, err := events.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: 404}}}}); err != nil {
					t.Fatal(err)
				}
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startClinic(t)
			c.srv.stop()
			out, err := runCommand(t, "check")
			if err != nil {
				t.Fatalf("check of a clean store: %v\n%s", err, out)
			}
			for _, part := range []string{"SQLite integrity_check: ok", "side index: ok", "archive of the interactions' versions: ok", "audit trail ("} {
				if !strings.Contains(out, part) {
					t.Errorf("the check does not say %q:\n%s", part, out)
				}
			}
			tc.damage(t)
			out, err = runCommand(t, "check")
			if err == nil || !strings.Contains(err.Error(), "findings") {
				t.Errorf("check of a damaged store: %v, want an error counting findings\n%s", err, out)
			}
			i := strings.Index(out, tc.part)
			if i < 0 || strings.HasPrefix(out[i:], strings.TrimSuffix(tc.part, " ")+" ok") || !strings.Contains(out[i:], tc.want) {
				t.Errorf("the check does not report %q under %q:\n%s", tc.want, tc.part, out)
			}
		})
	}
}

// signing makes a signing key with the audit keygen command and sets the
// environment to sign with it, into a new log; it returns the log and the public
// key.
func signing(t *testing.T) (log, public string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	out, err := runCommand(t, "audit", "keygen", "-out", dir, "-name", "clinic-test")
	if err != nil || !strings.Contains(out, notary.PublicKeyFile) {
		t.Fatalf("audit keygen: %v\n%s", err, out)
	}
	log = filepath.Join(t.TempDir(), "checkpoints.log")
	t.Setenv("AUDIT_SIGNING_KEY_FILE", filepath.Join(dir, notary.PrivateKeyFile))
	t.Setenv("AUDIT_CHECKPOINT_LOG", log)
	return log, filepath.Join(dir, notary.PublicKeyFile)
}

// serverChain returns the head of the chain of the server's requests: the one
// process "server" writes without sealing it yet.
func serverChain(t *testing.T, db *mongo.Database) bson.Raw {
	t.Helper()
	raw, err := db.Collection(repository.AuditChainsCollection).FindOne(context.Background(),
		bson.D{{Key: "process", Value: "server"}, {Key: "sealed", Value: bson.D{{Key: "$exists", Value: false}}}}).Raw()
	if err != nil {
		t.Fatalf("the server's chain: %v", err)
	}
	return raw
}

// serverChainHead finds the head of the chain of a stopped server's requests: the
// longest chain process "server" wrote.
func serverChainHead(db *mongo.Database) *mongo.SingleResult {
	return db.Collection(repository.AuditChainsCollection).FindOne(context.Background(),
		bson.D{{Key: "process", Value: "server"}}, options.FindOne().SetSort(bson.D{{Key: "last_seq", Value: -1}}))
}

// TestOfflineVerifyFindsACutAndADeletedChain signs a server's chains, then, as
// someone holding the database and the audit key, cuts the server's chain back and
// puts back its head and verification checkpoint as they were earlier (copies saved
// then): the trail's own verification cannot tell, and audit verify, against the
// signed checkpoints, names the chain. A chain deleted whole is named too.
func TestOfflineVerifyFindsACutAndADeletedChain(t *testing.T) {
	ctx := context.Background()
	freshRunEnv(t)
	t.Setenv("AUDIT_HMAC_KEY", strings.Repeat("s", 40))
	log, public := signing(t)
	c := serveClinic(t)
	if strings.Contains(c.srv.logs.String(), "AUDIT_SIGNING_KEY_FILE is not set") {
		t.Error("the server warns of no signing key, with one set")
	}
	c.reads(3)
	if status, body := request(t, "GET", c.srv.base+"/api/v1/audit/verify", c.auditor, ""); status != 200 || !strings.Contains(string(body), `"ok":true`) {
		t.Fatalf("verify: %d %s", status, body)
	}
	// Copies saved of the server's chain as it is now: its head, and the checkpoint
	// the verification left.
	var savedHead, savedCheckpoint bson.Raw
	var chain string
	withRunning(t, func(db *mongo.Database) {
		savedHead = serverChain(t, db)
		chain = savedHead.Lookup("_id").StringValue()
		var err error
		savedCheckpoint, err = db.Collection(repository.AuditCheckpointsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: chain}}).Raw()
		if err != nil {
			t.Fatalf("the checkpoint of %s: %v", chain, err)
		}
	})
	kept := savedHead.Lookup("last_seq").AsInt64()
	c.reads(10)
	c.srv.stop() // seals the chain, and signs it
	if signed := signedSizes(t, log, public)[chain]; signed <= kept+10 {
		t.Fatalf("the server's chain is signed at event %d, want past %d", signed, kept+10)
	}

	onStore(t, func(db *mongo.Database) {
		if _, err := db.Collection(repository.AuditEventsCollection).DeleteMany(ctx,
			bson.D{{Key: "chain", Value: chain}, {Key: "seq", Value: bson.D{{Key: "$gt", Value: kept}}}}); err != nil {
			t.Fatal(err)
		}
		for coll, doc := range map[string]bson.Raw{repository.AuditChainsCollection: savedHead, repository.AuditCheckpointsCollection: savedCheckpoint} {
			if _, err := db.Collection(coll).ReplaceOne(ctx, bson.D{{Key: "_id", Value: chain}}, doc); err != nil {
				t.Fatal(err)
			}
		}
	})
	if out, err := runCommand(t, "check"); err != nil {
		t.Fatalf("the trail's own verification finds the cut: %v\n%s", err, out)
	}
	out, err := runCommand(t, "audit", "verify", "-checkpoints", log, "-public-key", public)
	want := fmt.Sprintf("chain %s holds %d events, and a checkpoint was signed at event", chain, kept)
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("audit verify after the cut: %v, want a finding %q\n%s", err, want, out)
	}

	// The chain of the first admin key, deleted whole.
	var first string
	onStore(t, func(db *mongo.Database) {
		var head models.AuditChainHead
		err := db.Collection(repository.AuditChainsCollection).FindOne(ctx,
			bson.D{{Key: "process", Value: "server"}, {Key: "sealed", Value: true}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: chain}}}}).Decode(&head)
		if err != nil {
			t.Fatal(err)
		}
		first = head.Chain
		for _, coll := range []string{repository.AuditEventsCollection} {
			if _, err := db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "chain", Value: first}}); err != nil {
				t.Fatal(err)
			}
		}
		for _, coll := range []string{repository.AuditChainsCollection, repository.AuditCheckpointsCollection} {
			if _, err := db.Collection(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: first}}); err != nil {
				t.Fatal(err)
			}
		}
	})
	out, err = runCommand(t, "audit", "verify", "-checkpoints", log, "-public-key", public)
	if err == nil || !strings.Contains(out, "chain "+first+" is gone, head and events") || !strings.Contains(out, want) {
		t.Errorf("audit verify after a chain was deleted: %v, want it and the cut named\n%s", err, out)
	}
}

// withRunning calls fn with the database of the running server's store, reached as
// the commands reach it.
func withRunning(t *testing.T, fn func(db *mongo.Database)) {
	t.Helper()
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	conn, err := app.Connect(context.Background(), cfg, logger, app.ConnectOptions{Attach: true, AttachOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLogged(logger)
	fn(conn.DB)
}

// TestRestoringAnOlderBackupIsADeclaredRollback backs up a clinic's store while it
// serves, goes on working (requests, a command), stops, and restores the backup
// into a new data directory: audit verify, against the checkpoints signed since,
// reports the restore as declared, with the number of signed events it lost (every
// signed event past the backup's heads), and no finding.
func TestRestoringAnOlderBackupIsADeclaredRollback(t *testing.T) {
	freshRunEnv(t)
	t.Setenv("AUDIT_HMAC_KEY", strings.Repeat("s", 40))
	log, public := signing(t)
	c := serveClinic(t)
	c.reads(3)
	dir := filepath.Join(t.TempDir(), "backup")
	if out, err := runCommand(t, "backup", "-out", dir); err != nil || !strings.Contains(out, "Backed up database clinic") {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	c.reads(10)
	if _, err := runCommand(t, "keys", "list"); err != nil {
		t.Fatal(err)
	}
	c.srv.stop()

	t.Setenv("DATA_DIR", filepath.Join(t.TempDir(), "restored"))
	out, err := runCommand(t, "restore", "-from", dir)
	if err != nil || !strings.Contains(out, "It holds what the manifest says") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	// What was signed past the backup's heads is what the restore lost.
	m, _, err := backup.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int64{}
	for _, h := range m.AuditChains {
		held[h.Chain] = h.LastSeq
	}
	var lost int64
	for chain, n := range signedSizes(t, log, public) {
		lost += max(n-held[chain], 0)
	}
	if lost < 13 {
		t.Fatalf("%d signed events past the backup, want at least the 13 requests and commands after it", lost)
	}

	out, err = runCommand(t, "audit", "verify", "-checkpoints", log, "-public-key", public)
	for _, want := range []string{
		"declared restore 1: ", fmt.Sprintf("restore of the backup of clinic taken %s", m.TakenAt.Format("2006-01-02T15:04:05Z")),
		fmt.Sprintf(": %d signed events lost: ", lost), "ok: every signed event is stored, but for what declared restores lost",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit verify after the restore does not say %q:\n%s", want, out)
		}
	}
	if err != nil {
		t.Errorf("audit verify after a declared restore: %v", err)
	}
	if _, ok, _ := backup.ReadRestoreNote(os.Getenv("DATA_DIR")); ok {
		t.Error("the restore note is still in DATA_DIR after the restore was declared")
	}
}

// signedSizes returns, by chain, the size of the latest checkpoint of log signed by
// the key of public.
func signedSizes(t *testing.T, log, public string) map[string]int64 {
	t.Helper()
	verifier, err := notary.LoadVerifier(public)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkpoints, problems, err := notary.ReadLog(f, verifier)
	if err != nil || len(problems) > 0 {
		t.Fatalf("the log: %v %q", err, problems)
	}
	signed := map[string]int64{}
	for _, cp := range checkpoints {
		signed[cp.Chain] = max(signed[cp.Chain], cp.Size)
	}
	return signed
}

// TestSigningSettings reads AUDIT_SIGNING_KEY_FILE and AUDIT_CHECKPOINT_LOG: both
// or neither, and on the embedded store, neither in DATA_DIR.
func TestSigningSettings(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		env  map[string]string
		want string // "" for none
	}{
		{map[string]string{}, ""},
		{map[string]string{"AUDIT_SIGNING_KEY_FILE": "/etc/clinic/audit.key", "AUDIT_CHECKPOINT_LOG": "/var/log/clinic/checkpoints"}, ""},
		{map[string]string{"AUDIT_SIGNING_KEY_FILE": "/etc/clinic/audit.key", "AUDIT_CHECKPOINT_LOG": "stdout"}, ""},
		{map[string]string{"AUDIT_SIGNING_KEY_FILE": "/etc/clinic/audit.key"}, "AUDIT_CHECKPOINT_LOG"},
		{map[string]string{"AUDIT_CHECKPOINT_LOG": "stdout"}, "AUDIT_SIGNING_KEY_FILE"},
		{map[string]string{"AUDIT_SIGNING_KEY_FILE": "/etc/clinic/audit.key", "AUDIT_CHECKPOINT_LOG": filepath.Join(data, "log")}, "AUDIT_CHECKPOINT_LOG: "},
		{map[string]string{"AUDIT_SIGNING_KEY_FILE": filepath.Join(data, "keys", "k"), "AUDIT_CHECKPOINT_LOG": "stdout"}, "AUDIT_SIGNING_KEY_FILE: "},
		{map[string]string{"MONGODB_URI": "mongodb://db", "AUDIT_SIGNING_KEY_FILE": filepath.Join(data, "k"), "AUDIT_CHECKPOINT_LOG": filepath.Join(data, "log")}, ""},
	} {
		tc.env["DATA_DIR"] = data
		_, err := app.ConfigFrom(func(k string) string { return tc.env[k] })
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}

// TestStoreCommandsOnMongoDB refuses to back up or restore MongoDB, pointing to its
// own tools in the operations guide, before reaching it.
func TestStoreCommandsOnMongoDB(t *testing.T) {
	freshRunEnv(t)
	t.Setenv("MONGODB_URI", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100")
	for _, args := range [][]string{{"backup", "-out", t.TempDir()}, {"restore", "-from", t.TempDir()}} {
		if _, err := runCommand(t, args...); err == nil || !strings.Contains(err.Error(), "mongodump --oplog") || !strings.Contains(err.Error(), "operations.md") {
			t.Errorf("%s on MongoDB: %v", args[0], err)
		}
	}
	for _, args := range [][]string{{"backup"}, {"restore"}, {"check", "now"}, {"audit"}, {"audit", "keygen"}, {"audit", "verify", "-checkpoints", "x"}} {
		if _, err := runCommand(t, args...); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("Run(%q): %v, want its usage", args, err)
		}
	}
}

// TestAHeadBehindItsEventsVerifiesAgain leaves a chain's head one event behind its
// events, keyed, as a writer killed between storing events and moving its head
// leaves it, or as a backup taken at that moment holds it: the trail verifies, and
// verifies again once a checkpoint records the events past the head.
func TestAHeadBehindItsEventsVerifiesAgain(t *testing.T) {
	c := startClinic(t)
	c.srv.stop()
	onStore(t, func(db *mongo.Database) {
		ctx := context.Background()
		var head models.AuditChainHead
		if err := serverChainHead(db).Decode(&head); err != nil {
			t.Fatal(err)
		}
		var e models.AuditEvent
		if err := db.Collection(repository.AuditEventsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: audit.EventID(head.Chain, head.LastSeq-1)}}).Decode(&e); err != nil {
			t.Fatal(err)
		}
		head.LastSeq, head.LastHash, head.Sealed = e.Seq, e.Hash, false
		head.MAC = audit.HeadMAC([]byte(os.Getenv("AUDIT_HMAC_KEY")), head)
		if _, err := db.Collection(repository.AuditChainsCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: head.Chain}}, head); err != nil {
			t.Fatal(err)
		}
	})
	for i := range 2 {
		if out, err := runCommand(t, "check"); err != nil {
			t.Fatalf("check %d: %v\n%s", i+1, err, out)
		}
	}
}
