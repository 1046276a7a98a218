package scenarios

import "testing"

// The segment record move reaches its state (covered) and the engine passes it, over a spread
// of its draws.
func TestStorageEpisodeSegmentMoves(t *testing.T) {
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	for seed := uint64(1); seed <= 3; seed++ {
		for _, f := range []uint64{per - 1, 2*per - 1} {
			for top := f + 1; top <= f+per+1; top++ {
				for _, recordRot := range []bool{false, true} {
					for sizes := 0; sizes < 3; sizes++ {
						p := segmentRecordDraw{f: f, top: top, recordRot: recordRot,
							olderSize: 1 + sizes, newerSize: 4 - sizes}
						msg, covered := checkSegmentRecord(seed, p)
						if msg != "" || !covered {
							t.Fatalf("segment record, seed %d %+v: %q, covered %v", seed, p, msg, covered)
						}
					}
				}
			}
		}
	}
}
