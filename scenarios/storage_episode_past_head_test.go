package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
)

// TestPastHeadEvidence: a rotted mark above the head explains a faulty report of its op only
// where the engine may take it for evidence (storage crash seeds 2212101403, 2212201617); on a
// segment cut at the head's entry, with no entry of the op in it, it explains nothing, so the
// check still fails a faulty report there ("reported faulty, but nothing damaged it").
func TestPastHeadEvidence(t *testing.T) {
	const per = 4
	records := int64(per) * storage.SectorSize
	mark := int64(3) * storage.SectorSize // op 3's record sector
	segment := func(entries ...[]byte) []byte {
		image := make([]byte, records)
		for _, e := range entries {
			image = append(image, e...)
		}
		return image
	}
	entry := func(op uint64, at int64) []byte {
		return storage.EncodeEntry(1, op, at, checksum.Sum{1}, []byte("body"))
	}
	one := entry(1, records)
	two := entry(2, records+int64(len(one)))
	// Cut at the head's (op 2's) entry: the rot of op 3's mark is no evidence.
	require.Empty(t, pastHeadEvidence(segment(one, two), 2, []int64{mark}, per))
	// Bytes past the head's entry (2212201617): room for op 3's record to be evidence.
	require.Equal(t, []uint64{3}, pastHeadEvidence(append(segment(one, two), make([]byte, 2*storage.SectorSize)...),
		2, []int64{mark}, per))
	// A stale op 3 below the head's new place (2212101403): its entry lies in the file.
	stale := entry(3, records+int64(len(one)))
	head := entry(2, records+int64(len(one)+len(stale)))
	require.Equal(t, []uint64{3}, pastHeadEvidence(segment(one, stale, head), 2, []int64{mark}, per))

	// The check: the op above the head that the rot explains may be faulty; without it, or
	// for another op, the check still fails.
	e, broken := episodeRecovery(t, 1)
	over := e.m.Head + 1
	broken.Faulty = append(broken.Faulty, over)
	e.check(broken)
	require.Contains(t, e.failure, fmt.Sprintf("op %d reported faulty, but nothing damaged it", over))

	e, broken = episodeRecovery(t, 1)
	e.pastHeadRot = map[uint64]bool{over: true}
	broken.Faulty = append(broken.Faulty, over)
	e.check(broken)
	require.Empty(t, e.failure)

	e, broken = episodeRecovery(t, 1)
	e.pastHeadRot = map[uint64]bool{over + 1: true}
	broken.Faulty = append(broken.Faulty, over)
	e.check(broken)
	require.Contains(t, e.failure, fmt.Sprintf("op %d reported faulty, but nothing damaged it", over))
}
