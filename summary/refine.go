package summary

// The sources of an answer that a language model may give in the service's stead:
// a summary's text, the order of suggested questions.
const (
	// SourceDeterministic is the service's own answer, the same for the same records.
	SourceDeterministic = "deterministic"
	// SourceLLM is a language model's answer.
	SourceLLM = "llm"
)

// Refine returns the answer refine gives and SourceLLM. When refine fails, it
// returns deterministic and SourceDeterministic, with refine's error for the caller
// to log: a language model that fails, is slow or answers something unusable
// changes who wrote an answer, never whether there is one.
func Refine[T any](deterministic T, refine func() (T, error)) (T, string, error) {
	refined, err := refine()
	if err != nil {
		return deterministic, SourceDeterministic, err
	}
	return refined, SourceLLM, nil
}
