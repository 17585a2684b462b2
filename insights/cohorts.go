package insights

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/vitals"
)

// dominantShare is the share of a cohort's members that must carry a label or an
// ailment for it to describe the cohort.
const dominantShare = 0.5

// MinGroupSize is the fewest patients an aggregate may be computed from without
// disclosing them: a cohort's description computed from fewer members, or a
// suggested question asked in the visits of fewer patients, tells of those patients'
// records, and the audit trail records them as disclosed (see SmallCohortMembers and
// Suggester.Disclosed).
const MinGroupSize = 5

// Cohort describes one cluster of patients.
type Cohort struct {
	Cohort int `json:"cohort" validate:"required" example:"0"`
	Size   int `json:"size" validate:"required" example:"120"`
	// Description says in words what the members have in common.
	Description string `json:"description" validate:"required" example:"Mostly Type 2 diabetes (96%); labels chronic (100%), endocrine (96%); aged 61 on average, 48% women; typical vitals: temperature 36.8 °C, systolic_bp 142 mmHg"`
	// Labels and Ailments are those carried by at least half the members, by share.
	Labels   []Share `json:"labels" validate:"required"`
	Ailments []Share `json:"ailments" validate:"required"`
	// Age is the members' mean age, null when none has one.
	Age *float64 `json:"age" validate:"required" extensions:"x-nullable" example:"61.2"`
	// Female is the share of members recorded as F, among those whose sex is M or F.
	Female *float64 `json:"female" validate:"required" extensions:"x-nullable" example:"0.48"`
	// Vitals are the members' mean latest readings, and mean trends, of the tracked
	// series that any member has.
	Vitals []TypicalVital `json:"vitals" validate:"required"`
}

// Share is how many of a cohort's members carry a label or an ailment.
type Share struct {
	Name  string  `json:"name" validate:"required" example:"Type 2 diabetes"`
	Share float64 `json:"share" validate:"required" example:"0.96"`
}

// TypicalVital is a series as a cohort's members typically have it.
type TypicalVital struct {
	Metric string  `json:"metric" validate:"required" example:"systolic_bp"`
	Unit   string  `json:"unit" validate:"required" example:"mmHg"`
	Mean   float64 `json:"mean" validate:"required" example:"142.3"`
	// SlopePer30Days is the mean slope of the members with a trend, null when none
	// has one.
	SlopePer30Days *float64 `json:"slope_per_30_days" validate:"required" extensions:"x-nullable" example:"0.8"`
}

// Describe returns the cohorts of c over s's profiles, described from their members'
// records (not the standardised centroids): names are ailments as names spells
// them. It stops with ctx's error once ctx is done.
func (s *Space) Describe(ctx context.Context, c Clustering, names *Names) ([]Cohort, error) {
	members := make([][]int, len(c.Sizes))
	for i, a := range c.Assign {
		if err := stopped(ctx, i); err != nil {
			return nil, err
		}
		members[a] = append(members[a], i)
	}
	out := make([]Cohort, len(members))
	for id, m := range members {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[id] = s.describe(id, m, names)
	}
	return out, nil
}

// SmallCohortMembers returns the insurance numbers of the members of c's cohorts of
// fewer than MinGroupSize members, whose descriptions (see Describe) disclose them.
func (s *Space) SmallCohortMembers(c Clustering) []string {
	var out []string
	for i, a := range c.Assign {
		if c.Sizes[a] < MinGroupSize {
			out = append(out, s.Profiles[i].InsuranceNo)
		}
	}
	return out
}

// Members returns one page of c's members over s's profiles, ordered by cohort then
// insurance number: the members of cohort, or of every cohort when cohort is
// negative, that come after the member after names (all of them when after is nil),
// at most limit of them. It returns their indexes into s.Profiles, and whether more
// members follow the page, or ctx's error once ctx is done.
func (s *Space) Members(ctx context.Context, c Clustering, cohort int, after *models.MemberCursor, limit int) (page []int, more bool, err error) {
	for i, a := range c.Assign {
		if err := stopped(ctx, i); err != nil {
			return nil, false, err
		}
		if cohort >= 0 && a != cohort {
			continue
		}
		no := s.Profiles[i].InsuranceNo
		if after != nil && (a < after.Cohort || a == after.Cohort && no <= after.ID) {
			continue
		}
		page = append(page, i)
	}
	slices.SortFunc(page, func(i, j int) int {
		return cmp.Or(c.Assign[i]-c.Assign[j], strings.Compare(s.Profiles[i].InsuranceNo, s.Profiles[j].InsuranceNo))
	})
	if len(page) > limit {
		return page[:limit], true, nil
	}
	return page, false, nil
}

