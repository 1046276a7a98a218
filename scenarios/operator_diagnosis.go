package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// The runbook's diagnosis commands in simulated time, computed by package ops from what the
// replicas and their hosts answer, as kimberlite-cli computes them from real servers:
// `replica clock-offset`, `cluster view-changes` and `replication lag --all`.

// ReplicaClockOffset is `kimberlite-cli replica clock-offset --replica-id i`: the replica's
// wall clock (its node's Clock, what the replica reads) against true time, which in the
// simulator the operator's reference clock reads exactly (ops.ClockOffsetOf).
func ReplicaClockOffset(c *sim.Cluster, i int) (ops.ClockOffsetReport, error) {
	r, err := runningReplica(c, i)
	if err != nil {
		logOperator(c, fmt.Sprintf("replica clock-offset --replica-id %d", i), answer("", err))
		return ops.ClockOffsetReport{}, err
	}
	rep := ops.ClockOffsetOf(ops.ClockOf(r.InspectState(), c.Nodes[i].Clock.Realtime()),
		sim.RealtimeEpochNs+int64(c.Loop.Now()), 0)
	logOperator(c, fmt.Sprintf("replica clock-offset --replica-id %d", i),
		fmt.Sprintf("offset %.3f ms synchronized=%t desync=%t", rep.OffsetMs, rep.Synchronized, rep.Desync))
	return rep, nil
}

// observeEvent is the hosts' side of `cluster view-changes`: each replica's view changes,
// logged with its node's wall clock (as a real server logs them with its own), into the
// Operator's per-replica logs. The cluster's OnEvent calls it.
func (o *Operator) observeEvent(e vsr.Event) {
	if o.C == nil || e.Kind != vsr.EventStatus || e.Replica >= o.C.ReplicaCount() {
		return // standbys change no view of their own: they follow the cluster's
	}
	if o.views == nil {
		o.views = make([]ops.ViewChangeLog, o.C.ReplicaCount())
	}
	o.views[e.Replica].Observe(o.C.Nodes[e.Replica].Clock.Realtime(), e)
}

// ViewChanges is `kimberlite-cli cluster view-changes --since D` (ops.ViewChangesOf): the
// view changes the reachable replicas' hosts logged in the last since of true time. Unlike a
// real process's log, a node's log here survives its restarts.
func (o *Operator) ViewChanges(since sim.Duration) ops.ViewChangesReport {
	c := o.C
	sinceNs := sim.RealtimeEpochNs + int64(c.Loop.Now()) - int64(since)
	logs := make([][]ops.ViewChange, c.ReplicaCount())
	var unreachable []int
	for i := range logs {
		if _, err := runningReplica(c, i); err != nil || o.views == nil {
			unreachable = append(unreachable, i)
			continue
		}
		logs[i] = o.views[i].Since(sinceNs)
	}
	rep := ops.ViewChangesOf(sinceNs, logs, unreachable)
	logOperator(c, "cluster view-changes --since "+since.String(),
		fmt.Sprintf("%d started, views %v, unreachable %v", rep.Started, rep.Views, rep.Unreachable))
	return rep
}

// ReplicationLag is `kimberlite-cli replication lag --all` (ops.ReplicationLagOf): each
// replica's status and the replication_lag_ms the Monitor last sampled for it.
func ReplicationLag(c *sim.Cluster, m *Monitor) ops.ReplicationLagReport {
	status := clusterStatus(c)
	samples := m.Samples()
	replicas := make([]ops.ReplicaLag, len(status.Replicas))
	for i, s := range status.Replicas {
		replicas[i] = ops.ReplicaLag{ReplicaStatusReport: s, LagMs: -1}
		if len(samples) > 0 {
			replicas[i].LagMs = samples[len(samples)-1].Replicas[i].LagMs
		}
	}
	rep := ops.ReplicationLagOf(replicas)
	logOperator(c, "replication lag --all", fmt.Sprintf("frontier %d, worst replica %d", rep.Frontier, rep.Worst))
	return rep
}
