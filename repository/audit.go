package repository

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// Audit collections.
const (
	AuditEventsCollection      = "audit_events"
	AuditChainsCollection      = "audit_chains"
	AuditCheckpointsCollection = "audit_checkpoints"
	// AuditDisclosuresCollection indexes the audit events by patient: one row
	// (models.AuditDisclosure) per event and patient it names as its subject or
	// whose data it disclosed, for the listing of a patient's events.
	AuditDisclosuresCollection = "audit_disclosures"
)

// StartAuditChain records a new chain's head. It returns models.ErrConflict when the
// chain has one already, and the store's error otherwise.
func (s *DB) StartAuditChain(ctx context.Context, head models.AuditChainHead) error {
	err := s.write(ctx, func() error {
		_, err := s.auditChains.InsertOne(ctx, head)
		return err
	})
	if err != nil {
		return fmt.Errorf("insert audit chain: %w", storeError(err))
	}
	return nil
}

// UpdateAuditChainHead moves a chain's head to head, unless it records a later event
// already (a head written out of order never goes back). It returns the store's error.
func (s *DB) UpdateAuditChainHead(ctx context.Context, head models.AuditChainHead) error {
	notLater := bson.D{{Key: "last_seq", Value: bson.D{{Key: "$lte", Value: head.LastSeq}}}}
	if _, err := s.replaceIf(ctx, s.auditChains, head.Chain, notLater, head); err != nil {
		return fmt.Errorf("update audit chain head: %w", err)
	}
	return nil
}

// InsertAuditEvents stores events in order, stopping at the first that cannot be
// stored, after the rows of the index of audit events by patient that name them (see
// disclosureRows): an event is never stored without its rows, while a row may be
// stored without its event, which the listing then leaves out. It returns the store's
// error; the events before the one that failed may be stored then, and so may all of
// them when the error is a lost answer.
func (s *DB) InsertAuditEvents(ctx context.Context, events []models.AuditEvent) error {
	docs := make([]any, len(events))
	for i, e := range events {
		docs[i] = e
	}
	return s.write(ctx, func() error {
		if err := s.insertDisclosures(ctx, disclosureRows(events)); err != nil {
			return fmt.Errorf("insert audit events: %w", err)
		}
		if _, err := s.auditEvents.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true)); err != nil {
			return fmt.Errorf("insert audit events: %w", storeError(err))
		}
		return nil
	})
}

// disclosureRows returns the rows of the index of audit events by patient for
// events: one per event and patient whose data it disclosed (Disclosed) other than
// its subject (InsuranceNo), whose events the listing finds by the events' own
// index. An event that disclosed only its subject's data, as a read or a write of
// one record does, has none: it is stored with no write besides its own.
func disclosureRows(events []models.AuditEvent) []models.AuditDisclosure {
	var rows []models.AuditDisclosure
	for _, e := range events {
		for _, no := range e.Disclosed() {
			if no == e.InsuranceNo {
				continue
			}
			rows = append(rows, models.AuditDisclosure{ID: models.AuditDisclosureID(no, e.ID), InsuranceNo: no,
				Time: e.Time, Event: e.ID, Hash: e.Hash})
		}
	}
	return rows
}

// insertDisclosures stores rows; rows stored already (a retry's) are taken as they
// are (see insertMany). It returns the store's error.
func (s *DB) insertDisclosures(ctx context.Context, rows []models.AuditDisclosure) error {
	docs := make([]any, len(rows))
	for i, r := range rows {
		docs[i] = r
	}
	_, err := s.insertMany(ctx, s.auditDisclosures, docs)
	return err
}

// AuditEvent returns the event with the given id, or models.ErrNotFound.
func (s *DB) AuditEvent(ctx context.Context, id string) (models.AuditEvent, error) {
	e, err := decodeByID[models.AuditEvent](ctx, s, s.auditEvents, id, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return models.AuditEvent{}, fmt.Errorf("find audit event: %w", err)
	}
	return e, nil
}

