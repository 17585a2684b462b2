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
	idempotencyAnswers  *mongo.Collection
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
	// oneWriter is set for a store that commits one write at a time (see
	// WithOneWriter); writer then admits the DB's writes one at a time, and
	// interactionInserts, idempotencyInserts and answerInserts group the inserts
	// of concurrent creates.
	oneWriter                                             bool
	writer                                                chan struct{}
	interactionInserts, idempotencyInserts, answerInserts *groupInserts
	// patientsSeen are insurance numbers of patients this DB has seen exist:
	// patients are never deleted, so it answers for them without the store.
	patientsSeen *known
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
		idempotencyAnswers:  db.Collection(IdempotencyAnswersCollection),
		apiKeys:             db.Collection(APIKeysCollection),
		auditEvents:         db.Collection(AuditEventsCollection),
		auditChains:         db.Collection(AuditChainsCollection),
		auditCheckpoints:    db.Collection(AuditCheckpointsCollection),
		auditDisclosures:    db.Collection(AuditDisclosuresCollection),
		interactionIDs:      db.Collection(InteractionIDsCollection),
		patientsSeen:        newKnown(maxKnownPatients),
		dataVersions:        db.Collection(dataversion.Collection),
	}
	s.writer = make(chan struct{}, 1)
	s.interactionInserts = &groupInserts{coll: s.interactions, write: s.write}
	s.idempotencyInserts = &groupInserts{coll: s.idempotencyKeys, write: s.write}
	s.answerInserts = &groupInserts{coll: s.idempotencyAnswers, write: s.write}
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

// WithOneWriter tells the DB that its store commits one write at a time, each
// waiting for the disk, as the embedded store (SQLite) does. The DB then sends its
// writes one at a time, in the order they come: SQLite makes a writer that finds
// another writing sleep and try again, up to 100 ms at a time, while the one before
// may be done long since, and requests that make several writes in turn wait for
// each. It also stores the interactions, idempotency records and their answers that
// concurrent requests create with one insert for all those waiting (see
// groupInserts), instead of one each, and keeps the answers beside their records
// (see IdempotencyAnswersCollection) rather than updating each record.
func WithOneWriter() Option {
	return func(s *DB) { s.oneWriter = true }
}

// write runs op, which makes one write, when the DB's store admits it: at once,
// unless the store takes one writer at a time (see WithOneWriter), then once the
// writes before it are done. It returns op's error, or ctx's when ctx ends first.
// A write whose filter the store evaluates by reading a whole collection (a
// deleteMany, an update by another field than _id) is not made through it: the
// writes after it would wait for the read.
func (s *DB) write(ctx context.Context, op func() error) error {
	if !s.oneWriter {
		return op()
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for the store's writer: %w", ctx.Err())
	}
	defer func() { <-s.writer }()
	return op()
}

// insertOne inserts doc into the collection of group: with the documents of
// concurrent calls when the store takes one writer at a time (see WithOneWriter),
// alone otherwise. It returns the driver's error, as insertOne gives it.
func (s *DB) insertOne(ctx context.Context, group *groupInserts, doc any) error {
	if s.oneWriter {
		return group.insertOne(ctx, doc)
	}
	_, err := group.coll.InsertOne(ctx, doc)
	return err
}

// WithScanGate has the queries that may read a whole collection on the embedded
// store (a history page, the audit events, a record's versions, lookups of many
// records, the purge of expired idempotency keys) admitted by gate first; a nil
// gate admits them all. Lookups by _id never wait for it.
func WithScanGate(gate *admission.Gate) Option {
	return func(s *DB) { s.scans = gate }
}

// SideIndex finds, reads and counts documents by indexes a store keeps beside its
// query language (on the embedded store, sideindex.Index): what the repository would
// otherwise ask the store to filter and sort, on the embedded store by reading a
// whole collection, and to read by _id, there through the store's wire protocol. It
// gives each document as the store would answer a find of it: the same BSON.
type SideIndex interface {
	// Count returns how many documents collection holds.
	Count(ctx context.Context, collection string) (int64, error)
	// Document returns the document of collection whose _id is id, nil when there is
	// none.
	Document(ctx context.Context, collection, id string) (bson.Raw, error)
	// Documents calls each with the documents of collection whose _id is one of ids,
	// in no particular order, until each returns false.
	Documents(ctx context.Context, collection string, ids []string, each func(bson.Raw) bool) error
	// HistoryDocuments calls each with the first n interactions q selects, in the
	// order of a history (newest first, ties by id descending), until each returns
	// false.
	HistoryDocuments(ctx context.Context, q models.HistoryQuery, n int, each func(bson.Raw) bool) error
	// HistoryCount counts the interactions q selects, its cursor aside.
	HistoryCount(ctx context.Context, q models.HistoryQuery) (int64, error)
	// AuditEventDocuments calls each with the first n audit events q selects (its
	// InsuranceNo aside), newest first, ties by id descending, until each returns
	// false.
	AuditEventDocuments(ctx context.Context, q models.AuditQuery, n int, each func(bson.Raw) bool) error
	// AuditDisclosures returns the first n rows of the index of audit events by
	// patient (AuditDisclosuresCollection) of the patient q names, in q's time span,
	// after the event q's cursor names, newest first, ties by event id descending.
	AuditDisclosures(ctx context.Context, q models.AuditQuery, n int) ([]models.AuditDisclosure, error)
	// AuditSubjects returns, as rows of the index of audit events by patient, the
	// first n audit events whose subject is the patient q names, in q's time span,
	// after the event q's cursor names, newest first, ties by id descending.
	AuditSubjects(ctx context.Context, q models.AuditQuery, n int) ([]models.AuditDisclosure, error)
	// PatientDocuments calls each with the first n patients q selects, by sort key,
	// ties by id, until each returns false.
	PatientDocuments(ctx context.Context, q models.PatientQuery, n int, each func(bson.Raw) bool) error
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

// WithSideIndex has the DB read the pages of histories, patients and audit events,
// and records and audit events by _id, by side, when not nil, and count audit events
// and read the analytics' visits and patients with it, instead of asking the store.
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
