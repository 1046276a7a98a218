package scenarios

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vopr/faults"
	"vopr/sim"
)

// go test as a way in: TestVOPR runs any scenario on the seeds you name, exactly as `vopr
// run` does (the same Options, the same lines), and a failing seed prints the result line,
// the drawn parameters, the trace hash and the exact replay commands, and saves its full
// trace and its picture under t.ArtifactDir() (kept with go test -artifacts):
//
//	go test ./scenarios -run '^TestVOPR$' -vopr.seed=0x2a -vopr.scenario=quorum_lost
//	go test ./scenarios -run '^TestVOPR$' -vopr.seed=1 -vopr.seeds=20 -artifacts
//	go test -tags vopr_mutants ./scenarios -run '^TestVOPR$' -vopr.mutation=forget_client_table -vopr.seed=5
//
// Without -vopr.seed or -vopr.seeds it skips: a random seed has no place in a test run.
var (
	voprScenario = flag.String("vopr.scenario", "swarm", "TestVOPR: the scenario to run (vopr list scenarios)")
	voprSeed     = flag.String("vopr.seed", "", "TestVOPR: the (first) seed: decimal u64, 0x hex or 40-hex git commit")
	voprSeeds    = flag.Int("vopr.seeds", 0, "TestVOPR: how many seeds from -vopr.seed (default 1; alone: seeds 1..N)")
	voprLog      = flag.String("vopr.log", "none", "TestVOPR: log level printed to the test output: none, short or full")
	voprTicksMax = flag.Int("vopr.ticks-max", 0, "TestVOPR: tick budget per seed (0: the scenario's default)")
	voprWithout  = flag.String("vopr.without", "", "TestVOPR: swarm override: fault kinds off (comma-separated)")
)

func TestVOPR(t *testing.T) {
	if *voprSeed == "" && *voprSeeds == 0 {
		t.Skip("TestVOPR runs the seeds you name: -vopr.seed=S [-vopr.seeds=N] [-vopr.scenario=NAME] [-vopr.log=short]")
	}
	s, ok := Lookup(*voprScenario)
	if !ok {
		t.Fatalf("-vopr.scenario %q: expected one of %v", *voprScenario, Names())
	}
	level, err := sim.ParseLevel(*voprLog)
	if err != nil {
		t.Fatalf("-vopr.log: %v", err)
	}
	seeds, err := voprSeedList(*voprSeed, *voprSeeds)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{TicksMax: *voprTicksMax, Log: level, Mutation: voprMutation(t)}
	if *voprWithout != "" {
		for _, k := range strings.Split(*voprWithout, ",") {
			o.SwarmOverride.Without = append(o.SwarmOverride.Without, faults.Kind(k))
		}
	}
	for _, seed := range seeds {
		o.Seed = seed
		if level != sim.LevelNone {
			o.Out = t.Output()
		}
		if r := CheckSeed(t, s, o); r.Outcome == Pass {
			t.Logf("%s\n%s", ParamsLine(s, o), ResultLines(r, ReplayOf(o)))
		}
	}
}

func voprSeedList(seed string, count int) ([]uint64, error) {
	var start uint64 = 1
	if seed != "" {
		s, err := ParseSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("-vopr.seed: %v", err)
		}
		start = s
	}
	if count < 0 {
		return nil, fmt.Errorf("-vopr.seeds %d: expected a seed count >= 1", count)
	}
	seeds := make([]uint64, max(count, 1))
	for i := range seeds {
		seeds[i] = start + uint64(i)
		if seeds[i] < start {
			return nil, fmt.Errorf("-vopr.seed %d -vopr.seeds %d: the range runs past the largest seed 2^64-1", start, count)
		}
	}
	return seeds, nil
}

// CheckSeed runs one seed of s and fails t unless it passes. A failure reports what `vopr
// run` prints (the parameters, the result line, the trace hash, the replay command) and the
// go test command that runs it again; then the seed runs a second time with the full log
// and the picture recorded, which must give the same trace hash (the replay is real), and
// both are saved under t.ArtifactDir(). The regression-seed tests use it too.
func CheckSeed(t *testing.T, s Scenario, o Options) Result {
	t.Helper()
	r := s.Run(o)
	if r.Outcome == Pass {
		return r
	}
	rp := ReplayOf(o)
	msg := fmt.Sprintf("%s\n%s\n  go test: %s", ParamsLine(s, o), ResultLines(r, rp), rp.GoTestCommand(r))
	if !o.SwarmOverride.IsZero() {
		msg += " (with the swarm override of the vopr command)"
	}
	dir := t.ArtifactDir()
	base := filepath.Join(dir, fmt.Sprintf("%s-seed-%d", s.Name, r.Seed))
	again, saveErr := saveFailure(s, o, r, rp, base)
	if saveErr != nil {
		msg += fmt.Sprintf("\n  artifacts: %v", saveErr)
	} else {
		msg += fmt.Sprintf("\n  trace: %s.trace\n  picture: %s.html", base, base)
	}
	if again.TraceHash != r.TraceHash {
		msg += fmt.Sprintf("\n  REPLAY DIVERGED: the rerun's trace hash is %016x", again.TraceHash)
	}
	t.Error(msg)
	return r
}

// saveFailure reruns o with the full log into base.trace and the picture into base.html.
func saveFailure(s Scenario, o Options, r Result, rp Replay, base string) (Result, error) {
	f, err := os.Create(base + ".trace")
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	o.Out, o.Log, o.Picture = f, sim.LevelFull, NewPicture()
	again := s.Run(o)
	return again, WritePicture(base+".html", o.Picture, again, rp)
}
