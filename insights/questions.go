package insights

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
	"github.com/clinic/interactions/vitals"
)

// Weights of a past visit's similarity to the context of a suggestion.
const (
	weightSameAilment = 2.0
	// minSymptomOverlap is the least Jaccard index of symptom words that makes a
	// visit similar by its symptoms alone.
	minSymptomOverlap = 0.2
	minSymptomLength  = 3
)

// stopWords are left out of symptom words: they say nothing of a complaint.
var stopWords = map[string]bool{
	"and": true, "the": true, "with": true, "for": true, "from": true, "after": true, "before": true,
	"since": true, "than": true, "that": true, "this": true, "over": true, "under": true, "above": true,
	"below": true, "when": true, "into": true, "onto": true, "not": true, "but": true, "all": true,
	"any": true, "some": true, "very": true, "more": true, "less": true, "days": true, "day": true,
	"weeks": true, "week": true, "often": true, "also": true, "has": true, "have": true, "was": true,
}

// QuestionContext is what a suggestion of questions is for: a visit's ailment,
// symptoms and labels, and the questions already asked.
type QuestionContext struct {
	Ailment  string
	Symptoms string
	Labels   []string
	Asked    []string
	// Exclude is the id of the visit the context is, which is not its own past.
	Exclude string
}

// Key returns q as questions are compared: its folded words (case, accents,
// punctuation and repeated spaces left aside), one space apart (see models.Words).
func Key(question string) string { return strings.Join(models.Words(question), " ") }

