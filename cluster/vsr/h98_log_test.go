package vsr

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/checksum"
)

// h98's review of the in-memory log's slots (log.go) against a model that shares no code with
// it. The model keeps, per slot, the op that owns it, the header the log names, the prepare
// held in memory (named, or kept unverified), and the faulty-mark obligation: the checksums
// of prepares our disk may hold unreadable (or "any", for an entry of unknown identity),
// which the log must never deny (seen) until an entry for op is durably written again, the
// slot is cleared, or a later op takes the slot. A header is offered (heldIdentity) only when
// no other prepare of op may be on our disk unreadable.

type h98Slot struct {
	owner   uint64 // 0: none
	named   *Header
	held    *Message // the prepare in memory
	mustAny bool     // an unreadable entry of unknown identity
	must    map[checksum.Sum]bool
}

func (s *h98Slot) reset(op uint64) { *s = h98Slot{owner: op, must: map[checksum.Sum]bool{}} }

func (s *h98Slot) faulty() bool { return s.mustAny || len(s.must) > 0 }

// h98Prepare builds a prepare of op; variant makes prepares of one op differ.
func h98Prepare(t *rapid.T, op uint64, variant int) Message {
	h := Header{Command: CommandPrepare, Cluster: 7, Op: op, View: uint32(3 + variant), Timestamp: int64(variant)}
	m, err := Decode(Encode(h, []byte(fmt.Sprintf("body %d/%d", op, variant))), 7)
	if err != nil {
		t.Fatalf("prepare does not decode: %v", err)
	}
	return m
}

func TestH98LogSlotsNeverDenyTheirFaultyMarks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var r Replica
		model := map[uint64]*h98Slot{} // by slot index
		slotOf := func(op uint64) *h98Slot {
			s := model[op%LogSlotsMax]
			if s == nil {
				s = &h98Slot{must: map[checksum.Sum]bool{}}
				model[op%LogSlotsMax] = s
			}
			return s
		}
		// Ops of three slots, in two windows: ops sharing a slot take it from each other.
		ops := []uint64{5, 6, 7, 5 + LogSlotsMax, 6 + LogSlotsMax}
		setHeader := func(op uint64, m Message) {
			s := slotOf(op)
			if s.owner != op {
				s.reset(op)
			}
			switch {
			case s.named != nil && s.named.Checksum == m.Header.Checksum:
			case s.named == nil && s.held != nil && s.held.Header.Checksum == m.Header.Checksum:
				h := m.Header
				s.named = &h // our kept prepare is the log's again
			default:
				h := m.Header
				s.named, s.held = &h, nil
			}
		}
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		var trace []string
		for i := 0; i < steps; i++ {
			op := rapid.SampledFrom(ops).Draw(t, "op")
			m := h98Prepare(t, op, rapid.IntRange(0, 2).Draw(t, "variant"))
			s := slotOf(op)
			action := rapid.SampledFrom([]string{"markFaulty", "markFaultyKnown", "setHeader", "setPrepare",
				"markDurable", "forget", "forgetUnverified", "clear"}).Draw(t, "action")
			trace = append(trace, fmt.Sprintf("%s(op %d, %x)", action, op, m.Header.Checksum[:2]))
			switch action {
			case "markFaulty":
				r.log.markFaulty(op)
				s.reset(op)
				s.mustAny = true
			case "markFaultyKnown":
				r.log.markFaultyKnown(m.Header)
				s.reset(op)
				h := m.Header
				s.named, s.must[h.Checksum] = &h, true
			case "setHeader":
				r.log.setHeader(m.Header)
				setHeader(op, m)
			case "setPrepare":
				r.log.setPrepare(m)
				setHeader(op, m)
				if s.held == nil {
					s.held = &m
				}
			case "markDurable":
				if s.owner != op || s.named == nil || s.held == nil {
					continue
				}
				r.log.markDurable(op)
				s.mustAny, s.must = false, map[checksum.Sum]bool{}
			case "forget":
				r.log.forget(op)
				if s.owner == op {
					s.named, s.held = nil, nil
				}
			case "forgetUnverified":
				r.log.forgetUnverified(op)
				switch {
				case s.owner != op || (s.named == nil && s.held != nil): // not ours, or kept already
				case s.named == nil || s.held == nil:
					s.named, s.held = nil, nil // forgotten
				default:
					s.must[s.held.Header.Checksum] = true // our disk may hold it: never deny it
					s.named = nil
				}
			case "clear":
				r.log.clear(op)
				if s.owner == op {
					s.reset(0)
				}
			}
			h98CheckLog(t, &r, ops, slotOf, trace)
		}
	})
}

