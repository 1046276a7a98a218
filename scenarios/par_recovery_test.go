package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Protocol-aware recovery (PAR, Alagappan et al., FAST'18) through real replicas: the cases
// of issue 11 that the swarm reached only by chance. Each builds its disks and partitions by
// hand, so the same bug class fails the same way on every run.

// isolateAll cuts every path between the replicas in cut and everyone else.
func (tc *testCluster) isolateAll(cut ...int) {
	for _, i := range cut {
		tc.Network.Isolate(i)
	}
}

// viewWithout2 cuts replica 2 off and restarts replica 0, so that 0 and 1 start a view (log
// view 1 or later) without 2, and waits for their log views to be durable.
func (tc *testCluster) viewWithout2(ticks int) {
	tc.t.Helper()
	tc.isolateAll(2)
	tc.CrashReplica(0)
	tc.StartReplica(0)
	ok := tc.RunUntil(func() bool {
		a, b := tc.inspect(0), tc.inspect(1)
		return a.Status == vsr.StatusNormal && b.Status == vsr.StatusNormal && a.LogView >= 1 && b.LogView >= 1
	}, ticks)
	require.True(tc.t, ok, "0 and 1 did not start a view: %s", tc.describe())
	tc.RunFor(sim.Second) // log views durable
}

// committedHeaders returns replica i's headers of ops first..last.
func (tc *testCluster) committedHeaders(i int, first, last uint64) map[uint64]checksum.Sum {
	tc.t.Helper()
	out := map[uint64]checksum.Sum{}
	for op := first; op <= last; op++ {
		h, ok := tc.Replica(i).Header(op)
		require.True(tc.t, ok, "replica %d lacks the header of op %d", i, op)
		out[op] = h.Checksum
	}
	return out
}

// requireNeverReplaced checks that no running replica's log holds an op of want with another
// checksum, and that no normal replica's log ends below them: a committed op is never
// truncated away or replaced.
func (tc *testCluster) requireNeverReplaced(want map[uint64]checksum.Sum, last uint64) {
	tc.t.Helper()
	for i := 0; i < tc.ReplicaCount(); i++ {
		r := tc.Replica(i)
		if r == nil {
			continue
		}
		in := r.Inspect()
		if in.Status == vsr.StatusNormal {
			require.GreaterOrEqual(tc.t, in.Op, last, "replica %d is normal with a log that lost committed ops: %s", i, tc.describe())
		}
		for op, sum := range want {
			if h, ok := r.Header(op); ok {
				require.Equal(tc.t, sum, h.Checksum, "replica %d replaced committed op %d", i, op)
			}
		}
	}
}

// damagedTail builds the case of TestPARDamagedTailIsNotATornWrite up to the restart of
// replicas 0, 3 and 4: replica 0's last two entries unreadable, replicas 1 and 2 (the good
// copies) down. It returns the committed headers and the last op.
func damagedTail(t *testing.T, mutate func(*sim.ClusterOptions)) (*testCluster, map[uint64]checksum.Sum, uint64) {
	tc := newTestCluster(t, testOptions{replicas: 5, seed: 51, mutate: mutate})
	tc.isolateAll(3, 4)
	tc.commitN(2, ticks)
	tc.RunFor(2 * sim.Second) // the last request and its reply settle
	last := tc.inspect(0).Op
	for i := 0; i < 3; i++ {
		require.Equal(t, last, tc.inspect(i).CommitMin, "replica %d did not execute every op: %s", i, tc.describe())
	}
	want := tc.committedHeaders(0, 1, last)
	for i := 0; i < 5; i++ {
		tc.CrashReplica(i)
	}
	for _, op := range []uint64{last - 1, last} {
		name, offset := entryOffset(t, tc.Nodes[0].Disk, op)
		tc.Nodes[0].Disk.LatentSectorError(name, offset)
	}
	rec := tc.recoverDisk(0)
	require.Equal(t, []uint64{last - 1, last}, rec.Faulty, "the damaged entries are faulty, not a torn tail")
	tc.Network.Heal()
	tc.isolateAll(1, 2)
	for _, i := range []int{0, 3, 4} {
		tc.StartReplica(i)
	}
	return tc, want, last
}

// TestPARDamagedTailIsNotATornWrite (issue 11, item 3; PAR's Figure 2 reached through the
// tail). Five replicas; a few ops are committed on replicas 0-2 while 3 and 4 hold nothing.
// Replica 0's entries for its last two ops become unreadable (latent sector errors: the
// entries were synced and acknowledged long before), and replicas 1 and 2, which hold the
// good copies, are down. Replica 0 must report both ops faulty -- not take the damaged tail
// for a torn write -- so that no view can start with 3 and 4 on a log that lacks a committed
// op. When replica 1 comes back, the cluster recovers both with their original checksums.
func TestPARDamagedTailIsNotATornWrite(t *testing.T) {
	tc, want, last := damagedTail(t, nil)
	acked := tc.totalAcked()
	tc.load = true
	for step := 0; step < 20; step++ {
		tc.RunFor(500 * sim.Millisecond)
		tc.requireNeverReplaced(want, last)
	}
	require.Equal(t, acked, tc.totalAcked(), "a write was acknowledged while a committed op had no readable copy: %s", tc.describe())
	tc.load = false

	tc.Network.Heal()
	tc.StartReplica(1)
	tc.commitN(3, ticks)
	tc.converge(ticks)
	tc.requireNeverReplaced(want, last)
	for _, i := range []int{0, 1, 3, 4} {
		for op, sum := range want {
			if h, ok := tc.Replica(i).Header(op); ok || tc.inspect(i).CheckpointOp < op {
				require.True(t, ok, "replica %d lacks op %d", i, op)
				require.Equal(t, sum, h.Checksum, "replica %d holds another op %d", i, op)
			}
		}
	}
	tc.requireNoFailures()
}

// TestPARRepairTrafficIsBounded (issue 11, item 5): in the unavailable phase of the damaged
// tail, the new primary keeps asking for the two missing prepares and the empty replicas keep
// denying them. Each nack used to trigger another broadcast of request_prepare (3.4M requests
// and 1.7M nacks in 15 simulated seconds of a swarm seed). Now it asks at most once per op per
// repair timeout, so 10 s cost at most a few thousand of each.
func TestPARRepairTrafficIsBounded(t *testing.T) {
	var requests, nacks int
	tc, _, _ := damagedTail(t, func(o *sim.ClusterOptions) {
		o.OnReplicaSend = func(from, to int, msg []byte) {
			switch c, _ := vsr.PeekCommand(msg); c {
			case vsr.CommandRequestPrepare:
				requests++
			case vsr.CommandNackPrepare:
				nacks++
			}
		}
	})
	requests, nacks = 0, 0
	tc.load = true
	tc.RunFor(10 * sim.Second)
	// 10 s / 50 ms repair rounds = 200 rounds, 2 ops, 4 peers, whatever replica leads.
	bound := 200 * 2 * 4
	require.Positive(t, nacks, "the empty replicas were never asked")
	require.LessOrEqual(t, requests, bound, "request_prepare messages in 10 s")
	require.LessOrEqual(t, nacks, bound, "nack_prepare messages in 10 s")
	t.Logf("10 s unavailable: %d request_prepare, %d nack_prepare (bound %d each)", requests, nacks, bound)
}

// cutBetween cuts both directions between replicas a and b.
func (tc *testCluster) cutBetween(a, b int) {
	tc.Network.Cut(a, b)
	tc.Network.Cut(b, a)
}

// runUntilOp runs until replica i's log reaches op, or fails the test.
func (tc *testCluster) runUntilOp(i int, op uint64) {
	tc.t.Helper()
	ok := tc.RunUntil(func() bool { r := tc.Replica(i); return r != nil && r.Inspect().Op >= op }, ticks)
	require.True(tc.t, ok, "replica %d never reached op %d: %s", i, op, tc.describe())
}

// TestPARFaultyUncommittedOpIsNacked (issue 11, item 4). Three replicas end up with the logs
// [a], [b, c] and [b] above a committed prefix: a is an op that the old primary (replica 0)
// prepared alone while cut off; b the op its successor (replica 1) prepared instead and
// committed with replica 2; c an op replica 1 prepared next, while cut off from replica 2. Then
// c's entry on replica 1 becomes unreadable, and all three restart. c never committed (only
// replica 1 ever had it), but only replica 1's disk knows its header. The view change must
// still end: replica 1's redundant record names c, the other two deny having it
// (nack_prepare), and the new primary truncates it. Without the record, no replica could
// name c, so no nack could be counted and every view change timed out.
func TestPARFaultyUncommittedOpIsNacked(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 52})
	tc.commitN(1, ticks)
	tc.RunFor(2 * sim.Second)
	base := tc.inspect(0).Op
	require.Equal(t, base, tc.inspect(2).Op)

	tc.cutBetween(0, 1) // a: the primary of view 0 prepares alone
	tc.cutBetween(0, 2)
	tc.load = true
	tc.runUntilOp(0, base+1)
	tc.load = false
	tc.RunFor(100 * sim.Millisecond)
	require.Equal(t, uint32(0), tc.inspect(0).View)

	// b: the client's retry reaches replica 1, primary of view 1, which commits it with 2.
	ok := tc.RunUntil(func() bool { return tc.inspect(1).CommitMax >= base+1 && tc.inspect(2).CommitMax >= base+1 }, ticks)
	require.True(t, ok, "replicas 1 and 2 did not commit b: %s", tc.describe())
	require.Equal(t, 1, tc.primary())
	tc.RunFor(sim.Second)

	tc.cutBetween(1, 2) // c: replica 1 prepares alone
	tc.load = true
	tc.runUntilOp(1, base+2)
	tc.load = false
	tc.RunFor(100 * sim.Millisecond)
	require.Equal(t, base+1, tc.inspect(2).Op, "replica 2 got c")
	c, ok := tc.Replica(1).Header(base + 2)
	require.True(t, ok)

	for i := 0; i < 3; i++ {
		tc.CrashReplica(i)
	}
	name, offset := entryOffset(t, tc.Nodes[1].Disk, base+2)
	tc.Nodes[1].Disk.LatentSectorError(name, offset)
	require.Equal(t, []uint64{base + 2}, tc.recoverDisk(1).Faulty)
	tc.Network.Heal()
	for i := 0; i < 3; i++ {
		tc.StartReplica(i)
	}
	tc.commitN(3, ticks)
	tc.converge(ticks)
	for i := 0; i < 3; i++ {
		if h, ok := tc.Replica(i).Header(base + 2); ok {
			require.NotEqual(t, c.Checksum, h.Checksum, "replica %d kept c, which never committed", i)
		}
	}
	tc.requireNoFailures()
}

