package sim

import (
	"strconv"
	"strings"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// What the trace says about the database beyond the records it hashes, for a reader of
// --log short/full and for the picture of a run: decoded messages (Network.Describe), a
// status line of every replica whenever one changes, and the clients' requests, retries,
// replies and evictions. All of it is notes and details (Trace.Note, Record.Detail): derived
// from the run, never hashed, built only when someone reads them. So the log level never
// changes the trace hash.

// ReplicaLine is one replica in a status line; a "status" note carries []ReplicaLine.
type ReplicaLine struct {
	Replica int
	Node    NodeStatus
	// State is meaningful while the node runs a replica (not crashed).
	State vsr.TraceState
	Up    bool // a replica process exists (the node is up or paused)
}

func (l ReplicaLine) String() string {
	name := "R" + strconv.Itoa(l.Replica)
	if !l.Up {
		return name + " " + l.Node.String()
	}
	s := l.State
	b := []byte(name)
	if l.Node == NodePaused {
		b = append(b, " paused"...)
	}
	b = append(b, ' ')
	b = append(b, s.Status.String()...)
	b = append(b, ' ')
	b = append(b, s.Role.String()...)
	b = append(b, " v"...)
	b = strconv.AppendUint(b, uint64(s.View), 10)
	b = append(b, " op="...)
	b = strconv.AppendUint(b, s.Op, 10)
	b = append(b, " commit="...)
	b = strconv.AppendUint(b, s.CommitMin, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, s.CommitMax, 10)
	b = append(b, " ckpt="...)
	b = strconv.AppendUint(b, s.Checkpoint, 10)
	return string(b)
}

// ReplicaLines reads every replica's status line state.
func (c *Cluster) ReplicaLines() []ReplicaLine {
	lines := make([]ReplicaLine, c.MemberCount())
	for i := range lines {
		lines[i] = ReplicaLine{Replica: i, Node: c.Nodes[i].Status()}
		if r := c.replicas[i]; r != nil && lines[i].Node != NodeCrashed {
			lines[i].Up, lines[i].State = true, r.TraceState()
		}
	}
	return lines
}

// noteStatus prints the status line of every replica if any replica's changed since the
// last one (TigerBeetle's VOPR prints such a line per state change).
func (c *Cluster) noteStatus() {
	if !c.Trace.Wants(LevelShort) {
		return
	}
	lines := c.ReplicaLines()
	if equalLines(lines, c.traceLines) {
		return
	}
	c.traceLines = lines
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = l.String()
	}
	c.Trace.Note(LevelShort, -1, "status", strings.Join(parts, " | "), lines)
}

func equalLines(a, b []ReplicaLine) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// describeMessage reads a message for the trace: its command, view, op, commit, sender and
// checksum prefix, and for client messages the client and request number. A message that
// does not decode (a corrupted copy) says why.
func describeMessage(cluster uint64) func(msg []byte) string {
	return func(msg []byte) string {
		m, err := vsr.Decode(msg, cluster)
		if err != nil {
			command, _ := vsr.PeekCommand(msg)
			return "[" + command.String() + "? undecodable: " + err.Error() + "]"
		}
		return "[" + describeHeader(m.Header) + "]"
	}
}

func describeHeader(h vsr.Header) string {
	b := []byte(h.Command.String())
	switch h.Command {
	case vsr.CommandRequest, vsr.CommandReply, vsr.CommandEviction:
		b = append(b, " client="...)
		b = strconv.AppendUint(b, h.Client, 10)
		b = append(b, " req="...)
		b = strconv.AppendUint(b, uint64(h.Request), 10)
	}
	b = append(b, " v="...)
	b = strconv.AppendUint(b, uint64(h.View), 10)
	if h.Command == vsr.CommandDoViewChange || h.Command == vsr.CommandStartView {
		b = append(b, " log_view="...)
		b = strconv.AppendUint(b, uint64(h.LogView), 10)
	}
	b = append(b, " op="...)
	b = strconv.AppendUint(b, h.Op, 10)
	b = append(b, " commit="...)
	b = strconv.AppendUint(b, h.Commit, 10)
	b = append(b, " replica="...)
	b = strconv.AppendUint(b, uint64(h.Replica), 10)
	b = append(b, " checksum="...)
	sum := strconv.FormatUint(h.Checksum.Low64(), 16)
	sum = strings.Repeat("0", 16-len(sum)) + sum
	b = append(b, sum[:8]...)
	return string(b)
}

