package app_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/export"
	"github.com/clinic/interactions/fhirapi"
	"github.com/clinic/interactions/idempotency"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// The small fakes of the stores the server's parts are made of (see app.Parts),
// for tests that send many requests through the whole middleware stack without a
// database: one patient, A11, with one interaction, 1; and an API key of each role,
// and a revoked one.

// fakeKeyTokens are the API keys the fakes know, by role; "revoked" is revoked.
var fakeKeyTokens = map[string]string{
	"clinician": "ck_fake-clinician", "viewer": "ck_fake-viewer", "auditor": "ck_fake-auditor",
	"admin": "ck_fake-admin", "revoked": "ck_fake-revoked",
}

// fakeParts returns parts over the fakes, and the audit trail's fake store.
func fakeParts(now func() time.Time) (app.Parts, *fakeTrail) {
	keys := &fakeKeyStore{keys: map[string]models.APIKey{}}
	for role, token := range fakeKeyTokens {
		k := models.APIKey{Hash: apikey.Hash(token), Name: "fake-" + role, Role: models.Role(role), CreatedAt: now()}
		if role == "revoked" {
			revokedAt := now()
			k.Role, k.RevokedAt = models.RoleViewer, &revokedAt
		}
		keys.keys[k.Hash] = k
	}
	trail := &fakeTrail{events: map[string]models.AuditEvent{}, heads: map[string]models.AuditChainHead{},
		checkpoints: map[string]models.AuditCheckpoint{}}
	return app.Parts{
		Store:        fakeStore{},
		Patients:     fakePatients{},
		Interactions: fakeInteractions{},
		Keys:         apikey.New(keys, now, slog.New(slog.DiscardHandler)),
		Idempotency:  fakeIdempotency{},
		Records:      fakeRecords{},
		Exporter:     fakeExporter{},
		FHIR:         fakeFHIR{},
		Audit:        trail,
	}, trail
}

var (
	fakePatient     = models.Patient{InsuranceNo: "A11", FName: "Test", LName: "Patient", Version: 1}
	fakeInteraction = models.Interaction{ID: "1", InsuranceNo: "A11", Version: 1, Metrics: models.Document{{Key: "bp", Value: "120/80"}}}
)

// fakeFHIR finds no resource: the FHIR routes' own behaviour is tested on the real
// store; through the fakes they answer as a missing resource does.
type fakeFHIR struct{}

func (fakeFHIR) Read(context.Context, string, string) ([]byte, error) { return nil, models.ErrNotFound }
func (fakeFHIR) VRead(context.Context, string, string, int) ([]byte, error) {
	return nil, models.ErrNotFound
}
func (fakeFHIR) Search(context.Context, string, fhirapi.Request) ([]byte, error) {
	return nil, models.ErrNotFound
}
func (fakeFHIR) Everything(context.Context, string, fhirapi.Request) ([]byte, error) {
	return nil, models.ErrNotFound
}
func (fakeFHIR) LastN(context.Context, fhirapi.Request) ([]byte, error) {
	return nil, models.ErrNotFound
}
func (fakeFHIR) Summary(context.Context, string, fhirapi.Request) ([]byte, error) {
	return nil, models.ErrNotFound
}

type fakeStore struct{}

func (fakeStore) Topology(context.Context) (models.Topology, error) {
	return models.Topology{Kind: "standalone"}, nil
}
func (fakeStore) APIKeys(context.Context) ([]models.APIKey, error) { return nil, nil }
func (fakeStore) APIKey(context.Context, string) (models.APIKey, error) {
	return models.APIKey{}, models.ErrNotFound
}
func (fakeStore) AuditEvents(context.Context, models.AuditQuery) (models.AuditPage, error) {
	return models.AuditPage{Items: []models.AuditEvent{}}, nil
}

type fakePatients struct{}

func (fakePatients) Create(_ context.Context, p models.Patient) (models.Patient, error) {
	return models.Patient{}, models.ErrConflict
}
func (fakePatients) Get(_ context.Context, no string) (models.Patient, error) {
	if no == fakePatient.InsuranceNo {
		return fakePatient, nil
	}
	return models.Patient{}, models.ErrNotFound
}
func (fakePatients) Amend(context.Context, string, records.Match, models.Document, string) (models.Patient, error) {
	return models.Patient{}, models.ErrPreconditionFailed
}
func (fakePatients) Versions(context.Context, string, int, int) (records.Page[models.Patient], error) {
	return records.Page[models.Patient]{}, models.ErrNotFound
}
func (fakePatients) Version(context.Context, string, int) (models.Patient, error) {
	return models.Patient{}, models.ErrNotFound
}
func (fakePatients) Find(context.Context, models.PatientQuery) (models.PatientList, error) {
	return models.PatientList{Items: []models.PatientListItem{}}, nil
}

type fakeInteractions struct{}

