package scenarios

import "testing"

// TestStorageBoundaryRepair runs the move at every segment end and head it draws.
func TestStorageBoundaryRepair(t *testing.T) {
	for _, f := range []uint64{3, 7} {
		for head := f + 1; head <= f+5; head++ {
			if msg := checkBoundaryRepair(1, f, head); msg != "" {
				t.Errorf("op %d, head %d: %s", f, head, msg)
			}
		}
	}
}
