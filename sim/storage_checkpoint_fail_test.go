package sim_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
)

// TestFailedCheckpointLeavesTheAuditAsItWas: a checkpoint whose superblock write fails
// changes nothing, its audit of the log included. An installed checkpoint's Commit audits
// whatever the log holds (here ops 1-4, which the caller is about to replace), and left
// advanced after the failure it refused the replica's writes of the ops that checkpoint was
// to cover: the append of op 3 fail-stopped the replica ("append replaces a committed op",
// swarm seed 3018271252851913429).
func TestFailedCheckpointLeavesTheAuditAsItWas(t *testing.T) {
	d := newEngineDisk(t, 1, engineDiskOptions(16<<20))
	s := d.fill(faultOptions, 4, faultBody)
	before, head := s.AuditHead()
	d.disk.ArmWriteError("superblock", 0, math.MaxInt64)
	err := d.do(func(done func(error)) { s.InstallCheckpoint(4, []byte("a peer's state at 4"), done) })
	require.ErrorIs(t, err, storage.ErrIO, "the superblock write was to fail")
	require.True(t, d.disk.DisarmWriteError())
	after, headAfter := s.AuditHead()
	require.Equal(t, before, after, "the failed checkpoint left the audit advanced")
	require.Equal(t, head, headAfter)
	require.NoError(t, d.append(s, 3, faultBody(103)), "the replica's write of op 3, which the checkpoint was to cover")
	require.Equal(t, uint64(3), s.Head())
}
