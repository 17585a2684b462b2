package models

import (
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Bounds of a request for suggested questions.
const (
	maxContextText  = 2000
	maxContextItems = 100
	maxContextItem  = 500
)

// QuestionRequest is the context a client asks suggested questions for.
type QuestionRequest struct {
	Ailment  string   `json:"ailment,omitempty" maxLength:"2000" example:"Influenza"`
	Symptoms string   `json:"symptoms,omitempty" maxLength:"2000" example:"fever above 38°C, dry cough"`
	Labels   []string `json:"labels,omitempty" maxItems:"100" example:"fever,respiratory"`
	// Asked are the questions already asked, which are not suggested again.
	Asked []string `json:"asked,omitempty" maxItems:"100" example:"since when?"`
}

// NewQuestionRequest reads a request document. It returns a *ValidationError naming
// every field that does not fit: an unknown field, a wrong type, text over 2,000
// characters, more than 100 labels or questions or one over 500 characters, and a
// context with neither ailment, symptoms nor labels.
func NewQuestionRequest(doc bson.D) (QuestionRequest, error) {
	var q QuestionRequest
	errs := &ValidationError{}
	text := func(key string, v any) string {
		s, ok := v.(string)
		if !ok || utf8.RuneCountInString(s) > maxContextText {
			errs.Add(key, "must be a string of at most 2000 characters")
		}
		return s
	}
	list := func(key string, v any) []string {
		a, ok := v.(bson.A)
		if !ok || len(a) > maxContextItems {
			errs.Add(key, "must be an array of at most 100 strings")
			return nil
		}
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok || utf8.RuneCountInString(s) > maxContextItem {
				errs.Add(key, "must be an array of strings of at most 500 characters")
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	for _, e := range doc {
		if e.Value == nil {
			continue
		}
		switch e.Key {
		case "ailment":
			q.Ailment = text(e.Key, e.Value)
		case "symptoms":
			q.Symptoms = text(e.Key, e.Value)
		case "labels":
			q.Labels = list(e.Key, e.Value)
		case "asked":
			q.Asked = list(e.Key, e.Value)
		default:
			errs.Add(e.Key, "unknown field; the context takes ailment, symptoms, labels and asked")
		}
	}
	if errs.Err() == nil && AilmentKey(q.Ailment) == "" && len(Words(q.Symptoms)) == 0 && len(NormalizeLabels(q.Labels)) == 0 {
		errs.Add("", "give an ailment, symptoms or labels to find similar visits by")
	}
	return q, errs.Err()
}
