package vsr

// Regression tests from a code review of the replica (the h33 helper): each failed on the
// code before its fix. A late message of a view change (a start_view or do_view_change held
// back by the network) must never truncate ops known committed; a replica changing to a
// view that already runs asks for its log on a heartbeat too; a log install never takes
// commit_min's slot; and the ops a cut log named are not asked for again.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/internal/assert"
)

const reviewCluster = 7

// reviewBus records what a replica sends.
type reviewBus struct {
	t    *testing.T
	sent []syncSent
}

func (b *reviewBus) SendToReplica(to int, msg []byte) {
	m, err := Decode(msg, reviewCluster)
	require.NoError(b.t, err)
	b.sent = append(b.sent, syncSent{to, m})
}

func (b *reviewBus) SendToClient(uint64, []byte) {}

// reviewChain returns prepares 1..n of view, hash-chained, each with a body naming its op.
func reviewChain(t *testing.T, n uint64, view uint32) []Message {
	t.Helper()
	chain := []Message{{}} // index 0: no op 0
	parent := checksum.Sum{}
	for op := uint64(1); op <= n; op++ {
		h := Header{Command: CommandPrepare, Cluster: reviewCluster, Op: op, Parent: parent, View: view, Replica: uint8(view % 3)}
		m, err := Decode(Encode(h, []byte(fmt.Sprintf("prepare %d of view %d", op, view))), reviewCluster)
		require.NoError(t, err)
		chain = append(chain, m)
		parent = m.Header.Checksum
	}
	return chain
}

// reviewReplica is replica `index` of 3 on a fresh in-memory disk whose superblock holds
// view and logView, with prepares[1..op] in its log (durable) and nothing committed.
func reviewReplica(t *testing.T, index int, view, logView uint32, prepares []Message, op uint64) (*Replica, *reviewBus, *testFS) {
	t.Helper()
	fs := newTestFS()
	r, bus := reviewReplicaOn(t, fs, fs, index, view, logView, prepares, op)
	return r, bus, fs
}

// reviewReplicaOn is reviewReplica on disk, an FS over fs (which runs its callbacks): for a
// test whose disk fails some writes.
func reviewReplicaOn(t *testing.T, disk storage.FS, fs *testFS, index int, view, logView uint32, prepares []Message, op uint64) (*Replica, *reviewBus) {
	t.Helper()
	opts := StorageOptions(disk)
	require.NoError(t, fs.do(func(done func(error)) {
		storage.Format(disk, opts, storage.State{Cluster: reviewCluster, Replica: uint8(index), ReplicaCount: 3,
			View: view, LogView: logView, Boots: 1}, done)
	}))
	var s *storage.Storage
	require.NoError(t, fs.do(func(done func(error)) {
		storage.Open(disk, opts, func(got *storage.Storage, _ *storage.Recovery, err error) { s = got; done(err) })
	}))
	for o := uint64(1); o <= op; o++ {
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: o, Body: prepares[o].Bytes}, done) }))
	}
	bus := &reviewBus{t: t}
	r := &Replica{options: Options{FS: disk, Release: kv.ReleaseBase}, config: DefaultConfig(), cluster: reviewCluster,
		replica: index, count: 3, bus: bus, rand: rand.New(rand.NewPCG(1, 2)), status: StatusNormal,
		view: view, logView: logView, storage: s, machine: kv.New(), boots: 1}
	r.initTimeouts()
	r.clients = newClientTable(r.clientsMax())
	r.stateDurable = s.State()
	for o := uint64(1); o <= op; o++ {
		r.log.setPrepare(prepares[o])
		r.log.markDurable(o)
	}
	r.op, r.logViewOp = op, op
	return r, bus
}

// reviewSnapshot is a checkpoint snapshot at op (whose prepare header is head) of an empty
// state machine and client table, as a peer's r.snapshot() encodes it.
func reviewSnapshot(head Header) []byte {
	peer := &Replica{machine: kv.New(), commitMin: head.Op}
	peer.clients = newClientTable(peer.clientsMax())
	peer.log.setHeader(head)
	return peer.snapshot()
}

