package sideindex

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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
	return x.scan(ctx, repository.InteractionsCollection, func(data []byte) error {
		// The tags are the stored names of models.Interaction's bson tags.
		var doc struct {
			ID           string          `json:"_id"`
			InsuranceNo  string          `json:"insurance_no"`
			Ailment      string          `json:"ailment"`
			Symptoms     string          `json:"symptoms"`
			Date         int64           `json:"interaction_date"`
			Metrics      json.RawMessage `json:"metrics"`
			Remarks      string          `json:"remarks"`
			HealthStatus *float64        `json:"health_status"`
			QA           json.RawMessage `json:"qa"`
			Label        []string        `json:"label"`
			Status       string          `json:"status"`
			AilmentKey   string          `json:"ailment_key"`
			SearchTokens []string        `json:"search_tokens"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		in := models.Interaction{ID: doc.ID, InsuranceNo: doc.InsuranceNo, Ailment: doc.Ailment, Symptoms: doc.Symptoms,
			InteractionDate: time.UnixMilli(doc.Date).UTC(), Remarks: doc.Remarks, Label: doc.Label, Status: doc.Status}
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
		tokens := func() []string { return doc.SearchTokens }
		if !q.Selects(in.Status, in.InteractionDate, len(doc.QA) > 0, doc.AilmentKey, in.Label, tokens) {
			return nil
		}
		var err error
		if in.QA, err = storedObject(doc.QA); err != nil {
			return fmt.Errorf("qa of %s: %w", in.ID, err)
		}
		if q.WithQA && len(in.QA) == 0 { // stored as {}
			return nil
		}
		if in.Metrics, err = storedObject(doc.Metrics); err != nil {
			return fmt.Errorf("metrics of %s: %w", in.ID, err)
		}
		return fn(in)
	})
}

// Patients reads every patient's insurance number, age and sex straight from the
// table (see Visits). It stops at fn's first error and returns it, and returns the
// errors of the store's SQLite file.
func (x Index) Patients(ctx context.Context, fn func(models.Patient) error) error {
	return x.scan(ctx, repository.PatientsCollection, func(data []byte) error {
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
	})
}

// storedObject reads an object of a stored document, as the table holds it in
// JSON, into a document with its fields in order; nil for none.
func storedObject(data json.RawMessage) (bson.D, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	return models.ParseDocument(data)
}

// scan calls each with every stored document of collection, as the table holds it
// (JSON), in no particular order, and stops at its first error.
func (x Index) scan(ctx context.Context, collection string, each func([]byte) error) error {
	var data []byte
	return x.rows(ctx, collection, func(table string) string {
		return fmt.Sprintf("SELECT %s FROM %q", ferretColumn, table)
	}, nil, func(rows *sql.Rows) (bool, error) {
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
	err := x.scan(ctx, repository.AuditChainsCollection, func(data []byte) error {
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
