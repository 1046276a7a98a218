package scenarios

import "testing"

// TestStorageOlderPair runs the move over every plan it draws.
func TestStorageOlderPair(t *testing.T) {
	for head := uint64(1); head <= 10; head++ {
		for c1 := uint64(1); c1 <= head; c1++ {
			for c2 := c1 + 1; c2 <= c1+10; c2++ {
				for i := 0; i < 2; i++ {
					p := olderPairPlan{head: head, c1: c1, c2: c2, saveBefore: i != 0}
					if msg := checkOlderPair(1, p); msg != "" {
						t.Errorf("%v: %s", p, msg)
					}
				}
			}
		}
	}
}
