package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/faults"
	"vopr/scenarios"
)

var (
	replayLine = regexp.MustCompile(`(?m)^  replay: (vopr .*)$`)
	kindsLine  = regexp.MustCompile(`(?m)^  kinds +(\d+) -> (\d+): `)
	failLine   = regexp.MustCompile(`(?m)^seed=\d+ FAIL (\w+): (.*)$`)
)

// shrunkReplay runs a shrink, and then the replay command it printed, through the command
// line; it requires the replay to be the shrunk run (same exit code, failure and trace hash)
// and returns both outputs.
func shrunkReplay(t *testing.T, wantExit int, args ...string) (shrink, replayed string) {
	t.Helper()
	code, shrink, stderr := vopr(append([]string{"shrink"}, args...)...)
	require.Equal(t, wantExit, code, stderr+shrink)
	m := replayLine.FindStringSubmatch(shrink)
	require.NotNil(t, m, shrink)
	fields := strings.Fields(m[1])
	require.Equal(t, []string{"vopr", "replay"}, fields[:2])
	code, replayed, stderr = vopr(fields[1:]...)
	require.Equal(t, wantExit, code, "the replay command fails like the shrunk run: %s\n%s", stderr, m[1])
	require.Equal(t, hashField.FindAllString(shrink, -1)[0], hashField.FindString(replayed), "same run, same trace")
	want, got := failLine.FindStringSubmatch(shrink), failLine.FindStringSubmatch(replayed)
	require.NotNil(t, got)
	require.Equal(t, want[1:], got[1:], "same failure")
	return shrink, replayed
}

// Under a budget too small to commit anything every configuration fails the same way, so
// the shrink is known: no kind, one client, one replica, no standby, and its replay fails
// again.
func TestShrinkToTheKnownMinimumAndReplayIt(t *testing.T) {
	shrink, replayed := shrunkReplay(t, exitLiveness, "3", "--ticks-max", "2")
	require.Contains(t, shrink, "\nattempt   1: without all 10 kinds ")
	require.Contains(t, shrink, "kept    liveness: clients never served after the heal")
	require.Contains(t, shrink, "  kinds       10 -> 0: (none)\n  fault ticks 1 -> 1\n  clients     4 -> 1\n  replicas    1 -> 1\n  standbys    2 -> 0\n")
	require.Contains(t, shrink, "replay: vopr replay 3 --scenario swarm --without clock.offset,")
	require.Contains(t, shrink, " --clients 1 --no-standbys --ticks-max 2\n")
	first := strings.SplitN(replayed, "\n", 2)[0]
	require.Contains(t, first, "seed=3 scenario=swarm override=[--without clock.offset,", "the first line shows the override")
	require.Contains(t, first, " kinds= ")
	require.Contains(t, first, " clients=1 ")
}

// Under an attempt limit a shrink stops early and still prints a kept, failing
// configuration, whose replay fails the same way. The real liveness seed this test shrank,
// 2026260153, was a storage recovery bug, fixed (as were 427 and 399 before it, and the test
// once skipped unnoticed on a fixed seed). So the failure is seed 3's under a two-tick budget,
// where every configuration fails and only the limit can end the search early: the test does
// not depend on an open bug staying open.
func TestShrinkStopsAtItsAttemptLimit(t *testing.T) {
	shrink, _ := shrunkReplay(t, exitLiveness, "3", "--ticks-max", "2", "--attempts", "3")
	require.Contains(t, shrink, "stopped early: attempt limit (3 runs) reached")
	require.Contains(t, shrink, "\nattempt 3: ")
	require.NotContains(t, shrink, "\nattempt 4")
	require.Regexp(t, `replay: vopr replay 3 --scenario swarm --without \S+( --fault-ticks \d+)?( --clients \d)?( --replicas \d)?( --no-standbys)? --ticks-max 2\n`, shrink)
}

func mustLookup(t *testing.T) scenarios.Scenario {
	s, ok := scenarios.Lookup("swarm")
	require.True(t, ok)
	return s
}

