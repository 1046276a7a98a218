package remote

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/server/wire"
)

// Client is a session with a cluster of real servers. Do is safe to call from one
// goroutine at a time.
type Client struct {
	cluster uint64
	id      uint64
	queues  []*wire.Queue // the active replicas', then the standbys'
	active  int           // active replicas
	inbox   chan []byte
	calls   chan *call
	stop    context.CancelFunc
	done    chan struct{}
}

type call struct {
	ctx     context.Context
	payload []byte
	result  chan client.Result // buffered: the loop never waits on it
	// standby is the member index of the standby a stale read asks; -1 for a request
	// through the log.
	standby int
}

// NewClient starts a client of cluster with a random id, connected to every replica at
// addrs (index order). Close stops it.
func NewClient(cluster uint64, addrs []string) *Client {
	return NewClientWithStandbys(cluster, addrs, nil)
}

// NewClientWithStandbys is NewClient connected to the standbys at standbys too (standby k is
// member len(addrs)+k), so that ReadStale can ask them; requests through the log go to the
// active replicas only.
func NewClientWithStandbys(cluster uint64, addrs, standbys []string) *Client {
	var b [8]byte
	_, _ = crand.Read(b[:])
	id := binary.LittleEndian.Uint64(b[:]) | 1 // never 0
	ctx, stop := context.WithCancel(context.Background())
	c := &Client{cluster: cluster, id: id, active: len(addrs), inbox: make(chan []byte, 1024), calls: make(chan *call),
		stop: stop, done: make(chan struct{})}
	for _, addr := range append(append([]string(nil), addrs...), standbys...) {
		q := wire.NewQueue()
		c.queues = append(c.queues, q)
		d := &wire.Dialer{Addr: addr, Cluster: cluster, Queue: q,
			Hello: wire.Hello{Kind: wire.KindClient, Client: id}, Read: c.read(ctx),
			Down: func(error) { q.Discard() }}
		go d.Run(ctx)
	}
	go c.loop(ctx)
	return c
}

// ID returns the client's id.
func (c *Client) ID() uint64 { return c.id }

// Close stops the client's goroutines and connections.
func (c *Client) Close() {
	c.stop()
	<-c.done
}

// read passes every message a replica sends us to the loop.
func (c *Client) read(ctx context.Context) func(io.Reader) error {
	return func(r io.Reader) error {
		for {
			msg, _, err := wire.ReadMessage(r, c.cluster)
			if err != nil {
				return err
			}
			select {
			case c.inbox <- msg:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// loop owns the client library: ticks, replies and one call at a time.
func (c *Client) loop(ctx context.Context) {
	defer close(c.done)
	lib := client.New(client.Options{ID: c.id, Cluster: c.cluster, ReplicaCount: c.active,
		Send: func(replica int, msg []byte) { c.queues[replica].Push(append([]byte(nil), msg...)) }})
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	var current *call // the caller's request, submitted or waiting for the session
	submitted := false
	for {
		calls := c.calls
		if current != nil {
			calls = nil // one at a time
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			lib.Tick()
		case msg := <-c.inbox:
			lib.Receive(msg)
		case current = <-calls:
			submitted = false
		}
		if current != nil && !submitted && !lib.Busy() {
			if current.ctx.Err() != nil {
				current = nil // the caller gave up before it was sent: nothing ran
				continue
			}
			k := current
			done := func(r client.Result) {
				k.result <- r
				current, submitted = nil, false
			}
			if k.standby >= 0 {
				submitted = lib.ReadStale(k.standby, k.payload, done)
				continue
			}
			// Without a session, Submit registers first and returns false; we try again
			// once the registration is answered.
			submitted = lib.Submit(k.payload, done)
		}
	}
}

// ErrClosed: the client was closed.
var ErrClosed = errors.New("remote: client closed")

// Submit runs one encoded kv operation and returns the library's result: OK (it committed
// exactly once), Indeterminate (the library gave up: it may still commit) or Evicted. An
// error means ctx ended first; a request already sent may then still commit.
func (c *Client) Submit(ctx context.Context, payload []byte) (client.Result, error) {
	return c.submit(ctx, &call{ctx: ctx, payload: payload, result: make(chan client.Result, 1), standby: -1})
}

// submit hands call k to the loop and waits for its result.
func (c *Client) submit(ctx context.Context, k *call) (client.Result, error) {
	select {
	case c.calls <- k:
	case <-ctx.Done():
		return client.Result{}, ctx.Err()
	case <-c.done:
		return client.Result{}, ErrClosed
	}
	select {
	case r := <-k.result:
		return r, nil
	case <-ctx.Done():
		return client.Result{}, ctx.Err()
	case <-c.done:
		return client.Result{}, ErrClosed
	}
}

// Do runs op and decodes its result. Only an OK outcome returns a nil error; for the others
// the error says whether the operation may have run.
func (c *Client) Do(ctx context.Context, op kv.Op) (kv.Result, client.Result, error) {
	if err := kv.ValidateOp(op); err != nil {
		return kv.Result{}, client.Result{}, err
	}
	r, err := c.Submit(ctx, kv.EncodeOp(op))
	if err != nil {
		return kv.Result{}, r, fmt.Errorf("%w (the operation may still commit)", err)
	}
	if r.Outcome != client.OK {
		return kv.Result{}, r, fmt.Errorf("remote: %s: the operation may or may not have committed", r.Outcome)
	}
	res, err := kv.DecodeResult(r.Reply)
	return res, r, err
}

// ReadStale reads key from the standby at member index standby (len(addrs)+k for standby
// k) through client.ReadStale: the standby answers from the state it has executed, outside
// the log, and the result's Op is the op whose state it read (at most its commit number,
// possibly behind the cluster's). Only an answer returns a nil error; a standby that never
// answers (down, not in normal status, or throttled) is an error.
func (c *Client) ReadStale(ctx context.Context, standby int, key string) (kv.Result, client.Result, error) {
	op := kv.Op{Kind: kv.KindGet, Key: key}
	if err := kv.ValidateOp(op); err != nil {
		return kv.Result{}, client.Result{}, err
	}
	if standby < c.active || standby >= len(c.queues) {
		return kv.Result{}, client.Result{}, fmt.Errorf("remote: member %d is not one of the client's standbys (%d..%d)",
			standby, c.active, len(c.queues)-1)
	}
	r, err := c.submit(ctx, &call{ctx: ctx, payload: kv.EncodeOp(op), result: make(chan client.Result, 1), standby: standby})
	if err != nil {
		return kv.Result{}, r, err
	}
	if r.Outcome != client.OK {
		return kv.Result{}, r, fmt.Errorf("remote: stale read from member %d: %s (no answer: down, not in normal status or throttled)",
			standby, r.Outcome)
	}
	res, err := kv.DecodeResult(r.Reply)
	return res, r, err
}
