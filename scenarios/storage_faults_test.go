package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Storage faults through the real replicas (issue 4's acceptance, replica side): crash
// points, a damaged write-ahead log and a full disk on one replica of three. Every test uses
// one client whose puts are large (a prepare spans three sectors, so a crash can tear it), and
// checks the cluster's state against a model of the acknowledged writes: with one client the
// puts commit in request order, so the state machine's digest after n acknowledged puts is
// known exactly.

// bigPut is the n-th put of client i: about 1 KiB, so that a prepare spans several sectors.
func bigPut(i, n int) []byte {
	value := fmt.Sprintf("c%d-%d-", i, n) + strings.Repeat(string(rune('a'+n%26)), 1000)
	return kv.EncodeOp(kv.Op{Kind: kv.KindPut, Key: fmt.Sprintf("k%d", n%8), Value: value})
}

// useBigPuts makes the clients submit bigPut instead of testCluster's small puts; acked and
// results are kept the same way, so commitN works as before.
func (tc *testCluster) useBigPuts() {
	for i := 0; i < tc.ClientCount(); i++ {
		tc.SetClientTick(i, func() {
			c := tc.Client(i)
			if !tc.load || c.Busy() {
				return
			}
			c.Submit(bigPut(i, tc.acked[i]), func(r client.Result) {
				tc.results = append(tc.results, r)
				if r.Outcome == client.OK {
					tc.acked[i]++
				}
			})
		})
	}
}

func newStorageTestCluster(t *testing.T, seed uint64, disk func(*sim.DiskOptions)) *testCluster {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: seed, mutate: func(o *sim.ClusterOptions) {
		if disk != nil {
			disk(&o.World.Disk)
		}
	}})
	tc.useBigPuts()
	return tc
}

// settle stops the load, lets the request in flight finish, and converges.
func (tc *testCluster) settle() {
	tc.t.Helper()
	tc.load = false
	idle := tc.RunUntil(func() bool { return !tc.Client(0).Busy() }, ticks)
	require.True(tc.t, idle, "the client's last request never finished: %s", tc.describe())
	tc.converge(ticks)
}

// modelDigest is the state machine's digest after client 0's puts 0..n-1.
func modelDigest(n int) checksum.Sum {
	m := kv.New()
	for i := 0; i < n; i++ {
		m.Apply(bigPut(0, i))
	}
	return m.Digest()
}

// requireAcknowledgedWrites checks, after settle, that no acknowledged write is lost and
// none was applied that was not submitted: every running replica has executed every
// acknowledged op, and its state is exactly that of the acknowledged puts (or of one more,
// if a request came back indeterminate and may have committed unacknowledged).
func (tc *testCluster) requireAcknowledgedWrites() {
	tc.t.Helper()
	require.Equal(tc.t, 1, tc.ClientCount(), "the model knows one client")
	highest, indeterminate := uint64(0), false
	for _, r := range tc.results {
		if r.Outcome == client.OK {
			highest = max(highest, r.Op)
		} else {
			indeterminate = true
		}
	}
	want := []checksum.Sum{modelDigest(tc.acked[0])}
	if indeterminate {
		want = append(want, modelDigest(tc.acked[0]+1))
	}
	for i := 0; i < tc.ReplicaCount(); i++ {
		in := tc.inspect(i)
		require.GreaterOrEqual(tc.t, in.CommitMin, highest, "replica %d lost acknowledged op %d", i, highest)
		require.Contains(tc.t, want, in.Digest, "replica %d's state is not that of the %d acknowledged puts",
			i, tc.acked[0])
	}
}