// AuditEventsUpTo returns the events with the given ids, in their order, up to the
// first that is not stored: read together by the DB's side index when it has one,
// one by one by _id on a store that finds documents fast only so (see
// WithLoneIDFilters), else with one find. It returns the store's errors.
func (s *DB) AuditEventsUpTo(ctx context.Context, ids []string) ([]models.AuditEvent, error) {
	if s.side == nil && s.loneID {
		var events []models.AuditEvent
		for _, id := range ids {
			e, err := s.AuditEvent(ctx, id)
			if errors.Is(err, models.ErrNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
			events = append(events, e)
		}
		return events, nil
	}
	byID := make(map[string]models.AuditEvent, len(ids))
	add := func(raw bson.Raw) error {
		var e models.AuditEvent
		if err := bson.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("decode audit event: %w", err)
		}
		byID[e.ID] = e
		return nil
	}
	if s.side != nil {
		var bad error
		err := s.side.Documents(ctx, AuditEventsCollection, ids, func(raw bson.Raw) bool {
			bad = add(raw)
			return bad == nil
		})
		if err = cmp.Or(err, bad); err != nil {
			return nil, fmt.Errorf("find audit events: %w", storeError(err))
		}
	} else {
		cur, err := s.auditEvents.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil {
			return nil, fmt.Errorf("find audit events: %w", storeError(err))
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			if err := add(cur.Current); err != nil {
				return nil, err
			}
		}
		if err := cur.Err(); err != nil {
			return nil, fmt.Errorf("read audit events: %w", storeError(err))
		}
	}
	events := make([]models.AuditEvent, 0, len(byID))
	for _, id := range ids {
		e, ok := byID[id]
		if !ok {
			break
		}
		events = append(events, e)
	}
	return events, nil
}

// AuditCheckpoints returns how far each chain has been verified.
func (s *DB) AuditCheckpoints(ctx context.Context) ([]models.AuditCheckpoint, error) {
	return findAll[models.AuditCheckpoint](ctx, s.auditCheckpoints, bson.D{}, nil)
}

// findAll returns every document of coll filter selects, found with opts (nil for
// none). It returns the store's errors.
func findAll[T any](ctx context.Context, coll *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder) ([]T, error) {
	var optional []options.Lister[options.FindOptions]
	if opts != nil {
		optional = append(optional, opts)
	}
	cur, err := coll.Find(ctx, filter, optional...)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", coll.Name(), storeError(err))
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read %s: %w", coll.Name(), storeError(err))
	}
	return out, nil
}

// SaveAuditCheckpoint stores cp as its chain's checkpoint. It returns the store's error.
func (s *DB) SaveAuditCheckpoint(ctx context.Context, cp models.AuditCheckpoint) error {
	err := s.write(ctx, func() error {
		_, err := s.auditCheckpoints.ReplaceOne(ctx, bson.D{{Key: "_id", Value: cp.Chain}}, cp, options.Replace().SetUpsert(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("save audit checkpoint: %w", storeError(err))
	}
	return nil
}

// CountAuditEvents returns how many audit events are stored, without reading them:
// with the DB's side index when it has one, else the store's estimate from its metadata
// (exact on MongoDB after a clean shutdown; on FerretDB it reads every event). It
// returns the store's error.
func (s *DB) CountAuditEvents(ctx context.Context) (int64, error) {
	if s.side != nil {
		return s.side.Count(ctx, AuditEventsCollection)
	}
	n, err := s.auditEvents.EstimatedDocumentCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", storeError(err))
	}
	return n, nil
}

// AuditEventChains returns every chain that has events, with how many. It reads
// every event: it is for when the counts disagree.
func (s *DB) AuditEventChains(ctx context.Context) (map[string]int64, error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("find audit events: %w", err)
	}
	defer leave()
	cur, err := s.auditEvents.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "chain", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find audit events: %w", storeError(err))
	}
	defer cur.Close(ctx)
	chains := map[string]int64{}
	for cur.Next(ctx) {
		var e struct {
			Chain string `bson:"chain"`
		}
		if err := cur.Decode(&e); err != nil {
			return nil, fmt.Errorf("decode audit event: %w", err)
		}
		chains[e.Chain]++
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read audit events: %w", storeError(err))
	}
	return chains, nil
}

// AuditEvents returns one page of audit events matching q, newest first: a patient's
// by the index of audit events by patient (see patientAuditEvents); the others by the
// side index when the DB has one, else with auditEventsFind (see listing). It returns
// the store's errors.
func (s *DB) AuditEvents(ctx context.Context, q models.AuditQuery) (models.AuditPage, error) {
	if q.InsuranceNo != "" {
		return s.patientAuditEvents(ctx, q)
	}
	items, next, err := listing[models.AuditEvent]{
		what:  "audit events",
		coll:  s.auditEvents,
		limit: q.Limit,
		docs: func(ctx context.Context, side SideIndex, n int, each func(bson.Raw) bool) error {
			return side.AuditEventDocuments(ctx, q, n, each)
		},
		find: func() (bson.D, *options.FindOptionsBuilder) { return auditEventsFind(q) },
		keep: q.Matches,
		cursor: func(last models.AuditEvent) string {
			return models.Cursor{Date: last.Time, ID: last.ID, Query: q.Key()}.Encode()
		},
	}.page(ctx, s)
	if err != nil {
		return models.AuditPage{}, err
	}
	if items == nil {
		items = []models.AuditEvent{}
	}
	return models.AuditPage{Items: items, NextCursor: next}, nil
}

