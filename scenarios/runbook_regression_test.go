package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// runbookRegressions are the seeds that once failed a runbook scenario, each replayed by
// TestRunbookRegressionSeeds. The eighth session's (ranges 2026410000 and 2026420000) were
// false alarms of the scenario's own checks; the replica_crash seeds 17 to 53 a database bug.
var runbookRegressions = []struct {
	scenario string
	seeds    []uint64
}{
	// Option C: the new disk's first prepare was held to the boot count of the old disk's
	// last boot (both 1), because the runbook's hardware replacement told the Suite of the
	// wipe but not the superblock checks (swarmRun.declareWipe).
	{"replica_crash", []uint64{2026410840}},
	// Option B: `storage verify --full-scan` found nothing on a disk with a rotted record
	// sector, because its own Open had written the intact entry's record again (storage
	// crash seed 45826's fix), so the operator never restored the backup. The verify now
	// reports what that Open repaired (Recovery.Rewritten): 28 of seeds 1-300 failed.
	{"replica_crash", []uint64{17, 26, 28, 31, 35, 43, 53}},
	// All 5 failing seeds of 20,000 from 2026420000: the crashed primary's last commit
	// message reached the surviving backup after the loss, and the check bounded commits by
	// the survivors' ops alone (the bound is now the highest op any replica prepared, each
	// crashed victim's taken as it went).
	{"quorum_lost", []uint64{
		2026428458, 2026429199, 2026435248, 2026439874, 2026439989,
	}},
	// All 28 failing seeds of 20,000 from 2026420000, in the second fill, of three causes:
	// 2026422784, a backup still writing the entries it repaired when the disks reached 97%
	// compacted by itself before the operator's `storage compact`, which then freed nothing;
	// 2026421822, a checkpoint after Option A left a segment the engine's 85% trigger removed
	// at once, so the disks filled "for good" never filled; 2026423614, disks of a few
	// hundred KB refused a new segment at 92%, below the 95% alert.
	{"disk_full", []uint64{
		2026421822, 2026422784, 2026423614, 2026423675, 2026423860, 2026424586, 2026424732, 2026424758,
		2026427779, 2026428166, 2026428649, 2026428676, 2026429585, 2026430671, 2026431162, 2026432028,
		2026432503, 2026433675, 2026433938, 2026434474, 2026434529, 2026434929, 2026435468, 2026437102,
		2026437887, 2026438153, 2026438433, 2026439060,
	}},
	// Restarted on its restored disk, the removed replica recovered to normal in its old
	// configuration before a member's message told it of the new one, and the check failed
	// it at once instead of waiting for it to stop (all 62 failing seeds of 10,000 from
	// 2026420000).
	{"assertion_failure", []uint64{
		2026420024, 2026420066, 2026420126, 2026420318, 2026420486, 2026420551, 2026421256, 2026421879,
		2026422014, 2026422023, 2026422101, 2026422167, 2026422588, 2026422805, 2026422877, 2026422887,
		2026422905, 2026422987, 2026423671, 2026423744, 2026423809, 2026423884, 2026424448, 2026424555,
		2026424581, 2026424603, 2026424837, 2026424951, 2026425008, 2026425024, 2026425135, 2026425494,
		2026425528, 2026425552, 2026425963, 2026425997, 2026426091, 2026426199, 2026426221, 2026426329,
		2026426361, 2026426372, 2026426497, 2026426539, 2026426994, 2026427025, 2026427268, 2026427393,
		2026427486, 2026427567, 2026427689, 2026427985, 2026428002, 2026428187, 2026428472, 2026428645,
		2026428708, 2026428979, 2026429130, 2026429274, 2026429494, 2026429789,
	}},
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
