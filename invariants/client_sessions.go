package invariants

import (
	"fmt"

	"vopr/cluster/vsr"
)

// NameClientSessions holds the clients to the sessions the cluster's committed history
// gives them, as this package's own model of the client table has them (kvShadow, replaying
// the canonical prepares: a register opens a session named by its op unless the client has
// one, and the oldest registration is evicted when the table is full):
//
//   - a client that registers takes a session the history opened for it. A register retried
//     under a new request number (the first timed out, but ran) runs as an op of its own and
//     is answered with the existing session: a client that took the op of that reply for its
//     session would send every later request under a session the cluster never had, and be
//     evicted for ever. (The session need not be live: a reply delayed past the session's
//     eviction names it, and the client learns of the eviction from its next request; swarm
//     seed 2026780588.);
//   - a client gives up its session only on an eviction naming it. A late eviction of an
//     older session, or one answering a stale request of it, says nothing of the current
//     session: a client that took it would abandon a live session and the request in
//     flight, over and over when there are more clients than sessions. (An eviction naming
//     the session may still come from a deposed primary that never learnt of it, registered
//     in a view it missed: the client cannot tell, so it is not held against it; swarm seed
//     195.);
//   - an eviction naming the client's session comes only from the committed history: the
//     model's table still holding the session (no registration since evicted it) and the
//     eviction sent by a primary of the view that first executed the register, or a later
//     one (whose log holds the register), is a spurious eviction. A primary that knows the
//     register committed but has not executed it yet must not refuse the session.
//
// Both are invisible to linearizability (an evicted request is indeterminate) and mostly to
// liveness (the client registers again); what breaks is the client's contract, Evicted
// meaning that the cluster evicted the session. After a restore or a failover rewound the
// history, or when the model stopped, nothing is checked.
const NameClientSessions = "client_sessions"

type clientSessions struct {
	model            *kvShadow
	checked, skipped uint64
	stale            uint64 // evictions of a live session from a view older than its register's
	// evictionsChecked and evictionsSkipped count the evictions replicas sent (sent), held
	// to the model or not (the model stopped or rewound).
	evictionsChecked, evictionsSkipped uint64
	// early holds evictions naming an op past the committed history the model has seen: a
	// primary sends one while it executes the register that evicted (swarm seed 2042000048:
	// op 33's stale register reopened the session it evicted, named in the eviction before
	// the model applied op 33). Each is judged once the model reaches its op.
	early []earlyEviction
}

type earlyEviction struct {
	atNs int64
	from int
	h    vsr.Header
}

// earlyEvictionsMax bounds the evictions held for the model (a model stopped short of them
// leaves them unjudged, counted as skipped).
const earlyEvictionsMax = 64

// sent checks an eviction h that replica from sent to a client (every one, whether or not it
// ends a request): it must name a session the committed history opened for that client, by
// the model's table. A primary sends one when a register evicted the oldest session (naming
// the session the model's table evicted there, the op that registered it), or when a request
// came under a session its table does not hold (naming the session the request was sent
// under, which the client took from a register's reply). Either way the session is one a
// register of that client opened: an eviction naming any other op is ignored by the client
// (it never had that session), which keeps sending under a session the cluster dropped.
func (c *clientSessions) sent(atNs int64, from int, h vsr.Header) *Violation {
	if v := c.judgeEarly(); v != nil {
		return v
	}
	m := c.model
	if m.broken != "" || m.rewound || m.opened == nil {
		c.evictionsSkipped++
		return nil
	}
	if h.Commit > m.applied {
		if len(c.early) == earlyEvictionsMax {
			c.evictionsSkipped++
			return nil
		}
		c.early = append(c.early, earlyEviction{atNs: atNs, from: from, h: h})
		return nil
	}
	return c.judgeEviction(atNs, from, h)
}

// judgeEarly judges the held evictions whose op the model has reached (or drops them all if
// the model stopped or rewound).
func (c *clientSessions) judgeEarly() *Violation {
	m := c.model
	if len(c.early) == 0 {
		return nil
	}
	if m.broken != "" || m.rewound || m.opened == nil {
		c.evictionsSkipped += uint64(len(c.early))
		c.early = c.early[:0]
		return nil
	}
	kept := c.early[:0]
	var first *Violation
	for _, e := range c.early {
		if e.h.Commit > m.applied {
			kept = append(kept, e)
			continue
		}
		if v := c.judgeEviction(e.atNs, e.from, e.h); v != nil && first == nil {
			first = v
		}
	}
	c.early = kept
	return first
}

// judgeEviction holds an eviction naming an op the model has applied to the model's table.
func (c *clientSessions) judgeEviction(atNs int64, from int, h vsr.Header) *Violation {
	m := c.model
	c.evictionsChecked++
	if m.opened[[2]uint64{h.Client, h.Commit}] {
		return nil
	}
	held := "holds no session of it"
	if live := m.sessions[h.Client]; live != nil {
		held = fmt.Sprintf("holds its session %d", live.registered)
	}
	return violation(NameClientSessions, from, h.Op, h.View, atNs,
		"replica %d (epoch %d view %d) sent client %d an eviction naming session %d, but the committed history "+
			"(to op %d) opened no session of that client at op %d; its table %s", from, h.Epoch, h.View, h.Client,
		h.Commit, m.applied, h.Commit, held)
}

// answer checks the message h that ended client's request, the client's session before
// (the one the request was sent under) and after it took h.
func (c *clientSessions) answer(atNs int64, client, before, after uint64, h vsr.Header) *Violation {
	if v := c.judgeEarly(); v != nil {
		return v
	}
	m := c.model
	fail := func(format string, args ...any) *Violation {
		return violation(NameClientSessions, -1, h.Op, h.View, atNs, format, args...)
	}
	switch {
	case h.Operation == vsr.OperationReadStale:
		return nil // outside any session
	case h.Command == vsr.CommandEviction && before != 0 && after == 0:
		c.checked++
		if h.Commit != before {
			held := "no longer holds it"
			if s := m.sessions[client]; s != nil && s.registered == before {
				held = "still holds it"
			}
			return fail("client %d gave up its session %d on an eviction naming session %d; the committed history "+
				"(to op %d) %s", client, before, h.Commit, m.applied, held)
		}
		// The eviction names the session: the committed history must have evicted it. A
		// primary of a view from the one that first executed the register on holds the
		// register in its log; an older view's primary may never have learnt of it.
		s := m.sessions[client]
		if m.broken != "" || m.rewound || s == nil || s.registered != before {
			return nil
		}
		if h.Epoch < s.executedIn[0] || h.View < s.executedIn[1] {
			c.stale++
			return nil
		}
		return fail("client %d was told by replica %d (epoch %d view %d) that its session %d was evicted, but the "+
			"committed history (to op %d) still holds it: no registration since op %d evicted it, and the "+
			"register was executed in epoch %d view %d", client, h.Replica, h.Epoch, h.View, before, m.applied,
			before, s.executedIn[0], s.executedIn[1])
	case h.Command == vsr.CommandReply && before != after:
		if m.broken != "" || m.rewound {
			c.skipped++
			return nil
		}
		c.checked++
		if !m.opened[[2]uint64{client, after}] {
			held := "holds no session of it"
			if live := m.sessions[client]; live != nil {
				held = fmt.Sprintf("holds its session %d", live.registered)
			}
			return fail("client %d took session %d from the reply to its register (op %d), but the committed history "+
				"(to op %d) opened no session of it there; it %s", client, after, h.Op, m.applied, held)
		}
	}
	return nil
}
