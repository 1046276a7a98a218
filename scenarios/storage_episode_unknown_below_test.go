package scenarios

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"vopr/cluster/storage"
	"vopr/sim"
)

// TestStorageUnknownBelowRepairedRunThenCut: checkpoint c's entry and record damaged (and op
// c-1's in a third of the draws), ops c+1..c+j above it of unknown identity too, op c+j+1
// intact in the same segment; the run is repaired in place (RewriteRun, or Rewrite of op c+1
// alone when that places it), then the log is cut after an op in c..c+j (TruncateAfter, or
// the Append of another prepare above it). After each crash, Open returns only ops up to the
// head, each with its acknowledged body or faulty. This is the state
// storage.unknown_below_not_clamped is about: clampUnknownBelow only ever reaches slots at or
// below the checkpoint (the run's first op needs an intact parent, or is c+1), and a cut
// after c gives those regions up at checkpointRegionCut's start whatever their stale end, so
// the mutant changes nothing here; with STORAGE_DIFF_DUMP set the test also writes its observations
// there (Open and Verify, problems included) for a differential run against a mutated tree.
func TestStorageUnknownBelowRepairedRunThenCut(t *testing.T) {
	var buf bytes.Buffer
	const move = "unknown_below"
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	for seed := uint64(0); seed < 2000; seed++ {
		rng := sim.Stream(seed, "storage_diff")
		c := per*(1+rng.Uint64N(2)) + rng.Uint64N(2)
		j := 1 + rng.Uint64N(per-1-c%per-1+1) // ops c+1..c+j unknown, c+j+1 in the segment
		if c%per+j+1 >= per {
			j = per - 1 - c%per - 1
		}
		top := c + j + 1 + rng.Uint64N(4)
		x, msg := newSideEngine(seed, move)
		if msg != "" {
			t.Fatal(msg)
		}
		log := map[uint64][]byte{}
		for op := uint64(1); op <= top; op++ {
			log[op] = bytes.Repeat(sideBody(move, op, 0), 1+rng.IntN(30))
			if err := x.append(op, log[op]); err != nil {
				t.Fatalf("seed %d append %d: %v", seed, op, err)
			}
			if op == c {
				x.s.Commit(c)
				if err := x.wait(func(done func(error)) { x.s.Checkpoint(c, []byte("state"), done) }); err != nil {
					t.Fatalf("checkpoint: %v", err)
				}
			}
		}
		damage := []uint64{}
		lo := c
		if rng.IntN(3) == 0 && c%per > 0 {
			lo = c - 1
		}
		for op := lo; op <= c+j; op++ {
			name, offset, ok := x.entryPlace(op)
			if !ok {
				t.Fatalf("seed %d op %d not placed", seed, op)
			}
			x.disk.CorruptSector(name, offset)
			rn, ro := recordPlace(op)
			x.disk.CorruptSector(rn, ro)
			damage = append(damage, op)
		}
		rec, msg := x.reopen()
		if msg != "" {
			fmt.Fprintf(&buf, "seed %d: %s\n", seed, msg)
			continue
		}
		fmt.Fprintf(&buf, "seed %d c %d j %d top %d damage %v: head %d entries %v faulty %v\n", seed, c, j, top, damage, x.s.Head(), opsOf(rec.Entries), rec.Faulty)
		var run []storage.Entry
		for op := c + 1; op <= top; op++ {
			run = append(run, storage.Entry{Op: op, Body: log[op]})
		}
		n, wants := x.s.RewritableRun(run)
		var written int
		var err error
		if n == 0 && x.s.Rewritable(run[0]) {
			err = x.wait(func(done func(error)) { x.s.Rewrite(run[0], done) })
		} else {
			err = x.wait(func(done func(error)) { x.s.RewriteRun(run, func(w int, err error) { written = w; done(err) }) })
		}
		fmt.Fprintf(&buf, "  rewritable %d %v written %d %v\n", n, wants, written, err)
		cut := c + rng.Uint64N(j+1)
		newer := rng.IntN(2) == 0
		if newer {
			err = x.append(cut+1, sideBody(move, cut+1, 1))
		} else {
			err = x.wait(func(done func(error)) { x.s.TruncateAfter(cut, done) })
		}
		if err != nil {
			t.Errorf("seed %d: cut after %d: %v", seed, cut, err)
			continue
		}
		for op := cut + 1; op <= top; op++ {
			delete(log, op)
		}
		want := cut
		if newer {
			log[cut+1], want = sideBody(move, cut+1, 1), cut+1
		}
		fmt.Fprintf(&buf, "  cut after %d newer %v: %v head %d\n", cut, newer, err, x.s.Head())
		for round := 0; round < 2; round++ {
			rec, msg := x.reopen()
			if msg != "" {
				fmt.Fprintf(&buf, "  round %d: %s\n", round, msg)
				break
			}
			if x.s.Head() != want {
				t.Errorf("seed %d: cut after %d (newer %v), boot %d: head %d, want %d", seed, cut, newer, round, x.s.Head(), want)
			}
			if msg := heldAcknowledged(rec, x.s.Head(), log, c+1, want); msg != "" {
				t.Errorf("seed %d: cut after %d (newer %v), boot %d: %s", seed, cut, newer, round, msg)
			}
			var report storage.VerifyReport
			x.wait(func(done func(error)) { x.s.Verify(func(r storage.VerifyReport) { report = r; done(nil) }) })
			fmt.Fprintf(&buf, "  round %d: head %d entries %v faulty %v verify %v %v %v\n", round, x.s.Head(), opsOf(rec.Entries), rec.Faulty, report.OK, report.Faulty, report.Problems)
		}
	}
	if out := os.Getenv("STORAGE_DIFF_DUMP"); out != "" {
		os.WriteFile(out, buf.Bytes(), 0o644)
	}
}
