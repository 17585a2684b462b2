package repository_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// TestPatientCheckOfACreate creates interactions of patients stored in every way: a
// patient this DB stored or found is not looked up again; one another process stored
// is found in the store, and then not looked up again; one that does not exist is
// looked up every time, so that it is found once another process stores it.
func TestPatientCheckOfACreate(t *testing.T) {
	if strings.Contains(testStore.URI(), "***@") {
		t.Skip("needs the test store's URI, without credentials")
	}
	ctx := context.Background()
	finds := &patientFinds{}
	client, err := mongo.Connect(options.Client().ApplyURI(testStore.URI()).SetMonitor(&event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName == "find" && e.Command.Lookup("find").StringValue() == repository.PatientsCollection {
				finds.add()
			}
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	db := client.Database(testStore.Database(t).Name())
	repo := repository.New(db, repository.WithLoneIDFilters())
	other := repository.New(db, repository.WithLoneIDFilters()) // another process
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	patient := func(no string) models.Patient {
		return models.Patient{InsuranceNo: no, Version: 1, CreatedAt: at, UpdatedAt: at}
	}
	n := 0
	create := func(no string) error {
		n++
		in := models.Interaction{ID: no + "-" + string(rune('a'+n)), InsuranceNo: no, InteractionDate: at, Label: []string{},
			Version: 1, CreatedAt: at, UpdatedAt: at}
		return repo.CreateInteraction(ctx, in)
	}
	if err := repo.CreatePatient(ctx, patient("MINE")); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.InsertPatients(ctx, []models.Patient{patient("BATCH")}); err != nil {
		t.Fatal(err)
	}
	if err := other.CreatePatient(ctx, patient("ELSEWHERE")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, no string
		lookups  int
		err      error
	}{
		{"stored by this DB", "MINE", 0, nil},
		{"stored by this DB in a batch", "BATCH", 0, nil},
		{"stored elsewhere, the first time", "ELSEWHERE", 1, nil},
		{"stored elsewhere, again", "ELSEWHERE", 0, nil},
		{"absent", "NONE", 1, models.ErrPatientNotFound},
		{"absent, again", "NONE", 1, models.ErrPatientNotFound},
	} {
		before := finds.count()
		if err := create(tc.no); !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: CreateInteraction = %v, want %v", tc.name, err, tc.err)
		}
		if got := finds.count() - before; got != tc.lookups {
			t.Errorf("%s: %d lookups of the patient, want %d", tc.name, got, tc.lookups)
		}
	}
	if err := other.CreatePatient(ctx, patient("NONE")); err != nil {
		t.Fatal(err)
	}
	if err := create("NONE"); err != nil {
		t.Errorf("once another process stored it: %v", err)
	}
	var stored int64
	if stored, err = db.Collection(repository.InteractionsCollection).CountDocuments(ctx, bson.D{}); err != nil || stored != 5 {
		t.Errorf("%d interactions stored, %v; want 5", stored, err)
	}
}

// patientFinds counts the finds of patients a client sent.
type patientFinds struct {
	mu sync.Mutex
	n  int
}

func (f *patientFinds) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
}

func (f *patientFinds) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}
