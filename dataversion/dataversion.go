// Package dataversion names the state of the store's records, so that what is
// computed from them can be kept until they change: the patients and the
// interactions, every version of them that reads can return.
//
// A Version is read from the store itself, never kept by one process alone, so that
// it moves with the writes of every process that writes the records: the server's,
// a second server's on the same MongoDB, the seed tool's, a FHIR import's. Two
// reads that give equal Versions saw the same records. A reader reads the Version
// first and the records after it: what it computes may then be newer than the
// Version says, never older, and is kept under that Version.
//
// How the store keeps it, and how stale it can be:
//
//   - On the embedded store, the side index counts, by triggers it gives the tables
//     of the patients and of the interactions, in the same SQLite transaction as
//     the write, every row updated or deleted, by whichever process, and notes
//     each patient's chart at the count of its last such change; rows inserted it
//     tells by the tables' rowids, which SQLite gives each new row larger than any
//     before (see sideindex). A Version read after a write has returned differs
//     from every Version read before it: no staleness.
//   - On MongoDB, the repository counts each write of patient or interaction records
//     in a document of the store's (Collection) once the write has returned, by an
//     atomic $inc. A Version read after that count differs from every Version read
//     before the write. A write whose count did not land (the store became
//     unreachable between the two, the process died) is seen at the next write of
//     any record; writes made outside the service (mongosh) likewise. What is kept
//     under a MongoDB Version is therefore dropped after MaxAge at the latest.
//
// A chart's Version (one patient's record and interactions) moves with every
// change of that chart, and only with those: on the embedded store it is the count
// at the chart's last update or deletion and the rowids of its rows; on MongoDB, a
// digest of the versions and update times of the patient record and of each of its
// interactions.
package dataversion

import (
	"strconv"
	"time"
)

// Collection is the MongoDB collection holding the count of the changes of the
// records (see the package's documentation).
const Collection = "data_versions"

// MaxAge is how long what is kept under a Version of a store that counts its
// changes after they are made (MongoDB) may be served: the bound on how long a
// change whose count did not land goes unseen.
const MaxAge = 10 * time.Minute

// Version is the state of a store's records, or of one patient's chart. The zero
// Version is the state of no records known; Versions compare with ==.
type Version struct {
	// epoch names the counter: a store's, recreated or another store's counter
	// never gives a Version equal to this one's.
	epoch string
	// changes is how many changes the counter had counted.
	changes int64
	// marks are where the store's counter stood in each of its parts, when it has
	// parts (see Marked).
	marks [2]int64
	// exact tells whether the store counts every change in the write itself.
	exact bool
}

// Counted returns the Version of a counter named epoch that had counted changes.
// exact tells whether the store counts each change in the write itself (the
// embedded store), or after it (MongoDB: see MaxAge).
func Counted(epoch string, changes int64, exact bool) Version {
	return Version{epoch: epoch, changes: changes, exact: exact}
}

// Marked returns the Version of a store that counts each change in the write
// itself, whose counter named epoch had counted changes, and stood at marks in its
// two parts (the embedded store's: the last rowid of the table of the patients, and
// of the interactions), from which the store tells what changed since.
func Marked(epoch string, changes int64, marks [2]int64) Version {
	return Version{epoch: epoch, changes: changes, marks: marks, exact: true}
}

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v == Version{} }

// Epoch returns the name of v's counter.
func (v Version) Epoch() string { return v.epoch }

// Changes returns how many changes v's counter had counted.
func (v Version) Changes() int64 { return v.changes }

// Marks returns where v's counter stood in its parts (see Marked).
func (v Version) Marks() [2]int64 { return v.marks }

// Exact reports whether v's store counts each change in the write itself, so that
// what is kept under v may be served for as long as v is current.
func (v Version) Exact() bool { return v.exact }

// String returns v as text, for an entity tag or a log: its epoch, its count, and
// its marks when it has some. Two Versions of one store that differ give texts
// that differ.
func (v Version) String() string {
	s := v.epoch + ":" + strconv.FormatInt(v.changes, 10)
	if v.marks != [2]int64{} {
		s += ":" + strconv.FormatInt(v.marks[0], 10) + ":" + strconv.FormatInt(v.marks[1], 10)
	}
	return s
}

// Fresh reports whether what was computed under v at computed may still be served
// at now while v is current: always on a store that counts exactly, for MaxAge
// otherwise.
func (v Version) Fresh(computed, now time.Time) bool {
	return v.exact || now.Sub(computed) < MaxAge
}
