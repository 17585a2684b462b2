// Package repository stores and reads patients and interactions in MongoDB (or the
// embedded MongoDB-compatible store), turning driver errors into the errors of models.
package repository

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/clinic/interactions/admission"
	"github.com/clinic/interactions/audit"
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
	interactionIDs      *mongo.Collection
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
		interactionIDs:      db.Collection(InteractionIDsCollection),
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
// language (see app.Connection.SideIndex): what the repository would otherwise ask
// the store to filter and sort, on the embedded store by reading a whole collection.
type SideIndex interface {
	// Count returns how many documents collection holds.
	Count(ctx context.Context, collection string) (int64, error)
	// HistoryIDs returns the ids of the first n interactions q selects, in the order
	// of a history: newest first, ties by id descending.
	HistoryIDs(ctx context.Context, q models.HistoryQuery, n int) ([]string, error)
	// AuditEventIDs returns the ids of the first n audit events q selects, newest
	// first, ties by id descending.
	AuditEventIDs(ctx context.Context, q models.AuditQuery, n int) ([]string, error)
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
}

// WithSideIndex has the DB find histories and audit events by side, when not nil,
// then read them by _id, and count audit events with it, instead of asking the store.
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

// EnsureIndexes creates the collections and the indexes the queries rely on; it is
// safe to call on every start-up. It returns the store's error when an index cannot be created.
func (s *DB) EnsureIndexes(ctx context.Context) error {
	indexes := []struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	}{
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: "insurance_no", Value: 1}, {Key: "label", Value: 1}, {Key: "interaction_date", Value: -1}},
			Options: options.Index().SetName("insurance_no_label_date"),
		}},
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: "insurance_no", Value: 1}, {Key: "interaction_date", Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("insurance_no_date_id"),
		}},
		// Visits across patients, newest first; by ailment; by the words of their text.
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: "interaction_date", Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("interaction_date_id"),
		}},
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: "ailment_key", Value: 1}, {Key: "interaction_date", Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("ailment_key_date_id"),
		}},
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: "search_tokens", Value: 1}},
			Options: options.Index().SetName("search_tokens"),
		}},
		// The patient directory: by name, and by the start of a search key.
		{s.patients, mongo.IndexModel{
			Keys:    bson.D{{Key: "sort_key", Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName("sort_key_id"),
		}},
		{s.patients, mongo.IndexModel{
			Keys:    bson.D{{Key: "search_keys", Value: 1}},
			Options: options.Index().SetName("search_keys"),
		}},
		// An archived version's _id names its record and version (models.VersionID),
		// which makes it unique; these serve the listing of a record's versions.
		{s.interactionVersions, mongo.IndexModel{
			Keys:    bson.D{{Key: "insurance_no", Value: 1}, {Key: "interaction_id", Value: 1}, {Key: "version", Value: -1}},
			Options: options.Index().SetName("insurance_no_interaction_version"),
		}},
		{s.patientVersions, mongo.IndexModel{
			Keys:    bson.D{{Key: "insurance_no", Value: 1}, {Key: "version", Value: -1}},
			Options: options.Index().SetName("insurance_no_version"),
		}},
		{s.idempotencyKeys, mongo.IndexModel{
			Keys:    bson.D{{Key: "created_at", Value: 1}},
			Options: options.Index().SetName("created_at"),
		}},
		{s.apiKeys, mongo.IndexModel{
			Keys:    bson.D{{Key: "name", Value: 1}},
			Options: options.Index().SetName("name_unique").SetUnique(true),
		}},
		{s.auditEvents, mongo.IndexModel{
			Keys:    bson.D{{Key: "chain", Value: 1}, {Key: "seq", Value: 1}},
			Options: options.Index().SetName("chain_seq_unique").SetUnique(true),
		}},
		{s.auditEvents, mongo.IndexModel{
			Keys:    bson.D{{Key: "insurance_no", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("insurance_no_time_id"),
		}},
		{s.auditEvents, mongo.IndexModel{
			Keys:    bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("time_id"),
		}},
	}
	// Every collection exists from the start, those without indexes of their own
	// too, so that the store's files hold them all (see app.Connection.IndexLookups).
	colls := []*mongo.Collection{s.patients, s.auditChains, s.auditCheckpoints}
	if s.registers() {
		colls = append(colls, s.interactionIDs)
	}
	for _, coll := range colls {
		if err := s.db.CreateCollection(ctx, coll.Name()); err != nil && !namespaceExists(err) {
			return fmt.Errorf("create collection %s: %w", coll.Name(), storeError(err))
		}
	}
	// One index per command: the embedded store fails a createIndexes command that
	// repeats two or more existing indexes.
	for _, idx := range indexes {
		if _, err := idx.coll.Indexes().CreateOne(ctx, idx.model); err != nil {
			return fmt.Errorf("create index on %s: %w", idx.coll.Name(), err)
		}
	}
	return nil
}

// CreatePatient stores p. It returns models.ErrConflict when a patient with the same
// insurance number exists.
func (s *DB) CreatePatient(ctx context.Context, p models.Patient) error {
	audit.Touch(ctx, p.InsuranceNo, "")
	if _, err := s.patients.InsertOne(ctx, p); err != nil {
		return fmt.Errorf("insert patient: %w", storeError(err))
	}
	return nil
}

// Patient returns the patient with the given insurance number, or models.ErrNotFound.
func (s *DB) Patient(ctx context.Context, insuranceNo string) (models.Patient, error) {
	var p models.Patient
	err := s.patients.FindOne(ctx, bson.D{{Key: "_id", Value: insuranceNo}}).Decode(&p)
	if err != nil {
		return models.Patient{}, fmt.Errorf("find patient: %w", storeError(err))
	}
	audit.Touch(ctx, p.InsuranceNo, "")
	return p, nil
}

// PatientExists reports whether a patient with the given insurance number exists.
func (s *DB) PatientExists(ctx context.Context, insuranceNo string) (bool, error) {
	err := s.patients.FindOne(ctx, bson.D{{Key: "_id", Value: insuranceNo}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	default:
		return false, fmt.Errorf("find patient: %w", storeError(err))
	}
}

// CreateInteraction stores in. It returns models.ErrPatientNotFound when its patient
// does not exist and models.ErrConflict when an interaction with the same id exists,
// on MongoDB also when the registry of interaction ids holds the id for another
// patient.
func (s *DB) CreateInteraction(ctx context.Context, in models.Interaction) error {
	audit.Touch(ctx, in.InsuranceNo, in.ID)
	ok, err := s.PatientExists(ctx, in.InsuranceNo)
	if err != nil {
		return err
	}
	if !ok {
		return models.ErrPatientNotFound
	}
	if s.registers() {
		if err := s.claimInteractionID(ctx, in.ID, in.InsuranceNo); err != nil {
			return err
		}
	}
	if _, err := s.interactions.InsertOne(ctx, in); err != nil {
		return fmt.Errorf("insert interaction: %w", storeError(err))
	}
	return nil
}

// Interaction returns the interaction with the given id, or models.ErrNotFound. On
// MongoDB it finds the insurance number in the registry of interaction ids first, so
// that the query names the shard key.
func (s *DB) Interaction(ctx context.Context, id string) (models.Interaction, error) {
	filter, err := s.interactionFilter(ctx, id)
	if err != nil {
		return models.Interaction{}, err
	}
	var in models.Interaction
	if err := s.interactions.FindOne(ctx, filter).Decode(&in); err != nil {
		return models.Interaction{}, fmt.Errorf("find interaction: %w", storeError(err))
	}
	audit.Touch(ctx, in.InsuranceNo, in.ID)
	return in, nil
}

// History returns one page of a patient's interactions, newest first. It returns
// models.ErrPatientNotFound when the patient does not exist.
func (s *DB) History(ctx context.Context, q models.HistoryQuery) (models.Page, error) {
	var err error
	if q.InsuranceNo != "" {
		audit.Touch(ctx, q.InsuranceNo, "")
		ok, err := s.PatientExists(ctx, q.InsuranceNo)
		if err != nil {
			return models.Page{}, err
		}
		if !ok {
			return models.Page{}, models.ErrPatientNotFound
		}
	}

	var items []models.Interaction
	var last models.Interaction
	var more bool
	if s.side != nil {
		items, last, more, err = s.historyByID(ctx, q)
	} else {
		items, more, err = s.historyQuery(ctx, q)
		if len(items) > 0 {
			last = items[len(items)-1]
		}
	}
	if err != nil {
		return models.Page{}, err
	}
	page := models.Page{Items: items}
	if page.Items == nil {
		page.Items = []models.Interaction{}
	}
	if more {
		next := models.CursorAt(last, q.Key()).Encode()
		page.NextCursor = &next
	}
	return page, nil
}

// Patients returns one page of the patients q selects, by last name, first name and
// insurance number, and the cursor of the next page, nil on the last. It returns the
// store's errors.
func (s *DB) Patients(ctx context.Context, q models.PatientQuery) ([]models.Patient, *string, error) {
	var items []models.Patient
	var last models.Patient
	var more bool
	var err error
	if s.side != nil {
		var ids []string
		if ids, err = s.side.PatientIDs(ctx, q, q.Limit+1); err != nil {
			return nil, nil, fmt.Errorf("find patients: %w", storeError(err))
		}
		items, last, more, err = readByID(ctx, s.patients, ids, q.Limit, q.Matches)
	} else {
		items, more, err = s.patientsQuery(ctx, q)
		if len(items) > 0 {
			last = items[len(items)-1]
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if !more {
		return items, nil, nil
	}
	next := models.NameCursorAt(last, q.Key()).Encode()
	return items, &next, nil
}

// patientsQuery reads the page of patients q asks for with one query the store
// filters and sorts. more reports whether the patients go on past the page.
func (s *DB) patientsQuery(ctx context.Context, q models.PatientQuery) (items []models.Patient, more bool, err error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("find patients: %w", err)
	}
	defer leave()
	var conds bson.A
	for _, w := range q.Words {
		conds = append(conds, bson.D{{Key: "search_keys", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(w)}}})
	}
	if q.After != nil {
		conds = append(conds, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "sort_key", Value: bson.D{{Key: "$gt", Value: q.After.Key}}}},
			bson.D{{Key: "sort_key", Value: q.After.Key}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After.ID}}}},
		}}})
	}
	filter := bson.D{}
	if len(conds) > 0 {
		filter = bson.D{{Key: "$and", Value: conds}}
	}
	cur, err := s.patients.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "sort_key", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(q.Limit)+1))
	if err != nil {
		return nil, false, fmt.Errorf("find patients: %w", storeError(err))
	}
	items, more, err = readPage[models.Patient](ctx, cur, q.Limit, models.MaxPageBytes)
	if err != nil {
		return nil, false, fmt.Errorf("read patients: %w", err)
	}
	return items, more, nil
}

