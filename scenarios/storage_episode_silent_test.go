package scenarios

import (
	"testing"
)

// Each silent move reaches its state (covered) and the engine passes it, over a spread of
// its draws.
func TestStorageEpisodeSilentMoves(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		for head := uint64(1); head <= 3; head++ {
			c := head + 1
			msg, covered := checkKeptSuperblockSync(seed, head, c, c+1+seed%3)
			if msg != "" || !covered {
				t.Fatalf("kept superblock sync, seed %d head %d: %q, covered %v", seed, head, msg, covered)
			}
		}
		for _, f := range []uint64{3, 7} {
			for crashAt := 0; crashAt < 8; crashAt++ {
				msg, covered := checkLostTailEntry(seed, f, f+1+seed%4, crashAt)
				if msg != "" || !covered {
					t.Fatalf("lost tail entry, seed %d op %d crash at %d: %q, covered %v", seed, f, crashAt, msg, covered)
				}
			}
		}
		for tries := 1; tries <= 2; tries++ {
			msg, covered := checkPeerCheckpointFallback(seed, 2+seed%4, 2+seed%5, tries)
			if msg != "" || !covered {
				t.Fatalf("peer checkpoint fallback, seed %d tries %d: %q, covered %v", seed, tries, msg, covered)
			}
		}
	}
}

// The episode's history meets lost entry writes at a segment's end (acknowledged, and in
// flight at a crash), and passes.
func TestStorageEpisodeLostEntryWrites(t *testing.T) {
	acknowledged, inFlight := uint64(0), uint64(0)
	for seed := uint64(1); seed <= 300 && (acknowledged == 0 || inFlight == 0); seed++ {
		r := runStorageCrash(Options{Seed: seed})
		if r.Outcome != Pass {
			t.Fatalf("seed %d: %s", seed, r.Reason)
		}
		acknowledged += r.Counters["coverage.storage_episode.lost_entry_write"]
		inFlight += r.Counters["storage_episode.lost_entry_write_in_flight"]
	}
	if acknowledged == 0 || inFlight == 0 {
		t.Fatalf("lost entry writes: %d acknowledged, %d in flight at a crash", acknowledged, inFlight)
	}
}
