package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// TestStorageEpisodeCheckFiresOnALostLaterCheckpoint feeds checkReplayableLater a recovery that
// reports later checkpoint 9 (checkpoint 5 before it) lost while ops 1-9 lie whole on disk
// with the bodies of the log's own audit chain, as storage.replay_audit_stops_below_checkpoint
// reported it (storage_crash seed 425): the engine must replay from op 0. It must not fire once
// an op below the checkpoint is damaged, or when the checkpoint was a peer's (installed).
func TestStorageEpisodeCheckFiresOnALostLaterCheckpoint(t *testing.T) {
	lost := func(install bool, damage uint64) string {
		e := newStorageEpisode(1)
		e.steps = nil
		for op := uint64(1); op <= 10; op++ {
			e.steps = append(e.steps, storagemodel.Step{Kind: storagemodel.Append, Op: op, Body: fmt.Appendf(nil, "0 op %d generation body", op)})
			if op == 5 {
				e.steps = append(e.steps, storagemodel.Step{Kind: storagemodel.Checkpoint, Op: 5, Snapshot: []byte("at 5")})
			}
		}
		last := storagemodel.Step{Kind: storagemodel.Checkpoint, Op: 9, Snapshot: []byte("at 9")}
		if install {
			last.Kind = storagemodel.Install
		}
		e.steps = append(e.steps, last)
		require.NoError(t, e.wait(func(done func(error)) { storage.Format(e.disk, storageEpisodeOptions, storeEpisodeState, done) }))
		s, _, err := e.open()
		require.NoError(t, err)
		e.s = s
		e.issue()
		for e.m.Acked < len(e.steps) && e.failure == "" && e.loop.Step() {
		}
		require.Empty(t, e.failure)
		require.Equal(t, len(e.steps), e.m.Acked)
		if damage != 0 {
			e.damageOp(damage, false, e.rng)
		}
		e.checkpointDamaged, e.rottenCheckpoints, e.openSegments = 9, []uint64{5}, e.segments()
		e.checkCheckpoint(&storage.Recovery{CheckpointLost: true, State: storage.State{CheckpointOp: 9}})
		return e.failure
	}
	require.Contains(t, lost(false, 0), "Open must fall back to op 0 and replay them")
	require.Empty(t, lost(false, 7), "op 7 damaged: no replay from op 0")
	require.Empty(t, lost(true, 0), "a peer's checkpoint: the log need not be its history")
	require.Contains(t, lost(false, 10), "Open must fall back to op 0", "op 10, above the checkpoint, damaged: ops 1-9 still replay")
}
