package server

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"time"
)

// SendQueueMax bounds the messages queued for one connection.
const SendQueueMax = 1024

// writeTimeout bounds one write: a peer that stops reading (stopped, or its kernel buffer
// full) has its connection closed and redialled rather than hold a writer forever.
const writeTimeout = 5 * time.Second

// sendQueue is a bounded queue of whole messages for one connection. push never blocks:
// a message that finds the queue full is dropped.
type sendQueue struct {
	ch      chan []byte
	dropped atomic.Uint64
}

func newSendQueue() *sendQueue { return &sendQueue{ch: make(chan []byte, SendQueueMax)} }

// push queues msg, or drops it (and counts it) when the queue is full.
func (q *sendQueue) push(msg []byte) {
	select {
	case q.ch <- msg:
	default:
		q.dropped.Add(1)
	}
}

// discard drops everything queued (a connection that is down loses what was meant for it,
// as a network would; what the replica sends next is more useful than what it sent then).
func (q *sendQueue) discard() {
	for {
		select {
		case <-q.ch:
		default:
			return
		}
	}
}

// writeTo writes queued messages to conn until ctx is done or a write fails; it flushes
// whenever the queue runs empty.
func (q *sendQueue) writeTo(ctx context.Context, conn net.Conn) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg := <-q.ch:
			_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := w.Write(msg); err != nil {
				return err
			}
			if len(q.ch) == 0 {
				if err := w.Flush(); err != nil {
					return err
				}
			}
		}
	}
}
