package scenarios

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"

	"vopr/cluster/storage"
	"vopr/sim"
)

// TestStorageWrittenAboveHeadMisdirected: the head op X's entry write misdirected elsewhere in
// its segment file (its place left zeros), its record landed and then rotted or went
// unreadable, nothing above X. X finished (its record was written after its entry's sync), so
// every boot must keep it, intact or faulty, and every op below it comes back as appended or
// faulty. This is the state storage.written_above_counts_own_record is about: the mutant only
// adds op X+1 to the head evidence, which dropUnfinished always removes again (no record), so
// the outcome is the same; with STORAGE_DIFF_DUMP set the test also writes its observations there
// (Open and Verify, problems included) for a differential run against a mutated tree.
func TestStorageWrittenAboveHeadMisdirected(t *testing.T) {
	var buf bytes.Buffer
	landed := 0
	for seed := uint64(0); seed < 3000; seed++ {
		rng := sim.Stream(seed, "storage_diff")
		h := 1 + rng.Uint64N(11)
		x, msg := newSideEngine(seed, "written_above")
		if msg != "" {
			t.Fatal(msg)
		}
		log := map[uint64][]byte{}
		for op := uint64(1); op <= h; op++ {
			body := bytes.Repeat(sideBody("written_above", op, 0), 1+rng.IntN(5))
			log[op] = body
			if op == h {
				name, _ := recordPlace(h)
				lo := int64(len(x.disk.Durable(name)))
				if lo == 0 {
					lo = int64(storageEpisodeOptions.SegmentEntriesMax) * storage.SectorSize
				}
				x.disk.ArmMisdirect(name, lo, lo+1)
			}
			if err := x.append(op, body); err != nil {
				fmt.Fprintf(&buf, "seed %d append %d: %v\n", seed, op, err)
			}
		}
		if !x.disk.DisarmMisdirect() {
			continue
		}
		landed++
		recName, recOffset := recordPlace(h)
		x.disk.Crash()
		switch rng.IntN(2) {
		case 0:
			x.disk.CorruptSector(recName, recOffset)
		case 1:
			x.disk.LatentSectorError(recName, recOffset)
		}
		for round := 0; round < 3; round++ {
			rec, msg := x.reopen()
			if msg != "" {
				fmt.Fprintf(&buf, "seed %d round %d: %s\n", seed, round, msg)
				break
			}
			var report storage.VerifyReport
			x.wait(func(done func(error)) { x.s.Verify(func(r storage.VerifyReport) { report = r; done(nil) }) })
			if msg := heldAcknowledged(rec, x.s.Head(), log, 1, h); msg != "" {
				t.Errorf("seed %d, head op %d misdirected, its record damaged, boot %d: %s", seed, h, round, msg)
			}
			fmt.Fprintf(&buf, "seed %d h %d round %d: head %d entries %v faulty %v verify %v %v %v\n", seed, h, round, x.s.Head(), opsOf(rec.Entries), rec.Faulty, report.OK, report.Faulty, report.Problems)
			if round == 1 {
				next := x.s.Head() + 1
				err := x.append(next, sideBody("written_above", next, 1))
				if err == nil {
					log[next], h = sideBody("written_above", next, 1), next
				}
				fmt.Fprintf(&buf, "  append: %v\n", err)
			}
		}
	}
	fmt.Fprintf(&buf, "landed %d\n", landed)
	if landed < 1000 {
		t.Errorf("only %d of 3000 misdirects landed", landed)
	}
	if out := os.Getenv("STORAGE_DIFF_DUMP"); out != "" {
		os.WriteFile(out, buf.Bytes(), 0o644)
	}
}

// heldAcknowledged returns "" if the recovery keeps ops from..top of log, each intact with its
// acknowledged body or faulty, and returns no op above head.
func heldAcknowledged(rec *storage.Recovery, head uint64, log map[uint64][]byte, from, top uint64) string {
	got := map[uint64]bool{}
	for _, entry := range rec.Entries {
		if entry.Op > head {
			return fmt.Sprintf("op %d returned above the head %d", entry.Op, head)
		}
		if want, ok := log[entry.Op]; !ok || !bytes.Equal(entry.Body, want) {
			return fmt.Sprintf("Open returned op %d as %q, acknowledged %q", entry.Op, entry.Body, want)
		}
		got[entry.Op] = true
	}
	for op := from; op <= top; op++ {
		if !got[op] && !slices.Contains(rec.Faulty, op) {
			return fmt.Sprintf("acknowledged op %d lost (head %d, entries %v, faulty %v)", op, head, opsOf(rec.Entries), rec.Faulty)
		}
	}
	return ""
}