// reviewDoViewChange is the do_view_change of replica `from` for view, claiming logView with
// the given prepares' headers up to op and commit number commit.
func reviewDoViewChange(t *testing.T, from int, view, logView uint32, prepares []Message, op, commit uint64) Message {
	t.Helper()
	return withHeaders(t, Header{Cluster: reviewCluster, Replica: uint8(from), View: view, Command: CommandDoViewChange,
		Release: kv.ReleaseBase, LogView: logView, Op: op, Commit: commit}, prepares)
}

// withHeaders is the message h whose body is the headers of prepares 1..h.Op (a
// do_view_change's or a start_view's), decoded as a replica receives it.
func withHeaders(t *testing.T, h Header, prepares []Message) Message {
	t.Helper()
	body := make([]byte, 0, HeaderSize*int(h.Op))
	for o := uint64(1); o <= h.Op; o++ {
		body = append(body, HeaderBytes(prepares[o].Bytes)...)
	}
	m, err := Decode(Encode(h, body), reviewCluster)
	require.NoError(t, err)
	return m
}

// deliver hands m to r as the event loop does (Receive), and reports an assertion failure.
func deliver(r *Replica, m Message) (failure string) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := assert.AsFailure(p)
			if !ok {
				panic(p)
			}
			failure = f.Message
		}
	}()
	r.Receive(m.Bytes)
	return ""
}

// TestStaleDoViewChangeAfterAStateSyncIsNotInstalled: the primary-elect of a view change installs the
// best do_view_change's log without checking that it reaches its own commit_min, which a
// state sync received during the view change may have moved past every do_view_change it
// holds (onStartView has that check: "our executed state is ahead of this log: a stale
// start_view"; primaryInstallView has none).
//
// Replica 2 leads view 2 (2 mod 3). Its own do_view_change is in (op 10 of log view 1) and it
// waits for one more. Meanwhile replicas 0 and 1 gave up on view 2 and went on in view 3,
// committing past checkpoint 64; replica 2, which has not heard of view 3 yet (the path from
// replica 0 is slow), receives replica 1's checkpoint 64 by state sync (answering a sync
// request it sent while lagging). Then replica 0's do_view_change for view 2, sent before
// it moved on and delayed by the network, arrives: a quorum, whose best log ends at op 10,
// below commit_min 64. installLog truncates after op 10 and the assertion "truncating
// committed ops" fail-stops a correct replica.
func TestStaleDoViewChangeAfterAStateSyncIsNotInstalled(t *testing.T) {
	chain := reviewChain(t, 64, 1)
	r, _, fs := reviewReplica(t, 2, 2, 1, chain, 10)
	require.Equal(t, 2, r.primaryIndex(2))
	r.status = StatusViewChange
	r.viewChange.svcFrom = 1<<0 | 1<<2 // replica 0's start_view_change for view 2 is in
	r.maybeSendDoViewChange()          // our own do_view_change, to ourselves
	require.NotNil(t, r.viewChange.dvcs[2], "own do_view_change not recorded")
	require.False(t, r.viewChange.installed, "installed without a quorum")

	// Replica 1's checkpoint 64 (of view 3's log; its prepare at 64 is the same chain here).
	snapshot := reviewSnapshot(chain[64].Header)
	sh := Header{Cluster: reviewCluster, Replica: 1, View: 3, Command: CommandSync, Release: kv.ReleaseBase,
		Op: 64, Commit: 70, Parent: checksum.Of(snapshot), Client: uint64(len(snapshot))}
	sync, err := Decode(Encode(sh, snapshot), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, sync))
	require.Equal(t, uint64(64), r.commitMin, "the state sync was not installed")
	fs.drain()

	// Replica 0's do_view_change for view 2, delayed: log view 1, op 10.
	late := reviewDoViewChange(t, 0, 2, 1, chain, 10, 0)
	failure := deliver(r, late)
	require.Empty(t, failure, "a stale do_view_change fail-stopped the primary-elect")
	require.GreaterOrEqual(t, r.op, r.commitMin)
}

// requestedStartView reports whether r asked replica `to` for the start_view of view.
func requestedStartView(bus *reviewBus, to int, view uint32) bool {
	for _, s := range bus.sent {
		if s.to == to && s.m.Header.Command == CommandRequestStartView && s.m.Header.View == view {
			return true
		}
	}
	return false
}

