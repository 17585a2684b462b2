package repository

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// EachRecord calls fn with every stored record of the kind: its key, its version (1
// for a record stored before versions existed) and its document as the store holds
// it (BSON). It reads the whole collection, for the check of the archive. It stops
// at fn's first error and returns it, and returns the store's errors.
func (s *Versions[T]) EachRecord(ctx context.Context, fn func(key models.RecordKey, version int, doc []byte) error) error {
	leave, err := s.db.scans.Enter(ctx)
	if err != nil {
		return fmt.Errorf("find records: %w", err)
	}
	defer leave()
	cur, err := s.records.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("find records: %w", storeError(err))
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		doc := cur.Current
		id, _ := doc.Lookup("_id").StringValueOK()
		key := models.RecordKey{InsuranceNo: id}
		if s.byPatient {
			key.InsuranceNo, _ = doc.Lookup(models.FieldInsuranceNo).StringValueOK()
			key.InteractionID = id
		}
		version := int64(1)
		if v, ok := doc.Lookup("version").AsInt64OK(); ok {
			version = v
		}
		if err := fn(key, int(version), slices.Clone(doc)); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read records: %w", storeError(err))
	}
	return nil
}

// ArchivedVersions returns the versions the archive holds of each record of the
// kind, by the record's key, in ascending order. It reads the whole archive,
// without the documents, for the check of the archive. It returns the store's
// errors.
func (s *Versions[T]) ArchivedVersions(ctx context.Context) (map[models.RecordKey][]int, error) {
	leave, err := s.db.scans.Enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("find versions: %w", err)
	}
	defer leave()
	cur, err := s.archive.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: models.FieldInsuranceNo, Value: 1}, {Key: "interaction_id", Value: 1}, {Key: "version", Value: 1},
	}))
	if err != nil {
		return nil, fmt.Errorf("find versions: %w", storeError(err))
	}
	defer cur.Close(ctx)
	versions := map[models.RecordKey][]int{}
	for cur.Next(ctx) {
		var v struct {
			InsuranceNo   string `bson:"insurance_no"`
			InteractionID string `bson:"interaction_id"`
			Version       int    `bson:"version"`
		}
		if err := cur.Decode(&v); err != nil {
			return nil, fmt.Errorf("decode version: %w", err)
		}
		key := models.RecordKey{InsuranceNo: v.InsuranceNo, InteractionID: v.InteractionID}
		versions[key] = append(versions[key], v.Version)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read versions: %w", storeError(err))
	}
	for _, vs := range versions {
		slices.Sort(vs)
	}
	return versions, nil
}

// ArchivedDocument returns version n of the record key as the archive holds it
// (BSON), or models.ErrNotFound. It returns the store's errors.
func (s *Versions[T]) ArchivedDocument(ctx context.Context, key models.RecordKey, n int) ([]byte, error) {
	raw, err := s.archive.FindOne(ctx, s.versionFilter(key, n)).Raw()
	if err != nil {
		return nil, fmt.Errorf("find version %d: %w", n, storeError(err))
	}
	doc, ok := raw.Lookup("document").DocumentOK()
	if !ok {
		return nil, fmt.Errorf("version %d holds no document", n)
	}
	return slices.Clone(doc), nil
}

// StoredVersion returns the version of the stored record key, or
// models.ErrNotFound. It returns the store's errors.
func (s *Versions[T]) StoredVersion(ctx context.Context, key models.RecordKey) (int, error) {
	filter := bson.D{{Key: "_id", Value: recordID(key)}}
	if s.byPatient {
		filter = s.db.scoped(key.InsuranceNo, filter)
	}
	raw, err := s.records.FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}})).Raw()
	if err != nil {
		return 0, fmt.Errorf("find record: %w", storeError(err))
	}
	if v, ok := raw.Lookup("version").AsInt64OK(); ok {
		return int(v), nil
	}
	return 1, nil
}
