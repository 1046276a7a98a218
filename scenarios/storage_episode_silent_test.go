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
