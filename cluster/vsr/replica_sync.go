package vsr

import (
	"errors"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// State sync: a replica whose gap crosses a checkpoint cannot repair from logs, because its
// peers have compacted the ops it lacks. It fetches the peer's newest checkpoint instead (the
// state machine and client table at that op), installs it, and repairs the rest.
//
// A snapshot may be far larger than a message (the state machine's bound is many megabytes),
// so it travels in chunks of syncChunk bytes (Options.SyncChunkBytes, at most syncChunkMax),
// one request per chunk: a sync names the checkpoint (Op), the snapshot's checksum (Parent), its length (Client) and the chunk's
// index (Request); the requester asks the same peer for the next chunk of that snapshot
// until it holds all of it, and installs it only if the whole checksums as named. Before,
// a snapshot above one message was never sent at all, silently: a replica behind the
// peers' logs could never catch up (swarm seed 2026123189, a 1.3 MB snapshot).

// SyncRequestTicksMin spaces out a replica's sync requests.
const SyncRequestTicksMin = 20

// syncChunkMax is the most snapshot bytes one sync message carries.
const syncChunkMax = MessageSizeMax - HeaderSize

// syncSnapshotMax bounds the length a sync may announce, so that a requester never reserves
// more: far above any snapshot of the state machine and client table.
const syncSnapshotMax = 256 << 20

// syncAssembly is the snapshot a replica is receiving chunk by chunk.
type syncAssembly struct {
	op    uint64       // the checkpoint
	sum   checksum.Sum // of the whole snapshot
	total uint64       // its length
	buf   []byte       // the chunks received so far, in order
	idle  int          // ticks since the last chunk was taken
}

func (r *Replica) requestSync(to int) {
	if to == r.replica || r.checkpointing || r.syncCooldown > 0 {
		return
	}
	r.syncCooldown = SyncRequestTicksMin
	r.bus.SendToReplica(to, Encode(r.syncRequest(), nil))
}

// syncRequest is a request for the first chunk of a peer's newest checkpoint.
func (r *Replica) syncRequest() Header {
	h := r.header(CommandRequestSync)
	h.Op = r.commitMin
	if r.stateLost {
		h.Op = r.checkpointOp - 1 // our checkpoint's own op will do: we lost its state
	}
	return h
}

// onRequestSync answers with the first chunk of our newest durable checkpoint if it is ahead
// of the requester, or with the chunk asked for of the snapshot named (if it is still ours).
func (r *Replica) onRequestSync(m Message) {
	h := m.Header
	if r.checkpointSnapshot == nil || int(h.Replica) == r.replica {
		return
	}
	if h.Request == 0 && r.checkpointOp <= h.Op {
		return
	}
	op, snapshot, sum := r.checkpointOp, r.checkpointSnapshot, r.syncServing.sumOf(r.checkpointOp, r.checkpointSnapshot)
	if h.Request > 0 && (h.Commit != op || h.Parent != sum) {
		var ok bool
		if snapshot, ok = r.syncServing.pinnedAs(h.Commit, h.Parent); !ok {
			return // not pinned (no longer asked for): the requester starts again from the first chunk
		}
		op, sum = h.Commit, h.Parent
	} else {
		r.syncServing.currentIdle = 0
	}
	size := r.syncChunk()
	from := uint64(h.Request) * size
	if from >= uint64(len(snapshot)) && from > 0 {
		return
	}
	chunk := snapshot[from:min(from+size, uint64(len(snapshot)))]
	s := r.header(CommandSync)
	s.Op, s.Commit = op, r.commitMax
	s.Context, _ = r.log.checksumOf(op)
	s.Parent, s.Client, s.Request = sum, uint64(len(snapshot)), h.Request
	r.bus.SendToReplica(int(h.Replica), Encode(s, chunk))
}

// assembleSync adds a sync's chunk to the snapshot being received. It returns the whole
// snapshot once the last chunk is in and the whole matches its checksum; until then it asks
// the sender for the next chunk. A chunk that is not the next one of the snapshot being
// received is dropped, except a first chunk, which starts over (with whatever snapshot it
// names): a lost chunk stalls the assembly only until the next sync request.
func (r *Replica) assembleSync(m Message) ([]byte, bool) {
	h := m.Header
	a := &r.syncAssembly
	if h.Request == 0 {
		if h.Client > syncSnapshotMax {
			return nil, false
		}
		if len(a.buf) > 0 && h.Op == a.op && h.Parent == a.sum && h.Client == a.total {
			// The snapshot we are receiving, offered again from its start (the answer to our
			// periodic request, or a replayed message): go on from the chunk we lack rather
			// than start over. Starting over let a transfer longer than the request period
			// restart for ever (swarm seed 109, with 1 KB chunks: a standby never synced).
			r.requestNextChunk(int(h.Replica))
			return nil, false
		}
		if len(a.buf) > 0 && a.idle <= syncPinTicksMax/2 {
			// Another (newer) snapshot, while the one we are receiving still arrives: finish
			// it (its sender keeps it for us, syncServing). Starting over with every newer
			// checkpoint never finished a transfer longer than a checkpoint interval (swarm
			// seed 20261560 with 1 KB chunks: a 175 KB snapshot restarted six times). Ask its
			// next chunk of this peer: this answer to our periodic request is the only nudge a
			// transfer stalled by a lost chunk gets, and a stalled transfer dropped it and
			// started over once idle (TestSyncResumesOnANewerFirstChunk).
			r.requestNextChunk(int(h.Replica))
			return nil, false
		}
		*a = syncAssembly{op: h.Op, sum: h.Parent, total: h.Client, buf: make([]byte, 0, h.Client)}
	} else if h.Op != a.op || h.Parent != a.sum || h.Client != a.total || uint64(len(a.buf)) != uint64(h.Request)*r.syncChunk() {
		return nil, false
	}
	if uint64(len(m.Body)) != min(r.syncChunk(), a.total-uint64(len(a.buf))) {
		*a = syncAssembly{}
		return nil, false
	}
	a.buf, a.idle = append(a.buf, m.Body...), 0
	if uint64(len(a.buf)) < a.total {
		r.requestNextChunk(int(h.Replica))
		return nil, false
	}
	snapshot := a.buf
	*a = syncAssembly{}
	if checksum.Of(snapshot) != h.Parent {
		return nil, false
	}
	return snapshot, true
}

// syncServing keeps serving, to peers part-way through receiving them, snapshots the replica
// no longer names as its checkpoint. A transfer names its checkpoint and snapshot checksum in
// every chunk request, and a sender whose checkpoint had moved on refused the rest, so the
// requester started over with the newer one: under load, a snapshot whose transfer takes
// longer than a checkpoint interval never arrived, and a replica behind its peers'
// checkpoints never caught up (swarm seed 2026123189 with 2 KB chunks: 650 chunks of a 1.3
// MB snapshot against a checkpoint every 64 ops).
//
// The checkpoint's snapshot is pinned when the checkpoint moves on, if a chunk of it was
// asked for within syncPinTicksMax ticks, and kept while its chunks are still asked for.
// Each pinned snapshot has its own slot and idle count: there was one pin, given at each
// move on to the snapshot served last, which under load was the newer checkpoint's first
// chunk (the answer to a periodic sync request, from the transfer's own requester or
// another), so the snapshot a transfer was part-way through lost its pin and the transfer
// started over, again with every checkpoint or two (TestSyncServingKeepsEverySnapshotAskedFor).
// The slots are few (syncPinnedMax), so the snapshots kept are bounded; when all are taken,
// the one asked for least recently makes room: a transfer in progress asks for a chunk
// every round trip, a finished or abandoned one no longer does.
type syncServing struct {
	currentOp   uint64 // the checkpoint and snapshot whose checksum is current (a cache) ...
	currentSnap []byte
	current     checksum.Sum
	currentIdle int // ... and the ticks since a chunk of it was asked for
	// pinned are snapshots of checkpoints moved on from. A free slot is all zero.
	// Invariants: a slot in use has idle <= syncPinTicksMax; no two slots in use name the
	// same (op, sum).
	pinned [syncPinnedMax]syncPinned
}

// syncPinned is a snapshot kept for the transfers still asking for its chunks.
type syncPinned struct {
	op       uint64
	sum      checksum.Sum
	snapshot []byte // nil: the slot is free
	idle     int    // ticks since a chunk of it was asked for
}

// syncPinnedMax is how many snapshots besides the checkpoint's a replica keeps serving: one
// per transfer still in progress that started before a move on, and a few suffice (the
// requesters are the other replicas, each receiving one snapshot at a time, and a pin is
// needed only while a transfer outlives its checkpoint).
const syncPinnedMax = 3

// syncPinTicksMax is how long a pinned snapshot outlives the last request for one of its
// chunks (the requester's sync requests come every SyncRequestTicksMin).
const syncPinTicksMax = 5 * SyncRequestTicksMin

func (s *syncServing) tick() {
	s.currentIdle = min(s.currentIdle+1, syncPinTicksMax+1)
	for i := range s.pinned {
		p := &s.pinned[i]
		if p.snapshot == nil {
			continue
		}
		p.idle++
		if p.idle > syncPinTicksMax {
			*p = syncPinned{}
		}
	}
	s.check()
}

// sumOf is the checksum of the snapshot at op, computed once per checkpoint (a snapshot
// installed again at the same op is another array, and is summed again).
func (s *syncServing) sumOf(op uint64, snapshot []byte) checksum.Sum {
	if s.currentOp != op || s.current.IsZero() || !sameArray(s.currentSnap, snapshot) {
		s.currentOp, s.currentSnap, s.current = op, snapshot, checksum.Of(snapshot)
		s.currentIdle = syncPinTicksMax + 1 // not asked for yet
	}
	return s.current
}

// sameArray reports whether a and b are the same bytes in memory (not merely equal).
func sameArray(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// moveOn is called as the checkpoint at op (its snapshot) is replaced: it is pinned if a
// chunk of it was asked for lately, in the slot that pins it already if one does, or else
// the first free slot, or else the slot asked for least recently (the first of them: the
// choice is the same on every run).
func (s *syncServing) moveOn(op uint64, snapshot []byte) {
	if snapshot == nil || s.currentOp != op || !sameArray(s.currentSnap, snapshot) || s.currentIdle > syncPinTicksMax {
		return
	}
	slot := 0
	for i := range s.pinned {
		p := &s.pinned[i]
		if p.snapshot != nil && p.op == op && p.sum == s.current {
			slot = i
			break
		}
		if s.pinned[slot].snapshot != nil && (p.snapshot == nil || p.idle > s.pinned[slot].idle) {
			slot = i
		}
	}
	s.pinned[slot] = syncPinned{op: op, sum: s.current, snapshot: snapshot, idle: s.currentIdle}
	s.check()
}

// pinnedAs returns the pinned snapshot named, if there is one, and notes that it was asked for.
func (s *syncServing) pinnedAs(op uint64, sum checksum.Sum) ([]byte, bool) {
	for i := range s.pinned {
		p := &s.pinned[i]
		if p.snapshot != nil && p.op == op && p.sum == sum {
			assert.That(p.idle <= syncPinTicksMax, "sync: served a pin past syncPinTicksMax")
			p.idle = 0
			return p.snapshot, true
		}
	}
	return nil, false
}

// check asserts the pinned slots' invariants.
func (s *syncServing) check() {
	for i := range s.pinned {
		p := &s.pinned[i]
		if p.snapshot == nil {
			assert.That(p.op == 0 && p.sum.IsZero() && p.idle == 0, "sync: a free pin slot holds a snapshot's name")
			continue
		}
		assert.That(p.idle >= 0 && p.idle <= syncPinTicksMax, "sync: a pin outlived syncPinTicksMax")
		for _, q := range s.pinned[:i] {
			assert.That(q.snapshot == nil || q.op != p.op || q.sum != p.sum, "sync: a snapshot pinned twice")
		}
	}
}

// requestNextChunk asks peer `to` for the first chunk we do not hold yet of the snapshot being
// received.
func (r *Replica) requestNextChunk(to int) {
	a := &r.syncAssembly
	assert.That(uint64(len(a.buf))%r.syncChunk() == 0 && uint64(len(a.buf)) < a.total, "sync: resuming a whole or ragged assembly")
	next := r.syncRequest()
	next.Commit, next.Parent, next.Request = a.op, a.sum, uint32(uint64(len(a.buf))/r.syncChunk())
	r.bus.SendToReplica(to, Encode(next, nil))
}

// onSync installs a peer's checkpoint that is ahead of our executed state. The checkpoint is
// made durable before anything else happens, so a crash afterwards recovers from it.
// tickStateLost asks a random peer for a checkpoint every SyncRequestTicksMin ticks while
// the replica's own checkpoint is lost.
func (r *Replica) tickStateLost() {
	r.syncCooldown = max(r.syncCooldown-1, 0)
	r.syncAssembly.idle++
	if r.hasActivePeer() {
		r.requestSync(r.randomActivePeer())
	}
}

func (r *Replica) onSync(m Message) {
	if (r.stateLost && m.Header.Op < r.checkpointOp) || (!r.stateLost && m.Header.Op <= r.commitMin) {
		return // no use to us: do not fetch the rest of it
	}
	body, ok := r.assembleSync(m)
	if !ok {
		return
	}
	m.Body = body
	h := m.Header
	if r.stateLost {
		r.onSyncStateLost(m)
		return
	}
	if r.status == StatusRecovering || r.checkpointing || h.Op <= r.commitMin || h.Op%CheckpointInterval != 0 {
		return
	}
	if r.status == StatusNormal && r.isPrimary() && h.Op > r.commitMax {
		// A primary commits its pipeline (the ops above commit_number) itself, by quorum; a
		// checkpoint past commit_number would commit them behind its back (swarm seed 738:
		// the pipeline then held committed ops).
		return
	}
	if err := r.restoreSnapshot(h.Op, m.Body); err != nil {
		if errors.Is(err, errReleaseTooOld) {
			r.stopReleaseTooOld(err.Error()) // the cluster moved on to a release we cannot run
		}
		return
	}
	r.commitMin = h.Op
	if r.op < h.Op {
		for op := r.checkpointOp + 1; op <= r.op; op++ {
			r.log.clear(op)
		}
		r.op = h.Op // the snapshot's header anchors the chain at it
	} else {
		r.forgetOffChain(h.Op)
	}
	r.commitMax = max(r.commitMax, h.Op)
	if r.mutated(MutationCommitPastOpAfterSync) {
		r.commitMax = r.op + 1
	}
	r.metrics.StateSyncs++
	r.emit(EventStateSync, h.Op, h.Context, "")
	// commit_max may have risen: persist it as advanceCommitMax does, not only once the
	// checkpoint lands (swarm seed 9900008461, h122: on a full disk the install kept failing
	// and the durable commit stayed 33 below commit_max over intact entries).
	r.persistState()
	r.checkpointing = true
	r.checkpointingOp = max(r.checkpointingOp, h.Op)
	snapshot := append([]byte(nil), m.Body...)
	r.storage.InstallCheckpoint(h.Op, snapshot, func(err error) {
		defer r.invariants()
		r.checkpointing = false
		if err != nil {
			r.checkpointDue = true
			r.checkpointingOp = r.checkpointOp
			return
		}
		r.syncServing.moveOn(r.checkpointOp, r.checkpointSnapshot)
		r.checkpointOp = h.Op
		r.checkpointSnapshot = snapshot
		r.persistState() // a log view that waited for the ops this checkpoint covers (logDurable)
		r.flushLog()
		r.commitExecute()
	})
	assert.That(r.commitMin <= r.commitMax && r.commitMax <= r.op, "state sync broke commit <= op")
}

// forgetOffChain forgets (keeping them unverified) our ops at or below op, the op of a
// snapshot just installed, that the hash chain anchored at the snapshot's prepare does not
// vouch for, together with every op below the first of them. Executed now (commit_min is op),
// they stayed in the log as though committed until the checkpoint was durable: a stale entry
// of an older view among them broke the chain and sat below the commit number (fresh-range
// seed 2026259503: view 7's op 253 under a sync to 256, committed_prefix and the chain
// assertion).
//
// Above op, the ops from the first that names another parent than the op below it are
// forgotten the same way: the snapshot's prepare replaced ours at op, and our ops above it
// may chain onto ours, of an older view (fresh-range seed 2026414333: view 2's ops 513 to
// 516 above view 3's op 512, the chain assertion). A gap ends the walk: nothing above it is
// proven off the chain.
func (r *Replica) forgetOffChain(op uint64) {
	want := r.log.anchorChecksum
	for o := op; o > r.checkpointOp; o-- {
		if h, ok := r.log.header(o); ok && h.Checksum == want {
			want = h.Parent
			continue
		}
		for ; o > r.checkpointOp; o-- {
			r.log.forgetUnverified(o)
		}
		break
	}
	parent := r.log.anchorChecksum
	for o := op + 1; o <= r.op; o++ {
		h, ok := r.log.header(o)
		if !ok {
			return
		}
		if h.Parent == parent {
			parent = h.Checksum
			continue
		}
		for ; o <= r.op; o++ {
			r.log.forgetUnverified(o)
		}
		return
	}
}

// onSyncStateLost installs a peer's checkpoint at or after our lost one, makes it durable
// (replacing the damaged file), and only then rejoins the protocol.
func (r *Replica) onSyncStateLost(m Message) {
	h := m.Header
	if r.checkpointing || h.Op < r.checkpointOp || h.Op%CheckpointInterval != 0 {
		return
	}
	if err := r.restoreSnapshot(h.Op, m.Body); err != nil {
		if errors.Is(err, errReleaseTooOld) {
			r.stopReleaseTooOld(err.Error()) // the cluster moved on to a release we cannot run
		}
		return
	}
	if r.op < h.Op {
		for op := r.checkpointOp + 1; op <= r.op; op++ {
			r.log.clear(op)
		}
		r.op = h.Op
	} else {
		r.forgetOffChain(h.Op) // as onSync: the snapshot's prepare replaced ours at h.Op
	}
	r.commitMin, r.commitMax = h.Op, max(r.commitMax, h.Op)
	r.checkpointing = true
	r.checkpointingOp = max(r.checkpointingOp, h.Op)
	snapshot := append([]byte(nil), m.Body...)
	r.storage.InstallCheckpoint(h.Op, snapshot, func(err error) {
		r.checkpointing = false
		if err != nil || !r.stateLost {
			return // retried on the next sync
		}
		r.stateLost = false
		r.checkpointOp, r.checkpointSnapshot = h.Op, snapshot
		r.metrics.StateSyncs++
		r.emit(EventStateSync, h.Op, h.Context, "checkpoint restored from a peer")
		r.rejoin()
		r.invariants()
	})
}
