package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/internal/storagemodel"
)

// TestStorageEpisodeFieldsCheckFires feeds checkFields recoveries that lost a caller-owned
// field of the state the engine acknowledged (storage.superblock_decode_drops_joined_empty:
// the joined-empty flag written but never read back), or that changed the replica's identity.
func TestStorageEpisodeFieldsCheckFires(t *testing.T) {
	var seed uint64
	for seed = 1; seed < 50; seed++ {
		if e, _ := episodeRecovery(t, seed); e.m.Fields.JoinedEmpty {
			break
		}
	}
	require.Less(t, seed, uint64(50), "no seed acknowledged a state with the joined-empty flag")
	e, rec := episodeRecovery(t, seed)
	require.Positive(t, e.counters["coverage.storage_episode.state_fields"])
	broken := *rec
	broken.State.JoinedEmpty = false
	e.checkFields(&broken)
	require.Contains(t, e.failure, "recovered state")
	for _, lose := range []func(*storagemodel.Fields){
		func(f *storagemodel.Fields) { f.Commit-- },
		func(f *storagemodel.Fields) { f.Outside ^= 1 },
		func(f *storagemodel.Fields) { f.LogEpoch++ },
	} {
		e.failure = ""
		f := e.m.Fields
		lose(&f)
		e.m.Fields = f // the model moved, the disk did not: as a field that came back wrong
		e.checkFields(rec)
		require.Contains(t, e.failure, "recovered state")
		e.m.Fields = episodeFields(rec.State)
	}
	e.failure = ""
	broken = *rec
	broken.State.Replica = 2
	e.checkFields(&broken)
	require.Contains(t, e.failure, "recovered cluster 7 replica 2")
}