// LastVisit returns the date of the latest interaction of patient no, entered-in-
// error ones left out; nil when there is none. It notes no audit subject: a listing
// of patients calls it for each. It returns the store's errors.
func (s *DB) LastVisit(ctx context.Context, no string) (*time.Time, error) {
	q := models.HistoryQuery{InsuranceNo: no, Limit: 1}
	var items []models.Interaction
	var err error
	if s.side != nil {
		items, _, _, err = s.historyByID(ctx, q)
	} else {
		items, _, err = s.historyQuery(ctx, q)
	}
	if err != nil || len(items) == 0 {
		return nil, err
	}
	return &items[0].InteractionDate, nil
}

// historyByID reads the page of a history q asks for: the ids by the side index,
// then each interaction by _id (see readByID, which says what last is). An
// interaction changed since its id was found so that q no longer selects it is left
// out.
func (s *DB) historyByID(ctx context.Context, q models.HistoryQuery) (items []models.Interaction, last models.Interaction, more bool, err error) {
	ids, err := s.side.HistoryIDs(ctx, q, q.Limit+1)
	if err != nil {
		return nil, last, false, fmt.Errorf("find history: %w", storeError(err))
	}
	return readByID(ctx, s.interactions, ids, q.Limit, q.Matches)
}

// historyQuery reads the page of a history q asks for with one query the store
// filters and sorts. more reports whether the history goes on past the page.
func (s *DB) historyQuery(ctx context.Context, q models.HistoryQuery) (items []models.Interaction, more bool, err error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("find history: %w", err)
	}
	defer leave()
	filter := bson.D{}
	if q.InsuranceNo != "" {
		filter = append(filter, bson.E{Key: "insurance_no", Value: q.InsuranceNo})
	}
	if len(q.Labels) > 0 {
		op := "$in"
		if q.MatchAll {
			op = "$all"
		}
		filter = append(filter, bson.E{Key: "label", Value: bson.D{{Key: op, Value: q.Labels}}})
	}
	if q.Ailment != "" {
		filter = append(filter, bson.E{Key: "ailment_key", Value: q.Ailment})
	}
	if span := between(q.From, q.To); len(span) > 0 {
		filter = append(filter, bson.E{Key: "interaction_date", Value: span})
	}
	if health := within(q.HealthMin, q.HealthMax); len(health) > 0 {
		filter = append(filter, bson.E{Key: "health_status", Value: health})
	}
	var words bson.A
	for _, w := range q.Words {
		words = append(words, bson.D{{Key: "search_tokens", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(w)}}})
	}
	if len(words) > 0 {
		filter = append(filter, bson.E{Key: "$and", Value: words})
	}
	if !q.IncludeEnteredInError {
		filter = append(filter, bson.E{Key: "status", Value: bson.D{{Key: "$ne", Value: models.StatusEnteredInError}}})
	}
	order, beyond := -1, "$lt"
	if q.Ascending {
		order, beyond = 1, "$gt"
	}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "interaction_date", Value: bson.D{{Key: beyond, Value: q.After.Date}}}},
			bson.D{
				{Key: "interaction_date", Value: q.After.Date},
				{Key: "_id", Value: bson.D{{Key: beyond, Value: q.After.ID}}},
			},
		}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "interaction_date", Value: order}, {Key: "_id", Value: order}}).
		SetLimit(int64(q.Limit) + 1)
	cur, err := s.interactions.Find(ctx, filter, opts)
	if err != nil {
		return nil, false, fmt.Errorf("find interactions: %w", storeError(err))
	}
	items, more, err = readPage[models.Interaction](ctx, cur, q.Limit, models.MaxPageBytes)
	if err != nil {
		return nil, false, fmt.Errorf("read interactions: %w", err)
	}
	return items, more, nil
}

