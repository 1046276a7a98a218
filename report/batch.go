package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"vopr/scenarios"
)

// BatchJSON is the JSON report of vopr run, vopr swarm and vopr merge: the build that ran,
// what it ran (scenario, shard, seed range, tick budget, planted bug), the summed counters
// and one entry per finished seed, in seed order. Shards of one campaign carry the same
// header but their shard, so vopr merge can check that they belong together.
type BatchJSON struct {
	Build    Build  `json:"build"`
	Command  string `json:"command"` // run, swarm or merge
	Scenario string `json:"scenario"`
	// Shard is "I/N": this file holds the seeds whose index is I modulo N; "all" after a merge
	// of every shard.
	Shard     string `json:"shard"`
	FirstSeed uint64 `json:"first_seed"`
	// Seeds is how many seeds the shard planned (0 for a --duration campaign).
	Seeds    int    `json:"seeds"`
	TicksMax int    `json:"ticks_max"`
	Mutation string `json:"mutation,omitempty"`
	// Interrupted: the campaign was stopped (SIGINT, SIGTERM) before every seed ran; the
	// results are the seeds that finished.
	Interrupted bool              `json:"interrupted,omitempty"`
	Passed      int               `json:"passed"`
	Correctness int               `json:"correctness"`
	Liveness    int               `json:"liveness"`
	ExitCode    int               `json:"exit_code"`
	Counters    map[string]uint64 `json:"counters"`
	Results     []SeedJSON        `json:"results"`
}

// Batch is a campaign's results and what it ran.
type Batch struct {
	Command     string
	Scenario    string
	ShardIndex  int
	ShardCount  int
	FirstSeed   uint64
	Seeds       int
	Replay      scenarios.Replay
	Interrupted bool
	Results     []scenarios.Result
	// Shards overrides the "I/N" of the shard (a merge says which shards it joined).
	Shards string
}

func (b Batch) shard() string {
	if b.Shards != "" {
		return b.Shards
	}
	return fmt.Sprintf("%d/%d", b.ShardIndex, max(b.ShardCount, 1))
}

// JSON is the batch as its JSON report.
func (b Batch) JSON() BatchJSON {
	out := BatchJSON{Build: CurrentBuild(), Command: b.Command, Scenario: b.Scenario, Shard: b.shard(),
		FirstSeed: b.FirstSeed, Seeds: b.Seeds, TicksMax: b.Replay.TicksMax, Interrupted: b.Interrupted,
		ExitCode: WorstExit(b.Results), Counters: SumCounters(b.Results), Results: []SeedJSON{}}
	if b.Replay.Mutation != 0 {
		out.Mutation = b.Replay.Mutation.String()
	}
	for _, r := range b.Results {
		switch r.Outcome {
		case scenarios.Pass:
			out.Passed++
		case scenarios.Correctness:
			out.Correctness++
		default:
			out.Liveness++
		}
		out.Results = append(out.Results, NewSeedJSON(r, b.Replay))
	}
	return out
}