// walEntry locates op's entry in replica i's write-ahead log by decoding the segment's bytes
// (the engine's layout: segment op/CheckpointInterval, entries one after another).
func (tc *testCluster) walEntry(i int, op uint64) (name string, offset, size int64, body []byte) {
	tc.t.Helper()
	name = fmt.Sprintf("log-%016x", op/vsr.CheckpointInterval)
	b := tc.Nodes[i].Disk.Pristine(name)
	for pos := int64(0); pos+storage.SectorSize <= int64(len(b)); {
		h, body, err := storage.DecodeEntry(b[pos:])
		if err != nil {
			pos += storage.SectorSize
			continue
		}
		if h.Op == op {
			return name, pos, h.Size(), body
		}
		pos += h.Size()
	}
	tc.t.Fatalf("replica %d: no entry for op %d in %s", i, op, name)
	return "", 0, 0, nil
}

// recoverDisk opens replica i's disk with the engine, as the replica would at a restart;
// the replica must be down.
// entryOpsOf lists the ops of a recovery's intact entries.
func entryOpsOf(rec *storage.Recovery) []uint64 {
	var ops []uint64
	for _, e := range rec.Entries {
		ops = append(ops, e.Op)
	}
	return ops
}

func (tc *testCluster) recoverDisk(i int) *storage.Recovery {
	tc.t.Helper()
	require.Nil(tc.t, tc.Replica(i), "replica %d is running", i)
	var rec *storage.Recovery
	var err error
	fired := false
	storage.Open(tc.Nodes[i].Disk, vsr.StorageOptions(tc.Nodes[i].Disk), func(_ *storage.Storage, r *storage.Recovery, e error) {
		rec, err, fired = r, e, true
	})
	for !fired {
		require.True(tc.t, tc.Loop.Step(), "Open never completed")
	}
	require.NoError(tc.t, err)
	return rec
}

// requireCleanLog restarts replica i's disk with the engine alone and checks that its log
// holds every op it executed above its checkpoint, intact, each the same prepare as the
// primary's; then restarts the replica and converges again.
func (tc *testCluster) requireCleanLog(i int) {
	tc.t.Helper()
	tc.RunFor(100 * sim.Millisecond) // let the last writes and syncs finish
	executed := tc.inspect(i).CommitMin
	primary := tc.primary()
	tc.CrashReplica(i)
	rec := tc.recoverDisk(i)
	require.Empty(tc.t, rec.Faulty, "replica %d's log still has faulty ops", i)
	bodies := map[uint64][]byte{}
	for _, e := range rec.Entries {
		bodies[e.Op] = e.Body
	}
	for op := rec.State.CheckpointOp + 1; op <= executed; op++ {
		require.Contains(tc.t, bodies, op, "replica %d's log lacks executed op %d", i, op)
		if primary != i && primary >= 0 && op > tc.inspect(primary).CheckpointOp {
			_, _, _, want := tc.walEntry(primary, op)
			require.Equal(tc.t, want, bodies[op], "op %d differs from the primary's", op)
		}
	}
	tc.StartReplica(i)
	tc.converge(ticks)
}

// --- Crash points ---------------------------------------------------------------------------

// crashPoint runs one crash point. The third replica is cut off during the load, so that
// every commit needs the logs of both the primary and the other backup. At `at` into the
// load the victim (that backup, or the primary) crashes, its unsynced writes lost or torn.
// The other one can commit nothing more; once its writes have all synced it crashes too,
// losing nothing. Then the victim restarts, and for two seconds it and the third replica are
// the cluster: the acknowledged writes are only on the victim's disk (a view they start, and
// any op they commit, must include them all). Then the other one restarts too. The cluster
// must converge with every acknowledged write, the victim having rejoined.
func crashPoint(t *testing.T, seed uint64, primaryVictim bool, at sim.Duration) {
	tc := newStorageTestCluster(t, seed, func(o *sim.DiskOptions) {
		o.CrashLostProbability, o.CrashTornProbability = 0.4, 0.6
	})
	tc.commitN(3, ticks)
	primary := tc.primary()
	backup, isolated := (primary+1)%3, (primary+2)%3
	victim, other := backup, primary
	if primaryVictim {
		victim, other = primary, backup
	}
	tc.Network.Isolate(isolated)
	tc.load = true
	tc.RunFor(at)
	tc.CrashReplica(victim)
	tc.RunFor(100 * sim.Millisecond)
	before := tc.Nodes[other].Disk.Stats()
	tc.CrashReplica(other)
	after := tc.Nodes[other].Disk.Stats()
	require.Equal(t, before.CrashKept+before.CrashLost+before.CrashTorn, after.CrashKept+after.CrashLost+after.CrashTorn,
		"replica %d had unsynced writes at its crash", other)
	tc.Network.Heal()
	tc.StartReplica(victim)
	tc.RunFor(2 * sim.Second)
	tc.StartReplica(other)
	tc.commitN(6, ticks)
	tc.settle()
	require.Equal(t, vsr.StatusNormal, tc.inspect(victim).Status, "replica %d did not rejoin", victim)
	tc.requireAcknowledgedWrites()
	tc.requireNoFailures()
}

