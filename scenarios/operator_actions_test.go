package scenarios

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// Tests of the operator actions on running replicas (operator_actions.go). Each runs the
// real replicas under the invariant checkers (invariants.Suite: commit <= op, canonical
// commits, monotonic views, one primary per view, digest agreement), inspected every tick,
// on top of testCluster's own commit-agreement check.

// checkedCluster is a testCluster whose every tick is shown to the invariant checkers, and
// which counts the messages each replica sends to the others.
type checkedCluster struct {
	*testCluster
	suite        *invariants.Suite
	incarnations []*vsr.Replica
	sent         []int // messages sent to other replicas, by sender
}

func newCheckedCluster(t *testing.T, o testOptions) *checkedCluster {
	t.Helper()
	cc := &checkedCluster{suite: invariants.NewSuite(o.replicas), incarnations: make([]*vsr.Replica, o.replicas),
		sent: make([]int, o.replicas)}
	mutate := o.mutate
	o.mutate = func(opts *sim.ClusterOptions) {
		if mutate != nil {
			mutate(opts)
		}
		own := opts.OnEvent
		opts.OnEvent = func(e vsr.Event) {
			own(e)
			if cc.testCluster != nil {
				cc.suite.OnEvent(int64(cc.Loop.Now()), e)
			}
		}
		opts.OnReplicaSend = cc.onReplicaSend
	}
	cc.testCluster = newTestCluster(t, o)
	return cc
}

func (cc *checkedCluster) onReplicaSend(from, _ int, msg []byte) {
	cc.sent[from]++
	if m, err := vsr.Decode(msg, cc.ClusterID()); err == nil {
		cc.suite.OnMessage(int64(cc.Loop.Now()), m.Header)
	}
}

// CrashReplica crashes replica i and tells the checkers at once: its restart replays its
// log from the checkpoint, which they must not read as execution going back.
func (cc *checkedCluster) CrashReplica(i int) {
	cc.testCluster.CrashReplica(i)
	cc.suite.OnCrash(int64(cc.Loop.Now()), i)
	cc.incarnations[i] = nil
}

// step runs one tick and shows every running replica to the checkers.
func (cc *checkedCluster) step() {
	cc.RunFor(sim.TickInterval)
	now := int64(cc.Loop.Now())
	for i := range cc.incarnations {
		r := cc.Replica(i)
		if r != cc.incarnations[i] && cc.incarnations[i] != nil {
			cc.suite.OnCrash(now, i)
		}
		cc.incarnations[i] = r
		if r != nil {
			cc.suite.OnInspect(now, i, r.Inspect())
		}
	}
	require.Nil(cc.t, cc.suite.Violation(), "invariant violated: %s", cc.describe())
}

// until steps (with the client load on or off) until done, and fails the test otherwise.
func (cc *checkedCluster) until(load bool, done func() bool, ticksMax int, what string) {
	cc.t.Helper()
	cc.load = load
	defer func() { cc.load = false }()
	for t := 0; t < ticksMax && !done(); t++ {
		cc.step()
	}
	require.True(cc.t, done(), "%s within %d ticks: %s", what, ticksMax, cc.describe())
}

// commit runs the load until n more requests are acknowledged.
func (cc *checkedCluster) commit(n int) {
	cc.t.Helper()
	target := cc.totalAcked() + n
	cc.until(true, func() bool { return cc.totalAcked() >= target }, ticks, "requests acknowledged")
}

// quiet: converged, and no client has a request in flight (that would still commit).
func (cc *checkedCluster) quiet() bool {
	for i := 0; i < cc.ClientCount(); i++ {
		if cc.Client(i).Busy() {
			return false
		}
	}
	return cc.converged()
}

// finish runs the end-of-run checks.
func (cc *checkedCluster) finish() {
	cc.t.Helper()
	cc.until(false, cc.converged, ticks, "converged")
	require.Nil(cc.t, cc.suite.Finish(), "invariant violated at the end")
	cc.requireNoFailures()
}

func (cc *checkedCluster) operator() *Operator { return &Operator{C: cc.Cluster, Step: cc.step} }

