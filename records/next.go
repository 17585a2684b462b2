package records

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// serverFields are the fields of a record the server sets, which a merge patch
// cannot touch; an amendment takes them from the current version or sets them anew.
var serverFields = []string{"created_at", "updated_at", "status", "version", "amendment_reason", "source", "recorded_by"}

// editable returns the document a client would send to create v: its JSON form,
// without the fields the server manages.
func editable(v any, serverFields ...string) (bson.D, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode current version: %w", err)
	}
	doc, err := models.ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("decode current version: %w", err)
	}
	return slices.DeleteFunc(doc, func(e bson.E) bool { return slices.Contains(serverFields, e.Key) }), nil
}

// checkImmutable reports a patch that would change or remove an identifying field
// or name a field the server sets, null included.
func checkImmutable(patch bson.D, errs *models.ValidationError, fields map[string]string) {
	for key, current := range fields {
		if i := models.FieldIndex(patch, key); i >= 0 && patch[i].Value != current {
			errs.Add(key, "cannot be changed")
		}
	}
	for _, key := range serverFields {
		if models.FieldIndex(patch, key) >= 0 {
			errs.Add(key, "is set by the server and cannot be changed")
		}
	}
}

// nextInteraction returns the next version of current with the merge patch applied,
// validated as a create is. id and insurance_no cannot change, and interaction_date
// cannot be removed. It returns a *models.LimitError for a patch, or a result, past
// a cap on what a record may hold (the patch is checked first, so that no merge
// costs more than the caps allow), and a *models.ValidationError for an amendment
// that cannot be accepted otherwise.
func nextInteraction(current models.Interaction, patch bson.D, reason string, now time.Time) (models.Interaction, error) {
	if err := models.CheckInteractionLimits(patch); err != nil {
		return models.Interaction{}, err
	}
	errs := &models.ValidationError{}
	checkImmutable(patch, errs, map[string]string{"id": current.ID, "insurance_no": current.InsuranceNo})
	checkReason(reason, errs)
	if i := models.FieldIndex(patch, "interaction_date"); i >= 0 && patch[i].Value == nil {
		errs.Add("interaction_date", "cannot be removed")
	}
	if err := errs.Err(); err != nil {
		return models.Interaction{}, err
	}
	base, err := editable(current, serverFields...)
	if err != nil {
		return models.Interaction{}, err
	}
	next, err := models.NewInteraction(MergePatch(base, patch), now)
	if err != nil {
		return models.Interaction{}, err
	}
	next.ID = current.ID
	next.Status = current.Status
	next.Source = current.Source
	next.Version = current.Version + 1
	next.AmendmentReason = reason
	next.CreatedAt = current.CreatedAt
	return next, nil
}

// enteredInError returns the next version of current, marked entered-in-error for
// reason. It returns a *models.ValidationError when reason is empty or too long.
func enteredInError(current models.Interaction, reason string, now time.Time) (models.Interaction, error) {
	errs := &models.ValidationError{}
	if strings.TrimSpace(reason) == "" {
		errs.Add("reason", "is required: say why the record was entered in error")
	}
	checkReason(reason, errs)
	if err := errs.Err(); err != nil {
		return models.Interaction{}, err
	}
	next := current
	next.Status = models.StatusEnteredInError
	next.Version = current.Version + 1
	next.AmendmentReason = reason
	next.UpdatedAt = models.StoreTime(now)
	return next, nil
}

// nextPatient returns the next version of current with the merge patch applied,
// validated as a create is. insurance_no cannot change. It returns a
// *models.LimitError for a patch, or a result, past a cap on what a record may hold
// (see nextInteraction), and a *models.ValidationError for an amendment that cannot
// be accepted otherwise.
func nextPatient(current models.Patient, patch bson.D, reason string, now time.Time) (models.Patient, error) {
	if err := models.CheckPatientLimits(patch); err != nil {
		return models.Patient{}, err
	}
	errs := &models.ValidationError{}
	checkImmutable(patch, errs, map[string]string{"insurance_no": current.InsuranceNo})
	checkReason(reason, errs)
	if err := errs.Err(); err != nil {
		return models.Patient{}, err
	}
	base, err := editable(current, serverFields...)
	if err != nil {
		return models.Patient{}, err
	}
	next, err := models.NewPatient(MergePatch(base, patch), now)
	if err != nil {
		return models.Patient{}, err
	}
	next.Source = current.Source
	next.Version = current.Version + 1
	next.AmendmentReason = reason
	next.CreatedAt = current.CreatedAt
	return next, nil
}