// TestStorageCrashPointsBackup (issue 4 acceptance: the crash-point test, through the
// replicas): the backup whose acknowledgements every commit needed crashes at every 2 ms of
// a 60 ms window of load (with the primary), and recovers from its own disk.
func TestStorageCrashPointsBackup(t *testing.T) {
	for at := sim.Duration(0); at <= 60*sim.Millisecond; at += 2 * sim.Millisecond {
		t.Run(at.String(), func(t *testing.T) { crashPoint(t, 100+uint64(at/sim.Millisecond), false, at) })
	}
}

// TestStorageCrashPointsPrimary: the same, with the primary recovering from its own disk.
func TestStorageCrashPointsPrimary(t *testing.T) {
	for at := sim.Duration(0); at <= 60*sim.Millisecond; at += 2 * sim.Millisecond {
		t.Run(at.String(), func(t *testing.T) { crashPoint(t, 200+uint64(at/sim.Millisecond), true, at) })
	}
}

// --- A damaged write-ahead log --------------------------------------------------------------

const walVictim = 2 // a backup

// walFault damages committed op `op` in the crashed backup's log.
type walFault func(tc *testCluster, op uint64)

// runWALFault: the backup crashes with a committed op above its checkpoint damaged on disk,
// restarts, finds the op faulty, repairs it from its peers (Metrics.Repairs counts it) and
// rewrites it; the cluster converges with every acknowledged write, and a later restart finds
// the backup's log clean. With no fault, nothing is repaired (the check can fail).
func runWALFault(t *testing.T, seed uint64, fault walFault) uint64 {
	tc := newStorageTestCluster(t, seed, nil)
	tc.commitN(20, ticks)
	tc.settle()
	in := tc.inspect(walVictim)
	op := in.CheckpointOp + 10
	require.Less(t, op, in.CommitMin, "the damaged op must be committed")
	tc.CrashReplica(walVictim)
	var want []uint64
	if fault != nil {
		fault(tc, op)
		want = []uint64{op}
	}
	require.Equal(t, want, tc.recoverDisk(walVictim).Faulty, "the engine's recovery of the damaged log")
	tc.StartReplica(walVictim)
	tc.converge(ticks)
	repairs := tc.inspect(walVictim).Metrics.Repairs
	tc.commitN(5, ticks)
	tc.settle()
	tc.requireAcknowledgedWrites()
	tc.requireCleanLog(walVictim)
	tc.requireNoFailures()
	return repairs
}

// TestStorageWALCorruptSectorRepaired: sticky corruption of a sector of a committed entry.
func TestStorageWALCorruptSectorRepaired(t *testing.T) {
	require.Zero(t, runWALFault(t, 31, nil), "a clean restart repairs nothing")
	repairs := runWALFault(t, 31, func(tc *testCluster, op uint64) {
		name, offset, size, _ := tc.walEntry(walVictim, op)
		tc.Nodes[walVictim].Disk.CorruptSector(name, offset+size/2)
	})
	require.Positive(t, repairs, "the corrupt op was not repaired from a peer")
}

