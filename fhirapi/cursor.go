package fhirapi

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/clinic/interactions/models"
)

// cursor is a position in a listing of FHIR resources: in a walk of a chart (or of
// the visits of every patient), after the first Skip resources of the interaction ID
// dated Date that the search selects; with Started alone, after the Patient that
// opens a $everything; in a search of patients, after the patient Name places. It
// carries the search's key, so that it is not used with another, and the total the
// first page counted.
type cursor struct {
	Query   string             `json:"q"`
	Date    time.Time          `json:"d,omitzero"`
	ID      string             `json:"i,omitempty"`
	Skip    int                `json:"s,omitempty"`
	Started bool               `json:"p,omitempty"`
	Name    *models.NameCursor `json:"n,omitempty"`
	Total   *int               `json:"t,omitempty"`
}

func (c cursor) encode() string {
	data, _ := json.Marshal(c) // strings, numbers and a time of the years 1 to 9999 always encode
	return base64.RawURLEncoding.EncodeToString(data)
}

// readCursor reads _cursor, made by encode for the search whose key is key: nil
// when absent, and a validation error for anything else.
func (q *query) cursor(key string) *cursor {
	s := q.one("_cursor")
	if s == "" {
		return nil
	}
	var c cursor
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(data, &c) != nil || c.Query != key || c.Skip < 0 || c.Date.Year() > 9999 {
		q.errs.Add("_cursor", "is not a cursor this search issued; follow the next link of a previous page")
		return nil
	}
	c.Date = models.StoreTime(c.Date)
	return &c
}
