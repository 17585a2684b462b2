package models

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnauthenticated means the request carries no valid API key.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden means the API key's role does not allow the request.
	ErrForbidden = errors.New("forbidden")
	// ErrRateLimited means the API key sent more requests than allowed.
	ErrRateLimited = errors.New("rate limited")
	// ErrTooManyHeavy means the API key has as many heavy requests running as it
	// may: a kind of ErrRateLimited.
	ErrTooManyHeavy = fmt.Errorf("too many heavy requests at once: %w", ErrRateLimited)
)

// Role is what an API key may do.
type Role string

// The roles.
const (
	// RoleClinician reads and writes patients and interactions.
	RoleClinician Role = "clinician"
	// RoleViewer reads patients and interactions.
	RoleViewer Role = "viewer"
	// RoleAuditor reads the audit trail.
	RoleAuditor Role = "auditor"
	// RoleAdmin manages API keys.
	RoleAdmin Role = "admin"
)

// Roles lists every role.
func Roles() []Role { return []Role{RoleClinician, RoleViewer, RoleAuditor, RoleAdmin} }

// ValidRole reports whether r is one of Roles.
func ValidRole(r Role) bool {
	switch r {
	case RoleClinician, RoleViewer, RoleAuditor, RoleAdmin:
		return true
	}
	return false
}

// APIKey is a stored API key. The key itself is never stored, only its hash.
type APIKey struct {
	// Hash is the SHA-256 of the key, hex-encoded.
	Hash       string     `json:"-" bson:"_id"`
	Name       string     `json:"name" bson:"name" validate:"required" example:"dr-house"`
	Role       Role       `json:"role" bson:"role" validate:"required" enums:"clinician,viewer,auditor,admin" example:"clinician"`
	CreatedAt  time.Time  `json:"created_at" bson:"created_at" validate:"required" format:"date-time"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" bson:"last_used_at,omitempty" format:"date-time"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty" bson:"revoked_at,omitempty" format:"date-time"`
}

// KeyPage lists API keys, by name. Keys are few: the list is one page, and
// NextCursor is always null, as on every list's last page.
type KeyPage struct {
	Items      []APIKey `json:"items" validate:"required"`
	NextCursor *string  `json:"next_cursor" validate:"required" extensions:"x-nullable"`
}

// Principal is who a request acts as: the API key's name and role.
type Principal struct {
	Name string
	Role Role
}

// NewKeyRequest asks for a new API key.
type NewKeyRequest struct {
	Name string `json:"name" validate:"required" minLength:"1" maxLength:"64" example:"dr-house"`
	Role Role   `json:"role" validate:"required" enums:"clinician,viewer,auditor,admin" example:"clinician"`
}

// Validate returns a *ValidationError when the name or role is not acceptable.
func (r NewKeyRequest) Validate() error {
	errs := &ValidationError{}
	if !ValidIdentifier(r.Name) {
		errs.Add("name", identifierRule)
	}
	if !ValidRole(r.Role) {
		errs.Add("role", "must be clinician, viewer, auditor or admin")
	}
	return errs.Err()
}

// IssuedKey is a new API key as shown, once, to whoever created it.
type IssuedKey struct {
	APIKey
	// Key is the secret to send as "Authorization: Bearer <key>"; it is not shown again.
	Key string `json:"key" validate:"required" example:"ck_3q2-7wEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEE"`
}
