package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
)

// syncTestBus records the syncs a replica sends.
type syncTestBus struct {
	t    *testing.T
	sent []syncSent
}

type syncSent struct {
	to int
	m  Message
}

func (b *syncTestBus) SendToReplica(to int, msg []byte) {
	m, err := Decode(msg, 7)
	require.NoError(b.t, err)
	b.sent = append(b.sent, syncSent{to, m})
}

func (b *syncTestBus) SendToClient(uint64, []byte) {}

// syncSender is a replica serving snapshots in chunks of 4 bytes, with its checkpoint at 64.
func syncSender(t *testing.T) (*Replica, *syncTestBus) {
	bus := &syncTestBus{t: t}
	r := &Replica{cluster: 7, replica: 0, bus: bus, options: Options{SyncChunkBytes: 4}}
	r.checkpointOp, r.checkpointSnapshot = 64, syncTestSnapshot(64)
	return r, bus
}

// syncTestSnapshot is the snapshot of the checkpoint at op: 40 bytes, 10 chunks.
func syncTestSnapshot(op uint64) []byte {
	s := make([]byte, 40)
	for i := range s {
		s[i] = byte(op) + byte(i)
	}
	return s
}

// syncMoveOn replaces the sender's checkpoint with the next one, as a checkpoint's completion
// does (replica_commit.go, onSync).
func syncMoveOn(r *Replica) {
	op := r.checkpointOp + CheckpointInterval
	r.syncServing.moveOn(r.checkpointOp, r.checkpointSnapshot)
	r.checkpointOp, r.checkpointSnapshot = op, syncTestSnapshot(op)
}

// syncTransfer is one requester's transfer of a snapshot, chunk by chunk.
type syncTransfer struct {
	from int
	op   uint64
	sum  checksum.Sum
	buf  []byte
}

// syncAsk sends r a sync request from replica `from` for chunk `request` of the snapshot at
// op with checksum sum (request 0: the sender's newest checkpoint), and returns the sync that
// answers it, if any.
func syncAsk(t *testing.T, r *Replica, bus *syncTestBus, from int, request uint32, op uint64, sum checksum.Sum) (Message, bool) {
	t.Helper()
	h := Header{Command: CommandRequestSync, Cluster: 7, Replica: uint8(from), Request: request, Commit: op, Parent: sum}
	bus.sent = bus.sent[:0]
	r.onRequestSync(Message{Header: h})
	if len(bus.sent) == 0 {
		return Message{}, false
	}
	require.Len(t, bus.sent, 1)
	require.Equal(t, from, bus.sent[0].to)
	require.Equal(t, CommandSync, bus.sent[0].m.Header.Command)
	require.Equal(t, request, bus.sent[0].m.Header.Request)
	return bus.sent[0].m, true
}

// start begins a transfer of the sender's newest checkpoint.
func (x *syncTransfer) start(t *testing.T, r *Replica, bus *syncTestBus) {
	t.Helper()
	m, ok := syncAsk(t, r, bus, x.from, 0, 0, checksum.Sum{})
	require.True(t, ok, "a first chunk refused")
	x.op, x.sum, x.buf = m.Header.Op, m.Header.Parent, append([]byte(nil), m.Body...)
}

// next asks for the next chunk of the transfer's snapshot: it must be served.
func (x *syncTransfer) next(t *testing.T, r *Replica, bus *syncTestBus) {
	t.Helper()
	m, ok := syncAsk(t, r, bus, x.from, uint32(len(x.buf)/4), x.op, x.sum)
	require.True(t, ok, "replica %d refused chunk %d of the snapshot at %d (checkpoint now %d)", x.from, len(x.buf)/4, x.op, r.checkpointOp)
	require.Equal(t, x.op, m.Header.Op)
	x.buf = append(x.buf, m.Body...)
}

func syncTicks(r *Replica, n int) {
	for range n {
		r.syncServing.tick()
	}
}

// TestSyncServingKeepsEverySnapshotAskedFor: a sender whose checkpoint moves on keeps serving
// each snapshot a transfer is part-way through, as long as its chunks are asked for, whatever
// else it serves in between. It pinned only the snapshot it had served a chunk of last, so a
// first chunk of a newer checkpoint served in between (a periodic sync request, the transfer's
// own requester's or another's) took the pin from the transfer's snapshot at the next move on,
// and the transfer was refused and started over: with several checkpoints per transfer time,
// a lagging replica's catch-up restarted again and again.
func TestSyncServingKeepsEverySnapshotAskedFor(t *testing.T) {
	r, bus := syncSender(t)
	a := &syncTransfer{from: 1}
	a.start(t, r, bus)
	a.next(t, r, bus)
	syncTicks(r, 3)

	syncMoveOn(r) // 128
	a.next(t, r, bus)
	b := &syncTransfer{from: 2}
	b.start(t, r, bus) // of 128, answering a periodic request between a's chunks
	syncTicks(r, 3)

	syncMoveOn(r) // 192
	a.next(t, r, bus)
	b.next(t, r, bus)
	_, ok := syncAsk(t, r, bus, a.from, 0, 0, checksum.Sum{}) // a's own periodic request: 192's first chunk
	require.True(t, ok)
	syncTicks(r, 3)

	syncMoveOn(r) // 256
	for len(a.buf) < len(syncTestSnapshot(64)) {
		a.next(t, r, bus)
		if len(b.buf) < len(syncTestSnapshot(128)) {
			b.next(t, r, bus)
		}
		if len(a.buf)%8 == 0 {
			_, ok := syncAsk(t, r, bus, 3, 0, 0, checksum.Sum{}) // someone else's periodic request
			require.True(t, ok)
			syncMoveOn(r)
		}
		syncTicks(r, 3)
	}
	require.Equal(t, syncTestSnapshot(64), a.buf)
	require.Equal(t, checksum.Of(a.buf), a.sum)
	for len(b.buf) < len(syncTestSnapshot(128)) {
		b.next(t, r, bus)
	}
	require.Equal(t, syncTestSnapshot(128), b.buf)
}

