package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// runbookRegressions are the seeds of fresh ranges that once failed a runbook scenario,
// each replayed by TestRunbookRegressionSeeds. Every one was a false alarm of the
// scenario's own checks (the eighth session's ranges 2026410000 and 2026420000).
var runbookRegressions = []struct {
	scenario string
	seeds    []uint64
}{
	// Option C: the new disk's first prepare was held to the boot count of the old disk's
	// last boot (both 1), because the runbook's hardware replacement told the Suite of the
	// wipe but not the superblock checks (swarmRun.declareWipe).
	{"replica_crash", []uint64{2026410840}},
	// The crashed primary's last commit message reached the surviving backup after the loss,
	// and the check bounded commits by the survivors' ops alone (the bound is now the highest
	// op any replica prepared, each crashed victim's taken as it went).
	{"quorum_lost", []uint64{2026428458, 2026429199, 2026435248}},
	// The second fill: 2026422784, a backup still writing the entries it repaired when the
	// disks reached 97% compacted by itself before the operator's `storage compact`, which
	// then freed nothing; 2026421822, a checkpoint after Option A left a segment the engine's
	// 85% trigger removed at once, so the disks filled "for good" never filled; 2026423614,
	// disks of a few hundred KB refused a new segment at 92%, below the 95% alert.
	{"disk_full", []uint64{2026422784, 2026421822, 2026423614}},
	// Restarted on its restored disk, the removed replica recovered to normal in its old
	// configuration before a member's message told it of the new one, and the check failed
	// it at once instead of waiting for it to stop (62 of 10,000 seeds from 2026420000).
	{"assertion_failure", []uint64{2026420024}},
}

func TestRunbookRegressionSeeds(t *testing.T) {
	for _, r := range runbookRegressions {
		s, ok := Lookup(r.scenario)
		require.True(t, ok, r.scenario)
		for _, seed := range r.seeds {
			CheckSeed(t, s, Options{Seed: seed})
		}
	}
}
