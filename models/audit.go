package models

import "time"

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
}

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
	InsuranceNo string
	KeyName     string
	Action      string
	From, To    time.Time // From inclusive, To exclusive; zero means open
	Limit       int
	After       *Cursor
}

// Matches reports whether e is one the query selects (not its position). From and To
// count in whole milliseconds, as the store keeps times.
func (q AuditQuery) Matches(e AuditEvent) bool {
	return (q.InsuranceNo == "" || e.InsuranceNo == q.InsuranceNo) &&
		(q.KeyName == "" || e.KeyName == q.KeyName) && (q.Action == "" || e.Action == q.Action) &&
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
