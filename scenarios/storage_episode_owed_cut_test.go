package scenarios

import "testing"

// TestStorageOwedCut runs the move over every plan it draws.
func TestStorageOwedCut(t *testing.T) {
	for head := uint64(4); head <= 12; head++ {
		for a := uint64(1); a <= head-2; a++ {
			for b := a + 1; b < head; b++ {
				for c := uint64(0); c < head; c++ {
					if c != 0 && c <= a {
						continue
					}
					for top := max(b, c) + 1; top <= head+2; top++ {
						for _, cutFails := range []bool{false, true} {
							p := owedCutPlan{head: head, a: a, b: b, c: c, top: top, cutFails: cutFails}
							if msg := checkOwedCut(1, p); msg != "" {
								t.Errorf("%v: %s", p, msg)
							}
						}
					}
				}
			}
		}
	}
}
