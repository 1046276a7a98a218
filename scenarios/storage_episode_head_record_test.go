package scenarios

import "testing"

// Each head record move reaches its state (covered) and the engine passes it, over a spread
// of its draws.
func TestStorageEpisodeHeadRecordMoves(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		for h := uint64(1); h <= 9; h++ {
			for _, recordRot := range []bool{false, true} {
				for _, above := range []uint64{0, 2} {
					for sizes := 0; sizes < 3; sizes++ {
						p := headRecordDraw{h: h, top: h + above, recordRot: recordRot,
							olderSize: 1 + sizes*2, newerSize: 5 - sizes*2, crashAt: int(seed+h) % 10,
							misdirect: sizes == 1}
						msg, covered := checkHeadRecord(seed, p)
						if msg != "" || !covered {
							t.Fatalf("head record, seed %d %+v: %q, covered %v", seed, p, msg, covered)
						}
					}
				}
			}
		}
		per := uint64(storageEpisodeOptions.SegmentEntriesMax)
		for c := per; c < 4*per; c++ {
			if c%per == per-1 {
				continue
			}
			for _, a := range []uint64{1, c / 2, c - 1} {
				for _, b := range []uint64{1, a} {
					msg, covered := checkCheckpointHeadRegion(seed, b, a, c)
					if msg != "" || !covered {
						t.Fatalf("checkpoint head region, seed %d ops 1..%d, checkpoints %d and %d: %q, covered %v",
							seed, a, b, c, msg, covered)
					}
				}
			}
		}
	}
}
