package fhirapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/clinic/interactions/fhir"
)

// bundle is a FHIR R4 Bundle of type searchset: one page of a search.
type bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Total        *int    `json:"total,omitempty"`
	Link         []link  `json:"link"`
	Entry        []entry `json:"entry,omitempty"`
}

type link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type entry struct {
	FullURL string `json:"fullUrl"`
	// Resource is a resource's content (fhir.Resource.Content).
	Resource any        `json:"resource"`
	Search   searchMode `json:"search"`
}

type searchMode struct {
	Mode string `json:"mode"`
}

// page is one page of a search: its resources, its links and its total.
type page struct {
	items []fhir.Resource
	self  string
	next  string
	total *int
}

// encode writes p as a searchset Bundle, each entry's fullUrl the resource's URL
// under base.
func (p page) encode(base string) ([]byte, error) {
	b := bundle{ResourceType: "Bundle", Type: "searchset", Total: p.total, Link: []link{{Relation: "self", URL: p.self}}}
	if p.next != "" {
		b.Link = append(b.Link, link{Relation: "next", URL: p.next})
	}
	for _, r := range p.items {
		b.Entry = append(b.Entry, entry{FullURL: base + "/" + r.Type + "/" + r.ID, Resource: r.Content(), Search: searchMode{Mode: "match"}})
	}
	return encode(b)
}

// encode encodes v as JSON without escaping HTML, as the export writes resources.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode the answer: %w", err)
	}
	return buf.Bytes(), nil
}
