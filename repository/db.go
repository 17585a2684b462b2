// Package repository stores and reads patients and interactions in MongoDB (or the
// embedded MongoDB-compatible store), turning driver errors into the errors of models.
package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/clinic/interactions/admission"
	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/models"
)

// Collection names.
const (
	PatientsCollection     = "patients"
	InteractionsCollection = "interactions"
)

// DB reads and writes the service's collections in one database. It notes each
// patient and interaction it reads or writes for a request in the request's
// audit.Subject.
type DB struct {
	db                  *mongo.Database
	patients            *mongo.Collection
	interactions        *mongo.Collection
	patientVersions     *mongo.Collection
	interactionVersions *mongo.Collection
	idempotencyKeys     *mongo.Collection
	apiKeys             *mongo.Collection
	auditEvents         *mongo.Collection
	auditChains         *mongo.Collection
	auditCheckpoints    *mongo.Collection
	auditDisclosures    *mongo.Collection
	interactionIDs      *mongo.Collection
	dataVersions        *mongo.Collection
	// loneID is set for a store that finds a document fast only by a filter of _id
	// alone (see pointwrite.go).
	loneID bool
	// scans admits the queries that may read a whole collection (see WithScanGate).
	scans *admission.Gate
	// side, when set, finds and counts documents by the store's side indexes.
	side SideIndex
}

// New returns a DB over db, adjusted by opts.
func New(db *mongo.Database, opts ...Option) *DB {
	s := &DB{
		db:                  db,
		patients:            db.Collection(PatientsCollection),
		interactions:        db.Collection(InteractionsCollection),
		patientVersions:     db.Collection(PatientVersionsCollection),
		interactionVersions: db.Collection(InteractionVersionsCollection),
		idempotencyKeys:     db.Collection(IdempotencyKeysCollection),
		apiKeys:             db.Collection(APIKeysCollection),
		auditEvents:         db.Collection(AuditEventsCollection),
		auditChains:         db.Collection(AuditChainsCollection),
		auditCheckpoints:    db.Collection(AuditCheckpointsCollection),
		auditDisclosures:    db.Collection(AuditDisclosuresCollection),
		interactionIDs:      db.Collection(InteractionIDsCollection),
		dataVersions:        db.Collection(dataversion.Collection),
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Option adjusts a DB.
type Option func(*DB)

// WithLoneIDFilters tells the DB that its store finds a document fast only by a
// filter of _id alone, as the embedded store does: the DB then makes its conditional
// writes a lookup by _id and a write by _id, instead of a filter that store would
// evaluate over the whole collection.
func WithLoneIDFilters() Option {
	return func(s *DB) { s.loneID = true }
}

// WithScanGate has the queries that may read a whole collection on the embedded
// store (a history page, the audit events, a record's versions, lookups of many
// records, the purge of expired idempotency keys) admitted by gate first; a nil
// gate admits them all. Lookups by _id never wait for it.
func WithScanGate(gate *admission.Gate) Option {
	return func(s *DB) { s.scans = gate }
}

// SideIndex finds and counts documents by indexes a store keeps beside its query
// language (on the embedded store, sideindex.Index): what the repository would otherwise ask
// the store to filter and sort, on the embedded store by reading a whole collection.
type SideIndex interface {
	// Count returns how many documents collection holds.
	Count(ctx context.Context, collection string) (int64, error)
	// HistoryIDs returns the ids of the first n interactions q selects, in the order
	// of a history: newest first, ties by id descending.
	HistoryIDs(ctx context.Context, q models.HistoryQuery, n int) ([]string, error)
	// HistoryCount counts the interactions q selects, its cursor aside.
	HistoryCount(ctx context.Context, q models.HistoryQuery) (int64, error)
	// AuditEventIDs returns the ids of the first n audit events q selects (its
	// InsuranceNo aside), newest first, ties by id descending.
	AuditEventIDs(ctx context.Context, q models.AuditQuery, n int) ([]string, error)
	// AuditDisclosures returns the first n rows of the index of audit events by
	// patient (AuditDisclosuresCollection) of the patient q names, in q's time span,
	// after the event q's cursor names, newest first, ties by event id descending.
	AuditDisclosures(ctx context.Context, q models.AuditQuery, n int) ([]models.AuditDisclosure, error)
	// PatientIDs returns the ids of the first n patients q selects, by sort key,
	// ties by id.
	PatientIDs(ctx context.Context, q models.PatientQuery, n int) ([]string, error)
	// Visits calls fn with every interaction q selects (see models.ScanQuery), in no
	// particular order, holding what the analytics read: id, insurance number,
	// ailment, symptoms, date, metrics, remarks, health_status, qa, label and
	// status. It stops at fn's first error.
	Visits(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error
	// Patients calls fn with every patient, holding insurance number, age and sex,
	// in no particular order. It stops at fn's first error.
	Patients(ctx context.Context, fn func(models.Patient) error) error
	// VisitsOf calls fn, as Visits does, with the interactions of the patients nos
	// that q selects, in the order Visits calls it with them.
	VisitsOf(ctx context.Context, nos []string, q models.ScanQuery, fn func(models.Interaction) error) error
	// PatientsOf calls fn, as Patients does, with the patients nos that exist.
	PatientsOf(ctx context.Context, nos []string, fn func(models.Patient) error) error
	// DataVersion returns the version of the records of the patients and the
	// interactions, counted in every write (see package dataversion).
	DataVersion(ctx context.Context) (dataversion.Version, error)
	// ChartVersion returns the version of patient no's chart.
	ChartVersion(ctx context.Context, no string) (dataversion.Version, error)
	// ChangedSince returns the insurance numbers of the charts changed since v, a
	// version DataVersion returned, or false when it cannot tell them for v.
	ChangedSince(ctx context.Context, v dataversion.Version) ([]string, bool, error)
}

// WithSideIndex has the DB find histories, patients and audit events by side, when
// not nil, then read them by _id, count audit events and read the analytics' visits
// and patients with it, instead of asking the store.
func WithSideIndex(side SideIndex) Option {
	return func(s *DB) { s.side = side }
}

// Topology returns how the store is deployed, once a server that takes writes (a
// primary, or a mongos) answers. It returns models.ErrUnavailable when none does.
func (s *DB) Topology(ctx context.Context) (models.Topology, error) {
	if err := s.db.Client().Ping(ctx, readpref.Primary()); err != nil {
		return models.Topology{}, fmt.Errorf("find a server that takes writes: %w", storeError(err))
	}
	var h hello
	if err := s.db.Client().Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&h); err != nil {
		return models.Topology{}, fmt.Errorf("hello: %w", storeError(err))
	}
	return h.topology(), nil
}

// hello is what the hello command says of a deployment.
type hello struct {
	SetName string `bson:"setName"`
	Primary string `bson:"primary"`
	Msg     string `bson:"msg"`
}

// topology reads the deployment from h: a mongos says isdbgrid, a replica set member
// names its set.
func (h hello) topology() models.Topology {
	switch {
	case h.Msg == "isdbgrid":
		return models.Topology{Kind: "sharded"}
	case h.SetName != "":
		return models.Topology{Kind: "replica set", ReplicaSet: h.SetName, Primary: h.Primary}
	}
	return models.Topology{Kind: "standalone"}
}
