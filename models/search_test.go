package models

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Straße":          "strasse",
		"José Müller":     "jose muller",
		"ØRSTED Æbelø":    "orsted aebelo",
		"Łukasz Đoković":  "lukasz dokovic",
		"ÇELİK":           "celik",
		"already folded":  "already folded",
		"Zoë O'Brien-Lee": "zoe o'brien-lee",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
	// ASCII, which Fold only lower-cases, folds as the rest does.
	var printable []byte
	for b := byte(0); b < 0x80; b++ {
		printable = append(printable, b)
	}
	if got, want := Fold(string(printable)+"é"), strings.ToLower(string(printable))+"e"; got != want {
		t.Errorf("Fold of ASCII = %q, want %q", got, want)
	}
	if got := Words("Zoë O'Brien-Lee, 2nd"); !slices.Equal(got, []string{"zoe", "o", "brien", "lee", "2nd"}) {
		t.Errorf("Words = %q", got)
	}
}

func TestSearchKeys(t *testing.T) {
	p := Patient{InsuranceNo: "A-11", FName: "José Maria", LName: "Straße", Source: bson.D{{Key: "patient", Value: "Pat-77"}}}
	if got, want := p.SearchKeys(), []string{"11", "77", "a", "a-11", "jose", "maria", "pat", "pat-77", "strasse"}; !slices.Equal(got, want) {
		t.Errorf("SearchKeys = %q, want %q", got, want)
	}
	a := Patient{InsuranceNo: "2", FName: "anna", LName: "Ärger"}
	b := Patient{InsuranceNo: "1", FName: "Bert", LName: "arger"}
	c := Patient{InsuranceNo: "3", FName: "Al", LName: "Zorn"}
	keys := []string{c.SortKey(), b.SortKey(), a.SortKey()}
	slices.Sort(keys)
	if want := []string{a.SortKey(), b.SortKey(), c.SortKey()}; !slices.Equal(keys, want) {
		t.Errorf("sort keys order %q, want Ärger Anna, arger Bert, Zorn Al", keys)
	}
	long := Patient{InsuranceNo: "L", LName: strings.Repeat("ab", 100)}
	if k := long.SortKey(); len(k) != MaxTokenLength+len("\x1f\x1fL") {
		t.Errorf("a long name's sort key has %d bytes", len(k))
	}
}

func TestSearchTokens(t *testing.T) {
	in := Interaction{Ailment: "Influenza", Symptoms: "Fièvre, toux; fever", Remarks: "see " + strings.Repeat("x", 100),
		QA: bson.D{{Key: "Since when?", Value: "4 weeks"}}}
	if got, want := in.SearchTokens(), []string{"4", "fever", "fievre", "influenza", "see", "since", "toux", "weeks", "when"}; !slices.Equal(got, want) {
		t.Errorf("SearchTokens = %q, want %q (a word over %d characters left out)", got, want, MaxTokenLength)
	}
	var many strings.Builder
	for i := range 3000 {
		many.WriteString(" w")
		many.WriteString(strings.Repeat("a", i%60) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)))
	}
	if n := len((Interaction{Ailment: "first", Remarks: many.String()}).SearchTokens()); n != MaxTokens {
		t.Errorf("%d tokens, want at most %d", n, MaxTokens)
	}
	if !slices.Contains((Interaction{Ailment: "first", Remarks: many.String()}).SearchTokens(), "first") {
		t.Error("the ailment's word was dropped for the remarks'")
	}
	if got := AilmentKey("  Type-2  Diabètes "); got != "type 2 diabetes" {
		t.Errorf("AilmentKey = %q", got)
	}
}

// TestSearchTokensAsASet checks that SearchTokens keeps the tokens a set of the
// first MaxTokens distinct words keeps (firstTokens), with words repeated, too
// long, and just under, at and over MaxTokens of them.
func TestSearchTokensAsASet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"Fever", "fever", "FÈVER", "a", "B2", strings.Repeat("y", MaxTokenLength),
		strings.Repeat("z", MaxTokenLength+1), "Straße", "x-y", ""}
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteString(strconv.Itoa(r.IntN(n + 1)))
			b.WriteString(", ")
		}
		return b.String()
	}
	for _, n := range []int{0, 1, 5, 50, MaxTokens/4 - 1, MaxTokens / 4, MaxTokens/4 + 1, MaxTokens} {
		in := Interaction{Ailment: text(n), Symptoms: text(n), Remarks: text(n),
			QA: bson.D{{Key: text(n), Value: text(n)}, {Key: "n", Value: int32(1)}}}
		if got, want := in.SearchTokens(), in.firstTokens(); !slices.Equal(got, want) {
			t.Errorf("%d words a text: SearchTokens = %d tokens, a set keeps %d", n, len(got), len(want))
		}
	}
}