func (s *Space) describe(id int, members []int, names *Names) Cohort {
	c := Cohort{Cohort: id, Size: len(members), Labels: []Share{}, Ailments: []Share{}, Vitals: []TypicalVital{}}
	labels, ailments := map[string]int{}, map[string]int{}
	var ages, female, sexed float64
	var aged int
	sums := make([]float64, len(Tracked))
	counts := make([]int, len(Tracked))
	slopes := make([]float64, len(Tracked))
	sloped := make([]int, len(Tracked))
	for _, i := range members {
		p := s.Profiles[i]
		for l := range p.Labels {
			labels[l]++
		}
		for a := range p.Ailments {
			ailments[a]++
		}
		if p.Age != nil {
			ages += float64(*p.Age)
			aged++
		}
		if p.Sex != "" {
			sexed++
			if p.Sex == "F" {
				female++
			}
		}
		for t, track := range p.Tracks {
			if v, ok := track.Latest(); ok {
				sums[t] += v
				counts[t]++
			}
			if v, ok := track.Slope(); ok {
				slopes[t] += v
				sloped[t]++
			}
		}
	}
	c.Labels = shares(labels, len(members), func(l string) string { return l })
	c.Ailments = shares(ailments, len(members), names.Of)
	if aged > 0 {
		c.Age = ptr(vitals.Round(ages/float64(aged), 1))
	}
	if sexed > 0 {
		c.Female = ptr(vitals.Round(female/sexed, 2))
	}
	for t, name := range Tracked {
		if counts[t] == 0 {
			continue
		}
		v := TypicalVital{Metric: name, Unit: Units[name], Mean: vitals.Round(sums[t]/float64(counts[t]), 1)}
		if sloped[t] > 0 {
			v.SlopePer30Days = ptr(vitals.Round(slopes[t]/float64(sloped[t]), 2))
		}
		c.Vitals = append(c.Vitals, v)
	}
	c.Description = c.words()
	return c
}

// shares returns the names counts has for at least dominantShare of n, by share,
// then name, each named by name.
func shares(counts map[string]int, n int, name func(string) string) []Share {
	out := []Share{}
	for k, c := range counts {
		if share := float64(c) / float64(n); share >= dominantShare {
			out = append(out, Share{Name: name(k), Share: vitals.Round(share, 2)})
		}
	}
	slices.SortFunc(out, func(a, b Share) int { return cmp.Or(cmp.Compare(b.Share, a.Share), strings.Compare(a.Name, b.Name)) })
	return out
}

// words describes the cohort in a sentence.
func (c Cohort) words() string {
	var parts []string
	list := func(shares []Share) string {
		var s []string
		for _, sh := range shares[:min(4, len(shares))] {
			s = append(s, fmt.Sprintf("%s (%d%%)", sh.Name, int(math.Round(sh.Share*100))))
		}
		return strings.Join(s, ", ")
	}
	if len(c.Ailments) > 0 {
		parts = append(parts, "mostly "+list(c.Ailments))
	} else {
		parts = append(parts, "no ailment shared by half the members")
	}
	if len(c.Labels) > 0 {
		parts = append(parts, "labels "+list(c.Labels))
	}
	var who []string
	if c.Age != nil {
		who = append(who, fmt.Sprintf("aged %.0f on average", *c.Age))
	}
	if c.Female != nil {
		who = append(who, fmt.Sprintf("%d%% women", int(math.Round(*c.Female*100))))
	}
	if len(who) > 0 {
		parts = append(parts, strings.Join(who, ", "))
	}
	var vit []string
	byName := map[string]TypicalVital{}
	for _, v := range c.Vitals {
		byName[v.Metric] = v
	}
	for _, v := range c.Vitals {
		switch v.Metric {
		case vitals.Diastolic:
		case vitals.Systolic:
			text := fmt.Sprintf("blood pressure %.0f", v.Mean)
			if d, ok := byName[vitals.Diastolic]; ok {
				text += fmt.Sprintf("/%.0f", d.Mean)
			}
			vit = append(vit, text+" mmHg")
		case vitals.HealthStatus:
			text := fmt.Sprintf("health status %.1f", v.Mean)
			if v.SlopePer30Days != nil {
				text += fmt.Sprintf(" (trend %s per 30 days)", signed(*v.SlopePer30Days))
			}
			vit = append(vit, text)
		default:
			vit = append(vit, fmt.Sprintf("%s %g %s", vitalWords[v.Metric], v.Mean, v.Unit))
		}
	}
	if len(vit) > 0 {
		parts = append(parts, "typical latest vitals: "+strings.Join(vit, ", "))
	}
	out := strings.Join(parts, "; ")
	return strings.ToUpper(out[:1]) + out[1:] + "."
}

// vitalWords name the tracked series in a description.
var vitalWords = map[string]string{vitals.Temperature: "temperature", vitals.HeartRate: "heart rate",
	vitals.SpO2: "SpO2", vitals.Weight: "weight"}

// signed writes v with its sign and two decimals, 0 as +0.00.
func signed(v float64) string {
	if math.Abs(v) < 0.005 {
		v = 0
	}
	return fmt.Sprintf("%+.2f", v)
}

func ptr[T any](v T) *T { return &v }
