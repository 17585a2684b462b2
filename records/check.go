package records

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/clinic/interactions/models"
)

// ArchiveStore reads the records of one kind and their archive whole, for
// CheckArchive.
type ArchiveStore interface {
	// EachRecord calls fn with every stored record: its key, its version and its
	// document as stored. It stops at fn's first error.
	EachRecord(ctx context.Context, fn func(key models.RecordKey, version int, doc []byte) error) error
	// ArchivedVersions returns the versions the archive holds of each record, in
	// ascending order.
	ArchivedVersions(ctx context.Context) (map[models.RecordKey][]int, error)
	// ArchivedDocument returns version n of the record key as the archive holds
	// it, or models.ErrNotFound.
	ArchivedDocument(ctx context.Context, key models.RecordKey, n int) ([]byte, error)
	// StoredVersion returns the version of the stored record key, or
	// models.ErrNotFound.
	StoredVersion(ctx context.Context, key models.RecordKey) (int, error)
}

// CheckArchive checks that the archive holds what the version protocol (see
// commit) puts there, and returns what it does not, one finding a line, each naming
// the record. The protocol archives a record's versions only once it is amended:
// the first amendment archives version 1, then each amendment archives its new
// version before the record moves to it. So, for every stored record at version n:
//
//   - amended (n ≥ 2), the archive holds every version from 1 to n, and its
//     version n is the stored record, byte for byte;
//   - never amended (n = 1), the archive holds none of its versions, or version 1
//     alone (a first amendment cut short once it archived it), which is then the
//     stored record, byte for byte;
//   - versions above n (an amendment cut short before the record moved, or a
//     version the next read moves the record to) follow n without a gap;
//
// and the archive holds no version of a record that is not stored.
//
// The records are read before the archive, so that an amendment made meanwhile
// (which archives its version before it moves the record) is no finding. It returns
// the store's errors.
func CheckArchive(ctx context.Context, store ArchiveStore) ([]string, error) {
	type stored struct {
		version int
		digest  [sha256.Size]byte
	}
	records := map[models.RecordKey]stored{}
	err := store.EachRecord(ctx, func(key models.RecordKey, version int, doc []byte) error {
		records[key] = stored{version: version, digest: sha256.Sum256(doc)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	archived, err := store.ArchivedVersions(ctx)
	if err != nil {
		return nil, err
	}
	var findings []string
	for _, key := range slices.SortedFunc(maps.Keys(records), compareKeys) {
		rec, versions := records[key], archived[key]
		if len(versions) == 0 {
			if rec.version >= 2 {
				findings = append(findings, fmt.Sprintf("%s: at version %d, and the archive holds none of its versions", recordName(key), rec.version))
			}
			continue
		}
		if missing := gaps(versions, rec.version); len(missing) > 0 {
			findings = append(findings, fmt.Sprintf("%s: at version %d, and the archive lacks version %s", recordName(key), rec.version, list(missing)))
		}
		if !slices.Contains(versions, rec.version) {
			continue // reported among the gaps
		}
		doc, err := store.ArchivedDocument(ctx, key, rec.version)
		if err != nil {
			return nil, err
		}
		if sha256.Sum256(doc) != rec.digest {
			findings = append(findings, fmt.Sprintf("%s: the archive's version %d differs from the stored record", recordName(key), rec.version))
		}
	}
	for _, key := range slices.SortedFunc(maps.Keys(archived), compareKeys) {
		if _, ok := records[key]; ok {
			continue
		}
		// Created and amended since the records were read, or not stored at all.
		_, err := store.StoredVersion(ctx, key)
		switch {
		case errors.Is(err, models.ErrNotFound):
			findings = append(findings, fmt.Sprintf("%s: the archive holds %d versions of it, and it is not stored", recordName(key), len(archived[key])))
		case err != nil:
			return nil, err
		}
	}
	return findings, nil
}

// gaps returns the versions missing from versions (ascending) between 1 and the
// greater of n and the last of them.
func gaps(versions []int, n int) []int {
	var missing []int
	top := max(n, versions[len(versions)-1])
	for v, i := 1, 0; v <= top; v++ {
		for i < len(versions) && versions[i] < v {
			i++
		}
		if i == len(versions) || versions[i] != v {
			missing = append(missing, v)
		}
	}
	return missing
}

// list writes versions as "3" or "2, 5 and 7", the first ten of them.
func list(versions []int) string {
	words := make([]string, 0, 11)
	for _, v := range versions[:min(len(versions), 10)] {
		words = append(words, strconv.Itoa(v))
	}
	if len(versions) > 10 {
		words = append(words, fmt.Sprintf("%d more", len(versions)-10))
	}
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// recordName names the record key in a finding: an interaction by its id, a patient
// by its insurance number.
func recordName(key models.RecordKey) string {
	if key.InteractionID != "" {
		return "interaction " + key.InteractionID
	}
	return "patient " + key.InsuranceNo
}

func compareKeys(a, b models.RecordKey) int {
	return cmp.Or(cmp.Compare(a.InteractionID, b.InteractionID), cmp.Compare(a.InsuranceNo, b.InsuranceNo))
}