func h98CheckLog(t *rapid.T, r *Replica, ops []uint64, slotOf func(uint64) *h98Slot, trace []string) {
	for _, op := range ops {
		s := slotOf(op)
		if s.owner != op {
			if _, ok := r.log.header(op); ok {
				t.Fatalf("op %d: a header of an op whose slot another op took; after %v", op, trace)
			}
			continue
		}
		h, ok := r.log.header(op)
		if ok != (s.named != nil) || (ok && h.Checksum != s.named.Checksum) {
			t.Fatalf("op %d: header %v %x, model %v; after %v", op, ok, h.Checksum[:2], s.named != nil, trace)
		}
		p, ok := r.log.prepare(op)
		if want := s.named != nil && s.held != nil; ok != want || (ok && string(p) != string(s.held.Bytes)) {
			t.Fatalf("op %d: prepare %v, model %v; after %v", op, ok, want, trace)
		}
		uh, up, ok := r.log.unverified(op)
		if want := s.named == nil && s.held != nil; ok != want ||
			(ok && (uh.Checksum != s.held.Header.Checksum || string(up) != string(s.held.Bytes))) {
			t.Fatalf("op %d: unverified %v, model %v; after %v", op, ok, want, trace)
		}
		if r.log.isFaulty(op) != s.faulty() {
			t.Fatalf("op %d: faulty %v, model %v; after %v", op, r.log.isFaulty(op), s.faulty(), trace)
		}
		// Never deny what we may have acknowledged.
		for sum := range s.must {
			if !r.log.seen(op, sum) {
				t.Fatalf("op %d: denies %x, which our disk may hold unreadable; after %v", op, sum[:2], trace)
			}
		}
		if s.mustAny {
			for v := 0; v < 3; v++ {
				if sum := h98Prepare(t, op, v).Header.Checksum; !r.log.seen(op, sum) {
					t.Fatalf("op %d: denies %x while our disk holds an entry of unknown identity; after %v",
						op, sum[:2], trace)
				}
			}
		}
		if s.named != nil && s.held != nil && !r.log.seen(op, s.named.Checksum) {
			t.Fatalf("op %d: denies the prepare it holds; after %v", op, trace)
		}
		// Nor answer nack_prepare for it, whatever the log our do_view_change described (its
		// head at or above op): a nack lets a new primary truncate the op.
		for _, logOp := range []uint64{op, op + 1} {
			for sum := range s.must {
				if r.denies(op, sum, logOp) {
					t.Fatalf("op %d: nacks %x, which our disk may hold unreadable; after %v", op, sum[:2], trace)
				}
			}
			if (s.mustAny || s.held != nil) && r.denies(op, checksum.Sum{}, logOp) {
				t.Fatalf("op %d: nacks a prepare of unknown identity while it may hold one; after %v", op, trace)
			}
			if s.held != nil && r.denies(op, s.held.Header.Checksum, logOp) {
				t.Fatalf("op %d: nacks the prepare it holds; after %v", op, trace)
			}
		}
		// An offer names the one prepare our disk may hold for op.
		if held, ok := r.heldIdentity(op); ok {
			if s.mustAny {
				t.Fatalf("op %d: offers %x while our disk holds an entry of unknown identity; after %v",
					op, held.Checksum[:2], trace)
			}
			for sum := range s.must {
				if sum != held.Checksum {
					t.Fatalf("op %d: offers %x while our disk may hold %x; after %v", op, held.Checksum[:2], sum[:2], trace)
				}
			}
		}
	}
}

// TestForgetUnverifiedKeepsTheDisksFaultyMark: an op whose entry our disk holds unreadable
// (of unknown identity, or named by its record as prepare x) is repaired in memory with
// prepare y, whose write has not completed (or failed), and a log install that cannot name
// the op forgets it (forgetUnverified). The disk still holds the unreadable entry: the op
// must still be seen for x (or for any prepare), and offered as nothing. The mark was
// rewritten as y's: x was denied (a nack for a prepare we may have acknowledged) and y
// offered as the only prepare our disk may hold.
func TestForgetUnverifiedKeepsTheDisksFaultyMark(t *testing.T) {
	build := func(op uint64, view uint32) Message {
		m, err := Decode(Encode(Header{Command: CommandPrepare, Cluster: 7, Op: op, View: view}, []byte("b")), 7)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var r Replica
	x, y := build(30, 2), build(30, 3)
	r.log.markFaultyKnown(x.Header)
	r.log.setPrepare(y) // the log names y: repaired in memory, not durable yet
	r.log.forgetUnverified(30)
	if !r.log.seen(30, x.Header.Checksum) {
		t.Fatal("denies x, which our disk holds unreadable")
	}
	if held, ok := r.heldIdentity(30); ok {
		t.Fatalf("offers %x while our disk may hold x", held.Checksum[:2])
	}

	r.log.markFaulty(31) // unknown identity
	z := build(31, 3)
	r.log.setPrepare(z)
	r.log.forgetUnverified(31)
	if other := build(31, 2); !r.log.seen(31, other.Header.Checksum) {
		t.Fatal("denies a prepare while our disk holds an entry of unknown identity")
	}
	if _, ok := r.heldIdentity(31); ok {
		t.Fatal("offers a prepare while our disk holds an entry of unknown identity")
	}
	if _, _, ok := r.log.unverified(31); !ok {
		t.Fatal("the prepare in memory was dropped")
	}
	r.log.setHeader(z.Header) // named again: the prepare is ours, still to be written
	if _, ok := r.log.prepare(31); !ok || !r.log.seen(31, build(31, 2).Header.Checksum) {
		t.Fatal("the prepare taken back lost the disk's mark, or the prepare")
	}
}
