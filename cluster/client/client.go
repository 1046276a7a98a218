package client

import (
	"vopr/cluster/vsr"
	"vopr/internal/assert"
)

// Outcome is what became of a request.
type Outcome int

const (
	// OK: the reply arrived; the operation committed exactly once.
	OK Outcome = iota
	// Indeterminate: the client gave up waiting; the operation may or may not commit.
	Indeterminate
	// Evicted: the cluster evicted the session. The request in flight may or may not have
	// run (it may have executed before the eviction, its reply lost); nothing more will run
	// under the session, and the client must register again.
	Evicted
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Indeterminate:
		return "indeterminate"
	}
	return "evicted"
}

// Result reports a request's outcome. Reply is the state machine's result on OK.
type Result struct {
	Outcome Outcome
	Reply   []byte
	Op      uint64
	View    uint32
}

// Options construct a client.
type Options struct {
	ID           uint64 // non-zero, unique in the cluster
	Cluster      uint64
	ReplicaCount int
	// Outside is the cluster's configuration as formatted: slots that are not members
	// (vsr reconfig.go). Replies name later ones.
	Outside uint16
	Send    func(replica int, msg []byte)
	// RetryTicks is how long to wait for a reply before sending again (to the next replica).
	RetryTicks int
	// AttemptsMax is how many sends a request gets before it is reported indeterminate.
	AttemptsMax int
}

// Client has at most one request in flight, as the replicas' client table requires.
type Client struct {
	options    Options
	registered bool
	session    uint64 // the op that registered our session: sent with every request
	request    uint32
	reads      uint32 // stale reads sent (their own numbering: they are outside the session)
	// readFloor is, per standby, the op of the newest state the client read there: a
	// standby serves the client nothing older (monotonic reads, even across its restarts).
	readFloor map[int]uint64
	primary   int // the replica we believe is primary
	// epoch and outside are the newest configuration a reply named (vsr reconfig.go): the
	// primary of a view is one of its active members.
	epoch    uint32
	outside  uint16
	inflight *pending
}

type pending struct {
	header   vsr.Header
	payload  []byte
	msg      []byte
	ticks    int
	attempts int
	done     func(Result)
	// standby, for a stale read, is the replica asked (every retry goes to it); -1 else.
	standby int
}

// New returns a client with no session; the first Submit registers one.
func New(o Options) *Client {
	assert.That(o.ID != 0, "client id 0 is reserved")
	assert.That(o.ReplicaCount >= 1 && o.Send != nil, "client: bad options")
	if o.RetryTicks == 0 {
		o.RetryTicks = 30
	}
	if o.AttemptsMax == 0 {
		o.AttemptsMax = 20
	}
	return &Client{options: o, outside: o.Outside}
}

// Reconfigure tells the client the cluster now has count active replicas (a failover or a
// reconfiguration): it looks for the primary among them from the first.
func (c *Client) Reconfigure(count int) {
	assert.That(count >= 1, "client: no replicas")
	c.options.ReplicaCount, c.primary, c.outside = count, 0, 0
}

// Busy reports whether a request is in flight.
func (c *Client) Busy() bool { return c.inflight != nil }

// Registered reports whether the client has a session.
func (c *Client) Registered() bool { return c.registered }

// Session is the op that registered the client's session, sent with every request (0 with
// no session).
func (c *Client) Session() uint64 { return c.session }

// Submit sends a key/value operation (encoded by package kv). It returns false if a request
// is already in flight. Without a session, it registers first; done runs once, from Receive
// or Tick.
func (c *Client) Submit(payload []byte, done func(Result)) bool {
	if c.inflight != nil {
		return false
	}
	if !c.registered {
		c.send(vsr.OperationRegister, nil, func(r Result) {
			if r.Outcome == OK {
				c.registered = true
			}
		})
		return false
	}
	c.send(vsr.OperationKV, payload, done)
	return true
}

func (c *Client) send(operation vsr.Operation, payload []byte, done func(Result)) {
	c.request++
	// Op carries the session, so that the request never runs under a session other than the
	// one it was numbered in.
	h := vsr.Header{Cluster: c.options.Cluster, Client: c.options.ID, Request: c.request,
		Command: vsr.CommandRequest, Operation: operation, Op: c.session}
	c.inflight = &pending{header: h, payload: payload, msg: vsr.Encode(h, payload), done: done, standby: -1}
	c.options.Send(c.primary, c.inflight.msg)
	c.inflight.attempts = 1
}