// between is the condition of a date from from to to, both included; either may be
// zero, for no bound.
func between(from, to time.Time) bson.D {
	span := bson.D{}
	if !from.IsZero() {
		span = append(span, bson.E{Key: "$gte", Value: from})
	}
	if !to.IsZero() {
		span = append(span, bson.E{Key: "$lte", Value: to})
	}
	return span
}

// within is the condition of a number from lo to hi, both included; either may be
// nil, for no bound.
func within(lo, hi *int) bson.D {
	span := bson.D{}
	if lo != nil {
		span = append(span, bson.E{Key: "$gte", Value: *lo})
	}
	if hi != nil {
		span = append(span, bson.E{Key: "$lte", Value: *hi})
	}
	return span
}

// namespaceExists reports whether err says a collection exists already.
func namespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48 // NamespaceExists
}

// storeError maps driver errors to the errors of models, keeping the original wrapped.
func storeError(err error) error {
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return models.ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%w: %w", models.ErrConflict, err)
	case unreachable(err):
		return fmt.Errorf("%w: %w", models.ErrUnavailable, err)
	}
	// The store's own messages may quote document values: keep only the codes.
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		return fmt.Errorf("store command error %d (%s)", ce.Code, ce.Name)
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		codes := make([]int, 0, len(we.WriteErrors))
		for _, e := range we.WriteErrors {
			codes = append(codes, e.Code)
		}
		return fmt.Errorf("store write error, codes %v", codes)
	}
	var be mongo.BulkWriteException
	if errors.As(err, &be) {
		codes := make([]int, 0, len(be.WriteErrors))
		for _, e := range be.WriteErrors {
			codes = append(codes, e.Code)
		}
		return fmt.Errorf("store bulk write error, codes %v", codes)
	}
	return err
}