// TestSyncServingIsBounded: a snapshot no longer the checkpoint is served only while its
// chunks are asked for (it is dropped syncPinTicksMax ticks after the last), and at most
// syncPinnedMax snapshots are kept, the one asked for least recently dropped first.
func TestSyncServingIsBounded(t *testing.T) {
	r, bus := syncSender(t)
	a := &syncTransfer{from: 1}
	a.start(t, r, bus)
	syncMoveOn(r)
	syncTicks(r, syncPinTicksMax)
	a.next(t, r, bus) // asked for within syncPinTicksMax ticks: still served
	syncTicks(r, syncPinTicksMax+1)
	_, ok := syncAsk(t, r, bus, a.from, uint32(len(a.buf)/4), a.op, a.sum)
	require.False(t, ok, "a snapshot past its checkpoint served after syncPinTicksMax idle ticks")

	// One transfer per checkpoint, each started as its checkpoint is the newest, then asked
	// for in turn: the first, asked for least recently, is dropped for the newest.
	r, bus = syncSender(t)
	var xs []*syncTransfer
	for i := range syncPinnedMax + 1 {
		x := &syncTransfer{from: 1 + i%(ReplicasMax-1)}
		x.start(t, r, bus)
		xs = append(xs, x)
		for _, y := range xs[1:] {
			y.next(t, r, bus)
		}
		syncTicks(r, 1)
		syncMoveOn(r)
	}
	_, ok = syncAsk(t, r, bus, xs[0].from, uint32(len(xs[0].buf)/4), xs[0].op, xs[0].sum)
	require.False(t, ok, "more than syncPinnedMax snapshots kept")
	for _, x := range xs[1:] {
		x.next(t, r, bus)
	}
}

// TestSyncServingPinsOnlyWhatIsAskedFor: a checkpoint's snapshot is pinned as it is replaced
// only if a chunk of it was asked for within syncPinTicksMax ticks, once however often, and
// the pins' invariants are asserted.
func TestSyncServingPinsOnlyWhatIsAskedFor(t *testing.T) {
	var s syncServing
	snapshot := syncTestSnapshot(64)
	sum := s.sumOf(64, snapshot)
	s.moveOn(64, snapshot) // never asked for
	_, ok := s.pinnedAs(64, sum)
	require.False(t, ok, "a snapshot nobody asked for pinned")

	s.currentIdle = 0 // asked for, then idle too long
	for range syncPinTicksMax + 1 {
		s.tick()
	}
	s.moveOn(64, snapshot)
	_, ok = s.pinnedAs(64, sum)
	require.False(t, ok, "a snapshot asked for syncPinTicksMax ticks ago pinned")

	s.currentIdle = 0
	s.moveOn(64, snapshot)
	s.moveOn(64, snapshot) // the same checkpoint again: one slot
	got, ok := s.pinnedAs(64, sum)
	require.True(t, ok)
	require.Equal(t, snapshot, got)
	require.Nil(t, s.pinned[1].snapshot, "a snapshot pinned twice")

	s.pinned[1] = s.pinned[0]
	require.Panics(t, s.check, "a snapshot pinned twice passed the check")
	s.pinned[1] = syncPinned{op: 128}
	require.Panics(t, s.check, "a free slot naming a snapshot passed the check")
	s.pinned[1] = syncPinned{}
	s.pinned[0].idle = syncPinTicksMax + 1
	require.Panics(t, s.check, "a pin past syncPinTicksMax passed the check")
}

// TestSyncResumesOnANewerFirstChunk: a replica part-way through receiving a snapshot that is
// offered a newer checkpoint's first chunk (the answer to its periodic sync request) keeps
// its transfer and asks that peer for its next chunk. It dropped the answer and asked for
// nothing, so a transfer stalled by a lost chunk, once its sender's checkpoint had moved on,
// stayed stalled until it was idle long enough to start over with the newer snapshot.
func TestSyncResumesOnANewerFirstChunk(t *testing.T) {
	r, bus := syncSender(t) // the sender, whose chunks the receiver takes
	a := &syncTransfer{from: 1}
	a.start(t, r, bus)
	a.next(t, r, bus)
	syncMoveOn(r)

	receiver := &Replica{cluster: 7, replica: 1, bus: bus, options: Options{SyncChunkBytes: 4}}
	receiver.syncAssembly = syncAssembly{op: a.op, sum: a.sum, total: 40, buf: append([]byte(nil), a.buf...)}
	newer, ok := syncAsk(t, r, bus, 1, 0, 0, checksum.Sum{}) // the next chunk's request was lost
	require.True(t, ok)
	require.Equal(t, uint64(128), newer.Header.Op)
	bus.sent = bus.sent[:0]
	_, done := receiver.assembleSync(newer)
	require.False(t, done)
	require.Equal(t, a.op, receiver.syncAssembly.op, "the transfer part-way through was dropped")
	require.Len(t, bus.sent, 1, "no request for the transfer's next chunk")
	next := bus.sent[0]
	require.Equal(t, 0, next.to)
	require.Equal(t, CommandRequestSync, next.m.Header.Command)
	require.Equal(t, a.op, next.m.Header.Commit)
	require.Equal(t, a.sum, next.m.Header.Parent)
	require.Equal(t, uint32(2), next.m.Header.Request)
	a.next(t, r, bus) // and the sender still serves it
}