// TestStorageWALLatentSectorErrorRepaired: the header sector of a committed entry is
// unreadable.
func TestStorageWALLatentSectorErrorRepaired(t *testing.T) {
	repairs := runWALFault(t, 32, func(tc *testCluster, op uint64) {
		name, offset, _, _ := tc.walEntry(walVictim, op)
		tc.Nodes[walVictim].Disk.LatentSectorError(name, offset)
	})
	require.Positive(t, repairs, "the unreadable op was not repaired from a peer")
}

// TestStorageWALRepairKeepsLaterEntries: the repair of a damaged committed entry with intact
// entries above it rewrites that one entry in place (an entry and its record: two writes more
// than a clean restart), not the whole log above it, which held back the backup's
// prepare_oks until every later entry was written again, one synced entry at a time (swarm
// seed 20266049: 35 entries on a slow disk).
func TestStorageWALRepairKeepsLaterEntries(t *testing.T) {
	writes := func(damage bool) (uint64, uint64) {
		tc := newStorageTestCluster(t, 33, nil)
		tc.commitN(20, ticks)
		tc.settle()
		in := tc.inspect(walVictim)
		op := in.CheckpointOp + 3
		require.Less(t, op+10, in.CommitMin, "ten intact committed entries above the damaged one")
		tc.CrashReplica(walVictim)
		if damage {
			name, offset, size, _ := tc.walEntry(walVictim, op)
			tc.Nodes[walVictim].Disk.CorruptSector(name, offset+size/2)
		}
		before := tc.Nodes[walVictim].Disk.Stats().Writes
		tc.StartReplica(walVictim)
		tc.converge(ticks)
		tc.RunFor(sim.Duration(ticks) * sim.TickInterval) // every write the repair queued is done
		tc.requireNoFailures()
		return tc.Nodes[walVictim].Disk.Stats().Writes - before, tc.inspect(walVictim).Metrics.Repairs
	}
	clean, _ := writes(false)
	damaged, repairs := writes(true)
	require.Positive(t, repairs, "the damaged op was not repaired")
	require.LessOrEqual(t, damaged, clean+2, "the repair wrote more than the damaged entry and its record")
}

// TestStorageCheckpointFallbackKeepsLaterEntries: a backup catching up on a slow disk
// executes repaired prepares faster than it writes them, and checkpoints before it has
// written the last ops below the checkpoint (they need no entry then); the entries above are
// laid out from that checkpoint. It crashes, and finds the checkpoint damaged: recovery falls
// back to the previous one, and the unwritten ops come back faulty, with no room for their
// entries below the ones above. The backup repairs them and executes them from memory up to
// the checkpoint again; it must not truncate its log to write them, which dropped the
// committed entries above the checkpoint (swarm seed 20262805: acked_durable).
func TestStorageCheckpointFallbackKeepsLaterEntries(t *testing.T) {
	tc := newStorageTestCluster(t, 61, nil)
	damaged := uint64(2 * vsr.CheckpointInterval)
	tc.commitN(int(damaged)-14, ticks)
	tc.settle()
	tc.Network.Isolate(walVictim)
	tc.commitN(16, ticks)
	disk := tc.Nodes[walVictim].Disk
	disk.SetSlow(10)
	tc.Network.Heal()
	disks := newDurableDisks(tc.Cluster)
	durable := func(op uint64) bool {
		e, ok := tc.commits[op][walVictim]
		return ok && disks.holds(walVictim, op, e.Checksum)
	}
	checkpointed := func() bool { return tc.inspect(walVictim).CheckpointOp == damaged }
	require.True(t, tc.RunUntil(checkpointed, ticks), "the backup never checkpointed op %d", damaged)
	require.False(t, durable(damaged-1), "the backup wrote every op below its checkpoint: no gap")
	require.True(t, tc.RunUntil(func() bool { return durable(damaged + 3) }, ticks),
		"the backup never wrote ops above its checkpoint")
	var above []uint64
	for op := damaged + 1; durable(op); op++ {
		above = append(above, op)
	}
	tc.CrashReplica(walVictim)
	disk.SetSlow(1)
	disk.CorruptSector(checkpointFileName(damaged), 0)
	// The backup's state sync requests are lost (as on the seed's lossy network): it repairs
	// the ops below the checkpoint instead of fetching a peer's.
	tc.Network.SetDeliver(func(from, to int, msg []byte) {
		if m, err := vsr.Decode(msg, 7); from == walVictim && err == nil && m.Header.Command == vsr.CommandRequestSync {
			return
		}
		tc.Nodes[to].Deliver(from, msg)
	})
	tc.StartReplica(walVictim)
	fellBack := false
	keeps := func() bool {
		if r := tc.Replica(walVictim); r != nil && r.Inspect().Status == vsr.StatusNormal {
			fellBack = fellBack || r.Inspect().CheckpointOp < damaged
		}
		for _, op := range above {
			require.True(t, durable(op), "the backup's disk lost committed op %d above the damaged checkpoint", op)
		}
		return fellBack && tc.Replica(walVictim) != nil && tc.converged()
	}
	require.True(t, tc.RunUntil(keeps, ticks), "replicas did not converge: %s", tc.describe())
	tc.RunFor(sim.Duration(ticks) * sim.TickInterval) // every write queued is done
	keeps()
	require.Equal(t, damaged, tc.inspect(walVictim).CheckpointOp, "the backup did not checkpoint again")
	tc.requireAcknowledgedWrites()
	tc.requireNoFailures()
}

