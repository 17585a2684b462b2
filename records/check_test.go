package records_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// archive is a store of interactions and of the archive of their versions, in
// memory: each version's document is its record's id and version.
type archive struct {
	stored   map[models.RecordKey]int
	archived map[models.RecordKey]map[int]string
}

func versionDoc(key models.RecordKey, v int) string {
	return fmt.Sprintf("%s@%d", key.InteractionID, v)
}

func (a *archive) EachRecord(_ context.Context, fn func(models.RecordKey, int, []byte) error) error {
	for key, v := range a.stored {
		if err := fn(key, v, []byte(versionDoc(key, v))); err != nil {
			return err
		}
	}
	return nil
}

func (a *archive) ArchivedVersions(context.Context) (map[models.RecordKey][]int, error) {
	out := map[models.RecordKey][]int{}
	for key, versions := range a.archived {
		for v := 1; v <= 100; v++ {
			if _, ok := versions[v]; ok {
				out[key] = append(out[key], v)
			}
		}
	}
	return out, nil
}

func (a *archive) ArchivedDocument(_ context.Context, key models.RecordKey, n int) ([]byte, error) {
	d, ok := a.archived[key][n]
	if !ok {
		return nil, models.ErrNotFound
	}
	return []byte(d), nil
}

func (a *archive) StoredVersion(_ context.Context, key models.RecordKey) (int, error) {
	v, ok := a.stored[key]
	if !ok {
		return 0, models.ErrNotFound
	}
	return v, nil
}

// TestCheckArchive holds the archive to what the version protocol puts there: each
// case is one record, and either no finding or one naming it and saying why.
func TestCheckArchive(t *testing.T) {
	key := models.RecordKey{InsuranceNo: "P1", InteractionID: "visit-1"}
	versions := func(vs ...int) map[int]string {
		m := map[int]string{}
		for _, v := range vs {
			m[v] = versionDoc(key, v)
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		stored   int // 0: not stored
		archived map[int]string
		want     string // "" for no finding
	}{
		{"never amended", 1, nil, ""},
		{"first amendment cut short after version 1", 1, versions(1), ""},
		{"first amendment cut short after version 2", 1, versions(1, 2), ""},
		{"amended twice", 3, versions(1, 2, 3), ""},
		{"amendment cut short before the record moved", 3, versions(1, 2, 3, 4), ""},
		{"amended, nothing archived", 3, nil, "at version 3, and the archive holds none of its versions"},
		{"latest version missing", 3, versions(1, 2), "lacks version 3"},
		{"earlier versions missing", 4, versions(1, 4), "lacks version 2 and 3"},
		{"a gap above the record", 2, versions(1, 2, 4), "lacks version 3"},
		{"latest version differs", 2, map[int]string{1: versionDoc(key, 1), 2: "changed"}, "version 2 differs from the stored record"},
		{"never amended, version 1 differs", 1, map[int]string{1: "changed"}, "version 1 differs from the stored record"},
		{"archived, not stored", 0, versions(1, 2), "the archive holds 2 versions of it, and it is not stored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &archive{stored: map[models.RecordKey]int{}, archived: map[models.RecordKey]map[int]string{}}
			if tc.stored > 0 {
				a.stored[key] = tc.stored
			}
			if tc.archived != nil {
				a.archived[key] = tc.archived
			}
			// A record beside it, amended and archived as it should be.
			other := models.RecordKey{InsuranceNo: "P2", InteractionID: "visit-2"}
			a.stored[other] = 2
			a.archived[other] = map[int]string{1: versionDoc(other, 1), 2: versionDoc(other, 2)}
			findings, err := records.CheckArchive(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(findings) > 0 {
					t.Errorf("findings %q, want none", findings)
				}
				return
			}
			if len(findings) != 1 || !strings.Contains(findings[0], "interaction visit-1: ") || !strings.Contains(findings[0], tc.want) {
				t.Errorf("findings %q, want one naming visit-1 and saying %q", findings, tc.want)
			}
		})
	}
}
