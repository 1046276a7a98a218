package vsr

import (
	"bytes"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/kv"
)

// h98's review of checkpoint snapshots (replica_open.go: snapshot, restoreSnapshot): a
// snapshot of any state machine and client table restores to the same state, with its op's
// header as the hash chain's anchor; bytes damaged on a disk or by a peer are refused or
// restored, never a panic, and a refusal leaves the replica's state as it was.

func TestH98SnapshotRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		op := rapid.Uint64Range(0, 3).Draw(t, "op") * 64
		peer := &Replica{cluster: 7, machine: kv.New(), commitMin: op}
		peer.clients = newClientTable(4)
		if op > 0 {
			head, err := Decode(Encode(Header{Command: CommandPrepare, Cluster: 7, Op: op, View: 2, Timestamp: 99}, []byte("x")), 7)
			if err != nil {
				t.Fatal(err)
			}
			peer.log.setPrepare(head)
		}
		for i := rapid.IntRange(0, 5).Draw(t, "keys"); i > 0; i-- {
			peer.machine.Apply(kv.EncodeOp(kv.Op{Kind: kv.KindPut, Key: fmt.Sprintf("k%d", rapid.IntRange(0, 9).Draw(t, "key")),
				Value: rapid.StringN(0, 8, -1).Draw(t, "value")}))
		}
		for i := rapid.IntRange(0, 4).Draw(t, "sessions"); i > 0; i-- {
			c := uint64(rapid.IntRange(1, 9).Draw(t, "client"))
			peer.clients.register(c, uint64(i))
			if s := peer.clients.get(c); s != nil {
				s.request = uint32(i)
				s.reply = Encode(Header{Cluster: 7, Command: CommandReply, Client: c, Request: uint32(i)}, []byte("r"))
			}
		}
		snapshot := peer.snapshot()

		fresh := func() *Replica {
			r := &Replica{cluster: 7, machine: kv.New(), options: Options{Release: kv.ReleaseLatest, ClientsMax: 4}}
			r.clients = newClientTable(4)
			return r
		}
		r := fresh()
		if err := r.restoreSnapshot(op, snapshot); err != nil {
			t.Fatalf("a snapshot refused: %v", err)
		}
		if r.machine.Digest() != peer.machine.Digest() || !bytes.Equal(r.clients.encode(), peer.clients.encode()) {
			t.Fatal("the restored state differs")
		}
		if sum, ok := r.log.checksumOf(op); op > 0 && (!ok || sum != peer.log.headerOf(op).Checksum) {
			t.Fatalf("the anchor of op %d is not its prepare's", op)
		}

		if op > 0 {
			if err := fresh().restoreSnapshot(op+64, snapshot); err == nil {
				t.Fatalf("a snapshot of op %d restored as op %d's", op, op+64)
			}
		}

		bad := h98Damaged(t, append([]byte(nil), snapshot...))
		r = fresh()
		r.clients.register(77, 5)
		machineBefore, clientsBefore := r.machine.Digest(), r.clients.encode()
		if err := r.restoreSnapshot(op, bad); err != nil {
			if r.machine.Digest() != machineBefore || !bytes.Equal(r.clients.encode(), clientsBefore) {
				t.Fatalf("a refused snapshot changed the state (%v)", err)
			}
			if _, ok := r.log.checksumOf(op); ok && op > 0 {
				t.Fatalf("a refused snapshot set the anchor (%v)", err)
			}
		}
	})
}

// h98Damaged returns b (which it may change) cut short, with bytes appended, or with one byte
// flipped: the damage the h98 codec properties feed the decoders.
func h98Damaged(t *rapid.T, b []byte) []byte {
	switch rapid.IntRange(0, 2).Draw(t, "damage") {
	case 0:
		return b[:rapid.IntRange(0, len(b)).Draw(t, "cut")]
	case 1:
		return append(b, rapid.SliceOfN(rapid.Byte(), 1, 8).Draw(t, "tail")...)
	}
	if len(b) == 0 {
		return append(b, rapid.Byte().Draw(t, "byte"))
	}
	at := rapid.IntRange(0, len(b)-1).Draw(t, "at")
	b[at] ^= byte(rapid.IntRange(1, 255).Draw(t, "flip"))
	return b
}
