package scenarios

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/invariants"
)

// Standbys in the swarm. A seed that draws standbys (faults.Swarm.Standbys) sends a share
// of the workload's gets, during the fault phase, to a random standby as stale reads: the
// runbook's read offload. Their answers go to the standby_reads checker, not to the
// linearizability history (a standby's read is declared stale). In the liveness phase every
// standby must catch up like a replica (converged).

// staleReadPercent is the share of gets sent to a standby.
const staleReadPercent = 30

// readFromStandby sends op to a standby as a stale read when it is a get and the draw says
// so; it reports whether it did. Only in the fault phase: in the liveness phase every client
// must have its requests to the cluster answered, and a read to a standby that is still
// catching up would hold the client back.
func (run *swarmRun) readFromStandby(i int, op kv.Op) bool {
	if run.staleReads == nil || op.Kind != kv.KindGet || (run.clients.healed && !run.lossy.reads) {
		return false
	}
	standby, draw := run.staleReads.IntN(run.c.StandbyCount()), run.staleReads.IntN(100)
	if draw >= staleReadPercent {
		return false
	}
	replica := run.c.ReplicaCount() + standby
	sentAt := run.c.Loop.Now()
	return run.c.Client(i).ReadStale(replica, kv.EncodeOp(op), func(r client.Result) {
		if run.lossy.on { // the round's check; its text is built only then
			run.lossyDone(i, fmt.Sprintf("a stale read of %s from standby R%d", shortKey(op.Key), replica), sentAt, r)
		}
		if r.Outcome != client.OK || !run.checked {
			return
		}
		result, err := kv.DecodeResult(r.Reply)
		if err != nil {
			run.broken = "a standby's stale read answered bytes that do not decode: " + err.Error()
			return
		}
		run.paths["standby_read"]++
		run.suite.OnStandbyRead(int64(run.c.Loop.Now()), invariants.StandbyRead{Client: i, Standby: replica,
			Key: op.Key, Op: r.Op, Result: result})
	})
}

// standbyPaths counts the protocol paths standbys take (coverage.path.standby_*).
func (run *swarmRun) standbyPaths(e vsr.Event) {
	if e.Replica < run.c.ReplicaCount() {
		return
	}
	switch {
	case e.Kind == vsr.EventStatus && e.Text == "normal backup" && e.View > 0:
		run.paths["standby_new_view"]++
	case e.Kind == vsr.EventRepair:
		run.paths["standby_repair"]++
	case e.Kind == vsr.EventStateSync:
		run.paths["standby_state_sync"]++
	case e.Kind == vsr.EventRecovered:
		run.paths["standby_recovered"]++
	}
}
