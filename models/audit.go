package models

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// AuditEvent records one request to the API, or one act of a command beside it (a key
// made, an import): who, what, on whose data, and how it ended. Events form hash
// chains, one per process: each holds the hash of the one before it in its chain,
// and sequence numbers have no gaps.
type AuditEvent struct {
	// ID is the chain and the sequence number, "<chain>:<seq>" with seq zero-padded.
	ID            string    `json:"id" bson:"_id" validate:"required"`
	Chain         string    `json:"chain" bson:"chain" validate:"required"`
	Seq           int64     `json:"seq" bson:"seq" validate:"required"`
	Time          time.Time `json:"time" bson:"time" validate:"required" format:"date-time"`
	KeyName       string    `json:"key_name,omitempty" bson:"key_name,omitempty"`
	Role          Role      `json:"role,omitempty" bson:"role,omitempty"`
	Action        string    `json:"action" bson:"action" validate:"required" example:"interactions.read"`
	Method        string    `json:"method" bson:"method" validate:"required" example:"GET"`
	Route         string    `json:"route" bson:"route" validate:"required" example:"/api/v1/interactions/:id"`
	InsuranceNo   string    `json:"insurance_no,omitempty" bson:"insurance_no,omitempty"`
	InteractionID string    `json:"interaction_id,omitempty" bson:"interaction_id,omitempty"`
	Status        int       `json:"status" bson:"status" validate:"required" example:"200"`
	ClientIP      string    `json:"client_ip" bson:"client_ip" validate:"required"`
	// RequestID is the id the server gave the request.
	RequestID string `json:"request_id" bson:"request_id" validate:"required"`
	// ClientRequestID is the X-Request-Id the client sent, when it was a plain id.
	ClientRequestID string `json:"client_request_id,omitempty" bson:"client_request_id,omitempty"`
	// Counts are what an event stands for more than one of: the requests refused in
	// a window, the records of an import.
	Counts map[string]int `json:"counts,omitempty" bson:"counts,omitempty"`
	// Anchors are the ends of the other chains as this one saw them, recorded by the
	// first event of a chain and from time to time after: removing what they name
	// breaks the chain that recorded them.
	Anchors  []AuditAnchor `json:"anchors,omitempty" bson:"anchors,omitempty"`
	PrevHash string        `json:"prev_hash" bson:"prev_hash" validate:"required"`
	Hash     string        `json:"hash" bson:"hash" validate:"required"`
	// Patients are the insurance numbers of the patients whose data the answer
	// disclosed, sorted: all of them, or the first MaxEventPatients when there were
	// more (see PatientsCount).
	Patients []string `json:"patients,omitempty" bson:"patients,omitempty"`
	// PatientsCount, set only when the answer disclosed more patients than Patients
	// holds, is how many it disclosed.
	PatientsCount int `json:"patients_count,omitempty" bson:"patients_count,omitempty" example:"180"`
	// PatientsDigest, set with PatientsCount, is the hex SHA-256 of the sorted list of
	// all of them, each written "<length>:<insurance number>;": the audit listing by
	// insurance number finds every one, and they hash to it.
	PatientsDigest string `json:"patients_digest,omitempty" bson:"patients_digest,omitempty"`

	// disclosed is every patient disclosed, sorted, until the event is stored.
	disclosed []string
}

// MaxEventPatients is the most patients an audit event lists (Patients): the largest
// page of any listing.
const MaxEventPatients = MaxPageSize

// MaxDisclosedPatients is the most patients the index of audit events by patient
// holds for one event (Disclosed). No route's answer names as many (a page holds at
// most MaxPageSize records, and an aggregate fewer): only insurance numbers written
// into records' own fields could, and they would cost every read of those records
// a row each.
const MaxDisclosedPatients = 10 * MaxPageSize

