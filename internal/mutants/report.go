package mutants

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Report is a campaign's result.
type Report struct {
	Started   string `json:"started"`
	Commit    string `json:"commit"` // git describe of the tree the mutants were applied to
	Seeds     int    `json:"seeds"`
	FirstSeed uint64 `json:"first_seed"`
	Jobs      int    `json:"jobs"`
	// Baseline lists the seeds the unmutated tree fails: not kills when a mutant fails them
	// the same way.
	Baseline    []BaselineFailure `json:"baseline_failures"`
	BaselineRun bool              `json:"baseline_run"`
	// BaselineScenarios are the scenarios the baseline ran (all seeds each).
	BaselineScenarios []string  `json:"baseline_scenarios"`
	BaselineSeconds   float64   `json:"baseline_seconds"`
	Outcomes          []Outcome `json:"mutants"`
	Summary           Summary   `json:"summary"`
}

// BaselineFailure is a seed the unmutated tree fails.
type BaselineFailure struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	Class    string `json:"class"`
	Replay   string `json:"replay"`
}

// Summary is the campaign in figures. KillRate is Killed (hangs included) over the mutants
// that ran to a verdict; stale mutants, build errors and campaign errors are not in it.
type Summary struct {
	Mutants     int      `json:"mutants"`
	Killed      int      `json:"killed"`
	Hangs       int      `json:"hangs"`
	Survived    int      `json:"survived"`
	Stale       int      `json:"stale"`
	BuildErrors int      `json:"build_errors"`
	Errors      int      `json:"errors"`
	KillRate    float64  `json:"kill_rate"`
	HandKilled  int      `json:"hand_written_killed"`
	HandRun     int      `json:"hand_written_run"`
	GenKilled   int      `json:"generated_killed"`
	GenRun      int      `json:"generated_run"`
	MedianSeeds float64  `json:"median_seeds_to_kill"`
	WorstSeeds  int      `json:"worst_seeds_to_kill"`
	Survivors   []string `json:"survivors"`
	StaleIDs    []string `json:"stale_ids"`
}

func newReport(cfg Config, root string) Report {
	return Report{Started: time.Now().UTC().Format(time.RFC3339), Commit: describe(root), Seeds: cfg.Seeds,
		FirstSeed: cfg.FirstSeed, Jobs: cfg.Jobs, BaselineRun: cfg.Baseline}
}

func describe(root string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func (r *Report) add(o Outcome) {
	r.Outcomes = append(r.Outcomes, o)
	r.Summary = summarize(r.Outcomes)
}

// summarize computes the figures from the outcomes.
func summarize(outcomes []Outcome) Summary {
	s := Summary{Mutants: len(outcomes), Survivors: []string{}, StaleIDs: []string{}}
	var seeds []int
	for _, o := range outcomes {
		ran := o.Status == Killed || o.Status == Hang || o.Status == Survived
		killed := o.Status == Killed || o.Status == Hang
		switch o.Status {
		case Killed:
			s.Killed++
			if o.SeedsToKill > 0 {
				seeds = append(seeds, o.SeedsToKill)
			}
		case Hang:
			s.Killed++
			s.Hangs++
		case Survived:
			s.Survived++
			s.Survivors = append(s.Survivors, o.ID)
		case Stale:
			s.Stale++
			s.StaleIDs = append(s.StaleIDs, o.ID)
		case BuildError:
			s.BuildErrors++
		default:
			s.Errors++
		}
		if ran && o.Generated {
			s.GenRun++
			s.GenKilled += boolInt(killed)
		} else if ran {
			s.HandRun++
			s.HandKilled += boolInt(killed)
		}
	}
	if s.Killed+s.Survived > 0 {
		s.KillRate = float64(s.Killed) / float64(s.Killed+s.Survived)
	}
	s.MedianSeeds, s.WorstSeeds = median(seeds)
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// median returns the median and the maximum of xs (0, 0 for none).
func median(xs []int) (float64, int) {
	if len(xs) == 0 {
		return 0, 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return float64(xs[n/2]), xs[n-1]
	}
	return float64(xs[n/2-1]+xs[n/2]) / 2, xs[n-1]
}

// JSON returns the report as indented JSON.
func (r Report) JSON() []byte {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return append(data, '\n')
}

// line is the outcome in one line, for progress output.
func (o Outcome) line() string {
	switch o.Status {
	case Killed:
		return fmt.Sprintf("%s killed at seed %d of %s (%.0fs): %s", o.ID, o.KilledAt, o.Scenario, o.WallSeconds, o.Class)
	case Survived:
		return fmt.Sprintf("%s SURVIVED %d seeds of %s (%.0fs)", o.ID, o.SeedsRun,
			strings.Join(o.ScenarioList(), "+"), o.WallSeconds)
	case Hang:
		return fmt.Sprintf("%s hang in %s: %s", o.ID, o.Scenario, o.Class)
	}
	return fmt.Sprintf("%s %s: %s", o.ID, strings.ToUpper(string(o.Status)), firstLine(o.Detail))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
