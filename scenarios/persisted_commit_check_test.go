package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
	"vopr/invariants"
)

// persistedDisk is a durable image with checkpoint cp, superblock commit, and an intact
// canonical entry for every op in (cp, head].
func persistedDisk(cp, commit, head uint64) invariants.DiskImage {
	img := invariants.DiskImage{Valid: true, CheckpointOp: cp, Commit: commit}
	for op := cp + 1; op <= head; op++ {
		img.Entries = append(img.Entries, invariants.DurableEntry{Op: op, Prepare: canonicalSum(op), Intact: true})
	}
	return img
}

func canonicalSum(op uint64) checksum.Sum { return checksum.Of([]byte{byte(op), byte(op >> 8), 1}) }

func canonicalOf(op uint64) (checksum.Sum, bool) { return canonicalSum(op), true }

// TestPersistedCommitLagFires: a durable commit number more than half a checkpoint interval
// behind commit_max, where the disk holds every committed prepare, is a violation (what the
// mutant vsr.persisted_commit_lags_two_intervals leaves: up to an interval and more behind);
// one within half an interval is not; and one held down by an entry on disk that is damaged,
// missing or of another prepare is judged against the op below that entry only.
func TestPersistedCommitLagFires(t *testing.T) {
	half := uint64(vsr.CheckpointInterval / 2)
	const cp = 128
	// Within the slack.
	require.Empty(t, persistedCommitLag(1, persistedDisk(cp, cp, cp+half), cp+half, cp+half, canonicalOf, canonicalOf))
	require.Empty(t, persistedCommitLag(1, persistedDisk(cp, cp+10, cp+10+half), cp+10+half, cp+10+half, canonicalOf, canonicalOf))
	// Past it: a broken history (the superblock kept only the checkpoint's commit while the
	// replica committed 40 ops on).
	msg := persistedCommitLag(1, persistedDisk(cp, cp, cp+40), cp+40, cp+40, canonicalOf, canonicalOf)
	require.Equal(t, "replica 1's durable superblock names commit number 128 on an idle cluster, 40 below 168, "+
		"commit_max (durable checkpoint 128): a restart would recover a commit number more than half a checkpoint "+
		"interval (32 ops) behind what its disk verifiably holds", msg)

	// An entry the disk cannot vouch for holds the bound at the op below it.
	for name, spoil := range map[string]func(*invariants.DiskImage){
		"damaged":         func(img *invariants.DiskImage) { img.Entries[4].Intact = false },
		"other prepare":   func(img *invariants.DiskImage) { img.Entries[4].Prepare = checksum.Of([]byte("stale")) },
		"missing":         func(img *invariants.DiskImage) { img.Entries = append(img.Entries[:4:4], img.Entries[5:]...) },
		"never committed": nil,
	} {
		img := persistedDisk(cp, cp, cp+40)
		canonical := canonicalOf
		if spoil != nil {
			spoil(&img)
		} else {
			canonical = func(op uint64) (checksum.Sum, bool) { return canonicalSum(op), op != cp+5 }
		}
		msg, judged, held := persistedCommitJudge(1, img, cp+40, cp+40, canonical, canonicalOf)
		require.Empty(t, msg, name)
		require.True(t, judged && held, name)
	}
	// ... and no lower: a floor itself more than the slack above the durable commit fires.
	img := persistedDisk(cp, cp, cp+60)
	img.Entries[50].Intact = false // op cp+51: floor cp+50
	msg, _, held := persistedCommitJudge(2, img, cp+60, cp+60, canonicalOf, canonicalOf)
	require.True(t, held)
	require.Contains(t, msg, "replica 2's durable superblock names commit number 128 on an idle cluster, 50 below 178, "+
		"the highest op up to which its disk holds every committed prepare intact and its log their headers (commit_max 188)")

	// The replica's log holds the floor down as well: an op whose header it does not hold
	// (forgotten as unverified by a log install, swarm seed 182), or holds of another prepare,
	// is one whose entry it cannot yet vouch for, whatever its disk holds.
	for name, known := range map[string]func(uint64) (checksum.Sum, bool){
		"header unknown":       func(op uint64) (checksum.Sum, bool) { return canonicalSum(op), op != cp+5 },
		"header of another op": func(op uint64) (checksum.Sum, bool) { return canonicalSum(op + uint64(boolInt(op == cp+5))), true },
	} {
		msg, judged, held := persistedCommitJudge(1, persistedDisk(cp, cp, cp+40), cp+40, cp+40, canonicalOf, known)
		require.Empty(t, msg, name)
		require.True(t, judged && held, name)
	}

	// Not judged: no intact superblock, nothing committed above the checkpoint, a log
	// spanning more than the slots.
	bad := persistedDisk(cp, 0, cp+40)
	bad.Valid = false
	for _, c := range []struct {
		img           invariants.DiskImage
		commitMax, op uint64
	}{{bad, cp + 40, cp + 40}, {persistedDisk(cp, 0, cp), cp, cp + 3},
		{persistedDisk(cp, cp, cp+40), cp + 40, cp + vsr.LogSlotsMax + 1}} {
		msg, judged, _ := persistedCommitJudge(0, c.img, c.commitMax, c.op, canonicalOf, canonicalOf)
		require.Empty(t, msg)
		require.False(t, judged)
	}
}

// TestPersistedCommitWaitsForAFailedLogWrite: neither persisted commit check judges a
// replica while a superblock write is pending or a failed log write waits for its retry
// (swarm seed 10000007607, h125: the failed rewrite held the replica's commit below it while
// the disk held the entry whole, and the repair timeout's retry persisted it 31 ms later);
// once both are clear it is judged, and the judgement of the same disk still fires.
func TestPersistedCommitWaitsForAFailedLogWrite(t *testing.T) {
	quiet := vsr.Inspection{Status: vsr.StatusNormal}
	require.False(t, persistedCommitWaits(&quiet))
	for name, in := range map[string]vsr.Inspection{
		"superblock write pending": {Status: vsr.StatusNormal, StateWritePending: true},
		"log write retry":          {Status: vsr.StatusNormal, LogWriteRetry: true},
	} {
		require.True(t, persistedCommitWaits(&in), name)
	}
	const cp = 64
	msg := persistedCommitLag(3, persistedDisk(cp, 79, 113), 122, 127, canonicalOf, canonicalOf)
	require.Contains(t, msg, "replica 3's durable superblock names commit number 79 on an idle cluster, 34 below 113")
}
