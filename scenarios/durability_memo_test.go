package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestEntryMemoEqualsAFreshParse: two replicas' caches of a segment share one entry memo, as
// durableDisks' do, and each replica's bytes change on their own (records, entries appended
// or overwritten, damage, cuts). Whatever the memo holds from the other's reads, each cache
// brought up to date must hold exactly what a parse from scratch, without a memo, finds.
func TestEntryMemoEqualsAFreshParse(t *testing.T) {
	const cluster = 7
	rapid.Check(t, func(t *rapid.T) {
		var memo entryMemo
		start := segmentBytes(t, cluster, nil)
		data := [2][]byte{start, append([]byte(nil), start...)}
		caches := [2]*segmentCache{{memo: &memo}, {memo: &memo}}
		for step := rapid.IntRange(1, 12).Draw(t, "steps"); step > 0; step-- {
			r := rapid.IntRange(0, 1).Draw(t, "replica")
			data[r] = mutateSegment(t, cluster, data[r])
			caches[r].resync(data[r], cluster)
			fresh := &segmentCache{}
			fresh.resync(data[r], cluster)
			require.Equal(t, fresh.parsed, caches[r].parsed, "parsed")
			require.Equal(t, orNil(fresh.entries), orNil(caches[r].entries), "entries")
			require.Equal(t, orNil(fresh.jumps), orNil(caches[r].jumps), "jumps")
		}
	})
}