func (fakeInteractions) Create(context.Context, models.Interaction, string) (models.Interaction, error) {
	return models.Interaction{}, models.ErrPatientNotFound
}
func (fakeInteractions) Get(_ context.Context, id string) (models.Interaction, error) {
	if id == fakeInteraction.ID {
		return fakeInteraction, nil
	}
	return models.Interaction{}, models.ErrNotFound
}
func (fakeInteractions) History(context.Context, models.HistoryQuery) (models.Page, error) {
	return models.Page{Items: []models.Interaction{}}, nil
}
func (fakeInteractions) Each(_ context.Context, q models.HistoryQuery, fn func(models.Interaction) error) error {
	if q.InsuranceNo == "" || q.InsuranceNo == fakeInteraction.InsuranceNo {
		return fn(fakeInteraction)
	}
	return nil
}
func (fakeInteractions) Amend(context.Context, string, records.Match, models.Document, string) (models.Interaction, error) {
	return models.Interaction{}, models.ErrPreconditionFailed
}
func (fakeInteractions) MarkEnteredInError(context.Context, string, records.Match, string) (models.Interaction, error) {
	return models.Interaction{}, models.ErrPreconditionFailed
}
func (fakeInteractions) Versions(context.Context, string, int, int) (records.Page[models.Interaction], error) {
	return records.Page[models.Interaction]{}, models.ErrNotFound
}
func (fakeInteractions) Version(context.Context, string, int) (models.Interaction, error) {
	return models.Interaction{}, models.ErrNotFound
}

type fakeIdempotency struct{}

func (fakeIdempotency) Do(ctx context.Context, _ idempotency.Request,
	run func(ctx context.Context, reservedID string) models.IdempotentAnswer) (models.IdempotentAnswer, bool, error) {
	return run(ctx, ""), false, nil
}

type fakeRecords struct{}

func (fakeRecords) EachVisit(_ context.Context, _ models.ScanQuery, fn func(models.Interaction) error) error {
	return fn(fakeInteraction)
}
func (fakeRecords) EachPatient(_ context.Context, fn func(models.Patient) error) error {
	return fn(fakePatient)
}

type fakeExporter struct{}

func (fakeExporter) Patient(ctx context.Context, no string) (models.Patient, error) {
	return fakePatients{}.Get(ctx, no)
}
func (fakeExporter) Write(context.Context, io.Writer, models.Patient, export.Request) error {
	return nil
}

type fakeKeyStore struct {
	mu   sync.Mutex
	keys map[string]models.APIKey
}

func (s *fakeKeyStore) CreateAPIKey(context.Context, models.APIKey) error { return models.ErrConflict }
func (s *fakeKeyStore) APIKeyByHash(_ context.Context, hash string) (models.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[hash]; ok {
		return k, nil
	}
	return models.APIKey{}, models.ErrNotFound
}
func (s *fakeKeyStore) TouchAPIKey(context.Context, string, time.Time) error { return nil }
func (s *fakeKeyStore) HasAPIKeys(context.Context) (bool, error)             { return true, nil }
func (s *fakeKeyStore) RevokeAPIKey(context.Context, string, time.Time) (models.APIKey, error) {
	return models.APIKey{}, models.ErrNotFound
}

// fakeTrail keeps the audit trail in memory, and the events inserted since they
// were last taken.
type fakeTrail struct {
	mu          sync.Mutex
	events      map[string]models.AuditEvent
	heads       map[string]models.AuditChainHead
	checkpoints map[string]models.AuditCheckpoint
	fresh       []models.AuditEvent
}

// take returns the events inserted since the last call.
func (f *fakeTrail) take() []models.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	fresh := f.fresh
	f.fresh = nil
	return fresh
}

func (f *fakeTrail) AuditChainHeads(context.Context) ([]models.AuditChainHead, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Collect(maps.Values(f.heads)), nil
}
func (f *fakeTrail) StartAuditChain(_ context.Context, h models.AuditChainHead) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.heads[h.Chain]; ok {
		return models.ErrConflict
	}
	f.heads[h.Chain] = h
	return nil
}
func (f *fakeTrail) UpdateAuditChainHead(_ context.Context, h models.AuditChainHead) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heads[h.Chain] = h
	return nil
}
func (f *fakeTrail) InsertAuditEvents(_ context.Context, events []models.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		if _, ok := f.events[e.ID]; ok {
			return models.ErrConflict
		}
		f.events[e.ID] = e
		f.fresh = append(f.fresh, e)
	}
	return nil
}
func (f *fakeTrail) AuditEvent(_ context.Context, id string) (models.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.events[id]; ok {
		return e, nil
	}
	return models.AuditEvent{}, models.ErrNotFound
}
func (f *fakeTrail) AuditEventsUpTo(_ context.Context, ids []string) ([]models.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []models.AuditEvent
	for _, id := range ids {
		e, ok := f.events[id]
		if !ok {
			break
		}
		out = append(out, e)
	}
	return out, nil
}
func (f *fakeTrail) AuditCheckpoints(context.Context) ([]models.AuditCheckpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Collect(maps.Values(f.checkpoints)), nil
}
func (f *fakeTrail) SaveAuditCheckpoint(_ context.Context, cp models.AuditCheckpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkpoints[cp.Chain] = cp
	return nil
}
func (f *fakeTrail) CountAuditEvents(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.events)), nil
}
func (f *fakeTrail) AuditEventChains(context.Context) (map[string]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	chains := map[string]int64{}
	for _, e := range f.events {
		chains[e.Chain]++
	}
	return chains, nil
}
