package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func TestReadMessageFramesBackToBack(t *testing.T) {
	a := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandCommit, Op: 3}, nil)
	b := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandPrepare, Op: 4}, []byte("body"))
	r := bytes.NewReader(append(append([]byte(nil), a...), b...))
	got, h, err := ReadMessage(r, 7)
	require.NoError(t, err)
	require.Equal(t, a, got)
	require.Equal(t, uint64(3), h.Op)
	got, _, err = ReadMessage(r, 7)
	require.NoError(t, err)
	require.Equal(t, b, got)
}

// A corrupt header or another cluster's message is a bad frame: its size is never trusted.
func TestReadMessageRefusesBadHeaders(t *testing.T) {
	msg := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandCommit}, nil)
	_, _, err := ReadMessage(bytes.NewReader(msg), 8)
	require.True(t, errors.Is(err, ErrFrame), "%v", err)
	corrupt := append([]byte(nil), msg...)
	corrupt[124] ^= 0xff // the size field
	_, _, err = ReadMessage(bytes.NewReader(corrupt), 7)
	require.True(t, errors.Is(err, ErrFrame), "%v", err)
}

func TestJSONFrames(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, 7, Hello{Kind: KindClient, Client: 99}))
	var h Hello
	require.NoError(t, ReadJSON(&buf, 7, &h))
	require.Equal(t, Hello{Kind: KindClient, Client: 99}, h)
	// A replica's message is not a server frame.
	prepare := vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandPrepare, Replica: 1}, []byte("{}"))
	require.True(t, errors.Is(DecodeJSON(prepare, 7, &h), ErrFrame))
}

// Push never blocks: past QueueMax it drops and counts.
func TestQueueDropsWhenFull(t *testing.T) {
	q := NewQueue()
	for i := 0; i < QueueMax+10; i++ {
		q.Push([]byte{byte(i)})
	}
	require.Equal(t, uint64(10), q.Dropped())
	q.Discard()
	q.Push([]byte{1})
	require.Equal(t, uint64(10), q.Dropped())
}
