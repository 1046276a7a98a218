package server

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/server/wire"
)

// TickInterval is the replica's tick: every 10 ms of the monotonic clock, as in the
// simulator (sim.TickInterval).
const TickInterval = 10 * time.Millisecond

// diskPollBatch bounds the disk operations run between two looks at the other events, so
// a stream of I/O never starves ticks and messages.
const diskPollBatch = 64

// closed is a channel that is always ready: the loop's "disk work pending" case.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// loop is the event loop: the only goroutine that calls the replica (Tick, Receive, and
// the completions of its disk operations, which osfs runs from Poll). It returns when ctx
// is done. A late tick is not made up: time.Ticker drops the ticks a slow loop missed.
func (s *Server) loop(ctx context.Context) {
	defer s.recordAssertionFailure()
	ticker := time.NewTicker(TickInterval)
	defer ticker.Stop()
	for {
		var disk chan struct{} // nil: never ready
		if s.fs.Pending() > 0 {
			disk = closed
		}
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			s.replica.Tick()
			s.commits.observe(now, s.replica.TraceState().CommitMax)
		case ev := <-s.inbox:
			s.handle(ev)
		case <-disk:
			for i := 0; i < diskPollBatch && s.fs.Poll(); i++ {
			}
		}
	}
}

func (s *Server) handle(ev event) {
	switch ev.kind {
	case eventMessage:
		s.replica.Receive(ev.msg)
	case eventClientUp:
		s.clients[ev.client] = ev.conn
	case eventClientDown:
		if s.clients[ev.client] == ev.conn {
			delete(s.clients, ev.client)
		}
	case eventAdmin:
		s.admin(ev.req, ev.reply)
	case eventCall:
		ev.fn()
	}
}

// onLoop runs fn on the loop and waits for it; false if ctx ends first (fn may still run).
func (s *Server) onLoop(ctx context.Context, fn func()) bool {
	done := make(chan struct{})
	if s.deliver(ctx, event{kind: eventCall, fn: func() { fn(); close(done) }}) != nil {
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// admin runs an operator's command against the replica, on the loop (ops.Serve, the
// simulator's Operator's code); the answer goes to reply, buffered, when the command
// completes (compact and export complete from a disk completion, later on the loop).
func (s *Server) admin(req wire.Request, reply chan<- wire.Response) {
	now := time.Now()
	host := ops.Host{Replica: s.cfg.Replica, DiskUsagePct: s.replica.DiskUsagePct(), RealtimeNs: now.UnixNano(),
		LagMs: s.commits.lag(now, s.replica.TraceState().CommitMin).Milliseconds(), ViewChanges: &s.viewChanges,
		ReplicaCount: s.count, StandbyCount: len(s.cfg.StandbyAddresses), StopReason: s.stopReason}
	ops.Serve(s.replica, host, req, func(result any, err error) {
		if err != nil {
			reply <- wire.Response{Error: err.Error()}
			return
		}
		b, err := json.Marshal(result)
		if err != nil {
			reply <- wire.Response{Error: err.Error()}
			return
		}
		resp := wire.Response{Result: b}
		if export, ok := result.(ops.ExportReport); ok {
			resp.Stream, resp.Data = int64(len(export.Backup)), export.Backup
		}
		reply <- resp
	})
}

// bus is the replica's vsr.Bus: it queues a copy of each message for its connection (the
// replica may keep and resend its own buffer) and never blocks.
type bus struct{ s *Server }

func (b bus) SendToReplica(replica int, msg []byte) {
	if replica < 0 || replica >= len(b.s.members) {
		return
	}
	msg = append([]byte(nil), msg...)
	if replica == b.s.cfg.Replica {
		select { // to itself: through the inbox, never inside the call that sent it
		case b.s.inbox <- event{kind: eventMessage, msg: msg}:
		default:
		}
		return
	}
	b.s.peers[replica].Push(msg)
}

func (b bus) SendToClient(client uint64, msg []byte) {
	if c, ok := b.s.clients[client]; ok {
		c.queue.Push(append([]byte(nil), msg...))
	}
}

// observer logs the replica's events that an operator wants to see (not every commit).
type observer struct{ s *Server }

func (o observer) Event(e vsr.Event) {
	o.s.viewChanges.Observe(time.Now().UnixNano(), e)
	if e.Kind == vsr.EventStatus && strings.HasPrefix(e.Text, "stopped:") {
		o.s.stopReason = e.Text
	}
	switch e.Kind {
	case vsr.EventCommit, vsr.EventVoteSelf, vsr.EventCheckpoint, vsr.EventRepair:
		return
	}
	o.s.log.Printf("replica %d: %s view=%d op=%d %s", e.Replica, e.Kind, e.View, e.Op, e.Text)
}
