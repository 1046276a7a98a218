package wire

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// QueueMax bounds the messages queued for one connection.
const QueueMax = 1024

// WriteTimeout bounds one write: a peer that stops reading (stopped, or its kernel buffer
// full) has its connection closed rather than hold a writer forever.
const WriteTimeout = 5 * time.Second

// Redial backoff: it doubles from BackoffMin to BackoffMax while dials or connections fail.
const (
	BackoffMin = 20 * time.Millisecond
	BackoffMax = 1 * time.Second
)

// Queue is a bounded queue of whole messages for one connection. Push never blocks: a
// message that finds the queue full is dropped and counted.
type Queue struct {
	ch      chan []byte
	dropped atomic.Uint64
}

// NewQueue returns an empty queue of QueueMax messages.
func NewQueue() *Queue { return &Queue{ch: make(chan []byte, QueueMax)} }

// Push queues msg, or drops it when the queue is full. The caller must not change msg
// afterwards.
func (q *Queue) Push(msg []byte) {
	select {
	case q.ch <- msg:
	default:
		q.dropped.Add(1)
	}
}

// Dropped counts the messages Push dropped.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Discard drops everything queued: a connection that is down loses what was meant for it,
// as a network would (what the sender sends next is more useful than what it sent then).
func (q *Queue) Discard() {
	for {
		select {
		case <-q.ch:
		default:
			return
		}
	}
}

// WriteTo writes queued messages to conn until ctx is done or a write fails, flushing
// whenever the queue runs empty.
func (q *Queue) WriteTo(ctx context.Context, conn net.Conn) error {
	w := bufio.NewWriterSize(conn, 64<<10)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg := <-q.ch:
			_ = conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
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

// Dialer keeps a connection to Addr open and writes Queue on it: it dials, sends Hello,
// writes queued messages until the connection fails, then waits with backoff and dials
// again, until the context of Run is done.
type Dialer struct {
	Addr    string
	Cluster uint64
	Hello   Hello
	Queue   *Queue
	// Read, if set, reads what the far side sends on the connection until it fails. If nil
	// the connection is write-only, and a read that returns means the far side closed it.
	Read func(io.Reader) error
	// Up runs when a connection is established; Down when a dial or a connection fails.
	Up   func()
	Down func(err error)
}

// Run keeps the connection up until ctx is done.
func (d *Dialer) Run(ctx context.Context) {
	backoff := BackoffMin
	for ctx.Err() == nil {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", d.Addr)
		if err == nil {
			backoff = BackoffMin
			if d.Up != nil {
				d.Up()
			}
			err = d.serve(ctx, conn)
			_ = conn.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if d.Down != nil {
			d.Down(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, BackoffMax)
	}
}

// serve writes the hello and then the queue, while a reader goroutine watches the far side;
// whichever stops first ends the connection.
func (d *Dialer) serve(ctx context.Context, conn net.Conn) error {
	_ = conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if err := WriteJSON(conn, d.Cluster, d.Hello); err != nil {
		return err
	}
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	go func() {
		defer cancel()
		if d.Read == nil {
			_, err := conn.Read(make([]byte, 1))
			readErr <- err
			return
		}
		readErr <- d.Read(bufio.NewReaderSize(conn, 64<<10))
	}()
	err := d.Queue.WriteTo(connCtx, conn)
	_ = conn.Close() // ends the reader, if the writer stopped first
	if rerr := <-readErr; ctx.Err() == nil && errors.Is(err, context.Canceled) {
		return rerr // the reader stopped first: its error says why
	}
	return err
}