// SymptomWords returns the folded words of symptoms that say something: of at least
// 3 characters, not a stop word, each once, sorted.
func SymptomWords(symptoms string) []string {
	var out []string
	for _, w := range models.Words(symptoms) {
		if utf8.RuneCountInString(w) >= minSymptomLength && !stopWords[w] && !isNumber(w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func isNumber(w string) bool {
	return strings.IndexFunc(w, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// Suggestion is a question worth asking.
type Suggestion struct {
	// Question is as most of the similar visits spell it.
	Question string `json:"question" validate:"required" example:"Any contact with sick people?"`
	// Support is how many similar visits asked it.
	Support int `json:"support" validate:"required" example:"14"`
	// Score sums the similarity of those visits (2 for the same ailment, plus the
	// Jaccard index of their labels and of their symptom words).
	Score float64 `json:"score" validate:"required" example:"31.5"`
	// Reason says why it is suggested.
	Reason string `json:"reason" validate:"required" example:"asked in 14 similar visits: 12 for the same ailment (influenza), 6 sharing labels (fever), 3 with symptom words in common (cough)"`
	// SameAilment, SharedLabels and SharedSymptoms count the similar visits that
	// asked it by what they share with the context.
	SameAilment    int `json:"same_ailment" validate:"required" example:"12"`
	SharedLabels   int `json:"shared_labels" validate:"required" example:"6"`
	SharedSymptoms int `json:"shared_symptoms" validate:"required" example:"3"`
}

// Suggester ranks the questions asked in past visits similar to a context. Past
// visits are handed to Add one at a time; it keeps a tally per question.
type Suggester struct {
	ailment  string
	labels   []string
	symptoms []string
	asked    map[string]bool
	exclude  string
	tallies  map[string]*tally
	similar  int
}

type tally struct {
	spellings                          map[string]int
	support, byAilment, byLabels, bySy int
	score                              float64
	labels, words                      map[string]bool
	// patients are the insurance numbers of the visits that asked it.
	patients map[string]bool
}

// NewSuggester returns a Suggester for c.
func NewSuggester(c QuestionContext) *Suggester {
	s := &Suggester{ailment: models.AilmentKey(c.Ailment), labels: models.NormalizeLabels(c.Labels),
		symptoms: SymptomWords(c.Symptoms), asked: map[string]bool{}, exclude: c.Exclude, tallies: map[string]*tally{}}
	for _, q := range c.Asked {
		s.asked[Key(q)] = true
	}
	return s
}

// Similar returns how many past visits were similar to the context.
func (s *Suggester) Similar() int { return s.similar }

// Add counts the questions of in when it is similar to the context: the same
// ailment, a label in common, or symptom words in common (a Jaccard index of at
// least 0.2). A visit entered in error, or without questions, counts for nothing.
func (s *Suggester) Add(in models.Interaction) {
	if in.Status == models.StatusEnteredInError || len(in.QA) == 0 || in.ID == s.exclude {
		return
	}
	same := s.ailment != "" && in.AilmentKey() == s.ailment
	labels := intersect(s.labels, models.NormalizeLabels(in.Label))
	words := intersect(s.symptoms, SymptomWords(in.Symptoms))
	wordsJ := jaccard(len(words), len(s.symptoms), len(SymptomWords(in.Symptoms)))
	bySymptoms := len(words) > 0 && wordsJ >= minSymptomOverlap
	if !same && len(labels) == 0 && !bySymptoms {
		return
	}
	s.similar++
	score := jaccard(len(labels), len(s.labels), len(models.NormalizeLabels(in.Label)))
	if same {
		score += weightSameAilment
	}
	if bySymptoms {
		score += wordsJ
	}
	seen := map[string]bool{}
	for _, e := range in.QA {
		key := Key(e.Key)
		if key == "" || s.asked[key] || seen[key] {
			continue
		}
		seen[key] = true
		t := s.tallies[key]
		if t == nil {
			t = &tally{spellings: map[string]int{}, labels: map[string]bool{}, words: map[string]bool{}, patients: map[string]bool{}}
			s.tallies[key] = t
		}
		t.spellings[strings.Join(strings.Fields(e.Key), " ")]++
		t.support++
		t.patients[in.InsuranceNo] = true
		t.score += score
		if same {
			t.byAilment++
		}
		if len(labels) > 0 {
			t.byLabels++
			for _, l := range labels {
				t.labels[l] = true
			}
		}
		if bySymptoms {
			t.bySy++
			for _, w := range words {
				t.words[w] = true
			}
		}
	}
}

// Suggestions returns at most limit questions, by score (the similarity-weighted
// support), then support, then question: a question asked in fewer but closer
// visits ranks above one asked everywhere.
func (s *Suggester) Suggestions(limit int) []Suggestion {
	// Ranked by their keys, the questions' own Key, so that only those returned are
	// spelt out and explained.
	keys := slices.Collect(maps.Keys(s.tallies))
	slices.SortFunc(keys, func(a, b string) int {
		ta, tb := s.tallies[a], s.tallies[b]
		return cmp.Or(cmp.Compare(vitals.Round(tb.score, 3), vitals.Round(ta.score, 3)), tb.support-ta.support, strings.Compare(a, b))
	})
	out := make([]Suggestion, 0, min(limit, len(keys)))
	for _, key := range keys[:min(limit, len(keys))] {
		t := s.tallies[key]
		out = append(out, Suggestion{Question: spelling(t.spellings, key), Support: t.support, Score: vitals.Round(t.score, 3),
			Reason: s.reason(t), SameAilment: t.byAilment, SharedLabels: t.byLabels, SharedSymptoms: t.bySy})
	}
	return out
}

// Disclosed returns the insurance numbers of the patients whose visits asked the
// items that were asked by fewer than MinGroupSize patients: such a suggestion, its
// support and its reason tell of those visits. items are suggestions of s.
func (s *Suggester) Disclosed(items []Suggestion) []string {
	var out []string
	for _, it := range items {
		t := s.tallies[Key(it.Question)]
		if t == nil || len(t.patients) >= MinGroupSize {
			continue
		}
		for no := range t.patients {
			out = append(out, no)
		}
	}
	return out
}

// reason says why a question is suggested.
func (s *Suggester) reason(t *tally) string {
	var why []string
	if t.byAilment > 0 {
		why = append(why, fmt.Sprintf("%d for the same ailment (%s)", t.byAilment, s.ailment))
	}
	if t.byLabels > 0 {
		why = append(why, fmt.Sprintf("%d sharing labels (%s)", t.byLabels, strings.Join(slices.Sorted(maps.Keys(t.labels)), ", ")))
	}
	if t.bySy > 0 {
		why = append(why, fmt.Sprintf("%d with symptom words in common (%s)", t.bySy, strings.Join(firstSorted(t.words, 5), ", ")))
	}
	visits := "visits"
	if t.support == 1 {
		visits = "visit"
	}
	return fmt.Sprintf("asked in %d similar %s: %s", t.support, visits, strings.Join(why, ", "))
}

// MinModelSupport is how many visits must have asked a question for it to be shown
// to a language model: a question asked once could name someone.
const MinModelSupport = 2

// Rerank has rank reorder the leading items asked in at least MinModelSupport
// visits, given their questions; the other items keep their place after them. rank
// returns the questions' indexes in its order, each once (llm.Client.RankQuestions
// checks that its model's answer is such a permutation).
//
// It returns the items and who ordered them: summary.SourceLLM, or, when fewer than
// two items may be shown, without calling rank, or when rank fails, the items as
// they are and summary.SourceDeterministic, with rank's error.
func Rerank(items []Suggestion, rank func(questions []string) ([]int, error)) ([]Suggestion, string, error) {
	n := 0
	for n < len(items) && items[n].Support >= MinModelSupport {
		n++
	}
	if n < 2 {
		return items, summary.SourceDeterministic, nil
	}
	questions := make([]string, n)
	for i := range n {
		questions[i] = items[i].Question
	}
	return summary.Refine(items, func() ([]Suggestion, error) {
		order, err := rank(questions)
		if err != nil {
			return nil, err
		}
		out := make([]Suggestion, 0, len(items))
		for _, i := range order {
			out = append(out, items[i])
		}
		return append(out, items[n:]...), nil
	})
}

// spelling returns the spelling most visits gave, ties by byte order; key when none.
func spelling(spellings map[string]int, key string) string {
	best, votes := key, 0
	for s, v := range spellings {
		if v > votes || v == votes && s < best {
			best, votes = s, v
		}
	}
	return best
}

func firstSorted(set map[string]bool, n int) []string {
	all := slices.Sorted(maps.Keys(set))
	return all[:min(n, len(all))]
}

// intersect returns the elements of sorted a also in b.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// jaccard returns the Jaccard index of two sets of sizes a and b with common
// elements in common.
func jaccard(common, a, b int) float64 {
	if union := a + b - common; union > 0 {
		return float64(common) / float64(union)
	}
	return 0
}
