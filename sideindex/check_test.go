package sideindex_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/sideindex"
	"github.com/clinic/interactions/storetest"
)

// fill stores patients, their interactions and audit events in the store of cfg,
// then closes it.
func fill(t *testing.T, conn *app.Connection, cfg app.Config) {
	t.Helper()
	ctx := context.Background()
	db := repository.New(conn.DB, conn.RepositoryOptions(cfg.Database, 0)...)
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	var patients []models.Patient
	var interactions []models.Interaction
	for p := range 5 {
		no := fmt.Sprintf("SIDE-%d", p)
		patient, err := models.NewPatient(bson.D{{Key: "insurance_no", Value: no}, {Key: "last_name", Value: fmt.Sprintf("Name%d", p)}}, now)
		if err != nil {
			t.Fatal(err)
		}
		patients = append(patients, patient)
		for i := range 30 {
			in, err := models.NewInteraction(bson.D{{Key: "id", Value: fmt.Sprintf("%s-%d", no, i)}, {Key: "insurance_no", Value: no},
				{Key: "interaction_date", Value: now.Add(-time.Duration(i) * time.Hour).Format(time.RFC3339)}}, now)
			if err != nil {
				t.Fatal(err)
			}
			interactions = append(interactions, in)
		}
	}
	if _, err := db.InsertPatients(ctx, patients); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertInteractions(ctx, interactions); err != nil {
		t.Fatal(err)
	}
	w, err := audit.NewWriter(db, audit.WriterOptions{Process: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := w.Append(ctx, models.AuditEvent{Time: now.Add(time.Duration(i) * time.Second), Action: "interactions.read",
			Method: "GET", Route: "/r", Status: 200, ClientIP: "-", RequestID: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsADamagedSideIndex fills a store, damages its file, starts it again
// without making the side index's indexes anew, and checks the side index: clean,
// it finds nothing; with an index dropped, or lacking a row of its table, the
// finding names the collection and the index, and the row when it is drawn; the
// store's own lookup by _id, through the index it lacks, not finding a row drawn is
// a finding too.
func TestCheckFindsADamagedSideIndex(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{"clean", func(*testing.T, string) {}, ""},
		{"an index dropped", func(t *testing.T, path string) {
			storetest.DropIndex(t, path, repository.InteractionsCollection, "history")
		}, "side index interactions.history: missing"},
		{"an index lacking a row", func(t *testing.T, path string) {
			storetest.DamageIndex(t, path, repository.AuditEventsCollection, "time")
		}, "side index audit_events.time: 30 entries for the 31 rows of its table"},
		{"the unique index on _id lacking a row", func(t *testing.T, path string) {
			storetest.DamageIndex(t, path, repository.PatientsCollection, "_id_")
		}, "side index patients._id_: 4 entries for the 5 rows of its table"},
		{"a row the store does not find", func(t *testing.T, path string) {
			storetest.DamageIndex(t, path, repository.InteractionsCollection, "_id_")
		}, "the store does not find it by its _id"},
		{"a row an index does not find", func(t *testing.T, path string) {
			storetest.DamageIndex(t, path, repository.InteractionsCollection, "date")
		}, "side index interactions.date: row 1 of the table is not found through it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			conn, cfg := openEmbedded(t)
			fill(t, conn, cfg)
			tc.damage(t, filepath.Join(cfg.DataDir, cfg.Database+".sqlite"))
			// Started as a command starts it: Connect makes no index.
			again, err := app.Connect(ctx, cfg, logger(), app.ConnectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer again.CloseLogged(logger())
			files := sideindex.New(cfg.DataDir)
			defer files.Close()
			findings, err := files.Index(cfg.Database).Check(ctx, repository.New(again.DB), 1000)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(findings) > 0 {
					t.Errorf("findings %q, want none", findings)
				}
				return
			}
			if len(findings) == 0 || !strings.Contains(strings.Join(findings, "\n"), tc.want) {
				t.Errorf("findings %q, want %q", findings, tc.want)
			}
		})
	}
}

// TestAuditChainHeadsAreTheStores reads the heads of the audit chains from the
// table: they are the store's own answer.
func TestAuditChainHeadsAreTheStores(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	db := repository.New(conn.DB)
	w, err := audit.NewWriter(db, audit.WriterOptions{Key: []byte(strings.Repeat("k", 32)), Process: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(ctx, models.AuditEvent{Time: time.Now(), Action: "a", Method: "-", Route: "-", Status: 200, ClientIP: "-", RequestID: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx, models.AuditEvent{Time: time.Now(), Method: "-", Route: "-", Status: 200, ClientIP: "-", RequestID: "r"}); err != nil {
		t.Fatal(err)
	}
	want, err := db.AuditChainHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files := sideindex.New(cfg.DataDir)
	defer files.Close()
	got, err := files.Index(cfg.Database).AuditChainHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(want) != 1 || !got[0].StartedAt.Equal(want[0].StartedAt) {
		t.Fatalf("heads %+v, the store's %+v", got, want)
	}
	got[0].StartedAt = want[0].StartedAt
	if got[0] != want[0] {
		t.Errorf("head %+v, the store's %+v", got[0], want[0])
	}
}

func logger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// TestCreateIndexesMakesAgainAnIndexOverOtherExpressions gives a store the history's
// index as an earlier version made it, without the status, as a store made then
// holds it: the check finds it made over other expressions, and CreateIndexes makes
// it again as the side index reads by, which the check then finds clean.
func TestCreateIndexesMakesAgainAnIndexOverOtherExpressions(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	fill(t, conn, cfg)
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: filepath.Join(cfg.DataDir, cfg.Database+".sqlite")}).String())
	if err != nil {
		t.Fatal(err)
	}
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, repository.InteractionsCollection).Scan(&table); err != nil {
		t.Fatal(err)
	}
	earlier := `_ferretdb_sjson->>'$.insurance_no', _ferretdb_sjson->>'$.interaction_date' DESC, _ferretdb_sjson->>'$._id' DESC`
	for _, q := range []string{
		fmt.Sprintf(`DROP INDEX %q`, table+"_history"),
		fmt.Sprintf(`CREATE INDEX %q ON %q (%s)`, table+"_history", table, earlier),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	again, err := app.Connect(ctx, cfg, logger(), app.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.CloseLogged(logger())
	files := sideindex.New(cfg.DataDir)
	defer files.Close()
	check := func() []string {
		t.Helper()
		findings, err := files.Index(cfg.Database).Check(ctx, repository.New(again.DB), 100)
		if err != nil {
			t.Fatal(err)
		}
		return findings
	}
	if findings := check(); len(findings) != 1 || !strings.Contains(findings[0], "side index interactions.history: made over other expressions") {
		t.Errorf("before: findings %q, want the history's index made over other expressions", findings)
	}
	if err := files.CreateIndexes(ctx, cfg.Database); err != nil {
		t.Fatal(err)
	}
	if findings := check(); len(findings) != 0 {
		t.Errorf("after CreateIndexes: findings %q, want none", findings)
	}
}