// TestStorageWALTornWriteRepaired: the backup crashes while an append is written but not
// synced, and the crash tears it (CrashTornProbability 1). The append never finished (no
// redundant record), so the op was never acknowledged: recovery drops it instead of
// reporting it faulty, and the backup fetches it again from its peers.
func TestStorageWALTornWriteRepaired(t *testing.T) {
	for seed := uint64(41); seed <= 44; seed++ {
		tc := newStorageTestCluster(t, seed, func(o *sim.DiskOptions) { o.CrashTornProbability = 1 })
		tc.commitN(10, ticks)
		tc.load = true
		op, ok := uint64(0), false
		for steps := 0; !ok; steps++ {
			require.Less(t, steps, 1_000_000, "the backup never had an unsynced append")
			require.True(t, tc.Loop.Step())
			op, ok = tc.unsyncedAppend(walVictim)
		}
		tc.load = false
		tc.CrashReplica(walVictim)
		require.Equal(t, uint64(1), tc.Nodes[walVictim].Disk.Stats().CrashTorn, "seed %d: the append was not torn", seed)
		rec := tc.recoverDisk(walVictim)
		require.Empty(t, rec.Faulty, "seed %d: the torn op", seed)
		require.NotContains(t, entryOpsOf(rec), op, "seed %d: the torn op %d survived", seed, op)
		tc.StartReplica(walVictim)
		tc.settle()
		require.Positive(t, tc.inspect(walVictim).Metrics.Repairs, "seed %d: the torn op was not fetched again", seed)
		tc.commitN(5, ticks)
		tc.settle()
		tc.requireAcknowledgedWrites()
		tc.requireCleanLog(walVictim)
		tc.requireNoFailures()
	}
}

// --- Disk full ------------------------------------------------------------------------------

// fillDisk shrinks replica i's disk to its usage plus room, then runs the load until the
// replica reports its disk full. It returns the inspection at that point.
func (tc *testCluster) fillDisk(i int, room int64) vsr.Inspection {
	tc.t.Helper()
	disk := tc.Nodes[i].Disk
	disk.SetCapacity(disk.Usage().Used + room)
	tc.load = true
	full := tc.RunUntil(func() bool { return tc.inspect(i).DiskFull }, ticks)
	require.True(tc.t, full, "replica %d never reported its disk full (usage %d of %d): %s", i,
		disk.Usage().Used, disk.Usage().Capacity, tc.describe())
	return tc.inspect(i)
}

