package server

import (
	"context"
	"log"
	"net"
	"time"

	"vopr/server/wire"
)

// Redial backoff of a peer connection: it doubles from backoffMin to backoffMax.
const (
	backoffMin = 20 * time.Millisecond
	backoffMax = 1 * time.Second
)

// peer is the connection replica self keeps open to replica index at addr, for sending.
type peer struct {
	index   int
	addr    string
	cluster uint64
	self    int
	queue   *sendQueue
	log     *log.Logger
}

// run keeps the connection up until ctx is done: dial, hello, write the queue; on any
// failure drop what is queued, wait (with backoff) and dial again.
func (p *peer) run(ctx context.Context) {
	backoff := backoffMin
	wasUp := false
	for ctx.Err() == nil {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", p.addr)
		if err == nil {
			backoff = backoffMin
			if !wasUp {
				p.log.Printf("peer %d (%s): connected", p.index, p.addr)
			}
			wasUp = true
			err = p.serve(ctx, conn)
			_ = conn.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if wasUp {
			p.log.Printf("peer %d (%s): down: %v", p.index, p.addr, err)
			wasUp = false
		}
		p.queue.discard()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func (p *peer) serve(ctx context.Context, conn net.Conn) error {
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := wire.WriteJSON(conn, p.cluster, wire.Hello{Kind: wire.KindReplica, Replica: p.self}); err != nil {
		return err
	}
	// The peer never writes on this connection: a read returns only when it closes it (or
	// dies), which ends the writes at once instead of at the next failed one.
	done := make(chan struct{})
	defer close(done)
	go func() {
		_, _ = conn.Read(make([]byte, 1))
		select {
		case <-done:
		default:
			_ = conn.Close()
		}
	}()
	return p.queue.writeTo(ctx, conn)
}
