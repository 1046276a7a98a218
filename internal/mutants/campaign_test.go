package mutants

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The campaign end to end, on three mutants and a few seeds: one the swarm kills at once
// (commit on the primary's vote alone), one that survives the echo scenario (which runs no
// replica) and the performance scenario (a quorum of all three replicas, none faulty), one
// that does not compile. It builds the binaries it runs, so it takes a while.
func TestCampaignKillsSurvivesAndReportsBuildErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vopr three times")
	}
	file := "cluster/vsr/replica_normal.go"
	ms := []Mutant{
		{ID: "test.commit_alone", File: file, Description: "commit on one vote", Search: "quorum := r.quorum()",
			Replace: "quorum := 1"},
		{ID: "test.unreached", File: file, Description: "echo runs no replica", Search: "quorum := r.quorum()",
			Replace: "quorum := r.quorum() + 1", Scenarios: []string{"echo"}},
		{ID: "test.broken", File: file, Description: "does not compile", Search: "quorum := r.quorum()",
			Replace: "quorum := r.quorum("},
	}
	var reports int
	cfg := Config{Root: root, Seeds: 3, FirstSeed: 1, Jobs: 2, Timeout: 5 * time.Minute, Go: "go",
		WorkDir: filepath.Join(t.TempDir(), "work"), Done: func(Report) { reports++ }}
	r, err := Run(cfg, ms)
	require.NoError(t, err)
	require.Equal(t, 3, reports, "a report after every mutant")
	require.Len(t, r.Outcomes, 3)
	killed, survived, broken := r.Outcomes[0], r.Outcomes[1], r.Outcomes[2]
	require.Equal(t, Killed, killed.Status, "%+v", killed)
	require.Equal(t, "swarm", killed.Scenario)
	require.Equal(t, int(killed.KilledAt), killed.SeedsToKill)
	require.NotEmpty(t, killed.Class)
	require.Contains(t, killed.Replay, "vopr replay")
	require.Equal(t, Survived, survived.Status, "%+v", survived)
	require.Equal(t, 3+PerformanceSeeds, survived.SeedsRun, "its echo seeds, then the performance scenario's")
	require.Equal(t, BuildError, broken.Status)
	require.Contains(t, broken.Detail, "replica_normal.go")
	require.Equal(t, []string{"test.unreached"}, r.Summary.Survivors)
}