// TestStorageDiskFullBackup (issue 4 acceptance, runbook scenario 6): a backup's disk fills
// under load. It reports DiskFull with usage >= 95% (the runbook's alert reads "95% used"),
// nothing fail-stops, the cluster goes on committing with the other two, and no acknowledged
// write is lost. Once the disk grows again (runbook option B), the backup writes its log
// again, clears DiskFull and converges, and its log holds everything it executed.
func TestStorageDiskFullBackup(t *testing.T) {
	const victim = 2
	tc := newStorageTestCluster(t, 51, nil)
	tc.commitN(5, ticks)
	in := tc.fillDisk(victim, 24<<10)
	require.GreaterOrEqual(t, in.DiskUsagePct, 95, "usage when full")
	tc.commitN(20, ticks) // the other two are a quorum
	require.True(t, tc.inspect(victim).DiskFull, "still full")
	require.Equal(t, vsr.StatusNormal, tc.inspect(victim).Status)
	tc.requireNoFailures()

	tc.Nodes[victim].Disk.SetCapacity(64 << 20)
	tc.commitN(5, ticks)
	tc.settle()
	require.False(t, tc.inspect(victim).DiskFull, "the backup did not resume writing")
	tc.requireAcknowledgedWrites()
	tc.requireCleanLog(victim)
	tc.requireNoFailures()
}

// TestStorageDiskFullBackupFreedWhileIdle: as above, but the space comes back while no new
// request arrives: the backup must still write the prepares it holds only in memory.
func TestStorageDiskFullBackupFreedWhileIdle(t *testing.T) {
	const victim = 2
	tc := newStorageTestCluster(t, 52, nil)
	tc.commitN(5, ticks)
	tc.fillDisk(victim, 24<<10)
	tc.commitN(5, ticks)
	tc.settle()
	tc.Nodes[victim].Disk.SetCapacity(64 << 20)
	resumed := tc.RunUntil(func() bool { return !tc.inspect(victim).DiskFull }, ticks)
	require.True(t, resumed, "the backup never wrote its log again after the space came back")
	tc.requireCleanLog(victim)
	tc.requireNoFailures()
}

// TestStorageDiskFullPrimary: the primary's disk fills. It stops accepting operations; once
// the disk grows again, the cluster commits again and no acknowledged write is lost.
func TestStorageDiskFullPrimary(t *testing.T) {
	tc := newStorageTestCluster(t, 53, nil)
	tc.commitN(5, ticks)
	primary := tc.primary()
	in := tc.fillDisk(primary, 24<<10)
	require.GreaterOrEqual(t, in.DiskUsagePct, 95)
	tc.RunFor(500 * sim.Millisecond)
	tc.requireNoFailures()
	tc.Nodes[primary].Disk.SetCapacity(64 << 20)
	tc.commitN(10, ticks)
	tc.settle()
	require.False(t, tc.inspect(primary).DiskFull)
	tc.requireAcknowledgedWrites()
	tc.requireNoFailures()
}

// unsyncedAppend reports the op of an append that replica i has written but not synced, if
// its head segment has one spanning two sectors or more (so that a crash can tear it).
func (tc *testCluster) unsyncedAppend(i int) (uint64, bool) {
	r := tc.Replica(i)
	if r == nil {
		return 0, false
	}
	disk := tc.Nodes[i].Disk
	name := fmt.Sprintf("log-%016x", r.Inspect().Op/vsr.CheckpointInterval)
	pristine, durable := disk.Pristine(name), disk.Durable(name)
	if len(pristine) < len(durable)+2*storage.SectorSize {
		return 0, false
	}
	h, err := storage.DecodeHeader(pristine[len(durable):])
	if err != nil {
		return 0, false
	}
	return h.Op, true
}