// WriteJSON writes the batch's JSON report to path ("" writes nothing).
func (b Batch) WriteJSON(path string) error {
	if path == "" {
		return nil
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(b.JSON()); err != nil {
		return err
	}
	return writeFile(path, data.Bytes())
}

type junitSuite struct {
	XMLName    xml.Name         `xml:"testsuite"`
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []JUnitCase      `xml:"testcase"`
}

// WriteJUnit writes one testsuite with a testcase per seed to path ("" writes nothing); its
// properties name the build, the scenario, the shard and the seed range.
func (b Batch) WriteJUnit(path string) error {
	if path == "" {
		return nil
	}
	header := b.JSON()
	suite := junitSuite{Name: "vopr", Tests: len(b.Results), Properties: buildProperties(header.Build, &header)}
	for _, r := range b.Results {
		c := SeedCase(r, b.Replay)
		if c.Failure != nil {
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	data, err := xml.MarshalIndent(suite, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append([]byte(xml.Header), append(data, '\n')...))
}

// WorstExit maps a batch to one exit code: any correctness failure wins, then liveness.
func WorstExit(results []scenarios.Result) int {
	code := ExitPass
	for _, r := range results {
		switch r.Outcome {
		case scenarios.Correctness:
			return ExitCorrectness
		case scenarios.Liveness:
			code = ExitLiveness
		}
	}
	return code
}

// SumCounters adds up every counter over the results.
func SumCounters(results []scenarios.Result) map[string]uint64 {
	total := map[string]uint64{}
	for _, r := range results {
		for name, v := range r.Counters {
			total[name] += v
		}
	}
	return total
}

// PrintCounters prints the summed counters, sorted by name.
func PrintCounters(w io.Writer, results []scenarios.Result) {
	total := SumCounters(results)
	if len(total) == 0 {
		return
	}
	names := make([]string, 0, len(total))
	for name := range total {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "counters over %d seed(s):\n", len(results))
	for _, name := range names {
		fmt.Fprintf(w, "  %-32s %d\n", name, total[name])
	}
}

// PrintNeverReached lists the coverage counters ("coverage." names: faults injected and
// protocol paths taken) that stayed at zero over the whole batch.
func PrintNeverReached(w io.Writer, results []scenarios.Result) {
	var never []string
	seen := false
	for name, n := range SumCounters(results) {
		if strings.HasPrefix(name, coveragePrefix) {
			seen = true
			if n == 0 {
				never = append(never, name)
			}
		}
	}
	if !seen {
		return // the scenario reports no coverage counters
	}
	sort.Strings(never)
	if len(never) == 0 {
		fmt.Fprintf(w, "coverage: every counter reached\n")
		return
	}
	fmt.Fprintf(w, "coverage: never reached: %s\n", strings.Join(never, ", "))
}

// PrintSummary is a campaign's summary: the verdict table first, then the failures grouped
// by signature (each group with its seeds and the replay command of its first seed), the
// counters, and the coverage counters never reached.
func PrintSummary(w io.Writer, b Batch, wall time.Duration) {
	var passed, correctness, liveness int
	var simNs int64
	for _, r := range b.Results {
		simNs += int64(r.SimTime)
		switch r.Outcome {
		case scenarios.Pass:
			passed++
		case scenarios.Correctness:
			correctness++
		default:
			liveness++
		}
	}
	if b.Interrupted {
		fmt.Fprintf(w, "interrupted: the summary covers the %d seed(s) that finished\n", len(b.Results))
	}
	fmt.Fprintf(w, "%-8s %7s %7s %12s %9s %12s %10s %10s\n", "seeds", "passed", "failed", "correctness", "liveness",
		"sim_time", "wall_time", "seeds/s")
	rate := 0.0
	if wall > 0 {
		rate = float64(len(b.Results)) / wall.Seconds()
	}
	fmt.Fprintf(w, "%-8d %7d %7d %12d %9d %11.1fs %10s %10.1f\n", len(b.Results), passed, correctness+liveness,
		correctness, liveness, float64(simNs)/1e9, wall.Round(time.Millisecond), rate)
	PrintFailureGroups(w, b.Results, b.Replay)
	PrintCounters(w, b.Results)
	PrintNeverReached(w, b.Results)
}

// PrintFailureGroups groups the failures by scenarios.FailureSignature (class, checker,
// reason with numbers masked), largest group first.
func PrintFailureGroups(w io.Writer, results []scenarios.Result, p scenarios.Replay) {
	groups := map[string][]scenarios.Result{}
	var order []string
	for _, r := range results {
		if r.Outcome == scenarios.Pass {
			continue
		}
		sig := scenarios.FailureSignature(r)
		if _, ok := groups[sig]; !ok {
			order = append(order, sig)
		}
		groups[sig] = append(groups[sig], r)
	}
	sort.SliceStable(order, func(i, j int) bool { return len(groups[order[i]]) > len(groups[order[j]]) })
	if len(order) > 0 {
		fmt.Fprintf(w, "failures by signature:\n")
	}
	for _, sig := range order {
		g := groups[sig]
		seeds := make([]uint64, len(g))
		for i, r := range g {
			seeds[i] = r.Seed
		}
		fmt.Fprintf(w, "  %d x %s\n    seeds: %s\n    replay: %s\n", len(g), sig, seedList(seeds), p.Command(g[0]))
	}
}

// seedList prints seeds in the order given, at most 20 of them.
func seedList(seeds []uint64) string {
	const shown = 20
	var parts []string
	for i, s := range seeds {
		if i == shown {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(seeds)-shown))
			break
		}
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, ", ")
}
