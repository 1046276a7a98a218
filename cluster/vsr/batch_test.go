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

// TestBatchRoundTripsUpToItsLimit: a batch of every size from empty to BatchEntriesMax
// decodes to the entries it was encoded from, and one entry more is refused. A primary with
// a full request queue prepares a batch of exactly the limit; refusing it (a bound off by
// one) crashed every replica that executed it, again at each restart.
func TestBatchRoundTripsUpToItsLimit(t *testing.T) {
	var entries []batchEntry
	for n := 0; n <= BatchEntriesMax+1; n++ {
		decoded, err := decodeBatch(encodeBatch(entries))
		if n > BatchEntriesMax {
			require.Error(t, err, "a batch of %d entries (limit %d)", n, BatchEntriesMax)
			break
		}
		require.NoError(t, err, "a batch of %d entries", n)
		require.Len(t, decoded, n)
		for i, e := range decoded {
			require.Equal(t, entries[i].Client, e.Client, "entry %d of %d", i, n)
			require.Equal(t, entries[i].Request, e.Request, "entry %d of %d", i, n)
			require.True(t, bytes.Equal(entries[i].Payload, e.Payload), "entry %d of %d", i, n)
		}
		entries = append(entries, batchEntry{Client: uint64(n + 1), Session: uint64(n + 1), Request: uint32(n + 2),
			Operation: OperationKV, Payload: []byte{byte(n), 'v'}})
	}
}
