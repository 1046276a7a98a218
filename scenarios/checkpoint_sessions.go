package scenarios

import (
	"encoding/binary"
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A checkpoint answers retries. The client table is replicated state (VRR 2012 section 4.1):
// for each session the latest request executed and the reply to it, so that a client whose
// reply was lost gets it again, even from a replica that restarted from a checkpoint or
// installed one by state sync since. A checkpoint whose table keeps the request number but
// not the reply leaves such a retry unanswered forever (the request is never executed
// again), a loss no safety checker sees and that the swarm reaches only when a reply is
// lost across a restart. So every checkpoint a replica takes is read back as it holds it
// (vsr.Replica.InspectDisk, the bytes it wrote), and each session in it must carry the
// reply to its latest request: a reply message to that client, for that request, naming
// the session.
//
// The snapshot is decoded here, independently of the replica (replica_open.go snapshot):
// the header of the checkpoint's prepare, the state machine's snapshot (u32 size, bytes),
// then the client table: count u32, then per session client u64, registered op u64,
// request u32, reply size u32, reply.

// checkpointJustTaken returns the snapshot of the checkpoint a replica just took (e is its
// EventCheckpoint) as the replica holds it, nil if it holds another one by now or none.
func checkpointJustTaken(c *sim.Cluster, e vsr.Event) []byte {
	if e.Kind != vsr.EventCheckpoint {
		return nil
	}
	r := c.Replica(e.Replica)
	if r == nil {
		return nil
	}
	held := r.InspectCheckpoint() // the prepares are not read here
	if held.CheckpointOp != e.Op {
		return nil
	}
	return held.Checkpoint
}

// checkCheckpointSessions returns a violation message if the checkpoint a replica just took
// (snapshot, from checkpointJustTaken) holds a session without the reply to its latest request.
func checkCheckpointSessions(c *sim.Cluster, e vsr.Event, snapshot []byte) string {
	if problem := sessionsWithoutReplies(snapshot, c.ClusterID()); problem != "" {
		return fmt.Sprintf("checkpoint sessions: replica %d's checkpoint of op %d %s", e.Replica, e.Op, problem)
	}
	return ""
}

// sessionsWithoutReplies returns what is wrong with the client table of a checkpoint
// snapshot, "" if every session carries the reply to its latest request.
func sessionsWithoutReplies(snapshot []byte, cluster uint64) string {
	le := binary.LittleEndian
	if len(snapshot) < vsr.HeaderSize+4 {
		return "is too short to hold a snapshot"
	}
	b := snapshot[vsr.HeaderSize:]
	size := uint64(le.Uint32(b))
	if size > uint64(len(b)-4) || len(b)-4-int(size) < 4 {
		return "has no client table after its state"
	}
	b = b[4+size:]
	count := le.Uint32(b)
	b = b[4:]
	for i := uint32(0); i < count; i++ {
		if len(b) < 24 {
			return fmt.Sprintf("ends inside session %d of %d", i+1, count)
		}
		client, registered, request := le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:])
		n := uint64(le.Uint32(b[20:]))
		if n > uint64(len(b)-24) {
			return fmt.Sprintf("ends inside the reply of client %d", client)
		}
		reply := b[24 : 24+n]
		b = b[24+n:]
		if problem := replyFor(reply, cluster, client, registered, request); problem != "" {
			return fmt.Sprintf("holds client %d's session (registered at op %d, latest request %d) %s: a retry "+
				"of that request after a restart or a state sync is never answered", client, registered, request, problem)
		}
	}
	return ""
}

// replyFor says what keeps reply from being the answer to the session's latest request.
func replyFor(reply []byte, cluster, client, registered uint64, request uint32) string {
	if len(reply) == 0 {
		return "without its reply"
	}
	m, err := vsr.Decode(reply, cluster)
	switch {
	case err != nil:
		return fmt.Sprintf("with a reply that does not decode (%v)", err)
	case m.Header.Command != vsr.CommandReply || m.Header.Client != client || m.Header.Request != request ||
		m.Header.Commit != registered:
		return fmt.Sprintf("with a %s for client %d, request %d, session %d instead of its reply",
			m.Header.Command, m.Header.Client, m.Header.Request, m.Header.Commit)
	}
	return ""
}