// TestViewChangeAsksTheRunningViewOnItsHeartbeat: commit 85dd5fd made a replica that is
// changing to a view which already runs normally ask that view's primary for start_view when
// "its primary heartbeats us" -- but only in onPrepare. The primary's heartbeat is the commit
// message (onHeartbeatTimeout), and onCommit drops it in view_change status. So on an idle
// cluster (no prepares) a restarted primary, which moves on to the view after its own while
// the others already run that view, hears only heartbeats, ignores them, and its view change
// times out into a needless election of the whole healthy cluster: exactly what 85dd5fd set
// out to prevent (swarm seed 2028080632), left in place whenever no client is writing.
func TestViewChangeAsksTheRunningViewOnItsHeartbeat(t *testing.T) {
	chain := reviewChain(t, 10, 3)
	// Replica 0 led view 3 and restarted: rejoin moved it to view change 4 (led by 1),
	// which replicas 1 and 2 already run normally.
	r, bus, _ := reviewReplica(t, 0, 4, 3, chain, 10)
	r.status = StatusViewChange
	r.commitMax, r.commitMin = 10, 10

	// A prepare of view 4 from its primary: asks for start_view (the 85dd5fd path).
	p := Header{Command: CommandPrepare, Cluster: reviewCluster, Op: 11, Parent: chain[10].Header.Checksum, View: 4,
		Replica: 1, Commit: 10, Release: kv.ReleaseBase}
	prepare, err := Decode(Encode(p, []byte("op 11")), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, prepare))
	require.True(t, requestedStartView(bus, 1, 4), "the prepare path asks for start_view")

	// The heartbeat of view 4's primary on an idle cluster: a commit message, nothing else.
	bus.sent = nil
	c := Header{Command: CommandCommit, Cluster: reviewCluster, View: 4, Replica: 1, Commit: 10,
		Parent: chain[10].Header.Checksum, Release: kv.ReleaseBase}
	heartbeat, err := Decode(Encode(c, nil), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, heartbeat))
	require.True(t, requestedStartView(bus, 1, 4),
		"a replica changing to a view that runs ignores its primary's heartbeat: its view change times out into a needless election")
}

// reviewChainViews returns prepares 1..len(views) hash-chained, op i prepared in views[i-1]
// by that view's primary (of 3).
func reviewChainViews(t *testing.T, views []uint32) []Message {
	t.Helper()
	chain := []Message{{}}
	parent := checksum.Sum{}
	for i, view := range views {
		op := uint64(i + 1)
		h := Header{Command: CommandPrepare, Cluster: reviewCluster, Op: op, Parent: parent, View: view,
			Replica: uint8(view % 3), Release: kv.ReleaseBase}
		m, err := Decode(Encode(h, reviewBatch(op)), reviewCluster)
		require.NoError(t, err)
		chain = append(chain, m)
		parent = m.Header.Checksum
	}
	return chain
}

// reviewBatch is a valid prepare body: the registration of client 1000+op.
func reviewBatch(op uint64) []byte {
	return appendBatch(nil, []batchEntry{{Client: 1000 + op, Request: 1, Operation: OperationRegister}})
}

type reviewClock struct{}

func (reviewClock) Monotonic() int64 { return 1 }
func (reviewClock) Realtime() int64  { return 1 }

// reviewRestart formats a disk whose superblock holds state and whose log holds prepares
// 1..len-1, and opens replica state.Replica of 3 on it as a restart does.
func reviewRestart(t *testing.T, state storage.State, prepares []Message) (*Replica, *reviewBus, *testFS) {
	t.Helper()
	fs := newTestFS()
	opts := StorageOptions(fs)
	require.NoError(t, fs.do(func(done func(error)) { storage.Format(fs, opts, state, done) }))
	s, _ := fs.open(t, opts)
	for o := uint64(1); o < uint64(len(prepares)); o++ {
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: o, Body: prepares[o].Bytes}, done) }))
	}
	bus := &reviewBus{t: t}
	r := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, Replica: int(state.Replica), Release: kv.ReleaseBase,
		FS: fs, Bus: bus, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(1, 2))})
	fs.drain()
	return r, bus, fs
}

