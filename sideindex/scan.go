package sideindex

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// Visits reads, straight from the table, the fields the analytics need of every
// interaction q selects (see repository.SideIndex), judged as the store's query
// judges them, on the stored keys, instead of the store's own scan, which decodes
// every document whole into BSON. It reads each stored document's JSON once and
// decodes in Go only the fields it needs (SQLite would parse the JSON again for
// every field it extracted or filtered on), then keeps those q selects. A document's
// objects (metrics, qa) keep their order; dates are the store's milliseconds since
// 1970. It stops at fn's first error and returns it, and returns the errors of the
// store's SQLite file.
func (x Index) Visits(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error {
	return x.scan(ctx, repository.InteractionsCollection, where{}, visitReader(q, fn))
}

// VisitsOf reads as Visits does the interactions of the patients nos that q
// selects, in the order Visits reads them, by the index of the history. It stops at
// fn's first error and returns it, and returns the errors of the store's SQLite
// file.
func (x Index) VisitsOf(ctx context.Context, nos []string, q models.ScanQuery, fn func(models.Interaction) error) error {
	return x.scan(ctx, repository.InteractionsCollection, among(field(models.FieldInsuranceNo), nos, "?"), visitReader(q, fn))
}

// PatientsOf reads as Patients does the patients nos that exist, by their _id. It
// stops at fn's first error and returns it, and returns the errors of the store's
// SQLite file.
func (x Index) PatientsOf(ctx context.Context, nos []string, fn func(models.Patient) error) error {
	// The lookup by _id's index is over the JSON of the value: a string quoted.
	return x.scan(ctx, repository.PatientsCollection, among(ferretID, nos, "json_quote(?)"), patientReader(fn))
}

// among is the condition that expr is one of values, each as mark writes it.
func among(expr string, values []string, mark string) where {
	var w where
	marks := make([]string, len(values))
	args := make([]any, len(values))
	for i, v := range values {
		marks[i], args[i] = mark, v
	}
	w.add(fmt.Sprintf("%s IN (%s)", expr, strings.Join(marks, ", ")), args...)
	return w
}

// visitReader returns the reader of a stored interaction's JSON that calls fn with
// it when q selects it (see Visits).
func visitReader(q models.ScanQuery, fn func(models.Interaction) error) func([]byte) error {
	return func(data []byte) error {
		doc, err := readVisit(data)
		if err != nil {
			return err
		}
		in := models.Interaction{ID: doc.ID, InsuranceNo: doc.InsuranceNo, Ailment: doc.Ailment,
			InteractionDate: time.UnixMilli(doc.Date).UTC(), Label: doc.Label, Status: doc.Status}
		if !q.ProfileFields {
			in.Symptoms, in.Remarks = doc.Symptoms, doc.Remarks
		}
		if doc.HealthStatus != nil {
			h := int(*doc.HealthStatus)
			in.HealthStatus = &h
		}
		if in.Label == nil {
			in.Label = []string{}
		}
		// The conditions first, on the stored fields as the store's query reads them:
		// most visits of a suggestion's read are left out before their objects are
		// decoded.
		if !q.Selects(in.Status, in.InteractionDate, len(doc.QA) > 0, doc.AilmentKey, in.Label, doc.Tokens) {
			return nil
		}
		if !q.ProfileFields || q.WithQA {
			qa, err := storedObject(doc.QA)
			if err != nil {
				return fmt.Errorf("qa of %s: %w", in.ID, err)
			}
			if q.WithQA && len(qa) == 0 { // stored as {}
				return nil
			}
			if !q.ProfileFields {
				in.QA = qa
			}
		}
		if in.Metrics, err = storedObject(doc.Metrics); err != nil {
			return fmt.Errorf("metrics of %s: %w", in.ID, err)
		}
		return fn(in)
	}
}

// Patients reads every patient's insurance number, age and sex straight from the
// table (see Visits). It stops at fn's first error and returns it, and returns the
// errors of the store's SQLite file.
func (x Index) Patients(ctx context.Context, fn func(models.Patient) error) error {
	return x.scan(ctx, repository.PatientsCollection, where{}, patientReader(fn))
}

// patientReader returns the reader of a stored patient's JSON that calls fn with
// it (see Patients).
func patientReader(fn func(models.Patient) error) func([]byte) error {
	return func(data []byte) error {
		var doc struct {
			ID  string   `json:"_id"`
			Age *float64 `json:"age"`
			Sex string   `json:"sex"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		p := models.Patient{InsuranceNo: doc.ID, Sex: doc.Sex}
		if doc.Age != nil {
			age := int(*doc.Age)
			p.Age = &age
		}
		return fn(p)
	}
}

// scan calls each with every stored document of collection that w selects, as the
// table holds it (JSON), in the order of the table's rows (the order the documents
// were first stored in), and stops at its first error.
func (x Index) scan(ctx context.Context, collection string, w where, each func([]byte) error) error {
	var data []byte
	return x.rows(ctx, collection, func(table string) string {
		return fmt.Sprintf("SELECT %s FROM %q WHERE %s ORDER BY rowid", ferretColumn, table, w.condition())
	}, w.args, func(rows *sql.Rows) (bool, error) {
		if err := rows.Scan(&data); err != nil {
			return false, err
		}
		return true, each(data)
	})
}

// AuditChainHeads reads the head of every audit chain straight from the table (see
// Visits), as the store would answer them. It returns the errors of the store's
// SQLite file.
func (x Index) AuditChainHeads(ctx context.Context) ([]models.AuditChainHead, error) {
	var heads []models.AuditChainHead
	err := x.scan(ctx, repository.AuditChainsCollection, where{}, func(data []byte) error {
		// The tags are the stored names of models.AuditChainHead's bson tags.
		var doc struct {
			Chain     string `json:"_id"`
			LastSeq   int64  `json:"last_seq"`
			LastHash  string `json:"last_hash"`
			StartedAt int64  `json:"started_at"`
			Process   string `json:"process"`
			Sealed    bool   `json:"sealed"`
			KeyID     string `json:"key_id"`
			MAC       string `json:"mac"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		heads = append(heads, models.AuditChainHead{Chain: doc.Chain, LastSeq: doc.LastSeq, LastHash: doc.LastHash,
			StartedAt: time.UnixMilli(doc.StartedAt).UTC(), Process: doc.Process, Sealed: doc.Sealed, KeyID: doc.KeyID, MAC: doc.MAC})
		return nil
	})
	return heads, err
}
