package fhirapi

// The operations the API serves, by the canonical URL of their definition.
const (
	everythingDefinition = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
	lastnDefinition      = "http://hl7.org/fhir/OperationDefinition/Observation-lastn"
	summaryDefinition    = "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"
)

type capabilityStatement struct {
	ResourceType   string         `json:"resourceType"`
	Status         string         `json:"status"`
	Date           string         `json:"date"`
	Publisher      string         `json:"publisher"`
	Kind           string         `json:"kind"`
	Software       software       `json:"software"`
	Implementation implementation `json:"implementation"`
	FHIRVersion    string         `json:"fhirVersion"`
	Format         []string       `json:"format"`
	Rest           []rest         `json:"rest"`
}

type software struct {
	Name string `json:"name"`
}

type implementation struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

type rest struct {
	Mode          string         `json:"mode"`
	Documentation string         `json:"documentation"`
	Security      security       `json:"security"`
	Resource      []restResource `json:"resource"`
}

type security struct {
	Description string `json:"description"`
}

type restResource struct {
	Type        string        `json:"type"`
	Interaction []interaction `json:"interaction"`
	Versioning  string        `json:"versioning"`
	ReadHistory bool          `json:"readHistory"`
	SearchParam []searchParam `json:"searchParam,omitempty"`
	Operation   []operation   `json:"operation,omitempty"`
}

type interaction struct {
	Code string `json:"code"`
}

type searchParam struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type operation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// paramTypes are the FHIR types of the search parameters.
var paramTypes = map[string]string{
	"name": "string", "family": "string", "given": "string", "identifier": "token", "birthdate": "date",
	"patient": "reference", "date": "date", "code": "token", "category": "token", "status": "token",
}

// Capabilities returns the CapabilityStatement of the API served at base: exactly
// the reads, version reads, searches and operations it serves, in JSON.
func Capabilities(base string) ([]byte, error) {
	cs := capabilityStatement{
		ResourceType: "CapabilityStatement", Status: "active", Date: "2025-01-01", Kind: "instance",
		Publisher:      "Clinical interactions record service",
		Software:       software{Name: "clinical-interactions"},
		Implementation: implementation{Description: "A read-only FHIR R4 API over the clinic's records", URL: base},
		FHIRVersion:    "4.0.1", Format: []string{"json"},
	}
	r := rest{
		Mode: "server",
		Documentation: "Read-only. Searches page with a cursor (the next link); _count is 20 by default and 100 at most, " +
			"_sort is date or -date, _total none or accurate; an unknown parameter is an error unless Prefer: handling=lenient.",
		Security: security{Description: "Every request but this one needs an API key, as Authorization: Bearer <key>."},
	}
	for _, typ := range readTypes {
		res := restResource{Type: typ, Interaction: []interaction{{Code: "read"}, {Code: "vread"}}, Versioning: "versioned", ReadHistory: true}
		if params, ok := searchParams[typ]; ok {
			res.Interaction = append(res.Interaction, interaction{Code: "search-type"})
			for _, p := range params {
				res.SearchParam = append(res.SearchParam, searchParam{Name: p, Type: paramTypes[p]})
			}
		}
		switch typ {
		case "Patient":
			res.Operation = []operation{{Name: "everything", Definition: everythingDefinition}, {Name: "summary", Definition: summaryDefinition}}
		case "Observation":
			res.Operation = []operation{{Name: "lastn", Definition: lastnDefinition}}
		}
		r.Resource = append(r.Resource, res)
	}
	cs.Rest = []rest{r}
	return encode(cs)
}
