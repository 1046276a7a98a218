package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// divergent_matrix_anchor is divergent_matrix's episode with the old primary's stale suffix
// placed over the first checkpoint op (vsr.CheckpointInterval): r0 commits a ops with the
// others, a = 64-1-j, then prepares k ops of its own (a+1..a+k, j < k), one of them at op 64,
// while the others commit past 64 (a+m in 65..72) and take checkpoint 64, the newest any peer
// can send r0. Random faults rarely put a divergent op exactly on a checkpoint op (200 swarm
// seeds never did); every seed here does.
//
// Half the seeds rejoin r0 as divergent_matrix does (healAndCrash; a half of them with r0's
// entry of a low op damaged at its crash, lowDamage, so that restarted it lags the
// checkpoint by more than half an interval and state-syncs). There r0 meets the newer view's
// start_view first, and its stale header at 64 is replaced before any checkpoint reaches it.
// The other half (stuck, stuckBeforeHeal) make the order the other way round: r0 restarts in
// its old view with op 1 unreadable, only r1 reaches it and r1's messages are held, so r0,
// stuck, asks r1 for a checkpoint and installs checkpoint 64 while its log still holds its own
// prepare of op 64 (a view-0 prepare the others replaced). The snapshot's prepare must take
// that slot (VSR: a state transfer brings the log up to the checkpoint's op). Half the seeds
// fail r0's first write of that checkpoint (installFail): the checkpoint written again takes
// its op's header from r0's log, and must find the checkpoint's prepare there.
//
// Every other knob (the crash in the repair, damage, the second crash, the rot and crash
// variants) is drawn as divergent_matrix draws it for the seed; the placement (a, k, m, the
// damage's ops), installFail, lowDamage and stuck come from the stream
// "divergent_matrix.anchor". The judge is divergent_matrix's: no violation of the Suite, no
// committed op executed with another prepare, and r0 converges with a new write acknowledged.
func init() {
	register(Scenario{
		Name:    "divergent_matrix_anchor",
		Runbook: "none (the old primary's divergent suffix over a checkpoint op, and its repair)",
		Summary: "divergent_matrix with r0's stale suffix over op 64, the others' checkpoint; half the seeds make r0 state-sync to 64 with its stale prepare of 64 still in its log (before any start_view), half of all fail r0's first write of that checkpoint; it must converge on the committed prepares",
		Params:  func(seed uint64) string { return drawDivergentAnchor(seed).String() },
		Run:     runDivergentAnchor,
	})
}

// runDivergentAnchor runs seed o.Seed of divergent_matrix_anchor (alone, or as the swarm's
// divergent episode).
func runDivergentAnchor(o Options) Result {
	p := drawDivergentAnchor(o.Seed)
	r := runDivergentWith(o, p.divergentParams, p.installFail, p.lowDamage, p.stuck)
	r.Scenario, r.Params = "divergent_matrix_anchor", p.String()
	return r
}

// divergentAnchorPastMax spreads the others' head over 65..64+divergentAnchorPastMax.
const divergentAnchorPastMax = 8

// divergentAnchorParams is one seed's episode: divergent_matrix's, placed over op 64.
type divergentAnchorParams struct {
	divergentParams
	// installFail: r0's first write of a checkpoint file after the heal fails (ErrIO).
	installFail bool
	// lowDamage (half the seeds; 0 otherwise; used by healAndCrash only): r0's entry of this
	// op (1..31) is damaged at its first crash, so that restarted it executes its own log no
	// further than the op below and a heartbeat's checkpoint 64 sends it to state sync.
	lowDamage int
	// stuck (half the seeds): r0 crashes before the heal and rejoins through r1 alone, its
	// messages held (stuckBeforeHeal), instead of healAndCrash's heal and crash.
	stuck bool
}

func (p divergentAnchorParams) String() string {
	return fmt.Sprintf("%s install_fail=%t low_damage=%d stuck=%t", p.divergentParams, p.installFail, p.lowDamage, p.stuck)
}

// drawDivergentAnchor draws seed's episode: divergent_matrix's knobs, with the placement over
// op 64 from the anchor stream (every draw made whatever the earlier ones gave).
func drawDivergentAnchor(seed uint64) divergentAnchorParams {
	p := drawDivergent(seed)
	rng := sim.Stream(seed, "divergent_matrix.anchor")
	k := 1 + rng.IntN(divergentOpsMax)
	j := rng.IntN(k)
	p.a, p.k = vsr.CheckpointInterval-1-j, k
	p.m = vsr.CheckpointInterval + 1 - p.a + rng.IntN(divergentAnchorPastMax)
	p.pastCheckpoint, p.far, p.holdTicks, p.boundary = true, false, 0, divergentBoundary{}
	p.lead = false // divergent_lead.go: the anchor's shape is not far
	damaged, count := rng.IntN(2) == 0, 1+rng.IntN(2)
	p.damage = nil
	for i := range 2 {
		d := drawDivergentDamage(rng, p)
		if damaged && i < count {
			p.damage = append(p.damage, d)
		}
	}
	installFail := rng.IntN(2) == 0
	low, lowDrawn := 1+rng.IntN(vsr.CheckpointInterval/2-1), rng.IntN(2) == 0
	stuck := rng.IntN(2) == 0
	p.sync = drawDivergentSync(seed, p)
	a := divergentAnchorParams{divergentParams: p, installFail: installFail, stuck: stuck}
	if lowDrawn {
		a.lowDamage = low
	}
	return a
}

