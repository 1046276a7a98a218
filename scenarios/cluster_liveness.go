package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// finish runs the liveness phase: the network heals and its faults stop, every replica
// restarts or resumes, and the cluster must commit new requests and converge (every replica
// normal, same commit, same digest) within the budget.
func (run *clusterRun) finish(o Options, p clusterParams, livenessTicks int) Result {
	c := run.c
	r := Result{Scenario: "cluster", Seed: o.Seed, Params: p.String()}
	if reason := run.safety(); reason != "" {
		return run.result(r, Correctness, reason)
	}
	c.Network.SetFaultsEnabled(false)
	c.Network.Heal()
	for i := 0; i < p.replicas; i++ {
		switch c.Nodes[i].Status() {
		case sim.NodeCrashed:
			c.StartReplica(i)
		case sim.NodePaused:
			c.Nodes[i].Unpause()
		}
	}
	// New requests must commit, then, with the load stopped, every replica must converge.
	ackedBefore := run.acked
	progressed := c.RunUntil(func() bool { return run.safety() != "" || run.acked > ackedBefore }, livenessTicks/2)
	run.load = false
	converged := progressed && c.RunUntil(func() bool {
		return run.safety() != "" || run.converged()
	}, livenessTicks/2)
	if reason := run.safety(); reason != "" {
		return run.result(r, Correctness, reason)
	}
	if !converged {
		return run.result(r, Liveness, fmt.Sprintf("no convergence within %d ticks after heal: %s", livenessTicks, run.describe()))
	}
	return run.result(r, Pass, "")
}

func (run *clusterRun) safety() string {
	if run.conflict != "" {
		return run.conflict
	}
	if failures := run.c.Failures(); len(failures) > 0 {
		f := failures[0]
		return fmt.Sprintf("replica %d fail-stopped at %s (assertion=%t): %s", f.Node, f.At, f.Assertion, f.Message)
	}
	return ""
}

func (run *clusterRun) converged() bool {
	var first *vsr.Inspection
	for i := 0; i < run.c.ReplicaCount(); i++ {
		rep := run.c.Replica(i)
		if rep == nil {
			return false
		}
		in := rep.Inspect()
		if in.Status != vsr.StatusNormal || in.CommitMin != in.CommitMax {
			return false
		}
		if first == nil {
			first = &in
		} else if in.CommitMin != first.CommitMin || in.Digest != first.Digest || in.View != first.View {
			return false
		}
	}
	return true
}

func (run *clusterRun) describe() string {
	s := ""
	for i := 0; i < run.c.ReplicaCount(); i++ {
		rep := run.c.Replica(i)
		if rep == nil {
			s += fmt.Sprintf("[R%d down] ", i)
			continue
		}
		in := rep.Inspect()
		s += fmt.Sprintf("[R%d %s %s v%d op=%d commit=%d/%d ckpt=%d digest=%04x] ", i, in.Status, in.Role, in.View, in.Op,
			in.CommitMin, in.CommitMax, in.CheckpointOp, in.Digest.Low64()&0xffff)
	}
	return s
}

func (run *clusterRun) result(r Result, outcome Outcome, reason string) Result {
	c := run.c
	r.Outcome, r.Reason = outcome, reason
	r.TraceHash, r.Events, r.SimTime, r.Trace = c.Trace.Hash(), c.Trace.Count(), c.Loop.Now(), c.Trace
	r.Counters = map[string]uint64{"requests_acked": uint64(run.acked)}
	for kind, n := range run.events {
		if kind != vsr.EventCommit {
			r.Counters["replica."+kind.String()] = n
		}
	}
	r.Counters["replica.commits"] = run.events[vsr.EventCommit]
	r.Counters["replica.nack_truncations"] = run.nackTruncations
	r.Counters["replica.view_changes"] = run.viewChanges
	r.Counters["node.fail_stops"] = uint64(len(c.Failures()))
	r.Counters["replica.recoveries"] = run.recoveries()
	ns := c.Network.Stats()
	r.Counters["net.lost"], r.Counters["net.partitions"] = ns.Lost, ns.Partitions
	return r
}

// recoveries counts replica restarts: node restarts recorded in the trace are not kept, so
// the cluster counts them itself.
func (run *clusterRun) recoveries() uint64 { return run.c.Restarts() }
