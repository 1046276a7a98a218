package scenarios

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// Same seed, same binary => identical trace, in one process.
func TestSameSeedTwiceSameTraceInProcess(t *testing.T) {
	s := echoScenario(t)
	hashes := map[uint64]bool{}
	for seed := uint64(1); seed <= 4; seed++ {
		a := s.Run(Options{Seed: seed, TicksMax: 600})
		b := s.Run(Options{Seed: seed, TicksMax: 600})
		require.Equal(t, a.TraceHash, b.TraceHash, "seed %d", seed)
		require.Equal(t, a.Events, b.Events, "seed %d", seed)
		require.Equal(t, a.Counters, b.Counters, "seed %d", seed)
		hashes[a.TraceHash] = true
	}
	require.Len(t, hashes, 4, "different seeds must give different traces")
}

// The log level changes what is printed, never the fingerprint.
func TestTraceHashDoesNotDependOnTheLogLevel(t *testing.T) {
	s := echoScenario(t)
	var out countingWriter
	quiet := s.Run(Options{Seed: 4, TicksMax: 300})
	loud := s.Run(Options{Seed: 4, TicksMax: 300, Log: sim.LevelFull, Out: &out})
	require.Equal(t, quiet.TraceHash, loud.TraceHash)
	require.Greater(t, out.lines, 100)
}

type countingWriter struct{ lines int }

func (w *countingWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			w.lines++
		}
	}
	return len(p), nil
}

func TestCheckDeterminismPassesTheEchoScenario(t *testing.T) {
	s := echoScenario(t)
	for seed := uint64(1); seed <= 3; seed++ {
		require.Nil(t, CheckDeterminism(s.Run, Options{Seed: seed, TicksMax: 600}), "seed %d", seed)
	}
}

// CheckDeterminism keeps the trace for the comparison and never prints it.
func TestCheckDeterminismKeepsTheTraceAndPrintsNothing(t *testing.T) {
	var seen []Options
	run := func(o Options) Result {
		seen = append(seen, o)
		return echoScenario(t).Run(o)
	}
	require.Nil(t, CheckDeterminism(run, Options{Seed: 2, TicksMax: 100, Log: sim.LevelFull, Out: os.Stdout}))
	require.Len(t, seen, 2, "each seed runs twice")
	for _, o := range seen {
		require.Equal(t, DeterminismTraceKeep, o.TraceKeep)
		require.Nil(t, o.Out)
		require.Equal(t, uint64(2), o.Seed)
		require.Equal(t, 100, o.TicksMax)
	}
}

// leak is state that survives from one run to the next: the kind of bug (a package-level
// cache, a global counter) that check-determinism exists to catch.
var leak int

// leakyRun emits the same records every run except one, which carries the leaked counter.
func leakyRun(o Options) Result {
	loop := sim.NewLoop()
	tr := sim.NewTrace(loop.Now)
	tr.KeepMax = o.TraceKeep
	for i := 0; i < 5; i++ {
		loop.After(sim.Millisecond, func() { tr.Emitf(sim.LevelShort, i%2, "step", "step %d", i) })
		loop.RunUntil(loop.Now() + sim.Time(sim.Millisecond))
	}
	leak++
	tr.Emitf(sim.LevelShort, 1, "leak", "counter=%d", leak)
	tr.Emit(sim.LevelShort, 0, "step", "after")
	return Result{Scenario: "leaky", Seed: o.Seed, TraceHash: tr.Hash(), Events: tr.Count(), Trace: tr}
}

func TestCheckDeterminismReportsTheFirstDivergentRecord(t *testing.T) {
	d := CheckDeterminism(leakyRun, Options{Seed: 77})
	require.NotNil(t, d, "a run that depends on leaked state must be caught")
	require.Equal(t, uint64(77), d.Seed)
	require.Equal(t, 5, d.Index, "records 0..4 agree; record 5 carries the leak")
	require.Equal(t, "leak", d.First.Kind)
	require.Equal(t, "leak", d.Second.Kind)
	require.Equal(t, fmt.Sprintf("counter=%d", leak-1), d.First.Text)
	require.Equal(t, fmt.Sprintf("counter=%d", leak), d.Second.Text)
	require.Equal(t, sim.Time(5*sim.Millisecond), d.First.At)
	require.NotEqual(t, d.HashA, d.HashB)

	msg := d.String()
	require.Contains(t, msg, "seed 77: first divergent event #5")
	require.Contains(t, msg, "run 1: "+d.First.String())
	require.Contains(t, msg, "run 2: "+d.Second.String())
}