// armInstallFail aims a write error at r0's next write of checkpoint 64's file.
func (run *divergentRun) armInstallFail() {
	run.c.Nodes[0].Disk.ArmWriteErrorHealed(checkpointFileName(vsr.CheckpointInterval), 0, 1<<40, false)
	run.counts["divergent_matrix.anchor.install_fail_armed"]++
}

// damageLow damages r0's entry of op low (below the first checkpoint's half, so that r0,
// restarted, cannot execute past it from its own log): a heartbeat's checkpoint 64 is then
// more than half an interval ahead of r0 and sends it to state sync.
func (run *divergentRun) damageLow(low int) {
	e, ok := run.entryOf(low, false)
	if !ok {
		run.counts["divergent_matrix.anchor.low_damage.none_found"]++
		return
	}
	if reason := run.damageEntry(0, low, e, copyDamage{kind: damageCorrupt, body: true}); reason != "" {
		run.note("low damage not placed: %s", reason)
		return
	}
	run.counts["divergent_matrix.anchor.low_damage"]++
	run.note("damaged r0's entry of op %d", low)
}

// The stuck variant's clogs of r1's messages to r0: the first holds everything r1 answers
// r0 until r0, unable to execute op 1, has asked r1 for a checkpoint (RepairStuckRoundsMax
// repair rounds); the second, from r0's state sync on, holds r1's start_view (asked for by
// the heartbeats released with the checkpoint) past the repair round that retries a failed
// checkpoint write.
const (
	divergentStuckClogTicks   = 150
	divergentStuckReclogTicks = 100
	// divergentStuckTicksMax bounds the stuck variant's wait for r0's state sync.
	divergentStuckTicksMax = 1500
)

// stuckBeforeHeal is the stuck variant's heal (instead of healAndCrash): r0, still cut off,
// crashes with its stale suffix durable (its log view 0: nothing of the others' view on its
// disk), its entry of op 1 is damaged with its record (it cannot execute its log), and it
// restarts into a view change. Then r1, the others' primary, is reconnected to it, r2 is
// not, and r1's messages to r0 are held (divergentStuckClogTicks): stuck below op 1, r0 asks
// r1 for a checkpoint, and receives it (op 64, where its log holds its own prepare) before
// the start_view that would replace its stale suffix. A half of the seeds fails r0's first
// write of that checkpoint (installFail), retried before the start_view arrives. Then the
// network heals fully.
func (run *divergentRun) stuckBeforeHeal() (Outcome, string) {
	c := run.c
	c.CrashReplica(0)
	run.inspect()
	if e, ok := run.entryOf(1, false); ok {
		if reason := run.damageEntry(0, 1, e, copyDamage{kind: damageCorrupt, identity: true}); reason == "" {
			run.counts["divergent_matrix.anchor.stuck.damaged"]++
		}
	}
	c.StartReplica(0)
	c.Network.Reconnect(run.cuts)
	c.Network.Cut(0, 2)
	c.Network.Cut(2, 0)
	c.Network.Clog(1, 0, divergentStuckClogTicks*sim.TickInterval)
	run.healed, run.stuck = true, true
	if run.installFail {
		run.armInstallFail()
	}
	synced := func() bool { return run.counts["divergent_matrix.state_syncs"] > 0 }
	if run.until(synced, divergentStuckTicksMax) {
		run.counts["divergent_matrix.anchor.stuck.synced"]++
		run.until(func() bool { return false }, divergentStuckReclogTicks)
	}
	run.stuck = false
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	c.Network.Unclog(1, 0)
	c.Network.Uncut(0, 2)
	c.Network.Uncut(2, 0)
	for _, path := range run.cutPaths {
		c.Network.Uncut(path[0], path[1])
	}
	return Pass, ""
}

// onStuckSync holds r1's messages to r0 again once r0 state-syncs in the stuck variant.
func (run *divergentRun) onStuckSync() {
	if !run.stuck || run.counts["divergent_matrix.anchor.stuck.reclogged"] > 0 {
		return
	}
	run.counts["divergent_matrix.anchor.stuck.reclogged"]++
	run.c.Network.Clog(1, 0, divergentStuckReclogTicks*sim.TickInterval)
}