// TestStorageTornTailOnTwoReplicas: the primary and the one backup it commits with crash
// while both have written, and neither synced, the same prepare; the crash tears both
// copies. Nobody acknowledged that prepare, so it cannot have committed. After both restart
// (all three replicas up, the network healed) the cluster must commit again. (It never left
// the view change while recovery took both torn copies for damaged synced entries with no
// header; an append's redundant record now tells them apart.)
func TestStorageTornTailOnTwoReplicas(t *testing.T) {
	tc := newStorageTestCluster(t, 61, func(o *sim.DiskOptions) {
		o.CrashTornProbability = 1
		o.WriteLatencyMin, o.WriteLatencyMean = 5*sim.Millisecond, 5*sim.Millisecond
	})
	tc.commitN(3, ticks)
	primary := tc.primary()
	backup, isolated := (primary+1)%3, (primary+2)%3
	tc.Network.Isolate(isolated)
	tc.load = true
	for steps := 0; ; steps++ {
		require.Less(t, steps, 1_000_000, "never both unsynced")
		require.True(t, tc.Loop.Step())
		a, okA := tc.unsyncedAppend(primary)
		b, okB := tc.unsyncedAppend(backup)
		if okA && okB && a == b {
			break
		}
	}
	tc.CrashReplica(primary)
	tc.CrashReplica(backup)
	require.Equal(t, uint64(1), tc.Nodes[primary].Disk.Stats().CrashTorn)
	require.Equal(t, uint64(1), tc.Nodes[backup].Disk.Stats().CrashTorn)
	tc.Network.Heal()
	tc.StartReplica(primary)
	tc.StartReplica(backup)
	tc.commitN(3, ticks)
	tc.settle()
	tc.requireAcknowledgedWrites()
	tc.requireNoFailures()
}

// diskOperations counts every operation a disk completed.
func diskOperations(s sim.DiskStats) uint64 {
	return s.Reads + s.Writes + s.Syncs + s.Creates + s.Removes + s.Truncates + s.Lists
}

// TestStorageDiskFullRetriesBounded: a backup whose disk is full, in an idle cluster, retries
// its log write at the pace of a timeout, not in a loop: a second of idleness costs it at
// most a few disk operations per repair timeout (a healthy idle replica does none).
func TestStorageDiskFullRetriesBounded(t *testing.T) {
	const victim = 2
	tc := newStorageTestCluster(t, 54, nil)
	tc.commitN(5, ticks)
	tc.fillDisk(victim, 24<<10)
	tc.commitN(5, ticks)
	tc.settle()
	disk := tc.Nodes[victim].Disk
	before := diskOperations(disk.Stats())
	tc.RunFor(sim.Second)
	timeouts := uint64(sim.Second / (sim.Duration(vsr.DefaultConfig().RepairTicks) * sim.TickInterval))
	require.True(t, tc.inspect(victim).DiskFull)
	require.LessOrEqual(t, diskOperations(disk.Stats())-before, 4*timeouts,
		"disk operations of a full, idle backup in one second")
	tc.requireNoFailures()
}

// TestStorageDiskNearlyFullCompacts: once a backup has a checkpoint, its disk shrunk to a
// little more than it uses never fills: compaction (automatic at 85%, and on a refused
// append) removes the segments below the checkpoint, and the backup keeps up through the
// next checkpoints without ever reporting its disk full.
func TestStorageDiskNearlyFullCompacts(t *testing.T) {
	const victim = 2
	tc := newStorageTestCluster(t, 55, nil)
	tc.commitN(vsr.CheckpointInterval+2, 4*ticks)
	tc.settle()
	require.Equal(t, uint64(vsr.CheckpointInterval), tc.inspect(victim).CheckpointOp)
	disk := tc.Nodes[victim].Disk
	disk.SetCapacity(disk.Usage().Used + 32<<10)
	peak := 0
	for range 160 {
		tc.commitN(1, ticks)
		in := tc.inspect(victim)
		require.False(t, in.DiskFull, "usage %d%%", in.DiskUsagePct)
		peak = max(peak, in.DiskUsagePct)
	}
	tc.settle()
	require.GreaterOrEqual(t, tc.inspect(victim).CheckpointOp, uint64(2*vsr.CheckpointInterval))
	require.GreaterOrEqual(t, peak, 85, "the disk never got near full")
	require.Nil(t, disk.Pristine("log-0000000000000000"), "segment 0 was not compacted")
	require.Less(t, tc.inspect(victim).DiskUsagePct, 100)
	tc.requireAcknowledgedWrites()
	tc.requireCleanLog(victim)
	tc.requireNoFailures()
}

