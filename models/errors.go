// Package models holds the shapes the service stores and serves, and their validation.
package models

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

var (
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPatientNotFound means a record refers to a patient that does not exist.
	ErrPatientNotFound = errors.New("patient not found")
	// ErrConflict means a record with the same identity already exists.
	ErrConflict = errors.New("already exists")
	// ErrUnavailable means the store could not be reached in time.
	ErrUnavailable = errors.New("store unavailable")
	// ErrBusy means the store is busy with as many costly reads as it takes at once,
	// and the request could not have its turn in its time: a kind of ErrUnavailable.
	ErrBusy = fmt.Errorf("busy: %w", ErrUnavailable)
	// ErrMalformedRequest means the request line cannot be taken as sent: its path
	// or query, as sent or percent-decoded, is not valid UTF-8, or its method is not
	// one the server knows.
	ErrMalformedRequest = errors.New("malformed request")
)

// ValidationError reports input that cannot be accepted, with a message per offending field.
// Field names are dotted paths into the document ("next_steps.next_visit"); the empty
// name stands for the input as a whole.
type ValidationError struct {
	Fields map[string]string
}

// Add records a message for field, keeping the first message given for it.
func (e *ValidationError) Add(field, message string) {
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = message
	}
}

// Err returns e when it holds at least one message, and nil otherwise.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Error lists the offending fields in a stable order.
func (e *ValidationError) Error() string { return "invalid input: " + e.Summary() }

// Summary lists the offending fields and their messages, sorted by field:
// "age: must be ...; email: must be ...".
func (e *ValidationError) Summary() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			parts = append(parts, e.Fields[k])
			continue
		}
		parts = append(parts, k+": "+e.Fields[k])
	}
	return strings.Join(parts, "; ")
}

// Invalid returns a ValidationError carrying one message.
func Invalid(field, message string) *ValidationError {
	e := &ValidationError{}
	e.Add(field, message)
	return e
}

// MalformedRequestError reports a request whose headers the API cannot take as they
// are (its body aside, which MalformedError and ValidationError judge): Fields maps
// each offending header to what is wrong with it. It is a kind of
// ErrMalformedRequest.
type MalformedRequestError struct {
	Fields map[string]string
}

// Error lists the offending headers and their messages.
func (e *MalformedRequestError) Error() string {
	return "malformed request: " + (&ValidationError{Fields: e.Fields}).Summary()
}

// Unwrap returns ErrMalformedRequest.
func (e *MalformedRequestError) Unwrap() error { return ErrMalformedRequest }

var (
	// ErrPreconditionRequired means a change was asked for without If-Match.
	ErrPreconditionRequired = errors.New("precondition required")
	// ErrPreconditionFailed means the record changed since the version the client holds.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrIdempotencyKeyReused means an idempotency key came back with a different request.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
	// ErrIdempotencyInProgress means the first request with an idempotency key is still running.
	ErrIdempotencyInProgress = errors.New("request with this idempotency key in progress")
)

// GoneError reports a record marked entered-in-error: it is kept, with its history,
// but no longer served as valid.
type GoneError struct {
	Status string
	Reason string
}

// Error names the status and the reason.
func (e *GoneError) Error() string { return "record is " + e.Status + ": " + e.Reason }

// MaxDocumentBytes bounds a record as stored: a create or an amendment that would make
// it larger is refused, so that no merge patch can grow a record, or its archived
// versions, without end. It is twice the largest request body, so that any body the
// API reads can be stored.
const MaxDocumentBytes = 2 << 20

// TooLargeError reports a record that would be larger than MaxDocumentBytes as stored.
type TooLargeError struct {
	Size int
}

// Error says how large the record would be.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the record would be %d bytes as stored, over the limit of %d bytes (%d MiB)", e.Size, MaxDocumentBytes, MaxDocumentBytes>>20)
}