// auditEventsFind returns the find of the page of audit events q asks for: the
// filter, and the options sorting newest first, ties by id, and asking for one event
// more than the page, to tell whether the events go on past it.
func auditEventsFind(q models.AuditQuery) (bson.D, *options.FindOptionsBuilder) {
	filter := bson.D{}
	for _, f := range []struct{ key, value string }{
		{models.FieldKeyName, q.KeyName}, {models.FieldAction, q.Action},
	} {
		if f.value != "" {
			filter = append(filter, bson.E{Key: f.key, Value: f.value})
		}
	}
	return newestFirst(filter, q.From, q.To, q.After, q.Limit+1)
}

// newestFirst returns the find of the first n documents filter selects, newest first
// by their time, ties by _id, in the span [from, to) (a zero bound is none), after
// the cursor after (one with the _id the cursor names) when it is not nil.
func newestFirst(filter bson.D, from, to time.Time, after *models.Cursor, n int) (bson.D, *options.FindOptionsBuilder) {
	span := bson.D{}
	if !from.IsZero() {
		span = append(span, bson.E{Key: "$gte", Value: from})
	}
	if !to.IsZero() {
		span = append(span, bson.E{Key: "$lt", Value: to})
	}
	if len(span) > 0 {
		filter = append(filter, bson.E{Key: models.FieldTime, Value: span})
	}
	if after != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: models.FieldTime, Value: bson.D{{Key: "$lt", Value: after.Date}}}},
			bson.D{{Key: models.FieldTime, Value: after.Date}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
		}})
	}
	return filter, options.Find().
		SetSort(bson.D{{Key: models.FieldTime, Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(n))
}

// maxDisclosuresRead bounds how many rows of the index of audit events by patient
// one page reads: past it, a page whose other filters leave out most of the
// patient's events ends early, with a cursor.
const maxDisclosuresRead = 1000

// patientAuditEvents returns one page of the audit events of the patient q names
// that match q's other filters, newest first: the rows of the index of audit events
// by patient, a batch at a time (patientDisclosures), then each row's event by _id.
// A row whose event is missing, or is another (a row written for an event that was
// never stored, whose id a later event took), is left out. A page ends when it is
// full, when its events reach models.MaxPageBytes (but it always holds the first),
// or after maxDisclosuresRead rows; its cursor names the last row read. It returns
// the store's errors.
func (s *DB) patientAuditEvents(ctx context.Context, q models.AuditQuery) (models.AuditPage, error) {
	page := models.AuditPage{Items: []models.AuditEvent{}}
	cursor := func(last models.AuditDisclosure) *string {
		c := models.Cursor{Date: last.Time, ID: last.Event, Query: q.Key()}.Encode()
		return &c
	}
	after, size := q.After, 0
	var last models.AuditDisclosure
	for read := 0; read < maxDisclosuresRead; {
		rows, err := s.patientDisclosures(ctx, q, after, q.Limit+1)
		if err != nil {
			return models.AuditPage{}, err
		}
		for _, row := range rows {
			if len(page.Items) == q.Limit {
				page.NextCursor = cursor(last)
				return page, nil
			}
			raw, err := s.findByID(ctx, s.auditEvents, row.Event, bson.D{{Key: "_id", Value: row.Event}})
			if errors.Is(err, models.ErrNotFound) {
				last = row
				continue
			}
			if err != nil {
				return models.AuditPage{}, fmt.Errorf("find audit event: %w", err)
			}
			if len(page.Items) > 0 && size+len(raw) > models.MaxPageBytes {
				page.NextCursor = cursor(last)
				return page, nil
			}
			last = row
			var e models.AuditEvent
			if err := bson.Unmarshal(raw, &e); err != nil {
				return models.AuditPage{}, fmt.Errorf("decode audit event: %w", err)
			}
			if e.Hash == row.Hash && q.Matches(e) {
				page.Items = append(page.Items, e)
				size += len(raw)
			}
		}
		if len(rows) <= q.Limit {
			return page, nil
		}
		read += len(rows)
		c := models.Cursor{Date: last.Time, ID: last.Event}
		after = &c
	}
	page.NextCursor = cursor(last)
	return page, nil
}

// patientDisclosures returns the first n rows of the index of audit events by
// patient of the patient q names, newest first, in q's time span, after the event
// after names, with a row standing for each event whose subject they are (see
// models.SubjectDisclosure) merged in: by the side index when the DB has one, else
// with two finds the store filters and sorts, admitted by the scan gate. It returns
// the store's errors.
func (s *DB) patientDisclosures(ctx context.Context, q models.AuditQuery, after *models.Cursor, n int) ([]models.AuditDisclosure, error) {
	q.After = after
	var rows, subjects []models.AuditDisclosure
	if s.side != nil {
		var err error
		if rows, err = s.side.AuditDisclosures(ctx, q, n); err != nil {
			return nil, fmt.Errorf("find audit disclosures: %w", storeError(err))
		}
		if subjects, err = s.side.AuditSubjects(ctx, q, n); err != nil {
			return nil, fmt.Errorf("find audit events: %w", storeError(err))
		}
		return mergeDisclosures(subjects, rows, n), nil
	}
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("find audit disclosures: %w", err)
	}
	defer leave()
	filter, opts := auditDisclosuresFind(q, n)
	if rows, err = findAll[models.AuditDisclosure](ctx, s.auditDisclosures, filter, opts); err != nil {
		return nil, err
	}
	filter, opts = auditSubjectsFind(q, n)
	events, err := findAll[models.AuditEvent](ctx, s.auditEvents, filter, opts.SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldTime, Value: 1}, {Key: "hash", Value: 1},
	}))
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		subjects = append(subjects, models.SubjectDisclosure(e))
	}
	return mergeDisclosures(subjects, rows, n), nil
}

