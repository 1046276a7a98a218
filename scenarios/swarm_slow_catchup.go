package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// Catching up on a slow disk. A replica whose disk is slow but healthy (the
// replication_lag runbook's fault) still catches up: its writes take long, not forever.
// On such a disk its checkpoint writes last long enough for a peer's snapshot, asked for
// before the write began (heartbeats showed it behind) or arriving chunk by chunk, to be
// completed while the write is in flight; the replica must not install it under the
// checkpoint being written (the checkpoint would then name a state it has executed past:
// a fail-stop when the write completes, mutant vsr.sync_installed_while_checkpointing).
// On the swarm's disks a checkpoint write takes a millisecond or two, far less than a
// round trip: the overlap arose in 2 swarm seeds in 200, both on a full disk, where the
// write failed.
//
// So the catch-up round (swarm_catchup.go) restarts its backup on a slow disk, where each
// write takes from one to slowCatchUpTripsMax of the network's mean round trips (drawn from
// the run's "swarm/catchup_slow" stream): always after a fill, and one time in
// slowCatchUpOdds without. It must then execute, each within catchUpTicks (which counts its
// disk operations at the slowest disk's latency), what was committed when it came back and,
// after a fill too, what was committed when it had (a second lap: it keeps catching up while
// the load goes on); a fail-stop fails the run as always. The overlap comes in the second
// lap after a fill: the slow recovery and install leave the backup far enough behind for a
// second transfer, which completes while it checkpoints the ops it repaired above the first
// snapshot (swarm seeds 2030300000+1000: in 11 of the 36 rounds after a fill, none of the 21
// slow rounds without one, whose transfer takes a round trip and comes before the backup's
// own checkpoints). Slower disks than slowCatchUpTripsMax round trips made no more overlaps
// and cost more CPU (long laps under load over a filled state). The disk is fast again once
// the laps end, before the cluster converges.
const (
	slowCatchUpOdds     = 2
	slowCatchUpTripsMax = 8
)

// drawSlowCatchUp is how many round trips a write of the returning backup's slow disk
// takes, or 0 for a disk as it was: always slow after a fill, otherwise one time in
// slowCatchUpOdds.
func (run *swarmRun) drawSlowCatchUp(seed uint64, filled bool) int {
	r := sim.Stream(seed, "swarm/catchup_slow")
	on, trips := r.IntN(slowCatchUpOdds) == 0, 1+r.IntN(slowCatchUpTripsMax)
	if !on && !filled {
		return 0
	}
	return trips
}

// slowCatchUpDisk makes backup x's disk slow: a write takes about trips mean round trips.
func (run *swarmRun) slowCatchUpDisk(x, trips int) {
	k, disk, d := &run.catchUp, run.c.Nodes[x].Disk, run.swarm.Disk
	write := max(d.WriteLatencyMin+d.WriteLatencyMean, sim.Microsecond)
	k.slowed, k.wasSlow = true, disk.SlowMultiplier()
	slow := max(2, int((sim.Duration(trips)*run.roundTrip()+write-1)/write), k.wasSlow)
	run.c.Trace.Emitf(sim.LevelShort, x, "nemesis", "catchup: R%d's disk turns slow (x%d: a write takes about %d "+
		"round trips)", x, slow, trips)
	disk.SetSlow(slow)
	k.slow++
}

// fastCatchUpDisk makes backup x's disk as fast as it was, if slowCatchUpDisk slowed it, and
// runs until what x issued while it was slow has completed: each operation's latency is drawn
// at issue, so those keep the slow latency (a mean of seconds at x200 for a read or a file's
// creation), and x waits on them before it may catch up. The cluster's convergence after the
// round counts from then (swarm seed 2031800300: R4's creation of a log segment, issued 10 ms
// before its x212 disk turned fast, took 11.5 s, and left 3.4 s of the convergence's 15 s for
// a state sync of 276 KB in 4 KB chunks).
func (run *swarmRun) fastCatchUpDisk(x int) {
	k, c := &run.catchUp, run.c
	if !k.slowed {
		return
	}
	disk := c.Nodes[x].Disk
	disk.SetSlow(k.wasSlow)
	k.slowed = false
	if until := disk.InFlightUntil(); until > c.Loop.Now() {
		ticks := ticksOf(sim.Duration(until - c.Loop.Now()))
		c.Trace.Emitf(sim.LevelShort, x, "nemesis", "catchup: R%d's disk is fast again; what it issued while slow "+
			"completes within %d ticks", x, ticks)
		run.runChecked(func() bool { return c.Loop.Now() >= until }, ticks)
	}
}

// slowCatchUpNote is what a failure of the round says of backup x's disk, if slowed.
func (run *swarmRun) slowCatchUpNote(x int) string {
	if !run.catchUp.slowed {
		return ""
	}
	return fmt.Sprintf(", on a disk slowed x%d (a write: about %d ticks at the mean)", run.c.Nodes[x].Disk.SlowMultiplier(),
		ticksOf(sim.Duration(run.c.Nodes[x].Disk.SlowMultiplier())*(run.swarm.Disk.WriteLatencyMin+run.swarm.Disk.WriteLatencyMean)))
}

// onCatchUpSync counts a snapshot reaching the catch-up round's backup whole (its last
// chunk) while its own checkpoint write is in flight: it has executed a checkpoint's op that
// is not its durable checkpoint yet (what its status line shows), and the snapshot is newer
// than what it executed.
func (run *swarmRun) onCatchUpSync(msg []byte) {
	k := &run.catchUp
	rep := run.c.Replica(k.x)
	m, err := vsr.Decode(msg, run.c.ClusterID())
	if rep == nil || err != nil {
		return
	}
	s, h := rep.TraceState(), m.Header
	writing := s.Status == vsr.StatusNormal && s.CommitMin%vsr.CheckpointInterval == 0 && s.CommitMin > s.Checkpoint
	offset := uint64(h.Request) * uint64(k.chunk)
	if writing && h.Op > s.CommitMin && offset+uint64(len(m.Body)) == h.Client {
		k.overlap++
		run.c.Trace.Emitf(sim.LevelShort, k.x, "nemesis", "catchup: the snapshot at op %d reaches R%d while it writes "+
			"its checkpoint at op %d", h.Op, k.x, s.CommitMin)
	}
}
