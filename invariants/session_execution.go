package invariants

import (
	"encoding/binary"
	"fmt"
	"slices"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// NameSessionExecution holds what the replicas executed for each client to the committed
// history, as this package's own model of the client table has it (kvShadow, replaying the
// canonical prepares): a key/value request runs only under the session it was sent under
// (the session a register opened, not evicted since), once, in request-number order; a
// request of a session that is gone (evicted, or re-created by a stale register) or a
// duplicate (a request prepared twice across a view change, a retry) is skipped; a newer
// register of a live session is answered with it. The client table is what records each
// execution: per session, the number of the latest request executed and the reply to it,
// the op that ran it and its result.
//
// So the first checkpoint a replica takes of op N must hold the model's client table after
// op N: the same clients and sessions, each at the same request, holding the reply of the
// op the model ran it at, naming the session, with the model's result. A request run twice
// (once more after its first reply, under the session a stale register re-created, or
// because a duplicate was not recognised) leaves its session at a later reply op or a later
// request number; a request of an evicted session run under a new one, a request number the
// model's session never reached. Replies are not enough: the client has moved on from the
// request (or was told its session was evicted, indeterminate to linearizable), and a
// re-executed write that leaves the state as it was shows in no key. After a restore or a
// failover rewound the history, or when the model stopped, nothing is checked.
//
// The table is decoded here from the layout (client_table.go appendEncoded), after the
// machine's snapshot (checkpoint_content): count u32, then per session, in client order,
// client u64, registered u64, request u32, reply size u32, reply message.
const NameSessionExecution = "session_execution"

type sessionExecution struct {
	model            *kvShadow
	checked, skipped uint64
}

// held checks the first snapshot taken of op.
func (c *sessionExecution) held(atNs int64, replica int, op uint64, snapshot []byte) *Violation {
	m := c.model
	if m.broken != "" || m.rewound || op > m.applied || op == 0 {
		c.skipped++
		return nil
	}
	want, ok := m.sessionsAt(op)
	if !ok {
		c.skipped++
		return nil
	}
	c.checked++
	if problem := tableDiffers(want, snapshot); problem != "" {
		return violation(NameSessionExecution, replica, op, 0, atNs,
			"its checkpoint of op %d %s (the committed history to op %d)", op, problem, m.applied)
	}
	return nil
}

// tableDiffers returns how the client table in a checkpoint snapshot differs from want, ""
// if it does not.
func tableDiffers(want map[uint64]shadowSession, snapshot []byte) string {
	le := binary.LittleEndian
	if len(snapshot) < vsr.HeaderSize+4 {
		return "is too short to hold a client table"
	}
	b := snapshot[vsr.HeaderSize:]
	size := uint64(le.Uint32(b))
	if size > uint64(len(b)-4) || len(b)-4-int(size) < 4 {
		return "holds no client table"
	}
	b = b[4+size:]
	count := le.Uint32(b)
	b = b[4:]
	seen := 0
	for i := uint32(0); i < count; i++ {
		if len(b) < 24 {
			return fmt.Sprintf("ends inside session %d of %d of its client table", i+1, count)
		}
		client, registered, request, n := le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:]), uint64(le.Uint32(b[20:]))
		b = b[24:]
		if n > uint64(len(b)) {
			return fmt.Sprintf("ends inside client %d's reply", client)
		}
		reply := b[:n]
		b = b[n:]
		s, ok := want[client]
		switch {
		case !ok:
			return fmt.Sprintf("holds session %d of client %d at request %d, but the history holds no session of it there",
				registered, client, request)
		case registered != s.registered:
			return fmt.Sprintf("holds session %d of client %d, but the history holds its session %d there",
				registered, client, s.registered)
		case request != s.request:
			return fmt.Sprintf("holds client %d's session %d at request %d, but the history executed its request %d "+
				"last (at op %d)", client, registered, request, s.request, s.replyOp)
		}
		if problem := replyDiffers(client, s, reply); problem != "" {
			return problem
		}
		seen++
	}
	if len(b) != 0 {
		return fmt.Sprintf("holds %d bytes past its client table", len(b))
	}
	if seen != len(want) {
		return fmt.Sprintf("holds %d sessions, but the history holds %d there (%s)", count, len(want), sessionList(want))
	}
	return ""
}

// replyDiffers compares the reply a table holds for client's session with the model's s.
func replyDiffers(client uint64, s shadowSession, reply []byte) string {
	if len(reply) < vsr.HeaderSize {
		return fmt.Sprintf("holds no reply to client %d's request %d", client, s.request)
	}
	// Checked against its own cluster id: a table is trusted bytes, this verifies the checksums.
	m, err := vsr.Decode(reply, binary.LittleEndian.Uint64(reply[64:]))
	if err != nil {
		return fmt.Sprintf("holds a reply to client %d that does not decode: %v", client, err)
	}
	h := m.Header
	if h.Command != vsr.CommandReply || h.Client != client || h.Request != s.request || h.Commit != s.registered {
		return fmt.Sprintf("holds for client %d's session %d request %d a %v of client %d, session %d, request %d",
			client, s.registered, s.request, h.Command, h.Client, h.Commit, h.Request)
	}
	if h.Op != s.replyOp || h.Operation != s.replyOperation {
		return fmt.Sprintf("holds client %d's request %d (session %d) as executed at op %d (%v), but the history "+
			"executed it at op %d (%v)", client, s.request, s.registered, h.Op, h.Operation, s.replyOp, s.replyOperation)
	}
	if h.Operation == vsr.OperationKV {
		got, err := kv.DecodeResult(m.Body)
		if err != nil || got != s.result {
			return fmt.Sprintf("holds client %d's request %d at op %d with a result other than the history's", client,
				s.request, h.Op)
		}
	}
	return ""
}

// sessionList names the model's sessions in client order.
func sessionList(want map[uint64]shadowSession) string {
	clients := make([]uint64, 0, len(want))
	for c := range want {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	out := ""
	for i, c := range clients {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("client %d session %d", c, want[c].registered)
	}
	return out
}
