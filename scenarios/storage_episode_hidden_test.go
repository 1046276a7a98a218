package scenarios

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// TestStorageEpisodeReachesHiddenRegionsAndMarkRot checks that the shapes of
// storage_episode_hidden.go are built on some of the first seeds, and that those seeds pass:
// a region past the head hidden from one Open (with the head's header and record, in some),
// and a faulty mark found after the last boot with the ops above it rotted in both copies.
func TestStorageEpisodeReachesHiddenRegionsAndMarkRot(t *testing.T) {
	names := []string{"coverage.storage_episode.hidden_region", "coverage.storage_episode.hidden_region_head",
		"coverage.storage_episode.faulty_mark_found", "coverage.storage_episode.faulty_mark_rot"}
	reached := map[string]uint64{}
	for seed := uint64(1); seed <= 1500; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		for _, name := range names {
			reached[name] += r.Counters[name]
		}
	}
	for _, name := range names {
		require.NotZero(t, reached[name], name)
	}
}

// TestStorageEpisodePastHeadOnlyThroughAFailedCut checks that a body a hidden region kept
// past the head (pastHead) is allowed back only by a failed cut (cutFailed, storage crash seed
// 2211037922): once a truncation below it is acknowledged, a recovery that returns it
// still fails the check.
func TestStorageEpisodePastHeadOnlyThroughAFailedCut(t *testing.T) {
	e, rec := episodeRecovery(t, 7)
	op := e.m.Head + 1
	body := []byte("an unfinished append a hidden region kept past the head")
	e.written[op] = append(e.written[op], body)
	e.pastHead = map[uint64][][]byte{op: {body}}
	e.acknowledged(storagemodel.Step{Kind: storagemodel.Truncate, Op: e.m.Head})
	require.Empty(t, e.pastHead, "an acknowledged truncation below it cuts it")
	broken := *rec
	broken.Entries = append(slices.Clone(rec.Entries), storage.Entry{Op: op, Body: body})
	e.check(&broken)
	require.Contains(t, e.failure, "never acknowledged there nor in flight")
}
