//go:build vopr_mutants

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// A planted bug's failing swarm seed shrinks to fewer fault kinds, and the replay command it
// prints (which names the mutation), run through the command line, fails the same way:
// same invariant, same trace.
// Run with: go test -tags vopr_mutants -run Mutants ./cmd/vopr/
func TestShrinkMutantsReplay(t *testing.T) {
	for _, c := range []struct {
		m         vsr.Mutation
		seed      string
		invariant string
	}{
		{vsr.MutationForgetClientTable, "5", "FAIL correctness: invariant digest_agreement violated: "},
		{vsr.MutationCommitPastOpAfterSync, "4", "fail-stopped at "},
	} {
		t.Run(c.m.String(), func(t *testing.T) {
			shrink, replayed := shrunkReplay(t, exitCorrectness, c.seed, "--mutation", c.m.String())
			require.Contains(t, shrink, c.invariant)
			require.Contains(t, replayed, c.invariant)
			kinds := kindsLine.FindStringSubmatch(shrink)
			require.NotNil(t, kinds, shrink)
			before, _ := strconv.Atoi(kinds[1])
			after, _ := strconv.Atoi(kinds[2])
			require.Less(t, after, before, "fewer fault kinds")
			require.Contains(t, replayLine.FindString(shrink), " --without ")
			require.Contains(t, replayLine.FindString(shrink), " --mutation "+c.m.String())
			first := strings.SplitN(replayed, "\n", 2)[0]
			require.Contains(t, first, "override=[--without ")
			require.Contains(t, first, " mutation="+c.m.String())
			t.Logf("%s seed %s: kinds %d -> %d; %s", c.m, c.seed, before, after, replayLine.FindString(shrink))
		})
	}
}

// vopr run --mutation NAME fails, and the replay command it prints names the mutation and
// reproduces the failure and its trace hash; without the mutation the same seed passes.
func TestMutantsRunReplayCommand(t *testing.T) {
	code, out, stderr := vopr("run", "--scenario", "swarm", "--mutation", "forget_client_table", "--seed", "5")
	require.Equal(t, exitCorrectness, code, stderr+out)
	m := replayLine.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, "vopr replay 5 --scenario swarm --mutation forget_client_table", m[1])
	code, replayed, stderr := vopr(append(strings.Fields(m[1])[1:], "--log", "none")...)
	require.Equal(t, exitCorrectness, code, stderr)
	require.Equal(t, hashField.FindString(out), hashField.FindString(replayed), "same run, same trace")
	require.Equal(t, failLine.FindString(out), failLine.FindString(replayed))
	code, out, _ = vopr("run", "--scenario", "swarm", "--seed", "5")
	require.Equal(t, exitPass, code, out)
	code, out, _ = vopr("list", "mutations")
	require.Equal(t, exitPass, code)
	require.Contains(t, out, "forget_client_table")
	require.NotContains(t, out, "cannot run them")
}

// go test as a way in, on a planted bug: TestVOPR with -vopr.mutation fails, prints a vopr
// replay command that gives the same trace hash, and leaves the trace in the artifact
// directory (go test -artifacts); without the mutation the same test passes.
func TestMutantsGoTestReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test in a subprocess")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	outdir := t.TempDir()
	test := func(args ...string) (string, error) {
		cmd := exec.Command(goBin, append([]string{"test", "-count=1", "-tags", "vopr_mutants", "./scenarios", "-run", "^TestVOPR$",
			"-artifacts", "-outputdir", outdir}, args...)...)
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := test("-vopr.mutation=forget_client_table", "-vopr.seed=5")
	require.Error(t, err, "the planted bug fails the test:\n%s", out)
	m := regexp.MustCompile(`replay: (vopr [^\n]*)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, "vopr replay 5 --scenario swarm --mutation forget_client_table", m[1])
	code, replayed, stderr := vopr(append(strings.Fields(m[1])[1:], "--log", "none")...)
	require.Equal(t, exitCorrectness, code, stderr)
	require.NotEmpty(t, hashField.FindString(out), out)
	require.Equal(t, hashField.FindString(out), hashField.FindString(replayed), "the go test failure replays with the same hash")
	trace := regexp.MustCompile(`(?m)^\s+trace: (\S+)$`).FindStringSubmatch(out)
	require.NotNil(t, trace, out)
	require.True(t, strings.HasPrefix(trace[1], outdir), "the trace is in the artifact directory: %s", trace[1])
	data, err := os.ReadFile(trace[1])
	require.NoError(t, err)
	require.Contains(t, string(data), " network    send ", "the trace holds the full log (every message)")
	require.Contains(t, string(data), "  2.85", "up to the failure at 2.853s")
	out, err = test("-vopr.seed=5")
	require.NoError(t, err, "without the mutation seed 5 passes:\n%s", out)
}