// clientTrace follows one client's request in flight for the trace.
type clientTrace struct {
	request  uint32
	attempts int
	inflight bool
}

// noteClientSend notes a client's request as it leaves: a new request with its number and
// operation, or a retry of the one in flight (its reply timed out).
func (c *Cluster) noteClientSend(i, replica int, msg []byte) {
	if !c.Trace.Wants(LevelShort) {
		return
	}
	m, err := vsr.Decode(msg, c.options.ClusterID)
	if err != nil {
		return
	}
	st := &c.clientTraces[i]
	node := c.ClientNode(i)
	if st.inflight && m.Header.Request == st.request {
		st.attempts++
		c.Trace.Note(LevelShort, node, "client", "c"+strconv.Itoa(i+1)+" timeout: no reply to req="+
			strconv.FormatUint(uint64(st.request), 10)+"; retry "+strconv.Itoa(st.attempts)+" -> r"+strconv.Itoa(replica), nil)
		return
	}
	*st = clientTrace{request: m.Header.Request, attempts: 1, inflight: true}
	c.Trace.Note(LevelShort, node, "client", "c"+strconv.Itoa(i+1)+" request req="+
		strconv.FormatUint(uint64(m.Header.Request), 10)+" "+describeOperation(m)+" -> r"+strconv.Itoa(replica), nil)
}

func describeOperation(m vsr.Message) string {
	switch m.Header.Operation {
	case vsr.OperationRegister:
		return "register"
	case vsr.OperationKV:
		op, err := kv.DecodeOp(m.Body)
		if err != nil {
			return "kv(undecodable)"
		}
		s := op.Kind.String() + " " + op.Key
		if op.Value != "" {
			s += "=" + op.Value
		}
		return s
	}
	return "operation(" + strconv.Itoa(int(m.Header.Operation)) + ")"
}

// noteClientDone notes the end of a client's request: a reply or an eviction received
// (msg), or, with msg nil, the client giving up (indeterminate).
func (c *Cluster) noteClientDone(i, from int, msg []byte) {
	if !c.Trace.Wants(LevelShort) {
		return
	}
	st := &c.clientTraces[i]
	st.inflight = false
	who := "c" + strconv.Itoa(i+1)
	req := strconv.FormatUint(uint64(st.request), 10)
	node := c.ClientNode(i)
	if msg == nil {
		c.Trace.Note(LevelShort, node, "client", who+" gave up on req="+req+" after "+strconv.Itoa(st.attempts)+
			" attempt(s): indeterminate", nil)
		return
	}
	m, err := vsr.Decode(msg, c.options.ClusterID)
	if err != nil {
		return
	}
	if m.Header.Command == vsr.CommandEviction {
		c.Trace.Note(LevelShort, node, "client", who+" evicted by r"+strconv.Itoa(from)+" (req="+req+" indeterminate)", nil)
		return
	}
	c.Trace.Note(LevelShort, node, "client", who+" reply req="+req+" op="+strconv.FormatUint(m.Header.Op, 10)+" v="+
		strconv.FormatUint(uint64(m.Header.View), 10)+" from r"+strconv.Itoa(from), nil)
}

// NoteOnChange notes text under key only when gist differs from the last gist noted under
// that key: for what a harness polls every tick (an operator's status query).
func (c *Cluster) NoteOnChange(level Level, node int, kind, key, gist, text string) {
	if !c.Trace.Wants(level) {
		return
	}
	if c.lastGists == nil {
		c.lastGists = map[string]string{}
	}
	if last, ok := c.lastGists[key]; ok && last == gist {
		return
	}
	c.lastGists[key] = gist
	c.Trace.Note(level, node, kind, text, nil)
}
