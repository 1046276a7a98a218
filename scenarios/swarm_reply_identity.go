package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
)

// A reply tells its client where the cluster is: the view and epoch of the replica that
// answered, and the release it runs. The client routes its next request by them (client_routing.go
// holds it to the view a reply names), so a reply must name its sender as it is when it
// sends, a retry's answer from the client table included: that reply was recorded when the
// op executed, perhaps views or a configuration ago, and a stale view in it sends the client
// after a primary long gone. The swarm checks every reply a replica sends
// (checkReplyIdentity), decoded and checksummed as the client would.

// replyIdentityProblem is what is wrong with reply header h sent by replica from, whose state
// was st as it sent ("" if nothing).
func replyIdentityProblem(from int, h vsr.Header, st vsr.TraceState) string {
	switch {
	case h.View != st.View || h.Epoch != st.Epoch:
		return fmt.Sprintf("reply_identity: replica %d, in view %d of epoch %d, sent client %d a reply to request %d naming view %d of epoch %d",
			from, st.View, st.Epoch, h.Client, h.Request, h.View, h.Epoch)
	case h.Release != st.Release:
		return fmt.Sprintf("reply_identity: replica %d, running release %d, sent client %d a reply naming release %d",
			from, st.Release, h.Client, h.Release)
	}
	return ""
}

// onReplicaAnswer holds every reply a replica sends to replyIdentityProblem
// (sim.ClusterOptions.OnReplicaAnswer). A promoted standby's node is not its replica index,
// so the node is not compared with the header's replica.
func (run *swarmRun) onReplicaAnswer(from, _ int, msg []byte) {
	if command, ok := vsr.PeekCommand(msg); ok && command == vsr.CommandEviction && run.c != nil &&
		!run.outsider(from) && len(msg) >= vsr.HeaderSize {
		if h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], run.c.ClusterID()); err == nil {
			run.suite.OnEvictionSent(int64(run.c.Loop.Now()), from, h) // client_sessions
		}
		return
	}
	if command, ok := vsr.PeekCommand(msg); !ok || command != vsr.CommandReply || run.c == nil ||
		run.outsider(from) || run.broken != "" || len(msg) < vsr.HeaderSize {
		return
	}
	h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], run.c.ClusterID())
	r := run.c.Replica(from)
	if err != nil || r == nil {
		return
	}
	run.broken = replyIdentityProblem(from, h, r.TraceState())
	run.repliesChecked++
}