// TestStaleStartViewKeepsCommittedOps: a replica that restarts in view_change of
// the view it was normal in (its superblock has the view, but not yet the log view: the write
// persisting the log view was lost in the crash) takes a stale start_view of that view --
// the primary's first one, delayed or duplicated by the network, whose log ends below ops the
// replica holds durably and knows committed -- and truncates them: onStartView refuses a
// start_view below commit_min only, and truncate's assertion lets a truncation below
// commit_max through as long as it is at or above commit_min. The ops go from memory and
// (cutLog) from the disk, and commit_max is left above op_number: the invariant assertion
// fail-stops the replica. A stale start_view of our own view must be refused when it does not
// reach commit_max (as the normal-status check refuses one below our op), or at least it
// must not cut what we know committed.
//
// How the disk got there, with no fault but the crash: replica 2 installed view 4's
// start_view (op 10, commit 8) with ops 9 and 10 still to repair, and persisted view 4 (log
// view 3: logDurable waits for ops 9-10). While it repaired them it took ops 11-50 of view 4
// and commit 45 from the primary's prepares; the commit moving past persistState's slack
// (CheckpointInterval/2) submitted a superblock write W2 with commit 45 and log view 3
// (unverifiedFloor checks headers, not durability) behind the append of op 10. Op 10's
// completion found W2 in flight (stateWriting: no write) and submitted op 11's append; W2's
// completion then submitted W3 (log view 4) behind it. The engine runs them in order: op 11
// is durable, and the crash comes before W3 is. On restart: view 4, log view 3, ops 1-11,
// commit 45 (commit_max 11). The stale start_view is view 4's first broadcast, held by a
// clogged or slow path (replica 2 had installed the log from an answer to
// request_start_view, or a duplicate).
func TestStaleStartViewKeepsCommittedOps(t *testing.T) {
	views := []uint32{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4} // op 11 prepared in view 4
	chain := reviewChainViews(t, views)
	r, _, fs := reviewRestart(t, storage.State{Cluster: reviewCluster, Replica: 2, ReplicaCount: 3,
		View: 4, LogView: 3, Commit: 45, Boots: 1}, chain)
	require.Equal(t, StatusViewChange, r.status, "restarted with log view 3 in view 4: view change")
	require.Equal(t, uint32(4), r.view)
	require.Equal(t, uint64(11), r.op)
	require.Equal(t, uint64(11), r.commitMax, "op 11 is known committed (superblock commit 45)")

	// View 4's first start_view (replica 1 leads view 4): op 10, commit 8.
	sv := Header{Cluster: reviewCluster, Replica: 1, View: 4, Command: CommandStartView, Release: kv.ReleaseBase,
		LogView: 4, Op: 10, Commit: 8}
	body := make([]byte, 0, 10*HeaderSize)
	for o := 1; o <= 10; o++ {
		body = append(body, HeaderBytes(chain[o].Bytes)...)
	}
	stale, err := Decode(Encode(sv, body), reviewCluster)
	require.NoError(t, err)
	failure := deliver(r, stale)
	fs.drain()
	require.Empty(t, failure, "a stale start_view of our own view fail-stopped the replica")
	require.Equal(t, uint64(11), r.op, "committed op 11 truncated by a stale start_view")
}

