package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const coverageGate = `budget: 2m
jobs: 2
junit: $DIR/gate.xml
scenarios:
  - name: swarm
    seeds: 2
    ticks_max: 400
    coverage:
      - coverage.path.recovered
      - %s
`

// A coverage entry the batch never reached fails the gate (exit 1), naming every counter it
// matched at zero, in the check line, the GATE FAIL line and JUnit; reached entries hold.
func TestGateCoverageMissingMarkFails(t *testing.T) {
	configPath, dir := gateConfigFile(t, fmtConfig(coverageGate, "coverage.mark.*"))
	code, stdout, stderr := vopr("gate", "--config", configPath)
	require.Equal(t, exitCorrectness, code, stdout+stderr)
	require.Contains(t, stdout, "coverage swarm sum(coverage.path.recovered) >= 1: held: observed ")
	require.Regexp(t, `(?m)^coverage swarm sum\(coverage\.mark\.\*\) >= 1: violated: never reached over 2 seed\(s\): `+
		`(.*, )?coverage\.mark\.clock_primary\.drift, .*coverage\.mark\.crash_at_io\.checkpoint, `, stdout)
	require.NotContains(t, stdout, "coverage.mark.partition.ring,", "seed 1 reaches the ring")
	require.Regexp(t, `(?m)^GATE FAIL: swarm: coverage sum\(coverage\.mark\.\*\) >= 1 violated: never reached over 2 seed\(s\): `, stdout)
	data, err := os.ReadFile(filepath.Join(dir, "gate.xml"))
	require.NoError(t, err)
	require.Contains(t, string(data), `<testcase name="coverage sum(coverage.mark.*) &gt;= 1" classname="vopr.gate.swarm"`)
	require.Contains(t, string(data), `type="violated"`)
}

// Every named mark reached: the gate passes.
func TestGateCoverageReachedPasses(t *testing.T) {
	configPath, _ := gateConfigFile(t, fmtConfig(coverageGate, "coverage.mark.partition.ring"))
	code, stdout, stderr := vopr("gate", "--config", configPath)
	require.Equal(t, exitPass, code, stdout+stderr)
	require.Contains(t, stdout, "coverage swarm sum(coverage.mark.partition.ring) >= 1: held: observed 1..1 over 1 value(s)")
	require.Regexp(t, `(?m)^swarm\s+2\s+2\s+0\s+0\s+2/2 held`, stdout)
}

// A coverage entry that is not a coverage counter, an empty list, or a name no run reports
// (a typo) is a config error (exit 64).
func TestGateCoverageConfigErrors(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{fmtConfig(coverageGate, "requests_acked"), `gate.yaml:10: scenarios[0].coverage[1]: "requests_acked": expected a coverage counter name or pattern starting with "coverage."`},
		{fmtConfig(coverageGate, `"coverage.[x"`), `scenarios[0].coverage[1]: "coverage.[x": expected a coverage counter`},
		{"budget: 1m\nscenarios:\n  - name: swarm\n    seeds: 1\n    coverage: []\n", `scenarios[0].coverage: a list: expected a list of coverage counter names or patterns`},
		{fmtConfig(coverageGate, "coverage.mark.partition.rign"), `gate.yaml:10: scenarios[0].coverage[1]: "coverage.mark.partition.rign" matches no counter that swarm reported over its 2 seed(s): a coverage on nothing cannot pass`},
	} {
		configPath, _ := gateConfigFile(t, c.config)
		code, _, stderr := vopr("gate", "--config", configPath)
		require.Equal(t, exitUsage, code, "%q: %s", c.config, stderr)
		require.Contains(t, stderr, c.want, "%q", c.config)
	}
}

func fmtConfig(format, entry string) string { return strings.Replace(format, "%s", entry, 1) }