// SetPatients records in e that its answer disclosed the patients nos (repeats, and
// what is not an insurance number (see ValidIdentifier), are dropped): Patients, and
// PatientsCount and PatientsDigest past MaxEventPatients. Disclosed returns them all,
// up to MaxDisclosedPatients, until e is stored.
func (e *AuditEvent) SetPatients(nos []string) {
	var all []string
	for _, no := range nos {
		if ValidIdentifier(no) {
			all = append(all, no)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	e.disclosed = all[:min(len(all), MaxDisclosedPatients)]
	e.Patients, e.PatientsCount, e.PatientsDigest = nil, 0, ""
	if len(all) == 0 {
		return
	}
	e.Patients = all[:min(len(all), MaxEventPatients):min(len(all), MaxEventPatients)]
	if len(all) > MaxEventPatients {
		e.PatientsCount, e.PatientsDigest = len(all), PatientsDigest(all)
	}
}

// Disclosed returns every patient e's answer disclosed, sorted: those given to
// SetPatients (the first MaxDisclosedPatients), or, for an event read back from the
// store, Patients.
func (e AuditEvent) Disclosed() []string {
	if e.disclosed != nil {
		return e.disclosed
	}
	return e.Patients
}

// PatientsDigest returns the hex SHA-256 of sorted, each insurance number written
// "<length>:<insurance number>;".
func PatientsDigest(sorted []string) string {
	h := sha256.New()
	for _, no := range sorted {
		fmt.Fprintf(h, "%d:%s;", len(no), no)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditDisclosure is a row of the index of the audit events by patient: the event
// Event named the patient InsuranceNo as its subject, or disclosed their data. Rows
// are written before their events; a row whose event is missing, or whose Hash is
// not its event's, belongs to an event that was never stored.
type AuditDisclosure struct {
	// ID is "<insurance number>|<event id>".
	ID          string    `bson:"_id"`
	InsuranceNo string    `bson:"insurance_no"`
	Time        time.Time `bson:"time"`
	Event       string    `bson:"event"`
	Hash        string    `bson:"hash"`
}

// SubjectDisclosure returns the row of the index of audit events by patient that
// stands for e among the events of its subject, who has no row of its own (see
// repository's disclosureRows).
func SubjectDisclosure(e AuditEvent) AuditDisclosure {
	return AuditDisclosure{ID: AuditDisclosureID(e.InsuranceNo, e.ID), InsuranceNo: e.InsuranceNo, Time: e.Time, Event: e.ID, Hash: e.Hash}
}

// AuditDisclosureID returns the id of the row of the index of audit events by
// patient that records that event names the patient insuranceNo.
func AuditDisclosureID(insuranceNo, event string) string { return insuranceNo + "|" + event }

// The stored names of the fields of an audit event that queries filter and sort on,
// besides FieldInsuranceNo, as its bson tags spell them.
const (
	FieldTime    = "time"
	FieldKeyName = "key_name"
	FieldAction  = "action"
)

// AuditAnchor is the end of a chain as another chain recorded it.
type AuditAnchor struct {
	Chain string `json:"chain" bson:"chain" validate:"required"`
	Seq   int64  `json:"seq" bson:"seq" validate:"required"`
	Hash  string `json:"hash" bson:"hash" validate:"required"`
}

// The actions of the events a chain writes about itself.
const (
	AuditChainStart = "audit.chain.start"
	AuditChainSeal  = "audit.chain.seal"
	AuditAnchorNote = "audit.anchor"
)

// AuditChainHead is the last event of a chain as its writer last recorded it, so that
// events removed from a chain's end are noticed too. MAC keys it (see audit.HeadMAC).
type AuditChainHead struct {
	Chain     string    `json:"chain" bson:"_id"`
	LastSeq   int64     `json:"last_seq" bson:"last_seq"`
	LastHash  string    `json:"last_hash" bson:"last_hash"`
	StartedAt time.Time `json:"started_at" bson:"started_at"`
	// Process names what wrote the chain: the server, or a command.
	Process string `json:"process,omitempty" bson:"process,omitempty"`
	// Sealed is set when the writer stopped in order: its last event is the seal.
	Sealed bool `json:"sealed,omitempty" bson:"sealed,omitempty"`
	// KeyID names the key the chain's hashes and head are keyed with (see
	// audit.KeyID), without revealing it; empty on a chain without a key, and on
	// chains written before heads recorded it.
	KeyID string `json:"key_id,omitempty" bson:"key_id,omitempty"`
	MAC   string `json:"mac" bson:"mac"`
}

// AuditCheckpoint is how far a chain has been verified: its events up to Seq link and
// hash as they should, the last with Hash. MAC keys it (see audit.CheckpointMAC).
type AuditCheckpoint struct {
	Chain      string    `bson:"_id"`
	Seq        int64     `bson:"seq"`
	Hash       string    `bson:"hash"`
	VerifiedAt time.Time `bson:"verified_at"`
	// Sealed is set when the verified end is the chain's seal.
	Sealed bool `bson:"sealed,omitempty"`
	// Anchors are the latest ends of other chains the verified events recorded, which
	// every verification checks again.
	Anchors []AuditAnchor `bson:"anchors,omitempty"`
	// SweepSeq is how far the current re-check of the chain's verified events has
	// come, SweepBegan when it began, and SweptAt when the last whole re-check began.
	SweepSeq   int64     `bson:"sweep_seq"`
	SweepBegan time.Time `bson:"sweep_began,omitempty"`
	SweptAt    time.Time `bson:"swept_at,omitempty"`
	// KeyID names the key the checkpoint is keyed with (see audit.KeyID).
	KeyID string `bson:"key_id,omitempty"`
	MAC   string `bson:"mac"`
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	// InsuranceNo selects the events that name the patient as their subject or
	// disclosed their data, by the index of audit events by patient.
	InsuranceNo string
	KeyName     string
	Action      string
	From, To    time.Time // From inclusive, To exclusive; zero means open
	Limit       int
	After       *Cursor
}

// Matches reports whether e is one the query's key name, action and time span
// select (not its position; the patient is the index's to select). From and To count
// in whole milliseconds, as the store keeps times.
func (q AuditQuery) Matches(e AuditEvent) bool {
	return (q.KeyName == "" || e.KeyName == q.KeyName) && (q.Action == "" || e.Action == q.Action) &&
		(q.From.IsZero() || !e.Time.Before(StoreTime(q.From))) && (q.To.IsZero() || e.Time.Before(StoreTime(q.To)))
}

// Key identifies what the query selects (not the page size), for the cursors of
// its pages.
func (q AuditQuery) Key() string {
	return QueryKey("audit", q.InsuranceNo, q.KeyName, q.Action, q.From.Format(time.RFC3339Nano), q.To.Format(time.RFC3339Nano))
}

// AuditPage is one page of audit events.
type AuditPage struct {
	Items []AuditEvent `json:"items" validate:"required"`
	// NextCursor continues the listing; it is null on the last page.
	NextCursor *string `json:"next_cursor" validate:"required" extensions:"x-nullable"`
}

// AuditBreak is a place where a chain does not verify.
type AuditBreak struct {
	Chain  string `json:"chain" validate:"required"`
	Seq    int64  `json:"seq" validate:"required" example:"42"`
	Reason string `json:"reason" validate:"required" example:"hash does not match the event's content"`
}

// MaxAuditBreaks bounds the breaks and the broken chains a verification lists.
const MaxAuditBreaks = 100

// AuditVerification is the result of checking every chain. Each chain is checked
// whatever the others show: a break in one hides nothing in another.
type AuditVerification struct {
	// OK is true when no chain has a break.
	OK bool `json:"ok" validate:"required"`
	// Complete is false when the check ran out of time before it reached the end of
	// every chain: OK then speaks for the events verified so far; ask again.
	Complete bool `json:"complete" validate:"required"`
	// Chains counts the chains of the trail.
	Chains int `json:"chains" validate:"required"`
	// ChainsVerified counts the chains verified without a break, to their end or,
	// when the check is not complete, as far as it came.
	ChainsVerified int `json:"chains_verified" validate:"required"`
	// ChainsFailed lists the chains that have a break or could not be verified (a
	// key not given), sorted, the first MaxAuditBreaks of them; ChainsFailedTotal
	// counts them all.
	ChainsFailed      []string `json:"chains_failed" validate:"required"`
	ChainsFailedTotal int      `json:"chains_failed_total" validate:"required"`
	// Events counts the events verified, now or by earlier checks.
	Events int64 `json:"events" validate:"required"`
	// Pending counts the events not verified yet.
	Pending int64 `json:"pending" validate:"required"`
	// SweptAt is when the oldest of the re-checks of every chain's verified events
	// began, null until every chain has been re-checked once.
	SweptAt *time.Time `json:"swept_at" validate:"required" extensions:"x-nullable" format:"date-time"`
	// Breaks lists where chains do not verify, in the order found, the first
	// MaxAuditBreaks of them; empty when every chain verifies. BreaksTotal counts
	// them all.
	Breaks      []AuditBreak `json:"breaks" validate:"required"`
	BreaksTotal int          `json:"breaks_total" validate:"required"`
}
