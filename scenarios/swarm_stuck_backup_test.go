package scenarios

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The check fires on a stuck history: a backup whose head stays where it was at the heal,
// everything below it executed (what the mutant vsr.check_stuck_forgets_last_op leaves:
// its repair rounds ask the primary for ops no log holds, and never fetch a checkpoint). The
// failure names the backup, its head and the op it had to execute.
func TestStuckBackupWatchFiresOnAStuckHistory(t *testing.T) {
	w := &stuckBackupWatch{x: 2, head: 120, target: 450, limit: 300, dropped: 31}
	stuck := vsr.TraceState{Status: vsr.StatusNormal, View: 3, Op: 180, CommitMin: 180, CommitMax: 180, Checkpoint: 128}
	for i := 0; i < 20; i++ { // its head moves as it executes what it holds, then stands still
		s := stuck
		s.Op, s.CommitMin = 160+uint64(i), 160+uint64(i)
		require.False(t, w.observe(true, s))
	}
	for i := 0; i < w.limit-20; i++ {
		require.False(t, w.observe(true, stuck))
	}
	v := w.verdict()
	require.Contains(t, v, "backup R2, frozen and cut off at op 120")
	require.Contains(t, v, "had not executed op 450")
	require.Contains(t, v, "head op 180 (there for the last 279 ticks), executed to op 180")
	require.Contains(t, v, "checkpoint 128")
	require.Contains(t, v, "31 dropped")
	require.Contains(t, v, "checkStuck")

	down := &stuckBackupWatch{x: 1, head: 10, target: 400}
	require.False(t, down.observe(false, vsr.TraceState{}))
	require.Contains(t, down.verdict(), "op 400 (committed at the heal) 0 ticks later while the clients kept writing: down")
}

// A backup that syncs and executes the target passes, and so does one only normal once it
// got there; one that executed the target while not normal (a view change) has not.
func TestStuckBackupWatchPassesACatchUp(t *testing.T) {
	w := &stuckBackupWatch{x: 1, head: 100, target: 400}
	s := vsr.TraceState{Status: vsr.StatusNormal, Op: 160, CommitMin: 160, CommitMax: 160, Checkpoint: 128}
	require.False(t, w.observe(true, s))
	s.Op, s.CommitMin, s.Checkpoint, s.Status = 420, 400, 384, vsr.StatusViewChange
	require.False(t, w.observe(true, s))
	s.Status = vsr.StatusNormal
	require.True(t, w.observe(true, s))
	require.Empty(t, w.verdict())
}

// The round runs in the swarm, its backup catches up on the correct code with its commit
// heartbeats dropped, and the seed passes.
func TestSwarmStuckBackupRoundCatchesUp(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		var out bytes.Buffer
		r := runSwarm(Options{Seed: seed, Log: sim.LevelShort, Out: &out})
		if !bytes.Contains(out.Bytes(), []byte("stuck_backup: R")) || !bytes.Contains(out.Bytes(), []byte("heartbeats dropped")) {
			continue
		}
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		return
	}
	t.Fatal("no swarm seed of 1..60 ran the stuck_backup round to its check")
}
