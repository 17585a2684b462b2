package app

import (
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// MongoSettings are how the service asks MongoDB to keep and read its data. The
// defaults are the safe ones for health data: a write is acknowledged once a
// majority of a replica set has it in its journal, so it survives a fail-over; reads
// see only what a majority has, from the primary, so a record just written is read
// back and never rolled back. They override what MONGODB_URI says of the same.
type MongoSettings struct {
	// WriteConcern is majority or a number of members, 1 or more
	// (MONGODB_WRITE_CONCERN, default majority).
	WriteConcern string
	// Journal waits for the journal before acknowledging (MONGODB_JOURNAL, default
	// true).
	Journal bool
	// ReadConcern is majority or local (MONGODB_READ_CONCERN, default majority).
	ReadConcern string
	// ReadPreference is primary or primaryPreferred (MONGODB_READ_PREFERENCE,
	// default primary): the service reads what it has just written, and checks
	// versions before it writes, so it never reads from secondaries that may lag,
	// but primaryPreferred lets reads go on, possibly stale, during a fail-over.
	ReadPreference string
	// OperationTimeout bounds each operation that has no deadline of its own: the
	// background work, the commands (MONGODB_OPERATION_TIMEOUT, default 30s).
	// Requests end within REQUEST_TIMEOUT whatever it is.
	OperationTimeout time.Duration
}

// mongoSettingsFrom reads the MongoSettings through get, which applies defaults. It
// returns an error naming the first variable that does not parse.
func mongoSettingsFrom(get func(key, def string) string) (MongoSettings, error) {
	s := MongoSettings{
		WriteConcern:   get("MONGODB_WRITE_CONCERN", "majority"),
		ReadConcern:    get("MONGODB_READ_CONCERN", "majority"),
		ReadPreference: get("MONGODB_READ_PREFERENCE", "primary"),
	}
	if n, err := strconv.Atoi(s.WriteConcern); s.WriteConcern != "majority" && (err != nil || n < 1) {
		return s, fmt.Errorf("MONGODB_WRITE_CONCERN: %q is not majority or a number of members of 1 or more "+
			"(an unacknowledged write could be lost unseen)", s.WriteConcern)
	}
	var err error
	if s.Journal, err = strconv.ParseBool(get("MONGODB_JOURNAL", "true")); err != nil {
		return s, fmt.Errorf("MONGODB_JOURNAL: %q is not true or false", get("MONGODB_JOURNAL", ""))
	}
	if s.ReadConcern != "majority" && s.ReadConcern != "local" {
		return s, fmt.Errorf("MONGODB_READ_CONCERN: %q is not majority or local", s.ReadConcern)
	}
	if s.ReadPreference != "primary" && s.ReadPreference != "primaryPreferred" {
		return s, fmt.Errorf("MONGODB_READ_PREFERENCE: %q is not primary or primaryPreferred "+
			"(the service reads what it has just written, which a secondary may not have yet)", s.ReadPreference)
	}
	if s.OperationTimeout, err = time.ParseDuration(get("MONGODB_OPERATION_TIMEOUT", "30s")); err != nil || s.OperationTimeout <= 0 {
		return s, fmt.Errorf("MONGODB_OPERATION_TIMEOUT: %q is not a positive duration such as 30s", get("MONGODB_OPERATION_TIMEOUT", ""))
	}
	return s, nil
}

// apply sets the settings on opts, with retryable writes and reads on.
func (s MongoSettings) apply(opts *options.ClientOptions) {
	wc := &writeconcern.WriteConcern{W: s.WriteConcern, Journal: &s.Journal}
	if n, err := strconv.Atoi(s.WriteConcern); err == nil {
		wc.W = n
	}
	rc := readconcern.Majority()
	if s.ReadConcern == "local" {
		rc = readconcern.Local()
	}
	rp := readpref.Primary()
	if s.ReadPreference == "primaryPreferred" {
		rp = readpref.PrimaryPreferred()
	}
	opts.SetWriteConcern(wc).SetReadConcern(rc).SetReadPreference(rp).
		SetRetryWrites(true).SetRetryReads(true).SetTimeout(s.OperationTimeout)
}

// logAttrs are the settings as the start-up log line gives them.
func (s MongoSettings) logAttrs() []any {
	return []any{"write_concern", fmt.Sprintf("w=%s, journal=%t", s.WriteConcern, s.Journal),
		"read_concern", s.ReadConcern, "read_preference", s.ReadPreference,
		"operation_timeout", s.OperationTimeout.String(), "retryable_writes", true}
}
