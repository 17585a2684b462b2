package models

import "time"

// Idempotency key states.
const (
	IdempotencyPending = "pending"
	IdempotencyDone    = "done"
)

// IdempotencyRecord remembers a request made with an Idempotency-Key and, once it is
// answered, the answer, so that a retry gets the same answer without a second effect.
type IdempotencyRecord struct {
	// ID is the route, the API key's name and the Idempotency-Key.
	ID string `bson:"_id"`
	// RequestHash fingerprints the request, so that the key cannot be reused for another.
	RequestHash string `bson:"request_hash"`
	// Token identifies the request that holds the record while it is pending.
	Token string `bson:"token"`
	// ReservedID is the id a create made under this key uses when the client gives none,
	// so that a retry after an interrupted attempt cannot create a second record.
	ReservedID string `bson:"reserved_id"`
	State      string `bson:"state"`
	// IdempotentAnswer is the answer, once the request has one.
	IdempotentAnswer `bson:",inline"`
	CreatedAt        time.Time `bson:"created_at"`
	// LeaseUntil is when a pending record may be taken over by a retry, its first
	// request presumed dead.
	LeaseUntil time.Time `bson:"lease_until"`
}

// IdempotentAnswer is the answer to a keyed request, as a retry gets it again.
type IdempotentAnswer struct {
	Status int `bson:"status,omitempty"`
	// Headers are the response headers to replay (Content-Type, Location, ETag).
	Headers map[string]string `bson:"headers,omitempty"`
	Body    string            `bson:"body,omitempty"`
	// InsuranceNo and InteractionID are whose data the request touched, for the
	// audit event of a replay.
	InsuranceNo   string `bson:"insurance_no,omitempty"`
	InteractionID string `bson:"interaction_id,omitempty"`
}