func TestShrinkPassingSeedHasNothingToShrink(t *testing.T) {
	code, stdout, stderr := vopr("shrink", "1")
	require.Equal(t, exitPass, code, stderr)
	require.True(t, strings.HasSuffix(stdout, "seed 1 passes: nothing to shrink\n"), stdout)
	require.NotContains(t, stdout, "\nattempt ")
}

func TestShrinkAndOverrideUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"shrink"}, "shrink: expected a SEED first"},
		{[]string{"shrink", "--ticks-max", "5"}, "shrink: expected a SEED first"},
		{[]string{"shrink", "zz"}, seedForms},
		{[]string{"shrink", "1", "--scenario", "echo"}, `shrink supports the swarm scenario (the one whose parameters are drawn from the seed), not "echo"`},
		{[]string{"shrink", "1", "--scenario", "nope"}, "unknown scenario"},
		{[]string{"shrink", "1", "--bogus"}, "accepted flags: --attempts, --budget, --mutation, --scenario, --ticks-max"},
		{[]string{"shrink", "1", "--attempts", "0"}, "expected --budget > 0 and --attempts >= 1"},
		{[]string{"shrink", "1", "--budget", "0s"}, "expected --budget > 0 and --attempts >= 1"},
		{[]string{"shrink", "1", "--ticks-max", "-3"}, "expected a positive tick count"},
		{[]string{"run", "--scenario", "swarm", "--without", "network.loss,disk.nonsense"},
			`--without: unknown fault kind "disk.nonsense": expected one of ` + faults.KindNames()},
		{[]string{"replay", "1", "--scenario", "swarm", "--without", "loss"}, `unknown fault kind "loss"`},
		{[]string{"run", "--without", "network.loss"}, `apply to the swarm scenario only, not "echo"`},
		{[]string{"replay", "399", "--scenario", "swarm", "--replicas", "5"}, "seed 399: 5 replicas: this seed draws 3, and an override can only lower it"},
		{[]string{"run", "--scenario", "swarm", "--clients", "9"}, "9 clients: want 1..8"},
		{[]string{"run", "--scenario", "swarm", "--fault-ticks", "-1"}, "expected a positive count"},
		{[]string{"run", "--bogus"}, "; swarm override flags: --clients, --fault-ticks, --no-reconfig, --no-standbys, --replicas, --without"},
	}
	for _, c := range cases {
		code, stdout, stderr := vopr(c.args...)
		require.Equal(t, exitUsage, code, "%q: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, "%q", c.args)
		require.Empty(t, stdout, "%q: nothing runs on a usage error", c.args)
	}
}

// The override flags are deterministic (the same trace twice), shown on the first line,
// change the run, and replay prints the same result as run.
func TestOverrideFlagsAreDeterministicAndShown(t *testing.T) {
	require.Contains(t, mustLookup(t).Params(5), "kinds=clock.step,disk.corruption,disk.write_error,network.clog,network.corruption,network.partition,network.ring_bridge,node.crash ")
	args := []string{"--scenario", "swarm", "--ticks-max", "600", "--without", "node.crash,network.clog,network.corruption",
		"--clients", "2", "--fault-ticks", "100", "--log", "none"}
	code, one, stderr := vopr(append([]string{"run", "--seed", "5"}, args...)...)
	require.Equal(t, exitPass, code, stderr+one)
	_, two, _ := vopr(append([]string{"run", "--seed", "5"}, args...)...)
	require.Equal(t, one, two)
	_, replayed, _ := vopr(append([]string{"replay", "5"}, args...)...)
	require.Equal(t, passLine.FindString(one), passLine.FindString(replayed))
	first := strings.SplitN(one, "\n", 2)[0]
	require.Contains(t, first, "seed=5 scenario=swarm override=[--without network.clog,network.corruption,node.crash --clients 2 --fault-ticks 100] ")
	require.Contains(t, first, " kinds=clock.step,disk.corruption,disk.write_error,network.partition,network.ring_bridge ")
	require.Contains(t, first, " clients=2 ")
	_, plain, _ := vopr("run", "--seed", "5", "--scenario", "swarm", "--ticks-max", "600")
	require.NotEqual(t, hashField.FindString(plain), hashField.FindString(one))
}
