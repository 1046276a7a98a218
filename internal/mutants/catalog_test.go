package mutants

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/scenarios"
)

var root = filepath.Join("..", "..")

// The catalog parses, its ids are unique, it is big enough, every scenario it names exists,
// and every snippet matches exactly once in the current tree: a stale catalog fails here,
// loudly, with the ids to fix.
func TestCatalogMatchesTheTree(t *testing.T) {
	all, err := LoadCatalog(root)
	require.NoError(t, err)
	hand := 0
	var stale []string
	for _, m := range all {
		if !m.Generated {
			hand++
		}
		if reason := StaleReason(root, m); reason != "" {
			stale = append(stale, m.ID+": "+reason)
		}
		for _, s := range m.ScenarioList() {
			_, ok := scenarios.Lookup(s)
			require.True(t, ok, "mutant %s names an unknown scenario %q", m.ID, s)
		}
	}
	require.Empty(t, stale, "stale mutants: edit them to follow the code, or delete them")
	require.GreaterOrEqual(t, hand, 32, "hand-written mutants")
	require.GreaterOrEqual(t, len(all), 45, "mutants in all")
}

// Applying a mutant to a copy of the repository changes exactly its file, exactly as the
// catalog says.
func TestApplyChangesExactlyThatFile(t *testing.T) {
	all, err := LoadCatalog(root)
	require.NoError(t, err)
	files, err := TrackedFiles(root)
	require.NoError(t, err)
	require.Contains(t, files, CatalogFile)
	for _, m := range []Mutant{all[0], all[len(all)-1]} {
		dir := t.TempDir()
		require.NoError(t, CopyTree(root, dir, files))
		require.NoError(t, Apply(dir, m))
		changed := 0
		for _, f := range files {
			before, err := os.ReadFile(filepath.Join(root, f))
			if os.IsNotExist(err) {
				continue
			}
			require.NoError(t, err)
			after, err := os.ReadFile(filepath.Join(dir, f))
			require.NoError(t, err)
			if f != m.File {
				require.Equal(t, string(before), string(after), "%s changed %s", m.ID, f)
				continue
			}
			changed++
			require.Equal(t, strings.Replace(string(before), m.Search, m.Replace, 1), string(after))
			require.NotEqual(t, string(before), string(after))
		}
		require.Equal(t, 1, changed, m.ID)
	}
}

// A snippet that no longer matches exactly once is stale: reported with the reason, and never
// applied.
func TestStaleMutantsAreReportedNotApplied(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cluster/x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cluster/x/x.go"), []byte("a < b\na < b\nc\n"), 0o644))
	gone := Mutant{ID: "x.gone", File: "cluster/x/x.go", Search: "d", Replace: "e"}
	twice := Mutant{ID: "x.twice", File: "cluster/x/x.go", Search: "a < b", Replace: "a <= b"}
	once := Mutant{ID: "x.once", File: "cluster/x/x.go", Search: "c", Replace: "d"}
	require.Contains(t, StaleReason(dir, gone), "no longer occurs")
	require.Contains(t, StaleReason(dir, twice), "occurs 2 times")
	require.Empty(t, StaleReason(dir, once))
	require.Error(t, Apply(dir, gone))
	require.Error(t, Apply(dir, twice))
	require.NoError(t, Apply(dir, once))
	data, err := os.ReadFile(filepath.Join(dir, "cluster/x/x.go"))
	require.NoError(t, err)
	require.Equal(t, "a < b\na < b\nd\n", string(data))
}

func TestCheckCatalogRejectsBadEntries(t *testing.T) {
	good := Mutant{ID: "vsr.ok", File: "cluster/vsr/replica.go", Description: "d", Search: "a", Replace: "b"}
	require.NoError(t, checkCatalog([]Mutant{good}))
	bad := map[string]Mutant{
		"duplicate id":   good,
		"id must":        {ID: "Bad", File: good.File, Description: "d", Search: "a", Replace: "b"},
		"under cluster/": {ID: "x.y", File: "sim/disk.go", Description: "d", Search: "a", Replace: "b"},
		"no description": {ID: "x.y", File: good.File, Search: "a", Replace: "b"},
		"empty search":   {ID: "x.y", File: good.File, Description: "d", Search: "a", Replace: "a"},
	}
	for want, m := range bad {
		err := checkCatalog([]Mutant{good, m})
		require.ErrorContains(t, err, want)
	}
	sel, err := Select([]Mutant{good}, " vsr.ok ")
	require.NoError(t, err)
	require.Len(t, sel, 1)
	_, err = Select([]Mutant{good}, "vsr.nope")
	require.ErrorContains(t, err, "unknown mutant")
}

// Generation is reproducible, every generated snippet matches exactly once, and the rendered
// catalog reads back as the same mutants.
func TestGenerateIsReproducibleAndApplies(t *testing.T) {
	all, err := LoadCatalog(root)
	require.NoError(t, err)
	var hand []Mutant
	for _, m := range all {
		if !m.Generated {
			hand = append(hand, m)
		}
	}
	one, err := Generate(root, 12, 7, hand)
	require.NoError(t, err)
	two, err := Generate(root, 12, 7, hand)
	require.NoError(t, err)
	require.Equal(t, one, two)
	require.Len(t, one, 12)
	files := map[string]int{}
	for _, m := range one {
		require.Empty(t, StaleReason(root, m), m.ID)
		require.True(t, strings.HasPrefix(m.ID, "gen."), m.ID)
		for _, h := range hand {
			require.False(t, h.File == m.File && strings.Contains(h.Search, m.Search), "%s repeats %s", m.ID, h.ID)
		}
		files[strings.Split(m.File, "/")[1]]++
	}
	require.Greater(t, files["vsr"], files["kv"], "spread in proportion to size")
	data, err := GeneratedCatalog(one, 12, 7)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "internal/mutants"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, GeneratedCatalogFile), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, CatalogFile), []byte("mutants: []\n"), 0o644))
	back, err := LoadCatalog(dir)
	require.NoError(t, err)
	require.Equal(t, one, back)
}

// Every mutant ends with a few seeds of the performance scenario, after its own list.
func TestScenarioListEndsWithPerformance(t *testing.T) {
	require.Equal(t, []string{"swarm", "performance"}, Mutant{}.ScenarioList())
	m := Mutant{Scenarios: []string{"swarm", "rolling_upgrade"}}
	require.Equal(t, []string{"swarm", "rolling_upgrade", "performance"}, m.ScenarioList())
	require.Equal(t, []string{"swarm", "rolling_upgrade"}, m.Scenarios, "the catalog entry is left alone")
	require.Equal(t, []string{"performance", "swarm"}, Mutant{Scenarios: []string{"performance", "swarm"}}.ScenarioList())
	require.Equal(t, PerformanceSeeds, seedsOf(PerformanceScenario, 300))
	require.Equal(t, 2, seedsOf(PerformanceScenario, 2))
	require.Equal(t, 300, seedsOf("swarm", 300))
}
