package repository

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/models"
)

// recordsVersionID is the _id of the document of dataversion.Collection that counts
// the changes of the patients and the interactions.
const recordsVersionID = "records"

// announceTimeout bounds the count of a write that has returned: it runs even when
// the write's context has ended (the write may have landed all the same).
const announceTimeout = 5 * time.Second

// DataVersion returns the version of the records of the patients and the
// interactions (see package dataversion): by the side index's count when the DB has
// one, else from the document the writes of this service count their changes in.
// It returns the store's errors.
func (s *DB) DataVersion(ctx context.Context) (dataversion.Version, error) {
	if s.side != nil {
		v, err := s.side.DataVersion(ctx)
		if err != nil {
			return dataversion.Version{}, fmt.Errorf("read the version of the records: %w", storeError(err))
		}
		return v, nil
	}
	var doc struct {
		N     int64  `bson:"n"`
		Token string `bson:"token"`
	}
	err := s.dataVersions.FindOne(ctx, bson.D{{Key: "_id", Value: recordsVersionID}}).Decode(&doc)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return dataversion.Version{}, fmt.Errorf("read the version of the records: %w", storeError(err))
	}
	return dataversion.Counted(doc.Token, doc.N, false), nil
}

// announce counts a change of the records, once a write of patients or interactions
// has returned, successful or not (a write that failed may have landed): on a store
// without the side index's count, it adds one to the count of the changes and gives
// it a new random token, so that a count that two writers raised to the same number
// at once (a store whose updates are not atomic) still differs from every count
// before. A count that fails is not reported: the write stands, and what is kept
// under the version before it is dropped after dataversion.MaxAge.
func (s *DB) announce(ctx context.Context) {
	if s.side != nil {
		return // the side index's triggers count the write in the write itself
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), announceTimeout)
	defer cancel()
	var token [12]byte
	_, _ = rand.Read(token[:])
	_, _ = s.dataVersions.UpdateOne(ctx, bson.D{{Key: "_id", Value: recordsVersionID}}, bson.D{
		{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}},
		{Key: "$set", Value: bson.D{{Key: "token", Value: hex.EncodeToString(token[:])}}},
	}, options.UpdateOne().SetUpsert(true))
}

// ChartVersion returns the version of patient no's chart, their record and their
// interactions (see package dataversion): by the side index's count when the DB has
// one, else a digest of the version and update time of the record and of each
// interaction, read with the insurance number (the shard key) and the index of the
// history. It returns the store's errors.
func (s *DB) ChartVersion(ctx context.Context, no string) (dataversion.Version, error) {
	if s.side != nil {
		v, err := s.side.ChartVersion(ctx, no)
		if err != nil {
			return dataversion.Version{}, fmt.Errorf("read the version of a chart: %w", storeError(err))
		}
		return v, nil
	}
	patient, err := s.stamps(ctx, s.patients, bson.D{{Key: "_id", Value: no}})
	if err != nil {
		return dataversion.Version{}, err
	}
	visits, err := s.stamps(ctx, s.interactions, bson.D{{Key: models.FieldInsuranceNo, Value: no}})
	if err != nil {
		return dataversion.Version{}, err
	}
	slices.SortFunc(visits, func(a, b stamp) int { return cmp.Compare(a.ID, b.ID) })
	h := sha256.New()
	for _, st := range append(patient, visits...) {
		h.Write([]byte(st.ID))
		h.Write([]byte{0})
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(st.Version)))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(st.UpdatedAt.UnixMilli())))
	}
	return dataversion.Counted(hex.EncodeToString(h.Sum(nil)[:16]), int64(len(visits)), false), nil
}

// stamp is what the version of a chart is a digest of, of each of its records.
type stamp struct {
	ID        string    `bson:"_id"`
	Version   int64     `bson:"version"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// stamps returns the stamps of the records filter selects of coll, once the scan
// gate admits the read. It returns the store's errors.
func (s *DB) stamps(ctx context.Context, coll *mongo.Collection, filter bson.D) ([]stamp, error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the version of a chart: %w", err)
	}
	defer leave()
	fields := options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "version", Value: 1}, {Key: "updated_at", Value: 1}})
	out, err := findAll[stamp](ctx, coll, filter, fields)
	if err != nil {
		return nil, fmt.Errorf("read the version of a chart: %w", err)
	}
	return out, nil
}

// ChangedSince returns the insurance numbers of the charts changed since v, a
// version DataVersion returned, when the store tells them (the side index's count);
// false when it does not, or not for v. It returns the store's errors.
func (s *DB) ChangedSince(ctx context.Context, v dataversion.Version) ([]string, bool, error) {
	if s.side == nil {
		return nil, false, nil
	}
	nos, ok, err := s.side.ChangedSince(ctx, v)
	if err != nil {
		return nil, false, fmt.Errorf("read the changed charts: %w", storeError(err))
	}
	return nos, ok, nil
}