// TestStorageDiskFullBackupAcrossCheckpoint: a backup's disk fills before a checkpoint op and
// the load goes on past it. The backup executes from memory, its checkpoint does not fit on
// the disk; it must neither fail-stop nor lose anything, and it resumes once the disk grows.
func TestStorageDiskFullBackupAcrossCheckpoint(t *testing.T) {
	const victim = 2
	tc := newStorageTestCluster(t, 71, nil)
	tc.commitN(24, ticks)
	tc.fillDisk(victim, 16<<10)
	tc.commitN(30, 2*ticks) // past op 64
	tc.requireNoFailures()
	require.True(t, tc.inspect(victim).DiskFull)
	tc.Nodes[victim].Disk.SetCapacity(64 << 20)
	tc.commitN(5, ticks)
	tc.settle()
	require.False(t, tc.inspect(victim).DiskFull)
	tc.requireAcknowledgedWrites()
	tc.requireCleanLog(victim)
	tc.requireNoFailures()
}

// TestStorageDiskFullPrimaryAtCheckpoint: the primary's disk fills exactly when it appends a
// checkpoint op (the backups commit it without the primary's copy; the primary's checkpoint
// does not fit either). Once the disk grows, the checkpoint is written, and the primary must
// accept operations again.
func TestStorageDiskFullPrimaryAtCheckpoint(t *testing.T) {
	tc := newStorageTestCluster(t, 72, nil)
	tc.commitN(3, ticks)
	primary := tc.primary()
	disk := tc.Nodes[primary].Disk
	segment := fmt.Sprintf("log-%016x", 0)
	tc.load = true
	for steps := 0; ; steps++ {
		require.Less(t, steps, 1_000_000)
		require.True(t, tc.Loop.Step())
		in := tc.inspect(primary)
		if in.Op == vsr.CheckpointInterval-1 && in.CommitMin == in.Op &&
			len(disk.Pristine(segment)) == len(disk.Durable(segment)) {
			break // the op before the checkpoint is executed and synced
		}
	}
	disk.SetCapacity(disk.Usage().Used)
	require.True(t, tc.RunUntil(func() bool { return tc.inspect(primary).DiskFull }, ticks))
	tc.RunFor(sim.Second)
	tc.requireNoFailures()
	disk.SetCapacity(64 << 20)
	tc.commitN(5, ticks)
	tc.settle()
	require.False(t, tc.inspect(primary).DiskFull)
	tc.requireAcknowledgedWrites()
	tc.requireNoFailures()
}

// TestStorageWALMisdirectedWriteRepaired: a backup's disk misdirects some of its log writes
// (they land at other offsets). At its next restart the engine finds the entries that are
// missing or misplaced, and the replica repairs them from its peers; no acknowledged write
// is lost.
func TestStorageWALMisdirectedWriteRepaired(t *testing.T) {
	tc := newStorageTestCluster(t, 46, func(o *sim.DiskOptions) { o.WriteMisdirectProbability = 0.3 })
	for i := 0; i < 3; i++ {
		if i != walVictim {
			tc.Nodes[i].Disk.SetFaultsEnabled(false) // only the victim's disk misbehaves
		}
	}
	tc.commitN(20, ticks)
	tc.settle()
	require.Positive(t, tc.Nodes[walVictim].Disk.Stats().Misdirects, "no write was misdirected")
	tc.CrashReplica(walVictim)
	require.NotEmpty(t, tc.recoverDisk(walVictim).Faulty, "the engine did not detect the misdirected writes")
	tc.StartReplica(walVictim)
	tc.converge(ticks)
	require.Positive(t, tc.inspect(walVictim).Metrics.Repairs, "the misplaced ops were not repaired from peers")
	tc.commitN(5, ticks)
	tc.settle()
	tc.requireAcknowledgedWrites()
	tc.requireNoFailures()
}