// `storage compact` on a running primary frees exactly what its status reported, shrinks
// the disk, leaves a log that verifies and recovers, and the replica keeps serving.
func TestOperatorCompactRunning(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 1, seed: 21})
	op := cc.operator()
	cc.commit(150) // checkpoints at 64 and 128: segment 0 and 1 lie wholly below
	cc.until(false, cc.quiet, ticks, "quiet")
	p := cc.primary()
	require.GreaterOrEqual(t, p, 0)
	in := cc.inspect(p)
	require.GreaterOrEqual(t, in.CheckpointOp, uint64(2*vsr.CheckpointInterval))
	compactable, usedBefore := in.DiskCompactableBytes, cc.Nodes[p].Disk.Usage().Used
	require.Positive(t, compactable)

	freed, err := op.Compact(p)
	require.NoError(t, err)
	require.Equal(t, compactable, freed, "compact frees what status reported")
	usedAfter := cc.Nodes[p].Disk.Usage().Used
	require.GreaterOrEqual(t, usedBefore-usedAfter, freed, "disk usage drops by at least the bytes freed")
	t.Logf("replica %d: checkpoint %d, freed %d bytes, disk %d -> %d bytes", p, in.CheckpointOp, freed, usedBefore,
		usedAfter)
	require.Zero(t, cc.inspect(p).DiskCompactableBytes)
	require.Equal(t, in.CommitMin, cc.inspect(p).CommitMin, "compaction changes no protocol state")
	freed, err = op.Compact(p)
	require.NoError(t, err)
	require.Zero(t, freed, "nothing left to compact until the next checkpoint")

	// It keeps serving as primary, and compacts again under load (queued behind appends and
	// checkpoints in the engine).
	cc.commit(40)
	require.Equal(t, p, cc.primary())
	cc.load = true
	_, err = op.Compact(p)
	cc.load = false
	require.NoError(t, err)
	cc.commit(20)
	cc.until(false, cc.converged, ticks, "converged")

	// The compacted log verifies and the replica recovers from it.
	cc.CrashReplica(p)
	report, err := op.Verify(p)
	require.NoError(t, err)
	require.True(t, report.OK, "problems: %v", report.Problems)
	cc.StartReplica(p)
	_, err = op.Compact(p) // still reading its disk
	require.ErrorIs(t, err, vsr.ErrNotServing)
	cc.commit(20)

	cc.CrashReplica(p)
	_, err = op.Compact(p)
	require.ErrorIs(t, err, ErrReplicaUnreachable)
	cc.StartReplica(p)
	cc.finish()
}

// `storage export` of a running replica under load restores onto a fresh disk and
// verifies; a flipped byte is refused; a quiet export restores the replica itself.
func TestOperatorExportRunning(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 2, seed: 22})
	op := cc.operator()
	cc.commit(100)
	const victim = 1

	cc.load = true // exported while the replica appends and checkpoints
	backup, err := op.Export(victim)
	cc.load = false
	require.NoError(t, err)
	from, err := BackupReplica(backup)
	require.NoError(t, err)
	require.Equal(t, victim, from)
	st, report := restoreFresh(t, cc, backup)
	require.True(t, report.OK, "problems: %v", report.Problems)
	require.Positive(t, st.CheckpointOp)

	damaged := append([]byte(nil), backup...)
	damaged[len(damaged)/3] ^= 0x10
	disk := freshDisk(cc)
	restored := false
	storage.Restore(disk, vsr.StorageOptions(disk), damaged, func(e error) { err, restored = e, true })
	cc.until(false, func() bool { return restored }, 100, "restore answered")
	require.ErrorIs(t, err, storage.ErrBackup)

	// A quiet export matches the replica's state exactly, and restores the replica itself.
	cc.until(false, cc.quiet, ticks, "quiet")
	in := cc.inspect(victim)
	backup, err = op.Export(victim)
	require.NoError(t, err)
	head, report := restoreFresh(t, cc, backup)
	require.True(t, report.OK, "problems: %v", report.Problems)
	require.Equal(t, in.CheckpointOp, head.CheckpointOp)
	require.Equal(t, in.Op, report.Head)
	cc.CrashReplica(victim)
	require.NoError(t, op.Restore(victim, backup))
	cc.StartReplica(victim)
	cc.commit(10)
	cc.finish()
}

func freshDisk(cc *checkedCluster) *sim.Disk {
	return sim.NewDisk(cc.Loop, sim.Stream(99, "export-restore"), sim.NewTrace(cc.Loop.Now), 0,
		sim.DiskOptions{ReadLatencyMin: sim.Microsecond, ReadLatencyMean: 2 * sim.Microsecond,
			WriteLatencyMin: sim.Microsecond, WriteLatencyMean: 2 * sim.Microsecond, Capacity: 64 << 20})
}

// restoreFresh restores a backup onto a fresh disk, opens it and runs the full scan.
func restoreFresh(t *testing.T, cc *checkedCluster, backup []byte) (storage.State, storage.VerifyReport) {
	t.Helper()
	disk := freshDisk(cc)
	opts := vsr.StorageOptions(disk)
	var st storage.State
	var report storage.VerifyReport
	var err error
	finished := false
	storage.Restore(disk, opts, backup, func(e error) {
		if err = e; e != nil {
			finished = true
			return
		}
		storage.Open(disk, opts, func(s *storage.Storage, _ *storage.Recovery, e error) {
			if err = e; e != nil {
				finished = true
				return
			}
			st = s.State()
			s.Verify(func(r storage.VerifyReport) { report, finished = r, true })
		})
	})
	cc.until(false, func() bool { return finished }, 1000, "restore, open and verify")
	require.NoError(t, err)
	return st, report
}

