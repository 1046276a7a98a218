package coverage

import (
	"regexp"
	"slices"
	"strings"

	"vopr/internal/assert"
)

// CounterPrefix starts the counter of every mark.
const CounterPrefix = "coverage.mark."

// Mark is one declared coverage mark. The zero value is not a mark; use Declare.
type Mark struct{ name string }

var (
	declared     []Mark
	descriptions = map[string]string{}
	markName     = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
)

// Declare registers a mark named name (lower-case words joined by dots, "area.shape") with a
// one-line description of what reaching it means. Call it only in a package-level variable
// declaration; a name declared twice is a programming error.
func Declare(name, description string) Mark {
	assert.Thatf(markName.MatchString(name), "coverage: mark name %q: want dotted lower-case words", name)
	_, dup := descriptions[name]
	assert.Thatf(!dup, "coverage: mark %q declared twice", name)
	assert.Thatf(description != "" && !strings.Contains(description, "\n"),
		"coverage: mark %q needs a one-line description", name)
	descriptions[name] = description
	m := Mark{name: name}
	declared = append(declared, m)
	return m
}

// All returns every declared mark, sorted by name.
func All() []Mark {
	out := slices.Clone(declared)
	slices.SortFunc(out, func(a, b Mark) int { return strings.Compare(a.name, b.name) })
	return out
}

// Name is the mark's name, as declared.
func (m Mark) Name() string { return m.name }

// Description says what reaching the mark means, in one line.
func (m Mark) Description() string { return descriptions[m.name] }

// Counter is the counter a run reports the mark under: "coverage.mark.<name>".
func (m Mark) Counter() string { return CounterPrefix + m.name }

// Hits counts the marks one run reached. The zero value is ready to use. A run owns its
// Hits: runs of a batch execute in parallel and never share one.
type Hits struct{ counts map[string]uint64 }

// Hit counts one reach of m.
func (h *Hits) Hit(m Mark) {
	_, ok := descriptions[m.name]
	assert.Thatf(ok, "coverage: hit of an undeclared mark %q", m.name)
	if h.counts == nil {
		h.counts = map[string]uint64{}
	}
	h.counts[m.name]++
}

// Count returns how often m was reached.
func (h *Hits) Count(m Mark) uint64 { return h.counts[m.name] }

// Report sets the counter of every declared mark in counters, zero included, so that a batch
// can list the marks it never reached.
func (h *Hits) Report(counters map[string]uint64) {
	assert.That(counters != nil, "coverage: report into a nil map")
	for _, m := range declared {
		counters[m.Counter()] = h.counts[m.name]
	}
}
