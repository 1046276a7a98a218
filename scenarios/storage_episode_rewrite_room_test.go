package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStorageRewriteRoom runs the rewrite_room move over its plans, then feeds its check the
// disk storage.rewrite_unknown_ignores_room left (storage_crash seed 1: the prepare for op 5
// written in place past its damaged region, over op 7's intact entry): the check must fire.
func TestStorageRewriteRoom(t *testing.T) {
	for _, k := range []uint64{1, 5} {
		for head := k + 2; head <= k+4; head++ {
			for above := 1; above <= 3; above++ {
				for grow := 0; grow <= 2; grow++ {
					for _, fits := range []bool{false, true} {
						for _, rot := range []bool{false, true} {
							p := rewriteRoomPlan{k: k, head: head, above: above, grow: grow, fits: fits, rot: rot}
							written, msg := checkRewriteRoom(1, p)
							require.Empty(t, msg, "%v", p)
							require.Equal(t, fits, written, "%v: written in place only when it fits", p)
						}
					}
				}
			}
		}
	}
	_, msg := checkRewriteRoom(1, rewriteRoomPlan{k: 5, head: 8, above: 1, fits: true, spill: true})
	require.Contains(t, msg, "op 7's intact entry no longer lies whole")
}