// unreachable reports whether err says that the store did not answer in time or
// could not be reached, however the driver says it: a timeout (mongo.IsTimeout), a
// network error (mongo.IsNetworkError), no server selected (topology's
// ServerSelectionError, whichever error it wraps), a connection that could not be
// opened or waited for, a closed server, topology or client, or a context that ended
// first. (The topology package is the driver's own, outside its stable API; the
// checks of mongo and context catch the same errors through what they wrap.)
func unreachable(err error) bool {
	var (
		selection topology.ServerSelectionError
		conn      topology.ConnectionError
		queue     topology.WaitQueueTimeoutError
	)
	return mongo.IsTimeout(err) || mongo.IsNetworkError(err) ||
		errors.As(err, &selection) || errors.As(err, &conn) || errors.As(err, &queue) ||
		errors.Is(err, topology.ErrServerClosed) || errors.Is(err, topology.ErrTopologyClosed) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// InsertPatients stores patients in one unordered batch, skipping those whose
// insurance number is already stored; the result says which. A patient that names no
// author gets the one ctx names (see models.WithAuthor). It returns the store's error
// for anything else.
func (s *DB) InsertPatients(ctx context.Context, patients []models.Patient) (models.InsertResult, error) {
	author := models.AuthorFrom(ctx)
	docs := make([]any, len(patients))
	for i, p := range patients {
		if p.RecordedBy == nil {
			p.RecordedBy = author
		}
		docs[i] = p
	}
	return insertMany(ctx, s.patients, docs)
}

// InsertInteractions stores interactions in one unordered batch, skipping those whose
// id is already stored (on MongoDB, also those whose id the registry of interaction
// ids holds for another patient). An interaction that names no author gets the one
// ctx names. It does not check that their patients exist. It returns the store's
// error for anything else.
func (s *DB) InsertInteractions(ctx context.Context, interactions []models.Interaction) (models.InsertResult, error) {
	mine, taken := upTo(len(interactions)), []int(nil)
	if s.registers() {
		var err error
		if mine, taken, err = s.registerInteractions(ctx, interactions); err != nil {
			return models.InsertResult{}, err
		}
	}
	author := models.AuthorFrom(ctx)
	docs := make([]any, len(mine))
	for i, at := range mine {
		in := interactions[at]
		if in.RecordedBy == nil {
			in.RecordedBy = author
		}
		docs[i] = in
	}
	res, err := insertMany(ctx, s.interactions, docs)
	if err != nil {
		return res, err
	}
	// Positions in the batch given, with the ids another patient holds among those
	// stored already, as the embedded store, which has no registry, reports them.
	for i, at := range res.ExistingAt {
		res.ExistingAt[i] = mine[at]
	}
	res.Existing += len(taken)
	res.ExistingAt = append(res.ExistingAt, taken...)
	slices.Sort(res.ExistingAt)
	return res, nil
}

// upTo returns the positions 0 to n-1.
func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func insertMany(ctx context.Context, coll *mongo.Collection, docs []any) (models.InsertResult, error) {
	if len(docs) == 0 {
		return models.InsertResult{}, nil
	}
	_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return models.InsertResult{Inserted: len(docs)}, nil
	}
	var bulk mongo.BulkWriteException
	if !errors.As(err, &bulk) || bulk.WriteConcernError != nil {
		return models.InsertResult{}, fmt.Errorf("insert into %s: %w", coll.Name(), storeError(err))
	}
	res := models.InsertResult{Inserted: len(docs)}
	for _, we := range bulk.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return models.InsertResult{}, fmt.Errorf("insert into %s: %w", coll.Name(), storeError(err))
		}
		res.Inserted--
		res.Existing++
		res.ExistingAt = append(res.ExistingAt, we.Index)
	}
	slices.Sort(res.ExistingAt)
	return res, nil
}
