package insights

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/clinic/interactions/models"
)

// Month counts the visits of one calendar month (UTC) by label or by ailment.
type Month struct {
	// Month is YYYY-MM.
	Month string `json:"month" validate:"required" example:"2024-10"`
	// Visits counts the month's visits, with or without a label or an ailment.
	Visits int     `json:"visits" validate:"required" example:"42"`
	Counts []Named `json:"counts" validate:"required"`
}

// Named is a count of visits by a name.
type Named struct {
	Name  string `json:"name" validate:"required" example:"fever"`
	Count int    `json:"count" validate:"required" example:"17"`
}

// Monthly counts visits by month and by a name: each label (Labels) or the ailment
// (Ailments). Visits are handed to Add one at a time.
type Monthly struct {
	byAilment bool
	months    map[string]map[string]int
	visits    map[string]int
	names     Names
}

// NewMonthly returns a count by label, or by ailment when byAilment is set.
func NewMonthly(byAilment bool) *Monthly {
	return &Monthly{byAilment: byAilment, months: map[string]map[string]int{}, visits: map[string]int{}}
}

// Add counts in; a visit entered in error is left out.
func (m *Monthly) Add(in models.Interaction) {
	if in.Status == models.StatusEnteredInError {
		return
	}
	month := in.InteractionDate.UTC().Format("2006-01")
	m.visits[month]++
	counts := m.months[month]
	if counts == nil {
		counts = map[string]int{}
		m.months[month] = counts
	}
	if m.byAilment {
		if key := in.AilmentKey(); key != "" {
			counts[key]++
			m.names.Add(key, in.Ailment)
		}
		return
	}
	for _, l := range in.Label {
		counts[l]++
	}
}

// Months returns the counts, oldest month first, each month's most frequent name
// first (ties by name); an ailment is named as most visits spell it.
func (m *Monthly) Months() []Month {
	out := make([]Month, 0, len(m.visits))
	for _, month := range slices.Sorted(maps.Keys(m.visits)) {
		counts := []Named{}
		for key, n := range m.months[month] {
			name := key
			if m.byAilment {
				name = m.names.Of(key)
			}
			counts = append(counts, Named{Name: name, Count: n})
		}
		slices.SortFunc(counts, func(a, b Named) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.Name, b.Name)) })
		out = append(out, Month{Month: month, Visits: m.visits[month], Counts: counts})
	}
	return out
}
