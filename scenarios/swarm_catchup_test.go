package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/sim"
)

// The bound has teeth: a backup the network cuts off again as soon as the round restarts it
// (the knob) never catches up, as if its transfer started over at every checkpoint, and the
// run fails as a liveness failure naming the round while the load still runs.
func TestSwarmCatchUpRoundFailsOnABackupLeftBehind(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.catchup.round", 60)
	cut := func(c *sim.Cluster, backup int) { c.Network.Isolate(backup) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterCatchUpReturn: cut})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "until its peers had checkpointed past it, had not executed op")
	require.Contains(t, r.Reason, "while the clients kept writing")
}

// The fill's puts are values of kv.ValueSizeMax bytes to keys never written, unique and none
// a prefix of another's name; once the fill has written its share, the workload goes on.
func TestSwarmCatchUpFillPutsFreshKeysThenTheWorkload(t *testing.T) {
	run := &swarmRun{work: newWorkload(sim.Stream(1, "workload"), defaultWorkloadMix)}
	run.catchUp.filling, run.catchUp.fillOps = true, 2
	a, b := run.nextOp(0), run.nextOp(1)
	require.Equal(t, kv.KindPut, a.Kind)
	require.NotEqual(t, a.Key, b.Key)
	require.Len(t, a.Value, kv.ValueSizeMax)
	require.Len(t, b.Value, kv.ValueSizeMax)
	require.NotContains(t, b.Value, a.Key+".")
	require.NotContains(t, run.nextOp(0).Key, "f")
}

// A slow disk (swarm_slow_catchup.go): the round's bound, though counted at the slow disk's
// latency, still fails a backup whose disk stalls instead (the knob pauses it), and the
// failure names the slow disk.
func TestSwarmSlowCatchUpFailsOnAStalledDisk(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.catchup.slow_disk", 60)
	stall := func(c *sim.Cluster, backup int) { c.Nodes[backup].Disk.SetPaused(true) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterCatchUpReturn: stall})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "until its peers had checkpointed past it, had not executed op")
	require.Contains(t, r.Reason, "on a disk slowed x")
}

// The convergence after the round, which counts from when the slow disk's I/O in flight has
// completed, still fails a backup whose disk stalls as the laps end (the knob pauses it): the
// wait for that I/O is bounded by the latencies drawn, not by what the backup does.
func TestSwarmSlowCatchUpConvergenceFailsOnAStalledDisk(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.catchup.slow_disk", 60)
	stall := func(c *sim.Cluster, backup int) { c.Nodes[backup].Disk.SetPaused(true) }
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterCatchUpLaps: stall})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "caught up under load")
}

// The slow disk makes the overlap it is there for: a snapshot completed while the backup's
// own checkpoint write is in flight (seed 46 with the swarm of this commit), which the
// database keeps for later (vsr.sync_installed_while_checkpointing installed it, and died).
func TestSwarmSlowCatchUpSyncArrivesDuringACheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs up to 60 swarm seeds")
	}
	seed := seedReaching(t, "coverage.mark.catchup.sync_in_checkpoint", 60)
	require.Positive(t, seed)
}
