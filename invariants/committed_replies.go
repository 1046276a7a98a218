package invariants

import (
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// NameCommittedReplies holds every reply a client takes for a key/value request to the
// committed history: the op the reply names is the one that executed that request of that
// client (the client table runs each request once, in request order, and a retry is
// answered with the reply of the op that ran it), and the result is what the state machine's
// rules give there, by this package's own model (kvShadow, replaying the canonical
// prepares).
//
// linearizable checks results against an order it may choose, one key at a time: it lets an
// indeterminate operation take effect after its client's next operation (up to that one's
// return), and takes StatusFull and a delete's StatusUnsupported wherever they leave the key
// unchanged, since one key cannot tell how many keys the map holds or which release it runs.
// acked_survive takes the op a reply names as the one to keep. Here the order is the
// committed one, so a map refusing keys it has room for, a delete refused after the upgrade
// committed, a client's requests run out of order or twice, or a reply naming another op
// than its request's are each a difference at one reply. After a restore or a failover
// rewound the history, or when the model stopped, nothing is checked.
const NameCommittedReplies = "committed_replies"

type committedReplies struct {
	model            *kvShadow
	checked, skipped uint64
}

// reply checks the reply h (body its result) that ended client's key/value request.
func (c *committedReplies) reply(atNs int64, client uint64, h vsr.Header, body []byte) *Violation {
	if h.Command != vsr.CommandReply || h.Operation != vsr.OperationKV {
		return nil
	}
	m := c.model
	if m.broken != "" || m.rewound || h.Op > m.applied {
		c.skipped++ // past the model's history: acked_survive reports an op nobody executed
		return nil
	}
	got, err := kv.DecodeResult(body)
	if err != nil {
		return nil // linearizable reports a reply that does not decode
	}
	c.checked++
	fail := func(format string, args ...any) *Violation {
		return violation(NameCommittedReplies, int(h.Replica), h.Op, h.View, atNs, format, args...)
	}
	ran, ok := m.replies[client]
	switch {
	case !ok:
		return fail("client %d's request %d was answered as executed at op %d, but the committed history "+
			"(to op %d) executed no key/value request of it", client, h.Request, h.Op, m.applied)
	case ran.request != h.Request || ran.op != h.Op:
		return fail("client %d's request %d was answered as executed at op %d, but the committed history "+
			"(to op %d) executed its request %d last, at op %d", client, h.Request, h.Op, m.applied, ran.request, ran.op)
	case ran.result != got:
		op := kv.Op{Kind: kv.KindGet} // describeOutput prints a value whatever the kind
		return fail("client %d's request %d at op %d was answered %s, but the committed history's execution "+
			"of it answers %s", client, h.Request, h.Op, describeOutput(op, kvOutput{known: true, result: got}),
			describeOutput(op, kvOutput{known: true, result: ran.result}))
	}
	return nil
}