// `replica isolate` of a backup under load: the cluster commits without it, it neither
// advances nor sends nor times out into view changes however long it stays cut off; after
// `unisolate` it catches up, and nobody changed view.
func TestOperatorIsolateBackup(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 1, seed: 23})
	cc.commit(10)
	p := cc.primary()
	b := (p + 1) % 3
	// Hold b's disk so that it is isolated with log writes in flight: their completions
	// would send prepare_ok, and must not.
	cc.Nodes[b].Disk.SetPaused(true)
	before := cc.inspect(b).Op
	cc.until(true, func() bool { return cc.inspect(b).Op > before }, ticks, "b received prepares")
	require.NoError(t, ReplicaIsolate(cc.Cluster, b, "lag-exceeded"))
	sent := cc.sent[b]
	cc.Nodes[b].Disk.SetPaused(false)
	frozen := cc.inspect(b)
	require.True(t, frozen.Isolated)
	reason, isolated := cc.Replica(b).Isolation()
	require.True(t, isolated)
	require.Equal(t, "lag-exceeded", reason)

	cc.commit(60)
	// Idle far past the election and view-change timeouts.
	for range 4 * vsr.DefaultConfig().ElectionTimeoutTicks {
		cc.step()
	}
	cc.commit(10)
	now := cc.inspect(b)
	require.Equal(t, frozen.CommitMax, now.CommitMax, "an isolated replica learns of no commit")
	require.Equal(t, frozen.Op, now.Op)
	require.Equal(t, frozen.View, now.View)
	require.Equal(t, frozen.Status, now.Status, "an isolated replica starts no view change")
	require.Equal(t, sent, cc.sent[b], "an isolated replica sends nothing")
	require.Equal(t, p, cc.primary())
	require.GreaterOrEqual(t, cc.inspect(p).CommitMax, frozen.CommitMax+70)

	require.NoError(t, ReplicaUnisolate(cc.Cluster, b))
	require.False(t, cc.inspect(b).Isolated)
	cc.commit(10)
	cc.until(false, cc.converged, ticks, "the unisolated replica caught up")
	require.Equal(t, p, cc.primary(), "rejoining changed no view")
	require.Equal(t, frozen.View, cc.inspect(b).View)
	require.Greater(t, cc.sent[b], sent)
	cc.finish()
}

// `replica isolate` of the primary: the others elect a new primary and keep committing;
// the isolated one stays a primary of the old view, frozen; after `unisolate` it follows
// the new view as a backup.
func TestOperatorIsolatePrimary(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 1, seed: 24})
	cc.commit(10)
	p := cc.primary()
	old := cc.inspect(p)
	require.NoError(t, ReplicaIsolate(cc.Cluster, p, "assertion-failure"))
	cc.commit(30)
	q := cc.primary()
	require.NotEqual(t, p, q)
	require.Greater(t, cc.inspect(q).View, old.View, "a view change among the others")
	frozen := cc.inspect(p)
	require.Equal(t, old.View, frozen.View)
	require.Equal(t, vsr.RolePrimary, frozen.Role)
	require.Equal(t, old.CommitMax, frozen.CommitMax)

	require.NoError(t, ReplicaUnisolate(cc.Cluster, p))
	cc.commit(10)
	cc.until(false, cc.converged, ticks, "the old primary rejoined")
	require.Equal(t, vsr.RoleBackup, cc.inspect(p).Role)
	require.Equal(t, cc.inspect(q).View, cc.inspect(p).View)
	cc.finish()
}

// `debug dump-state` parses back with the replica's own op, commit and view, its config,
// the isolation, and, for a crashed replica, the node status alone.
func TestOperatorDumpState(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 1, seed: 25})
	cc.commit(20)
	in := cc.inspect(1)
	raw, err := DebugDumpState(cc.Cluster, 1)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(raw, &generic), "%s", raw)
	require.Equal(t, "normal", generic["status"])
	require.Equal(t, "up", generic["node"])
	inspection := generic["inspection"].(map[string]any)
	require.EqualValues(t, in.Op, inspection["Op"])
	require.EqualValues(t, in.CommitMax, inspection["CommitMax"])
	require.EqualValues(t, in.CommitMin, inspection["CommitMin"])
	require.EqualValues(t, in.View, inspection["View"])
	var dump StateDump
	require.NoError(t, json.Unmarshal(raw, &dump))
	// go-cmp names the field that did not survive the JSON round trip.
	require.Empty(t, cmp.Diff(in, *dump.Inspection), "Inspection after the JSON round trip (-want +got)")
	require.Empty(t, cmp.Diff(cc.Replica(1).Config(), *dump.Config), "Config after the JSON round trip (-want +got)")
	require.Len(t, dump.Digest, 32)

	require.NoError(t, ReplicaIsolate(cc.Cluster, 1, "assertion-failure"))
	raw, err = DebugDumpState(cc.Cluster, 1)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &dump))
	require.True(t, dump.Isolated)
	require.Equal(t, "assertion-failure", dump.IsolationReason)

	cc.CrashReplica(1)
	raw, err = DebugDumpState(cc.Cluster, 1)
	require.NoError(t, err)
	dump = StateDump{}
	require.NoError(t, json.Unmarshal(raw, &dump))
	require.Equal(t, StateDump{Replica: 1, Node: "crashed", Status: StatusUnreachable}, dump)
	_, err = DebugDumpState(cc.Cluster, 3)
	require.Error(t, err)
	cc.StartReplica(1) // restarts connected: isolation is the process's state
	cc.finish()
	require.False(t, cc.inspect(1).Isolated)
}
