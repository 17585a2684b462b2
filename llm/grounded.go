package llm

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/clinic/interactions/vitals"
)

// A paragraph the model writes is used only when it keeps to the facts it was
// given (see grounded):
//
//   - Numbers: every number in it (a run of digits, with a decimal part after a
//     point, and thousands grouped by commas: 1,200) has the value of a number in
//     the facts, so that 150, 150.0 and 150.00 are one, and 1,200 is 1200. A number
//     inside a word counts too (the 2 of SpO2, the 5 of 5mg), and so does a year
//     or a date, which the facts never hold.
//   - Words: every word in it (a run of letters; a possessive 's left out) is a
//     word of the facts or of the vocabulary below, in any case, and a word
//     ending in s is taken for the word without it as well (visits, visit).
//
// The facts are the text the model was given, names of fields included (span_days
// gives span and days), and the words of vitalWords for the vital signs in them
// (systolic_bp gives blood and pressure). So a drug, an ailment or a number the
// model was not given makes the answer unusable, and the service's own paragraph is
// given instead.

// vitalWords are the words a paragraph may call a vital sign by that its metric's
// name lacks: systolic_bp is blood pressure.
var vitalWords = map[string][]string{
	vitals.Systolic:  {"blood", "pressure"},
	vitals.Diastolic: {"blood", "pressure"},
	vitals.SpO2:      {"oxygen", "saturation"},
	vitals.HeartRate: {"pulse"},
}

// vocabulary are the words a paragraph may use that the facts need not hold:
// plain English and clinical connective words, none of them the name of a drug,
// an ailment, a condition or a test (TestVocabulary checks that none of those the
// synthetic generator writes is made of them alone), and no number.
var vocabulary = []string{
	"a", "about", "above", "across", "after", "aged", "all", "along", "also", "an", "and", "any", "are", "as",
	"at", "be", "been", "below", "between", "both", "but", "by", "change", "changed", "clinical", "consistent",
	"continue", "continued", "current", "currently", "decline", "declined", "declining", "decrease", "decreased",
	"decreasing", "documented", "down", "downward", "during", "each", "elevated", "encounter", "follow",
	"followed", "for", "from", "further", "has", "have", "he", "her", "high", "higher", "his", "history",
	"improved", "improving", "in", "increase", "increased", "increasing", "is", "it", "its", "last", "latest",
	"level", "low", "lower", "main", "measured", "medication", "monitor", "monitored", "monitoring", "most", "no",
	"none", "not", "noted", "of", "old", "on", "or", "over", "overall", "past", "patient", "pending", "per",
	"period", "planned", "previous", "range", "rate", "reading", "recent", "recently", "recorded", "remain",
	"remained", "remains", "review", "seen", "she", "shows", "sign", "since", "so", "stable", "status", "steady",
	"summary", "than", "that", "the", "their", "there", "these", "they", "this", "those", "through", "to",
	"trend", "trending", "under", "up", "upward", "value", "was", "were", "which", "while", "who", "with",
	"within", "without", "year",
}

var (
	// numberPattern matches a number: digits grouped in thousands by commas, or
	// plain digits, either with a decimal part.
	numberPattern = regexp.MustCompile(`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`)
	// wordPattern matches a word: letters, with apostrophes inside.
	wordPattern = regexp.MustCompile(`\p{L}+(?:['’]\p{L}+)*`)
)

// grounded returns nil when answer keeps to facts, the text the model was given,
// and the metrics of the vital signs in them (see above), and otherwise an
// ErrUnusable error that says whether a number or a word is not in them: never
// which, since an answer may hold anything.
func grounded(answer, facts string, metrics []string) error {
	given := map[float64]bool{}
	for _, n := range numbers(facts) {
		given[n] = true
	}
	for _, n := range numbers(answer) {
		if !given[n] {
			return fmt.Errorf("%w: it names a number the facts do not hold", ErrUnusable)
		}
	}
	known := map[string]bool{}
	allowed := append(words(facts), vocabulary...)
	for _, m := range metrics {
		allowed = append(allowed, vitalWords[m]...)
	}
	for _, w := range allowed {
		known[w], known[stem(w)] = true, true
	}
	for _, w := range words(answer) {
		if !known[w] && !known[stem(w)] {
			return fmt.Errorf("%w: it uses a word neither the facts nor the vocabulary hold", ErrUnusable)
		}
	}
	return nil
}

// numbers returns the values of the numbers in text (see numberPattern), rounded
// to nine decimals so that spellings of one value are one.
func numbers(text string) []float64 {
	var out []float64
	for _, m := range numberPattern.FindAllString(text, -1) {
		v, err := strconv.ParseFloat(strings.ReplaceAll(m, ",", ""), 64)
		if err != nil {
			continue // digits always parse; too many of them is no number the facts hold
		}
		out = append(out, math.Round(v*1e9)/1e9)
	}
	return out
}

// words returns the words of text (see wordPattern), in lower case, without a
// possessive 's.
func words(text string) []string {
	var out []string
	for _, w := range wordPattern.FindAllString(text, -1) {
		w = strings.ToLower(w)
		for _, possessive := range []string{"'s", "’s"} {
			w = strings.TrimSuffix(w, possessive)
		}
		if strings.ContainsFunc(w, unicode.IsLetter) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// stem returns w without a final s, as a plural or a verb's third person has it
// (visits, remains), and w itself when that would leave less than three letters or
// the s is doubled (less).
func stem(w string) string {
	if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") {
		return w[:len(w)-1]
	}
	return w
}
