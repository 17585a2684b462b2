package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// counts is a side index that only counts, from a table.
type counts map[string]int64

func (c counts) Count(_ context.Context, collection string) (int64, error) { return c[collection], nil }

func (counts) Document(context.Context, string, string) (bson.Raw, error) { return nil, nil }

func (counts) Documents(context.Context, string, []string, func(bson.Raw) bool) error { return nil }

func (counts) HistoryDocuments(context.Context, models.HistoryQuery, int, func(bson.Raw) bool) error {
	return nil
}

func (counts) HistoryCount(context.Context, models.HistoryQuery) (int64, error) { return 0, nil }

func (counts) AuditEventDocuments(context.Context, models.AuditQuery, int, func(bson.Raw) bool) error {
	return nil
}

func (counts) AuditDisclosures(context.Context, models.AuditQuery, int) ([]models.AuditDisclosure, error) {
	return nil, nil
}

func (counts) AuditSubjects(context.Context, models.AuditQuery, int) ([]models.AuditDisclosure, error) {
	return nil, nil
}

func TestWarnIfLarge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts counts
		warn   bool
	}{
		{"small", counts{repository.InteractionsCollection: 1000, repository.InteractionVersionsCollection: 10}, false},
		{"at the limits", counts{repository.InteractionsCollection: comfortableInteractions,
			repository.InteractionVersionsCollection: comfortableVersions}, false},
		{"many interactions", counts{repository.InteractionsCollection: comfortableInteractions + 1}, true},
		{"many versions", counts{repository.InteractionVersionsCollection: comfortableVersions / 2,
			repository.PatientVersionsCollection: comfortableVersions/2 + 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			warnIfLarge(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)), tc.counts)
			if got := strings.Contains(logs.String(), "use MongoDB"); got != tc.warn {
				t.Errorf("warned %v, want %v: %s", got, tc.warn, logs.String())
			}
		})
	}
}

func (counts) PatientDocuments(context.Context, models.PatientQuery, int, func(bson.Raw) bool) error {
	return nil
}

func (counts) Visits(context.Context, models.ScanQuery, func(models.Interaction) error) error {
	return nil
}

func (counts) Patients(context.Context, func(models.Patient) error) error { return nil }
