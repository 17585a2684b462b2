package models

import "time"

// AuditEvent records one request to the API: who, what, on whose data, and how it ended.
// Events form hash chains, one per server process: each holds the hash of the one
// before it in its chain, and sequence numbers have no gaps.
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
	PrevHash        string `json:"prev_hash" bson:"prev_hash" validate:"required"`
	Hash            string `json:"hash" bson:"hash" validate:"required"`
}

// AuditChainHead is the last event of a chain as its writer last recorded it, so that
// events removed from a chain's end are noticed too.
type AuditChainHead struct {
	Chain     string    `json:"chain" bson:"_id"`
	LastSeq   int64     `json:"last_seq" bson:"last_seq"`
	LastHash  string    `json:"last_hash" bson:"last_hash"`
	StartedAt time.Time `json:"started_at" bson:"started_at"`
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

// AuditBreak is the first place where a chain does not verify.
type AuditBreak struct {
	Chain  string `json:"chain" validate:"required"`
	Seq    int64  `json:"seq" validate:"required" example:"42"`
	Reason string `json:"reason" validate:"required" example:"hash does not match the event's content"`
}

// AuditVerification is the result of checking every chain.
type AuditVerification struct {
	OK     bool `json:"ok" validate:"required"`
	Chains int  `json:"chains" validate:"required"`
	Events int  `json:"events" validate:"required"`
	// FirstBreak is null when every chain verifies.
	FirstBreak *AuditBreak `json:"first_break" validate:"required" extensions:"x-nullable"`
}
