package vsr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

// checkpointFullFS is a testFS whose checkpoint file writes fail (ErrNoSpace) while full:
// the superblock, rewritten in place, still lands.
type checkpointFullFS struct {
	*testFS
	full bool
}

func (f *checkpointFullFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	if f.full && strings.HasPrefix(name, "checkpoint") {
		f.later(func() { done(fmt.Errorf("write %s at %d: %w", name, offset, storage.ErrNoSpace)) })
		return
	}
	f.testFS.WriteAt(name, data, offset, done)
}

// TestStateSyncPersistsTheCommitItRaises: a state sync raises commit_max (onSync) and must
// persist it as advanceCommitMax does, not only once its checkpoint lands. Swarm seed
// 9900008461 (h122): replica 2, with ops up to 1792 whole on disk over its durable checkpoint
// 1728 and its durable commit 1759, synced to checkpoint 1792 on a full disk; the install
// kept failing and its durable commit stayed 33 below commit_max, more than the half
// interval persistState promises.
func TestStateSyncPersistsTheCommitItRaises(t *testing.T) {
	const head = 64
	chain := reviewChain(t, head, 1)
	fs := &checkpointFullFS{testFS: newTestFS()}
	r, _ := reviewReplicaOn(t, fs, fs.testFS, 2, 1, 1, chain, head)
	r.advanceCommitMax(CheckpointInterval / 2) // within the slack of durable commit 0: nothing to write
	fs.drain()
	require.Equal(t, uint64(0), r.stateDurable.Commit)

	fs.full = true
	snapshot := reviewSnapshot(chain[head].Header)
	sh := Header{Cluster: reviewCluster, Replica: 1, View: 1, Command: CommandSync, Release: kv.ReleaseBase,
		Op: head, Commit: head, Parent: checksum.Of(snapshot), Client: uint64(len(snapshot))}
	sync, err := Decode(Encode(sh, snapshot), reviewCluster)
	require.NoError(t, err)
	require.Empty(t, deliver(r, sync))
	fs.drain()
	require.Equal(t, uint64(head), r.commitMax)
	require.Equal(t, uint64(0), r.storage.State().CheckpointOp, "the checkpoint landed on a full disk")
	require.GreaterOrEqual(t, r.stateDurable.Commit+CheckpointInterval/2, uint64(head),
		"the persisted commit number trails commit_max by more than half an interval while the sync's checkpoint fails")
}