// ReadStale sends a get (encoded by package kv) to standby, which answers from the state it
// has executed, outside the log: the result's Op is the op whose state it read, which may be
// behind the cluster's. It needs no session. It returns false if a request is in flight;
// done runs once, from Receive or Tick (Indeterminate when the standby never answers).
func (c *Client) ReadStale(standby int, payload []byte, done func(Result)) bool {
	if c.inflight != nil {
		return false
	}
	c.reads++
	h := vsr.Header{Cluster: c.options.Cluster, Client: c.options.ID, Request: c.reads,
		Command: vsr.CommandRequest, Operation: vsr.OperationReadStale, Commit: c.readFloor[standby]}
	c.inflight = &pending{header: h, payload: payload, msg: vsr.Encode(h, payload), done: done,
		standby: standby, attempts: 1}
	c.options.Send(standby, c.inflight.msg)
	return true
}

// Tick retries the request in flight against the next replica, and gives up after
// AttemptsMax sends.
func (c *Client) Tick() {
	p := c.inflight
	if p == nil {
		return
	}
	p.ticks++
	if p.ticks < c.options.RetryTicks {
		return
	}
	p.ticks = 0
	if p.attempts >= c.options.AttemptsMax {
		c.finish(Result{Outcome: Indeterminate})
		return
	}
	p.attempts++
	if p.standby >= 0 {
		c.options.Send(p.standby, p.msg)
		return
	}
	// Every slot in turn, members or not as far as we know: the configuration may have
	// changed since our last reply, and a slot we think outside may be the only member
	// left (swarm seed 59: clients that knew slot 2 as a spare never reached it, the
	// cluster's last replica).
	c.primary = (c.primary + 1) % c.options.ReplicaCount
	c.options.Send(c.primary, p.msg)
}

// Receive handles a reply or an eviction; anything else, or a reply to another request, is
// ignored.
func (c *Client) Receive(buf []byte) {
	m, err := vsr.Decode(buf, c.options.Cluster)
	if err != nil || c.inflight == nil || m.Header.Client != c.options.ID {
		return
	}
	switch m.Header.Command {
	case vsr.CommandReply:
		stale := c.inflight.header.Operation == vsr.OperationReadStale
		if m.Header.Request != c.inflight.header.Request || stale != (m.Header.Operation == vsr.OperationReadStale) {
			return
		}
		if stale {
			if c.readFloor == nil {
				c.readFloor = map[int]uint64{}
			}
			c.readFloor[c.inflight.standby] = max(c.readFloor[c.inflight.standby], m.Header.Op)
			c.finish(Result{Outcome: OK, Reply: m.Body, Op: m.Header.Op, View: m.Header.View})
			return
		}
		// A configuration that leaves none of our slots active is not one we address: a
		// reply of the configuration a failover replaced (Reconfigure), delivered late. Its
		// membership over our slots would have no primary (PrimaryIndex's assertion).
		slots := uint16(1)<<uint(c.options.ReplicaCount) - 1
		if outside := m.Header.Outside & slots; m.Header.Epoch > c.epoch && outside != slots {
			c.epoch, c.outside = m.Header.Epoch, outside
		}
		c.primary = vsr.PrimaryIndex(m.Header.View, c.options.ReplicaCount, c.outside)
		if c.inflight.header.Operation == vsr.OperationRegister {
			c.session = m.Header.Commit // the reply names the session
		}
		c.finish(Result{Outcome: OK, Reply: m.Body, Op: m.Header.Op, View: m.Header.View})
	case vsr.CommandEviction:
		// Only an eviction of our current session counts: one of an older session (late, or
		// answering a request of that session) says nothing of the registration in flight or
		// of the session it opened.
		if !c.registered || m.Header.Commit != c.session {
			return
		}
		c.registered, c.session = false, 0
		c.finish(Result{Outcome: Evicted})
	}
}

func (c *Client) finish(r Result) {
	p := c.inflight
	c.inflight = nil
	if p.done != nil {
		p.done(r)
	}
}
