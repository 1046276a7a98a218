package mutants

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Catalog files, relative to the repository root.
const (
	CatalogFile          = "internal/mutants/catalog.yaml"
	GeneratedCatalogFile = "internal/mutants/catalog_generated.yaml"
)

// DefaultScenario is what a mutant runs when it names no scenario.
const DefaultScenario = "swarm"

// Mutant is one source edit of cluster/.
type Mutant struct {
	ID          string   `yaml:"id" json:"id"`
	File        string   `yaml:"file" json:"file"`
	Description string   `yaml:"description" json:"description"`
	Search      string   `yaml:"search" json:"search"`
	Replace     string   `yaml:"replace" json:"replace"`
	Scenarios   []string `yaml:"scenarios,omitempty" json:"scenarios,omitempty"`
	// Generated marks an operator mutant drawn by Generate (catalog_generated.yaml).
	Generated bool `yaml:"-" json:"generated"`
}

// PerformanceScenario ends every mutant's list, on PerformanceSeeds seeds: the runbook's
// performance procedure (p99 latency, batching raises throughput) catches a bug that only
// slows the cluster, which no safety checker and no liveness budget of the swarm sees (a
// primary that takes another client's request for one in flight and drops it commits
// everything, eight times slower). A few seeds suffice: the scenario has no faults, and each
// seed simulates two one-second load runs.
const (
	PerformanceScenario = "performance"
	PerformanceSeeds    = 3
)

// ScenarioList returns the scenarios the mutant runs: its own, or the swarm, then the
// performance scenario.
func (m Mutant) ScenarioList() []string {
	list := []string{DefaultScenario}
	if len(m.Scenarios) > 0 {
		list = slices.Clone(m.Scenarios)
	}
	if !slices.Contains(list, PerformanceScenario) {
		list = append(list, PerformanceScenario)
	}
	return list
}

// seedsOf is how many seeds a campaign of seeds per scenario runs of scenario s.
func seedsOf(s string, seeds int) int {
	if s == PerformanceScenario {
		return min(seeds, PerformanceSeeds)
	}
	return seeds
}

type catalogDoc struct {
	Mutants []Mutant `yaml:"mutants"`
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// LoadCatalog reads the hand-written and the generated catalogs under the repository root and
// checks every entry's form (not yet whether its snippet matches: see Match).
func LoadCatalog(root string) ([]Mutant, error) {
	hand, err := readCatalog(filepath.Join(root, CatalogFile))
	if err != nil {
		return nil, err
	}
	generated, err := readCatalog(filepath.Join(root, GeneratedCatalogFile))
	if errors.Is(err, os.ErrNotExist) {
		generated, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range generated {
		generated[i].Generated = true
	}
	all := append(hand, generated...)
	return all, checkCatalog(all)
}

func readCatalog(path string) ([]Mutant, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc catalogDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc.Mutants, nil
}

// checkCatalog checks each entry's fields and that ids are unique.
func checkCatalog(all []Mutant) error {
	var problems []string
	seen := map[string]bool{}
	for i, m := range all {
		where := fmt.Sprintf("mutant %d (%s)", i, m.ID)
		switch {
		case !idPattern.MatchString(m.ID):
			problems = append(problems, where+": id must look like package.what_goes_wrong")
		case seen[m.ID]:
			problems = append(problems, where+": duplicate id")
		case !strings.HasPrefix(m.File, "cluster/") || !strings.HasSuffix(m.File, ".go") ||
			strings.HasSuffix(m.File, "_test.go") || strings.Contains(m.File, ".."):
			problems = append(problems, where+": file must be a non-test Go file under cluster/")
		case strings.TrimSpace(m.Description) == "":
			problems = append(problems, where+": no description")
		case m.Search == "" || m.Search == m.Replace:
			problems = append(problems, where+": empty search, or replace equal to it")
		}
		seen[m.ID] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("mutant catalog: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Select returns the mutants named by a comma-separated list of ids (all for ""). An unknown
// id is an error.
func Select(all []Mutant, ids string) ([]Mutant, error) {
	if strings.TrimSpace(ids) == "" {
		return all, nil
	}
	byID := map[string]Mutant{}
	for _, m := range all {
		byID[m.ID] = m
	}
	var out []Mutant
	for _, id := range strings.Split(ids, ",") {
		id = strings.TrimSpace(id)
		m, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("unknown mutant %q (vopr-mutate list)", id)
		}
		out = append(out, m)
	}
	return out, nil
}
