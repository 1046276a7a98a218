package scenarios

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// snapshotWithSessions builds a checkpoint snapshot in the replica's layout with the given
// sessions (client, registered op, request, reply).
func snapshotWithSessions(sessions ...[4]any) []byte {
	le := binary.LittleEndian
	buf := make([]byte, vsr.HeaderSize)
	buf = le.AppendUint32(buf, 3)
	buf = append(buf, "kv!"...)
	buf = le.AppendUint32(buf, uint32(len(sessions)))
	for _, s := range sessions {
		reply := s[3].([]byte)
		buf = le.AppendUint64(buf, s[0].(uint64))
		buf = le.AppendUint64(buf, s[1].(uint64))
		buf = le.AppendUint32(buf, s[2].(uint32))
		buf = le.AppendUint32(buf, uint32(len(reply)))
		buf = append(buf, reply...)
	}
	return buf
}

func replyMessage(client, registered uint64, request uint32) []byte {
	return vsr.Encode(vsr.Header{Cluster: 7, Command: vsr.CommandReply, Client: client, Request: request,
		Commit: registered, Op: 40}, []byte("result"))
}

// A table whose every session carries its latest reply passes; a session kept without its
// reply, or with another request's reply, is reported.
func TestCheckpointSessionsNeedTheirReplies(t *testing.T) {
	good := snapshotWithSessions([4]any{uint64(11), uint64(2), uint32(5), replyMessage(11, 2, 5)},
		[4]any{uint64(12), uint64(3), uint32(1), replyMessage(12, 3, 1)})
	require.Empty(t, sessionsWithoutReplies(good, 7))

	dropped := snapshotWithSessions([4]any{uint64(11), uint64(2), uint32(5), replyMessage(11, 2, 5)},
		[4]any{uint64(12), uint64(3), uint32(1), []byte{}})
	require.Contains(t, sessionsWithoutReplies(dropped, 7), "client 12's session (registered at op 3, latest request 1) without its reply")

	stale := snapshotWithSessions([4]any{uint64(11), uint64(2), uint32(5), replyMessage(11, 2, 4)})
	require.Contains(t, sessionsWithoutReplies(stale, 7), "with a reply for client 11, request 4, session 2 instead of its reply")

	require.Contains(t, sessionsWithoutReplies(good[:len(good)-3], 7), "ends inside the reply of client 12")
}

// The decoder reads the replica's real checkpoints: after 150 committed requests every
// replica holds a checkpoint whose sessions all carry their replies.
func TestCheckpointSessionsReadTheReplicasCheckpoints(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 3, seed: 9})
	tc.commitN(150, 20_000)
	for i := 0; i < 3; i++ {
		held := tc.Replica(i).InspectDisk()
		require.Positive(t, held.CheckpointOp, "replica %d", i)
		require.Empty(t, sessionsWithoutReplies(held.Checkpoint, tc.ClusterID()), "replica %d", i)
		sessions := binary.LittleEndian.Uint32(held.Checkpoint[vsr.HeaderSize+4+
			int(binary.LittleEndian.Uint32(held.Checkpoint[vsr.HeaderSize:])):])
		require.EqualValues(t, 3, sessions, "replica %d: one session per client", i)
	}
}
