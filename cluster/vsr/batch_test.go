package vsr

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecodeBatchValidatesOperations: a batch entry must name an operation the replica can
// execute, and an upgrade entry must be the primary's own (client 0) with a 4-byte release.
func TestDecodeBatchValidatesOperations(t *testing.T) {
	upgrade := batchEntry{Operation: OperationUpgrade, Payload: binary.LittleEndian.AppendUint32(nil, 2)}
	entries, err := decodeBatch(encodeBatch([]batchEntry{upgrade}))
	require.NoError(t, err)
	release, ok := upgradeRelease(entries)
	require.True(t, ok)
	require.Equal(t, uint32(2), release)
	for name, bad := range map[string]batchEntry{
		"unknown operation":       {Client: 1, Operation: OperationUpgrade + 1},
		"none":                    {Client: 1, Operation: OperationNone},
		"upgrade from a client":   {Client: 1, Operation: OperationUpgrade, Payload: upgrade.Payload},
		"upgrade without release": {Operation: OperationUpgrade},
	} {
		_, err := decodeBatch(encodeBatch([]batchEntry{bad}))
		require.ErrorIs(t, err, errBatch, name)
	}
}

// FuzzDecodeBatch: decodeBatch never panics, and what it accepts encodes back to the same
// bytes.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch([]batchEntry{{Client: 1, Session: 2, Request: 3, Operation: OperationKV, Payload: []byte("op")}}))
	f.Add(encodeBatch([]batchEntry{{Operation: OperationUpgrade, Payload: []byte{2, 0, 0, 0}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeBatch(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeBatch(entries), b) {
			t.Fatal("decode/encode is not the identity on valid batches")
		}
	})
}
