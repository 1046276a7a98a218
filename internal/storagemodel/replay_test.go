package storagemodel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReplaysFromFormat: a checkpoint of the log's own replays from op 0 when the acknowledged
// bodies chain to its audit head; not when the head stored differs, an op is disowned, the log
// runs past opsMax, or the checkpoint was installed from a peer.
func TestReplaysFromFormat(t *testing.T) {
	build := func(install bool) *Model {
		m := New(1)
		var bodies [][]byte
		for op := uint64(1); op <= 6; op++ {
			b := []byte{byte(op), 'x'}
			bodies = append(bodies, b)
			m.Acknowledged(Step{Kind: Append, Op: op, Body: b}, [32]byte{})
		}
		kind := Checkpoint
		if install {
			kind = Install
		}
		m.Acknowledged(Step{Kind: kind, Op: 5, Snapshot: []byte("s")}, AuditChain([32]byte{}, 0, bodies[:5]))
		return m
	}
	require.True(t, build(false).ReplaysFromFormat(5, 64))
	require.False(t, build(false).ReplaysFromFormat(5, 5), "head 6 past opsMax")
	require.False(t, build(false).ReplaysFromFormat(4, 64), "not the current checkpoint")
	require.False(t, build(true).ReplaysFromFormat(5, 64), "installed over ops 1-5 this log never audited")
	m := build(false)
	m.Disowned[3] = true
	require.False(t, m.ReplaysFromFormat(5, 64))
	m = build(false)
	m.Audits[5] = [32]byte{1}
	require.False(t, m.ReplaysFromFormat(5, 64), "the stored head is another history's")
}