// TestPARSingleReplicaFaultyOpStops (issue 11, item 6): a one-replica cluster restarts with
// an unreadable entry. It has no peer to repair it from and every op of its log was
// committed, so it refuses to run, with a status that says why -- it used to panic asking a
// peer (rand.IntN(0)).
func TestPARSingleReplicaFaultyOpStops(t *testing.T) {
	var stopped []vsr.Event
	tc := newTestCluster(t, testOptions{replicas: 1, seed: 53, mutate: func(o *sim.ClusterOptions) {
		o.OnEvent = func(e vsr.Event) {
			if e.Kind == vsr.EventStatus && strings.HasPrefix(e.Text, "stopped") {
				stopped = append(stopped, e)
			}
		}
	}})
	tc.commitN(5, ticks)
	tc.RunFor(sim.Second)
	victim := tc.inspect(0).Op - 1
	tc.CrashReplica(0)
	name, offset := entryOffset(t, tc.Nodes[0].Disk, victim)
	tc.Nodes[0].Disk.LatentSectorError(name, offset)
	tc.StartReplica(0)
	tc.RunFor(sim.Second)
	tc.requireNoFailures()
	require.Equal(t, vsr.StatusStopped, tc.inspect(0).Status)
	require.Len(t, stopped, 1)
	require.Contains(t, stopped[0].Text, fmt.Sprintf("op %d is unreadable", victim))
}

