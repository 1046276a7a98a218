package scenarios

import (
	"vopr/cluster/vsr"
	"vopr/sim"
)

// divergent_matrix's lead variant: the old primary r0 comes back as the new primary, chosen
// by a view change, rather than as a backup taught the others' log by a start_view. Its
// do_view_change, of the older log view 0, names its own stale prepares of ops a+1..a+k above
// its commit number a; the other one, of the newer log view, is far ahead (a start_view's
// window of headers and more past r0's head: the far shape), so its headers begin above r0's
// stale suffix and name none of those ops. The new primary must not take a header of the
// older log view above that sender's commit number into the chosen log (mergeHeaders): r0's
// stale prepare of a+1, unverified by any link of the chosen log's chain, would stand in for
// the committed one and be executed at once (the judge: another prepare executed at a
// committed op; canonical_commit). The plain draws bring r0 back through the others' view
// only.
//
// After the others committed their m ops, the network is restored except that the others'
// primary q is cut off from both, and r0 is cut off towards s, the other one, while s is in a
// view s would lead (s still reaches r0): the view change can complete only in a view whose
// primary is r0, with s's do_view_change and r0's own. Once r0 is the normal primary of a view after q's (or the
// phase's time is up), the cuts end and the episode goes on as drawn (heal, crash, damage,
// convergence). A quarter of the seeds, from their own stream ("divergent_lead"), without the
// boundary variant or a crash counted on checkpoint I/O, are made far and lead; the other
// seeds keep their episodes unchanged.

// withDivergentLead draws the variant of p's seed from its own stream and returns p with it.
func withDivergentLead(seed uint64, p divergentParams) divergentParams {
	rng := sim.Stream(seed, "divergent_lead")
	on, farM := rng.IntN(4) == 0, p.k+vsr.ViewHeadersMax+1+rng.IntN(divergentPastMax)
	if !on || p.boundary.on || p.sync.checkpointCrash > 0 {
		return p
	}
	if !p.far {
		p.pastCheckpoint, p.far, p.m = true, true, farM
	}
	p.holdTicks, p.sync.pastHold, p.lead = 0, 0, true
	return p
}

// divergentLeadTicksMax bounds the lead phase: a view change or two, r0's repair as primary.
const divergentLeadTicksMax = 3 * divergentPhaseTicksMax

// leadViewChange is the lead variant's phase between commitOthers and the heal.
func (run *divergentRun) leadViewChange() (Outcome, string) {
	if !run.p.lead {
		return Pass, ""
	}
	c := run.c
	q := run.othersPrimary()
	if q < 0 {
		return run.fail(Liveness, "lead: r1 and r2 have no primary")
	}
	s := 3 - q
	view := c.Replica(q).TraceState().View
	c.Network.Reconnect(run.cuts)
	for _, path := range run.cutPaths {
		c.Network.Uncut(path[0], path[1])
	}
	cuts := [][2]int{{0, s}, {0, q}, {q, 0}, {q, s}, {s, q}}
	for _, path := range cuts {
		c.Network.Cut(path[0], path[1])
	}
	run.note("lead: r%d (primary of view %d) cut off, r0 cut off towards r%d while r%d's view is r%d's: r0 must lead",
		q, view, s, s, s)
	led := func() bool {
		rep, other := c.Replica(0), c.Replica(s)
		if rep == nil || other == nil {
			return false
		}
		// r0 reaches s only while s is in a view s would lead: there s would gather r0's
		// do_view_change and lead itself; in r0's view s needs r0's start_view_change to send
		// its own do_view_change to r0.
		if vsr.PrimaryIndex(other.TraceState().View, c.ReplicaCount(), 0) == s {
			c.Network.Cut(0, s)
		} else {
			c.Network.Uncut(0, s)
		}
		st := rep.TraceState()
		return st.Status == vsr.StatusNormal && st.Role == vsr.RolePrimary && st.View > view
	}
	ok := run.until(led, divergentLeadTicksMax)
	for _, path := range cuts {
		c.Network.Uncut(path[0], path[1])
	}
	if reason := run.safety(); reason != "" {
		return Correctness, reason
	}
	if ok {
		run.counts["divergent_matrix.lead"]++
	} else {
		run.counts["divergent_matrix.lead_timed_out"]++
	}
	return Pass, ""
}
