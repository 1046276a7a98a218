package storage_test

import (
	"slices"
	"testing"

	"vopr/cluster/storage"
)

// syncOverUnknownOps builds the disk of swarm seed 2026753315 in small: ops 1-20 with
// checkpoint 12; ops 16 and 17 lose their identity (entry and record damaged); a peer's
// checkpoint 16 is installed (state sync). Its anchor is the new file's checksum: nothing on
// the disk names the chain sum op 17's entry was written on, so op 17, repaired with its own
// body, no longer chains to op 18's parent. Each op of also loses its identity too. It returns
// the open storage and the repair run, ops 17-20 with their bodies.
func syncOverUnknownOps(t *testing.T, d *disk, also ...uint64) (*storage.Storage, []storage.Entry) {
	t.Helper()
	s := fill(t, d, distrustOptions, 20)
	d.checkpoint(t, s, 12, []byte("state at 12"))
	loseIdentity(t, d, 16, 17)
	for _, op := range also {
		loseIdentity(t, d, op, op)
	}
	d.restart()
	s, rec := d.mustOpen(t, distrustOptions)
	faulty := append([]uint64{16, 17}, also...)
	if s.Head() != 20 || !slices.Equal(rec.Faulty, faulty) || len(rec.FaultyPrefix) != 0 {
		t.Fatalf("recovery: head %d, faulty %v, prefixes %d: want ops %v faulty of unknown identity",
			s.Head(), rec.Faulty, len(rec.FaultyPrefix), faulty)
	}
	d.must(t, "InstallCheckpoint", func(done func(error)) { s.InstallCheckpoint(16, []byte("a peer's state at 16"), done) })
	var run []storage.Entry
	for op := uint64(17); op <= 20; op++ {
		run = append(run, storage.Entry{Op: op, Body: body(op)})
	}
	return s, run
}

// TestRechainRunKeepsTheOpsAbove: op 17's repair cannot be written in place (Rewritable,
// RewritableRun: the chain sum it would end with is not op 18's parent), and an Append of it
// truncates ops 18-20, which a replica may have acknowledged and committed. RechainRun writes
// ops 17-20 again over their own extents, linked from the new anchor, and drops nothing; it
// refuses a run whose bodies above op 17 are not the disk's.
func TestRechainRunKeepsTheOpsAbove(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s, run := syncOverUnknownOps(t, d)
		if s.Rewritable(run[0]) {
			t.Fatal("op 17 is rewritable in place: the test no longer builds the lost anchor")
		}
		if n, wants := s.RewritableRun(run); n != 0 || wants {
			t.Fatalf("RewritableRun: %d, wants %t: want none", n, wants)
		}
		other := slices.Clone(run)
		other[2] = storage.Entry{Op: 19, Body: []byte("another op 19")}
		if s.RechainableRun(other) || s.RechainableRun(run[:3]) {
			t.Fatal("rechainable: a run with another body than the disk's, or short of the head")
		}
		if !s.RechainableRun(run) {
			t.Fatal("ops 17-20 are not rechainable")
		}
		rechainAndReopen(t, d, s, run)
	})
}

// rechainAndReopen writes run (ops 17-20) with RechainRun, requires every op written and none
// dropped, then after a restart every op intact with its body, and an append above them.
func rechainAndReopen(t *testing.T, d *disk, s *storage.Storage, run []storage.Entry) {
	t.Helper()
	var written int
	d.must(t, "RechainRun", func(done func(error)) {
		s.RechainRun(run, func(n int, err error) { written = n; done(err) })
	})
	if written != 4 || s.Head() != 20 || len(s.Faulty()) != 0 {
		t.Fatalf("RechainRun wrote %d, head %d, faulty %v: want ops 17-20 written, none dropped",
			written, s.Head(), s.Faulty())
	}
	d.restart()
	s, rec := d.mustOpen(t, distrustOptions)
	if s.Head() != 20 || len(rec.Faulty) != 0 || !slices.Equal(entriesOf(rec), opsRange(17, 20)) {
		t.Fatalf("after a restart: head %d, faulty %v, entries %v: want ops 17-20 intact", s.Head(),
			rec.Faulty, entriesOf(rec))
	}
	requireBodiesOf(t, rec, run)
	if err := d.append(t, s, 21, body(21)); err != nil {
		t.Fatalf("Append(21) above the rechained ops: %v", err)
	}
}

// requireBodiesOf requires that the recovery holds each entry of want with its body.
func requireBodiesOf(t *testing.T, rec *storage.Recovery, want []storage.Entry) {
	t.Helper()
	for _, w := range want {
		i := slices.IndexFunc(rec.Entries, func(e storage.Entry) bool { return e.Op == w.Op })
		if i < 0 || !slices.Equal(rec.Entries[i].Body, w.Body) {
			t.Fatalf("op %d: recovered %v, want its body", w.Op, i >= 0)
		}
	}
}

// TestRechainRunPlacesUnknownOpsBetweenKnownOnes: as syncOverUnknownOps, and op 19 lost its
// identity too, between ops 18 and 20 that the disk knows. RechainRun lays op 19 below op 20,
// as it lays op 17 below op 18, and writes ops 17-20 in place: refusing the run left the
// repair of op 17 to an Append that truncated ops 18-20, which the replica may have
// acknowledged (swarm seed 2026919031: ops 129-131 and 134-136 of unknown identity, view 9's
// ops 132-161 cut). It still refuses a run whose op above the unknown one is another body, or
// whose head is of unknown identity (nothing above places it).
func TestRechainRunPlacesUnknownOpsBetweenKnownOnes(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s, run := syncOverUnknownOps(t, d, 19)
		if s.Rewritable(run[0]) {
			t.Fatal("op 17 is rewritable in place: the test no longer builds the lost anchor")
		}
		if n, wants := s.RewritableRun(run); n != 0 || wants {
			t.Fatalf("RewritableRun: %d, wants %t: want none", n, wants)
		}
		other := slices.Clone(run)
		other[3] = storage.Entry{Op: 20, Body: []byte("another op 20")}
		if s.RechainableRun(other) {
			t.Fatal("rechainable: a run with another body than the disk's above the unknown op 19")
		}
		if !s.RechainableRun(run) {
			t.Fatal("ops 17-20 are not rechainable with op 19 of unknown identity between ops 18 and 20")
		}
		rechainAndReopen(t, d, s, run)
	})
}

// TestRechainRunRefusesAnUnknownHead: ops 17 and 20 (the head) lost their identity: nothing
// above op 20 places it, so the run is not rechainable.
func TestRechainRunRefusesAnUnknownHead(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s, run := syncOverUnknownOps(t, d, 20)
		if s.RechainableRun(run) {
			t.Fatal("rechainable with the head of unknown identity")
		}
	})
}
