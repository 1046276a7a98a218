package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLazyReplyEncodesAsRecorded checks that a reply a replica keeps unencoded (a backup's)
// is, when sent or checkpointed, the message Encode gave when it was recorded, and that the
// client table encodes (and sizes) the same either way, for a reply with a body and without.
func TestLazyReplyEncodesAsRecorded(t *testing.T) {
	h := sampleHeader()
	h.Command = CommandReply
	for _, body := range [][]byte{[]byte("result"), nil} {
		want := Encode(h, body)
		eager, lazy := newClientTable(4), newClientTable(4)
		eager.sessions[3] = &session{registered: 2, request: 9, reply: want}
		lazy.sessions[3] = &session{registered: 2, request: 9, replyHeader: h, replyBody: body, replyLazy: true}
		s := lazy.sessions[3]
		require.True(t, s.hasReply())
		require.Equal(t, len(want), s.replySize())
		require.Equal(t, eager.encodedSize(), lazy.encodedSize())
		require.Equal(t, eager.encode(), lazy.encode())
		require.Equal(t, want, s.replyMessage())
		require.False(t, s.replyLazy, "encoded once, then kept")
		require.Equal(t, want, s.replyMessage())
	}
	require.False(t, (&session{registered: 1}).hasReply())
	require.Nil(t, (&session{registered: 1}).replyMessage())
}
