package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestDifferencesAcrossChunkLevels holds differences to a byte-by-byte walk on inputs long
// enough to cross its coarsest chunks (a segment is tens of kilobytes): changes anywhere,
// near and across the 4096- and 256-byte boundaries.
func TestDifferencesAcrossChunkLevels(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := make([]byte, rapid.IntRange(0, 20000).Draw(t, "size"))
		for i := range a {
			a[i] = byte(i * 7)
		}
		b := append([]byte(nil), a...)
		for _, i := range rapid.SliceOfN(rapid.IntRange(0, max(len(a)-1, 0)), 0, 4).Draw(t, "flips") {
			if len(b) > 0 {
				b[i] ^= 1 + byte(i%255)
			}
		}
		first, last := int64(-1), int64(-1)
		for i := range a {
			if a[i] != b[i] {
				if first < 0 {
					first = int64(i)
				}
				last = int64(i)
			}
		}
		gotFirst, gotLast := differences(a, b)
		require.Equal(t, [2]int64{first, last}, [2]int64{gotFirst, gotLast})
	})
}