// leakyEcho is an echo-like actor that draws its peer from a package-level generator
// instead of its own PRNG stream (sim.Stream): the generator's state carries over from one
// run to the next, so a second run of the same seed sends elsewhere.
type leakyEcho struct {
	node  *sim.Node
	net   *sim.Network
	peers int
}

var sharedRand = rand.New(rand.NewPCG(1, 2))

func (a *leakyEcho) Tick() {
	to := (a.node.ID + 1 + sharedRand.IntN(a.peers-1)) % a.peers
	a.net.Send(a.node.ID, to, []byte("ping"))
}

func (a *leakyEcho) Receive(from int, msg []byte) {
	if string(msg) == "ping" {
		a.net.Send(a.node.ID, from, []byte("pong"))
	}
}

func leakyEchoRun(o Options) Result {
	w := sim.NewWorld(sim.WorldOptions{Seed: o.Seed, NodeCount: 3,
		Network: sim.NetworkOptions{OneWayDelayMin: sim.Millisecond, OneWayDelayMean: 5 * sim.Millisecond}})
	w.Trace.KeepMax = o.TraceKeep
	for _, n := range w.Nodes {
		n.Start(func(n *sim.Node) sim.Actor { return &leakyEcho{node: n, net: w.Network, peers: 3} })
	}
	w.Loop.RunUntil(sim.Time(sim.Second))
	return Result{Scenario: "leaky-echo", Seed: o.Seed, TraceHash: w.Trace.Hash(), Events: w.Trace.Count(), Trace: w.Trace}
}

// Against a real simulated world: the divergence named is the first record (by position)
// whose text differs between the two runs, and it is a network send.
func TestCheckDeterminismFindsALeakyActor(t *testing.T) {
	var runs []Result
	run := func(o Options) Result {
		r := leakyEchoRun(o)
		runs = append(runs, r)
		return r
	}
	d := CheckDeterminism(run, Options{Seed: 5})
	require.NotNil(t, d)
	require.Len(t, runs, 2)

	a, b := runs[0].Trace.Kept, runs[1].Trace.Kept
	first := -1
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			first = i
			break
		}
	}
	require.GreaterOrEqual(t, first, 0, "the runs must differ in some record")
	require.Equal(t, first, d.Index)
	require.Equal(t, a[first], d.First)
	require.Equal(t, b[first], d.Second)
	require.Equal(t, "network", d.First.Kind)
	require.Regexp(t, `^send \d->\d`, d.First.Text)
	require.NotEqual(t, d.First.Text, d.Second.Text)
}

var traceHashLine = regexp.MustCompile(`(?m)^seed=(\d+) pass .*trace_hash=([0-9a-f]{16})$`)

// Same seed, same binary => identical trace across processes: the vopr binary is built once
// and run twice (with different GOMAXPROCS), and both print the trace hash this process
// computes for the seed.
func TestSameSeedSameTraceAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the vopr binary")
	}
	bin := filepath.Join(t.TempDir(), "vopr")
	build := exec.Command("go", "build", "-o", bin, "vopr/cmd/vopr")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	const seed = 1234
	const ticks = 800
	var hashes []string
	for _, procs := range []string{"1", "4"} {
		cmd := exec.Command(bin, "run", "--seed", strconv.Itoa(seed), "--scenario", "echo", "--ticks-max", strconv.Itoa(ticks))
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs)
		out, err := cmd.Output()
		require.NoError(t, err, "vopr run: %s", out)
		m := traceHashLine.FindStringSubmatch(string(out))
		require.NotNil(t, m, "no trace_hash line in:\n%s", out)
		require.Equal(t, strconv.Itoa(seed), m[1])
		hashes = append(hashes, m[2])
	}
	require.Equal(t, hashes[0], hashes[1], "two processes, one seed, two traces")

	inProcess := echoScenario(t).Run(Options{Seed: seed, TicksMax: ticks})
	require.Equal(t, fmt.Sprintf("%016x", inProcess.TraceHash), hashes[0])
}
