package insights

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/clinic/interactions/vitals"
)

// The vocabulary of the feature vector: the labels and ailments carried by the most
// patients.
const (
	TopLabels   = 20
	TopAilments = 30
)

// The weights of the features in the distance (see Space).
const (
	weightLabel   = 1.0
	weightAilment = 1.5
	weightAge     = 1.0
	weightSex     = 0.5
	weightLatest  = 0.5
	weightSlope   = 0.25
)

// Kinds of feature.
const (
	KindLabel   = "label"
	KindAilment = "ailment"
	KindAge     = "age"
	KindSex     = "sex"
	KindLatest  = "latest"
	KindSlope   = "slope"
)

// Feature is one dimension of the feature vector.
type Feature struct {
	// Kind is label, ailment, age, sex, latest (a series' latest reading) or slope
	// (its trend per 30 days).
	Kind string
	// Name is the label, the ailment key or the series ("" for age and sex).
	Name   string
	Weight float64
	// Mean and SD standardise a numeric feature (z-score); labels and ailments are
	// 0 or 1 and are not standardised.
	Mean, SD float64
}

// Space places patients' profiles as points where distance means dissimilarity.
//
// A profile's vector holds, each multiplied by its weight:
//   - for each of the TopLabels labels and TopAilments ailments carried by the most
//     patients, 1 when any of the patient's visits carries it, else 0 (weight 1 for a
//     label, 1.5 for an ailment);
//   - age (weight 1) and sex (M 1, F 0; weight 0.5);
//   - the latest reading of each tracked series (temperature, systolic and
//     diastolic blood pressure, heart rate, SpO2, weight, health_status; weight 0.5
//     each) and its least-squares slope per 30 days (weight 0.25 each).
//
// Numeric features are standardised to z-scores over all profiles, bounded to ±3;
// a value the patient lacks (no age, no reading, no trend under 3 readings or 7
// days) is imputed with the mean, a z-score of 0. Distance is Euclidean.
type Space struct {
	Features []Feature
	Profiles []Profile
	// Vectors holds the profiles' weighted vectors, in the order of Profiles.
	Vectors [][]float64
}

// NewSpace builds the space of profiles. It stops with ctx's error once ctx is
// done.
func NewSpace(ctx context.Context, profiles []Profile) (*Space, error) {
	s := &Space{Profiles: profiles}
	for _, l := range top(profiles, func(p Profile) map[string]int { return p.Labels }, TopLabels) {
		s.Features = append(s.Features, Feature{Kind: KindLabel, Name: l, Weight: weightLabel})
	}
	for _, a := range top(profiles, func(p Profile) map[string]int { return p.Ailments }, TopAilments) {
		s.Features = append(s.Features, Feature{Kind: KindAilment, Name: a, Weight: weightAilment})
	}
	s.Features = append(s.Features, Feature{Kind: KindAge, Weight: weightAge}, Feature{Kind: KindSex, Weight: weightSex})
	for _, t := range Tracked {
		s.Features = append(s.Features, Feature{Kind: KindLatest, Name: t, Weight: weightLatest})
	}
	for _, t := range Tracked {
		s.Features = append(s.Features, Feature{Kind: KindSlope, Name: t, Weight: weightSlope})
	}
	// The profiles' values before standardising, NaN where missing; kept only while
	// the space is made (Shared makes those of two profiles again).
	raw := make([][]float64, len(profiles))
	for i, p := range profiles {
		if err := stopped(ctx, i); err != nil {
			return nil, err
		}
		raw[i] = s.values(p)
	}
	for j := range s.Features {
		f := &s.Features[j]
		if f.Kind == KindLabel || f.Kind == KindAilment {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f.Mean, f.SD = meanSD(raw, j)
	}
	s.Vectors = make([][]float64, len(profiles))
	for i := range profiles {
		if err := stopped(ctx, i); err != nil {
			return nil, err
		}
		s.Vectors[i] = s.vector(raw[i])
	}
	return s, nil
}

// values returns p's features before standardising, NaN where p has none.
func (s *Space) values(p Profile) []float64 {
	out := make([]float64, len(s.Features))
	for j, f := range s.Features {
		v := math.NaN()
		switch f.Kind {
		case KindLabel:
			v = presence(p.Labels[f.Name])
		case KindAilment:
			v = presence(p.Ailments[f.Name])
		case KindAge:
			if p.Age != nil {
				v = float64(*p.Age)
			}
		case KindSex:
			switch p.Sex {
			case "M":
				v = 1
			case "F":
				v = 0
			}
		case KindLatest:
			if x, ok := p.Tracks[slices.Index(Tracked, f.Name)].Latest(); ok {
				v = x
			}
		case KindSlope:
			if x, ok := p.Tracks[slices.Index(Tracked, f.Name)].Slope(); ok {
				v = x
			}
		}
		out[j] = v
	}
	return out
}

// vector standardises and weighs raw values; a missing one becomes the mean.
func (s *Space) vector(raw []float64) []float64 {
	out := make([]float64, len(raw))
	for j, f := range s.Features {
		v := raw[j]
		switch {
		case f.Kind == KindLabel || f.Kind == KindAilment:
		case math.IsNaN(v) || f.SD == 0:
			v = 0
		default:
			v = max(-maxZ, min(maxZ, (v-f.Mean)/f.SD))
		}
		out[j] = v * f.Weight
	}
	return out
}

func presence(n int) float64 {
	if n > 0 {
		return 1
	}
	return 0
}

// meanSD returns the mean and the standard deviation of column j of rows, NaNs
// left out; 0, 0 when every value is NaN.
func meanSD(rows [][]float64, j int) (float64, float64) {
	n, sum := 0, 0.0
	for _, r := range rows {
		if !math.IsNaN(r[j]) {
			n++
			sum += r[j]
		}
	}
	if n == 0 {
		return 0, 0
	}
	mean, sq := sum/float64(n), 0.0
	for _, r := range rows {
		if !math.IsNaN(r[j]) {
			sq += (r[j] - mean) * (r[j] - mean)
		}
	}
	return mean, math.Sqrt(sq / float64(n))
}

// top returns the at most n names of counts that the most profiles have, ties by
// name.
func top(profiles []Profile, counts func(Profile) map[string]int, n int) []string {
	patients := map[string]int{}
	for _, p := range profiles {
		for name := range counts(p) {
			patients[name]++
		}
	}
	names := slices.Collect(maps.Keys(patients))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(patients[b]-patients[a], strings.Compare(a, b)) })
	return names[:min(n, len(names))]
}

