package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageOwedCutCommitted runs the owed_cut move's plans that commit the log through an
// op above the failed truncation's (owedCutPlan.commit) before the appends: every one must
// keep the appends through the superblock write and a crash. Then it feeds the check the
// history storage.cut_owed_ignores_audit made (storage_crash seed 2: ops 1..9, a failed
// truncation after 2, one after 4, ops committed through 4, fresh ops 5-7, and the superblock
// write's payment of the debt cut them): the check must see the acknowledged appends gone.
func TestStorageOwedCutCommitted(t *testing.T) {
	for head := uint64(4); head <= 12; head++ {
		for a := uint64(1); a <= head-2; a++ {
			for b := a + 1; b < head; b++ {
				for _, c := range []uint64{0, a + 1, b} {
					for k := max(a, c) + 1; k <= b; k++ {
						for _, cutFails := range []bool{false, true} {
							p := owedCutPlan{head: head, a: a, b: b, c: c, top: max(b, c) + 2, cutFails: cutFails, commit: k}
							if msg := checkOwedCut(1, p); msg != "" {
								t.Errorf("%v: %s", p, msg)
							}
						}
					}
				}
			}
		}
	}
	p := owedCutPlan{head: 9, a: 2, b: 4, top: 7, commit: 4, cutCommitted: true}
	require.Contains(t, checkOwedCut(1, p), "after the superblock write: head 4, want 7")
}