// TestClientServedThroughBackups (issue 11, item 7; TigerBeetle's client/primary partition
// cases): the client cannot talk to the primary -- both ways cut, only its requests dropped,
// or only the primary's replies dropped -- while the replicas see each other, so no view
// change comes to the rescue. Its requests must still commit: a backup forwards them to the
// primary, and a backup that executed one answers the client's retry from its client table.
func TestClientServedThroughBackups(t *testing.T) {
	cases := []struct {
		name     string
		requests bool // client -> primary cut
		replies  bool // primary -> client cut
	}{
		{"symmetric", true, true},
		{"requests_dropped", true, false},
		{"replies_dropped", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestCluster(t, testOptions{replicas: 3, seed: 54})
			tc.commitN(2, ticks)
			tc.RunFor(sim.Second)
			primary, client := tc.primary(), tc.ClientNode(0)
			require.GreaterOrEqual(t, primary, 0)
			if c.requests {
				tc.Network.Cut(client, primary)
			}
			if c.replies {
				tc.Network.Cut(primary, client)
			}
			tc.commitN(5, ticks)
			require.Equal(t, primary, tc.primary(), "a view change served the client, not the backups")
			forwarded := uint64(0)
			for i := 0; i < 3; i++ {
				forwarded += tc.inspect(i).Metrics.RequestsForwarded
			}
			if c.requests {
				require.Positive(t, forwarded, "no backup forwarded a request")
			}
			tc.requireNoFailures()
		})
	}
}