// Index returns the position of the profile of insurance number no, or -1.
func (s *Space) Index(no string) int {
	i, ok := slices.BinarySearchFunc(s.Profiles, no, func(p Profile, no string) int { return strings.Compare(p.InsuranceNo, no) })
	if !ok {
		return -1
	}
	return i
}

// Neighbour is a patient near another, and why.
type Neighbour struct {
	Index    int
	Distance float64
	// Shared lists what the two patients share: labels, ailments, sex, and close
	// ages and vital signs.
	Shared []Shared
}

// Shared is a feature two patients share.
type Shared struct {
	// Feature is label, ailment, age, sex, latest or slope.
	Feature string `json:"feature" validate:"required" enums:"label,ailment,age,sex,latest,slope" example:"latest"`
	// Name is the label, the ailment or the series.
	Name string `json:"name,omitempty" example:"systolic_bp"`
	// Value is the patient's and Other the neighbour's, for numeric features.
	Value *float64 `json:"value,omitempty" example:"142"`
	Other *float64 `json:"other,omitempty" example:"138"`
	Unit  string   `json:"unit,omitempty" example:"mmHg"`
}

// maxZ bounds a standardised value either way, so that one extreme reading or
// slope (a trend fitted over a few days) does not outweigh everything else.
const maxZ = 3

// closeZ is how near, in standard deviations, two values are to count as shared.
const closeZ = 0.25

// Nearest returns the k profiles nearest profile i, nearest first (ties by
// insurance number), never i itself. It stops with ctx's error once ctx is done.
func (s *Space) Nearest(ctx context.Context, i, k int) ([]Neighbour, error) {
	type cand struct {
		j int
		d float64
	}
	var best []cand
	for j, v := range s.Vectors {
		if err := stopped(ctx, j); err != nil {
			return nil, err
		}
		if j == i {
			continue
		}
		d := sqDist(s.Vectors[i], v)
		if len(best) == k && d >= best[k-1].d {
			continue
		}
		at, _ := slices.BinarySearchFunc(best, d, func(c cand, d float64) int { return cmp.Compare(c.d, d) })
		for at < len(best) && best[at].d == d {
			at++ // equal distances stay in index (insurance number) order
		}
		best = slices.Insert(best, at, cand{j, d})
		if len(best) > k {
			best = best[:k]
		}
	}
	out := make([]Neighbour, len(best))
	for n, c := range best {
		out[n] = Neighbour{Index: c.j, Distance: vitals.Round(math.Sqrt(c.d), 4), Shared: s.Shared(i, c.j)}
	}
	return out, nil
}

// Shared returns what profiles i and j share: the labels and ailments of the
// vocabulary both carry, their sex, and the numeric features within a quarter of a
// standard deviation of each other (both known).
func (s *Space) Shared(i, j int) []Shared {
	var out []Shared
	a, b := s.values(s.Profiles[i]), s.values(s.Profiles[j])
	for n, f := range s.Features {
		switch {
		case math.IsNaN(a[n]) || math.IsNaN(b[n]):
		case f.Kind == KindLabel || f.Kind == KindAilment:
			if a[n] == 1 && b[n] == 1 {
				out = append(out, Shared{Feature: f.Kind, Name: f.Name})
			}
		case f.Kind == KindSex:
			if a[n] == b[n] {
				out = append(out, Shared{Feature: KindSex, Name: s.Profiles[i].Sex})
			}
		case f.SD == 0 && a[n] == b[n], f.SD > 0 && math.Abs(a[n]-b[n]) <= closeZ*f.SD:
			x, y := vitals.Round(a[n], 2), vitals.Round(b[n], 2)
			sh := Shared{Feature: f.Kind, Name: f.Name, Value: &x, Other: &y, Unit: Units[f.Name]}
			if f.Kind == KindAge {
				sh.Unit = "years"
			}
			out = append(out, sh)
		}
	}
	return out
}

// Explanation says in words what the two patients share, or that they share
// nothing beyond being near.
func (n Neighbour) Explanation() string {
	if len(n.Shared) == 0 {
		return "nothing in common beyond being near in the feature space"
	}
	words := make([]string, len(n.Shared))
	for j, sh := range n.Shared {
		words[j] = sh.String()
	}
	return "shares " + strings.Join(words, "; ")
}

// String says in words what two patients share.
func (sh Shared) String() string {
	switch sh.Feature {
	case KindLabel:
		return "label " + sh.Name
	case KindAilment:
		return "ailment " + sh.Name
	case KindSex:
		return "sex " + sh.Name
	case KindAge:
		return fmt.Sprintf("age %g and %g", *sh.Value, *sh.Other)
	case KindSlope:
		return fmt.Sprintf("%s trend %+g and %+g %s per 30 days", sh.Name, *sh.Value, *sh.Other, sh.Unit)
	}
	return strings.TrimSpace(fmt.Sprintf("%s %g and %g %s", sh.Name, *sh.Value, *sh.Other, sh.Unit))
}