// TestWantOpFollowsTheInstalledLog: repair.wantOp (the highest op the replica
// believes exists) is only ever raised (max), never lowered: not when a view change truncates
// the ops that named it, nor on a state sync. A backup that heard of op 20 from the primary of
// view 4 (a prepare that overtook its predecessors) and then installed view 7's log, which
// ends at op 14 (ops 15-20 never committed), keeps asking view 7's primary every repair round
// for ops 15-18 by op (which it will never have until view 7 prepares them), counts every
// round as "lacking without progress" (checkStuck) and so sends a state-sync request every
// RepairStuckRoundsMax rounds on an idle, healthy cluster; appendPrepare then counts view 7's
// ordinary prepares 15-20 as repairs (metrics.Repairs, EventRepair).
func TestWantOpFollowsTheInstalledLog(t *testing.T) {
	chain, r, bus, _ := viewFourBackup(t, 14, 14)

	// View 4's prepare of op 20 overtakes ops 15-19 (which view 4 never commits).
	p := Header{Command: CommandPrepare, Cluster: reviewCluster, Op: 20, Parent: checksum.Sum{1}, View: 4,
		Replica: 1, Commit: 10, Release: kv.ReleaseBase}
	ahead, err := Decode(Encode(p, reviewBatch(20)), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, ahead))
	require.Equal(t, uint64(20), r.repair.wantOp)

	// View 7 (led by replica 1) started without ops 15-20: its log ends at 14.
	sv := Header{Cluster: reviewCluster, Replica: 1, View: 7, Command: CommandStartView, Release: kv.ReleaseBase,
		LogView: 7, Op: 14, Commit: 14}
	body := make([]byte, 0, 14*HeaderSize)
	for o := 1; o <= 14; o++ {
		body = append(body, HeaderBytes(chain[o].Bytes)...)
	}
	start, err := Decode(Encode(sv, body), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, start))
	require.Equal(t, StatusNormal, r.status)
	require.Equal(t, uint64(14), r.op)

	bus.sent = nil
	r.onRepairTimeout()
	for _, s := range bus.sent {
		require.False(t, s.m.Header.Command == CommandRequestPrepare && s.m.Header.Op > r.op,
			"asks view 7's primary for op %d, which only the truncated view 4 named (wantOp %d)", s.m.Header.Op, r.repair.wantOp)
	}
}

// TestInstallAtTheWindowEdgeSyncsInstead: onStartView (and primaryInstallView)
// send a replica to state sync only when the new log ends past commit_min + LogSlotsMax; a
// log ending exactly there is installed, and its head op takes the slot of commit_min itself
// (op % LogSlotsMax). A replica whose checkpoint at commit_min is still due (the first write
// of it failed, or it waits for the epoch's superblock write) then writes it: snapshot()
// needs commit_min's header, which is gone, and the assertion "checkpoint without the header
// of its op" fail-stops it. The bound should be >= (the window holds commit_min..commit_min+
// LogSlotsMax-1), as the invariant "op <= commit_min + LogSlotsMax" should be <.
//
// Replica 2 executed up to 64, its checkpoint of 64 failed (disk error: checkpointDue), and
// it fell two checkpoints behind; view 7's primary (replica 1) has checkpoint 192 and log up to
// 320, so its start_view lists ops 193-320.
func TestInstallAtTheWindowEdgeSyncsInstead(t *testing.T) {
	views := make([]uint32, 320)
	for i := range views {
		views[i] = 4
	}
	chain := reviewChainViews(t, views)
	r, _, fs := reviewReplica(t, 2, 4, 4, chain, 64)
	r.commitMin, r.commitMax = 64, 64
	r.checkpointDue = true // its checkpoint of 64 failed; retried by commitExecute
	r.stateDurable.View, r.stateDurable.LogView = 4, 4

	sv := Header{Cluster: reviewCluster, Replica: 1, View: 7, Command: CommandStartView, Release: kv.ReleaseBase,
		LogView: 7, Op: 320, Commit: 320}
	body := make([]byte, 0, 128*HeaderSize)
	for o := 193; o <= 320; o++ {
		body = append(body, HeaderBytes(chain[o].Bytes)...)
	}
	start, err := Decode(Encode(sv, body), reviewCluster)
	require.NoError(t, err)
	failure := deliver(r, start)
	fs.drain()
	require.Empty(t, failure, "a log ending at commit_min + LogSlotsMax was installed over commit_min's slot")
}

// viewFourBackup is replica 2, a normal backup of view 4 (led by 1), with ops 1..op of a
// chain of n prepares of view 4 durable in its log and ops 1..10 committed.
func viewFourBackup(t *testing.T, n int, op uint64) ([]Message, *Replica, *reviewBus, *testFS) {
	t.Helper()
	views := make([]uint32, n)
	for i := range views {
		views[i] = 4
	}
	chain := reviewChainViews(t, views)
	r, bus, fs := reviewReplica(t, 2, 4, 4, chain, op)
	r.commitMin, r.commitMax = 10, 10
	r.stateDurable.View, r.stateDurable.LogView = 4, 4
	r.runTimeouts(&r.election, &r.ping, &r.repairTimeout)
	return chain, r, bus, fs
}
