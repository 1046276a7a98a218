package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// The operator actions on a running replica: `storage compact`, `storage export`,
// `replica isolate` and `debug dump-state`. Unlike the storage actions of operator.go,
// which open a stopped replica's disk, these ask the running replica itself
// (vsr.Replica.Compact, Backup, Isolate, Inspect): a second storage engine on a live
// replica's files would race the replica's own, and isolation must hold at the replica
// whatever the network does. Each call into the replica runs under its node's Guard, as
// ticks, messages and I/O completions do, so that an assertion the action trips is that
// node's fail-stop (recorded, checked by the scenario) rather than a crash of the harness.

// ErrReplicaUnreachable: the action needs the replica's process, and it does not answer
// (crashed, paused, or it fail-stopped during the action).
var ErrReplicaUnreachable = errors.New("operator: replica is unreachable")

// runningReplica returns replica i if its process answers.
func runningReplica(c *sim.Cluster, i int) (*vsr.Replica, error) {
	if i < 0 || i >= c.MemberCount() {
		return nil, fmt.Errorf("operator: no replica %d", i)
	}
	r := c.Replica(i)
	if r == nil || c.Nodes[i].Status() != sim.NodeUp {
		return nil, fmt.Errorf("%w: replica %d is %s", ErrReplicaUnreachable, i, c.Nodes[i].Status())
	}
	return r, nil
}

// onReplica calls fn on running replica i under its node's Guard. It fails if the replica
// is not running, or fail-stopped during the call (an asynchronous action's completion is
// then lost with the process).
func onReplica(c *sim.Cluster, i int, fn func(r *vsr.Replica)) error {
	r, err := runningReplica(c, i)
	if err != nil {
		return err
	}
	c.Nodes[i].Guard(func() { fn(r) })
	if c.Nodes[i].Status() != sim.NodeUp || c.Replica(i) != r {
		return fmt.Errorf("%w: replica %d fail-stopped during the action", ErrReplicaUnreachable, i)
	}
	return nil
}

// StorageCompact is `kimberlite-cli storage compact --replica-id i` on a running replica:
// the replica's engine removes the log segments wholly at or below its durable checkpoint
// (vsr.Replica.Compact). done runs from a disk completion with the bytes freed, or with
// the error that refused the action (from the event loop, never inside the call).
func StorageCompact(c *sim.Cluster, i int, done func(int64, error)) {
	if err := onReplica(c, i, func(r *vsr.Replica) { ops.Compact(r, done) }); err != nil {
		c.Loop.After(0, func() { done(0, err) })
	}
}

// StorageExport is `kimberlite-cli storage export --replica-id i --output F` on a running
// replica: an online backup through the replica's engine (vsr.Replica.Backup), in the
// format storage.Restore verifies and StorageRestore restores.
func StorageExport(c *sim.Cluster, i int, done func([]byte, error)) {
	export := func(rep ops.ExportReport, err error) { done(rep.Backup, err) }
	if err := onReplica(c, i, func(r *vsr.Replica) { ops.Export(r, i, export) }); err != nil {
		c.Loop.After(0, func() { done(nil, err) })
	}
}

// ReplicaIsolate is `kimberlite-cli replica isolate --replica-id i --reason R`: the
// replica cuts itself off (vsr.Replica.Isolate: it drops what it receives, sends nothing,
// and its timers stand still). Isolation is volatile, like any operator state held by the
// process: a replica that restarts comes back connected.
func ReplicaIsolate(c *sim.Cluster, i int, reason string) error {
	err := onReplica(c, i, func(r *vsr.Replica) { ops.Isolate(r, i, reason) })
	logOperator(c, fmt.Sprintf("replica isolate --replica-id %d --reason %s", i, reason), answer("isolated", err))
	return err
}

// ReplicaUnisolate reconnects an isolated replica (ops.Unisolate); it then catches up like
// any lagging replica.
func ReplicaUnisolate(c *sim.Cluster, i int) error {
	err := onReplica(c, i, func(r *vsr.Replica) { ops.Unisolate(r, i) })
	logOperator(c, fmt.Sprintf("replica unisolate --replica-id %d", i), answer("unisolated", err))
	return err
}

// StateDump is `kimberlite-cli debug dump-state --replica-id i` (package ops).
type StateDump = ops.StateDump

// DebugDumpState returns the StateDump of replica i as indented JSON. A replica whose
// process does not answer is dumped as its node status alone (status "unreachable"),
// which is not an error: that is the diagnosis.
func DebugDumpState(c *sim.Cluster, i int) ([]byte, error) {
	dump, err := debugDumpState(c, i)
	logOperator(c, fmt.Sprintf("debug dump-state --replica-id %d", i), answer(fmt.Sprintf("%d bytes of JSON", len(dump)), err))
	return dump, err
}

func debugDumpState(c *sim.Cluster, i int) ([]byte, error) {
	if i < 0 || i >= c.ReplicaCount() {
		return nil, fmt.Errorf("operator: no replica %d", i)
	}
	node := c.Nodes[i].Status().String()
	dump := ops.UnreachableDump(i, node)
	err := onReplica(c, i, func(r *vsr.Replica) { dump = ops.DumpState(r, i, node) })
	if err != nil && !errors.Is(err, ErrReplicaUnreachable) {
		return nil, err
	}
	if err != nil {
		dump = ops.UnreachableDump(i, c.Nodes[i].Status().String())
	}
	return json.MarshalIndent(dump, "", "  ")
}

// Compact runs StorageCompact on replica i to completion.
func (o *Operator) Compact(i int) (int64, error) {
	return awaitAction(o, fmt.Sprintf("storage compact --replica-id %d", i),
		func(done func(int64, error)) { StorageCompact(o.C, i, done) })
}

// Export runs StorageExport on replica i to completion.
func (o *Operator) Export(i int) ([]byte, error) {
	return awaitAction(o, fmt.Sprintf("storage export --replica-id %d", i),
		func(done func([]byte, error)) { StorageExport(o.C, i, done) })
}

// StandbyThrottle is `kimberlite-cli standby throttle --replica-id ID --max-qps N` on
// standby i (ops.StandbyThrottle): it serves at most N stale reads per second.
func StandbyThrottle(c *sim.Cluster, i, maxQPS int) error {
	var err error
	if e := onReplica(c, i, func(r *vsr.Replica) { _, err = ops.StandbyThrottle(r, i, maxQPS) }); e != nil {
		err = e
	}
	logOperator(c, fmt.Sprintf("standby throttle --replica-id %d --max-qps %d", replicaID(c, i), maxQPS),
		answer("throttled", err))
	return err
}