// mergeDisclosures merges two lists of rows of the index of audit events by patient,
// each newest first, ties by id descending, into the first n of both in that order.
// A row of both (an event stored when the subject had a row of its own) is taken
// once, from subjects, which are read from the events themselves.
func mergeDisclosures(subjects, rows []models.AuditDisclosure, n int) []models.AuditDisclosure {
	after := func(a, b models.AuditDisclosure) int { // < 0 when a comes first
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
	}
	out := make([]models.AuditDisclosure, 0, min(n, len(subjects)+len(rows)))
	for len(out) < n && (len(subjects) > 0 || len(rows) > 0) {
		switch {
		case len(rows) == 0 || len(subjects) > 0 && after(subjects[0], rows[0]) < 0:
			out, subjects = append(out, subjects[0]), subjects[1:]
		case len(subjects) == 0 || after(rows[0], subjects[0]) < 0:
			out, rows = append(out, rows[0]), rows[1:]
		default: // the same row
			out, subjects, rows = append(out, subjects[0]), subjects[1:], rows[1:]
		}
	}
	return out
}

// auditSubjectsFind returns the find of the first n audit events whose subject is
// the patient q names, newest first, ties by id, in q's time span, after q's cursor.
func auditSubjectsFind(q models.AuditQuery, n int) (bson.D, *options.FindOptionsBuilder) {
	return newestFirst(bson.D{{Key: models.FieldInsuranceNo, Value: q.InsuranceNo}}, q.From, q.To, q.After, n)
}

// auditDisclosuresFind returns the find of the first n rows of the index of audit
// events by patient of the patient q names, newest first, ties by _id (and so by
// event id), in q's time span, after q's cursor.
func auditDisclosuresFind(q models.AuditQuery, n int) (bson.D, *options.FindOptionsBuilder) {
	var after *models.Cursor
	if q.After != nil {
		after = &models.Cursor{Date: q.After.Date, ID: models.AuditDisclosureID(q.InsuranceNo, q.After.ID)}
	}
	return newestFirst(bson.D{{Key: models.FieldInsuranceNo, Value: q.InsuranceNo}}, q.From, q.To, after, n)
}

// AuditChainHeads returns the head of every chain.
func (s *DB) AuditChainHeads(ctx context.Context) ([]models.AuditChainHead, error) {
	return findAll[models.AuditChainHead](ctx, s.auditChains, bson.D{}, nil)
}

// migrateAuditDisclosures stores the rows of the index of audit events by patient of
// every stored event that names a patient, in batches; rows stored already are left
// as they are, so that an interrupted run resumes. It returns the store's errors.
func migrateAuditDisclosures(ctx context.Context, s *DB) error {
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: models.FieldInsuranceNo, Value: bson.D{{Key: "$exists", Value: true}}}},
		bson.D{{Key: "patients", Value: bson.D{{Key: "$exists", Value: true}}}},
	}}}
	cur, err := s.auditEvents.Find(ctx, filter, options.Find().SetProjection(bson.D{
		{Key: "_id", Value: 1}, {Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldTime, Value: 1},
		{Key: "hash", Value: 1}, {Key: "patients", Value: 1},
	}))
	if err != nil {
		return fmt.Errorf("find audit events: %w", storeError(err))
	}
	defer cur.Close(ctx)
	var batch []models.AuditEvent
	flush := func() error {
		err := s.insertDisclosures(ctx, disclosureRows(batch))
		batch = batch[:0]
		return err
	}
	for cur.Next(ctx) {
		var e models.AuditEvent
		if err := cur.Decode(&e); err != nil {
			return fmt.Errorf("decode audit event: %w", err)
		}
		batch = append(batch, e)
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read audit events: %w", storeError(err))
	}
	return flush()
}