// loseIdentity damages op's entry on replica i's disk together with its redundant record
// (the identity-loss move): recovery knows only that op existed.
func (tc *testCluster) loseIdentity(i int, op uint64) {
	tc.t.Helper()
	name, offset := entryOffset(tc.t, tc.Nodes[i].Disk, op)
	tc.Nodes[i].Disk.CorruptSector(name, offset)
	tc.Nodes[i].Disk.CorruptSector(name, int64(op%vsr.CheckpointInterval)*storage.SectorSize)
}

// TestPARGapInChosenLogKeepsOlderCopy (swarm seeds 20264364, 20264464, 20264629, 20264800).
// Three replicas commit a few ops in view 0. Replicas 0 and 1 move to log view 1 while
// replica 2, cut off, keeps log view 0; then replica 1's head entry loses its identity (entry
// and record damaged) and replica 0 goes down. The do_view_changes of 1 and 2 make 1's log the
// new one, with no header for its head op. Replica 2 cannot tell whether its intact copy is
// that op, but it may be (it is: the op committed), so it must keep it on disk. It used to
// forget it and truncate its disk there: with one more damaged copy, no disk held the
// committed op, and the emptied replicas' nacks truncated it.
func TestPARGapInChosenLogKeepsOlderCopy(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, seed: 53})
	tc.commitN(3, ticks)
	tc.converge(ticks)
	head := tc.inspect(0).Op
	want := tc.committedHeaders(0, 1, head)

	tc.viewWithout2(ticks)
	require.Equal(t, uint32(0), tc.inspect(2).LogView)

	for i := 0; i < 3; i++ {
		tc.CrashReplica(i)
	}
	tc.loseIdentity(1, head)
	rec := tc.recoverDisk(1)
	require.Contains(t, rec.Faulty, head)
	require.NotContains(t, rec.FaultyPrefix, head, "the record survived")
	tc.Network.Heal()
	tc.isolateAll(0)
	tc.StartReplica(1)
	tc.StartReplica(2)
	tc.RunFor(5 * sim.Second) // view changes among 1 and 2: nobody can name the head op

	tc.CrashReplica(2)
	kept := false
	for _, e := range tc.recoverDisk(2).Entries {
		kept = kept || e.Op == head
	}
	require.True(t, kept, "replica 2 dropped its intact copy of committed op %d", head)

	tc.Network.Heal()
	tc.StartReplica(0)
	tc.StartReplica(2)
	tc.commitN(2, ticks)
	tc.converge(ticks)
	tc.requireNeverReplaced(want, head)
	tc.requireNoFailures()
}
