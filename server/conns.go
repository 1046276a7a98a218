package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"vopr/cluster/vsr"
	"vopr/server/wire"
)

// helloTimeout bounds how long a new connection may take to say who it is.
const helloTimeout = 5 * time.Second

// eventKind names what a connection goroutine hands to the loop.
type eventKind int

const (
	eventMessage    eventKind = iota // a message for the replica
	eventClientUp                    // a client connected: route its replies to conn
	eventClientDown                  // that connection closed
	eventAdmin                       // an operator's request: answer on reply
	eventCall                        // run fn on the loop (a scrape reading the replica)
)

// event is the only thing that crosses from the connection goroutines to the loop.
type event struct {
	kind   eventKind
	msg    []byte
	client uint64
	conn   *clientConn
	req    wire.Request
	reply  chan wire.Response
	fn     func()
}

// clientConn is a client's connection: its replies are queued for its writer goroutine.
type clientConn struct {
	id    uint64
	queue *wire.Queue
}

// listen accepts connections on ln until ctx is done. clientsOnly refuses replica hellos
// (the separate client port).
func (s *Server) listen(ctx context.Context, ln net.Listener, clientsOnly bool) {
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Printf("accept on %s: %v", ln.Addr(), err)
			}
			return
		}
		go s.serveConn(ctx, conn, clientsOnly)
	}
}

// serveConn reads a connection's hello and then serves it until it closes or ctx is done.
func (s *Server) serveConn(ctx context.Context, conn net.Conn, clientsOnly bool) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	r := bufio.NewReaderSize(conn, 64<<10)
	var hello wire.Hello
	_ = conn.SetReadDeadline(time.Now().Add(helloTimeout))
	if err := wire.ReadJSON(r, s.cluster, &hello); err != nil {
		s.log.Printf("connection from %s: no hello: %v", conn.RemoteAddr(), err)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	var err error
	switch {
	case hello.Kind == wire.KindReplica && !clientsOnly && hello.Replica >= 0 && hello.Replica < len(s.members):
		err = s.readReplica(ctx, r)
	case hello.Kind == wire.KindClient && hello.Client != 0:
		err = s.serveClient(ctx, conn, r, hello.Client)
	case hello.Kind == wire.KindAdmin:
		err = s.serveAdmin(ctx, conn, r)
	default:
		err = fmt.Errorf("refused hello %+v", hello)
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		s.log.Printf("connection from %s (%s): %v", conn.RemoteAddr(), hello.Kind, err)
	}
}

// deliver hands an event to the loop, waiting while its inbox is full (the connection's
// reader stops reading: TCP's own flow control) unless ctx is done.
func (s *Server) deliver(ctx context.Context, ev event) error {
	select {
	case s.inbox <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readReplica passes every message a peer sends to the replica.
func (s *Server) readReplica(ctx context.Context, r io.Reader) error {
	for {
		msg, _, err := wire.ReadMessage(r, s.cluster)
		if err != nil {
			return err
		}
		if err := s.deliver(ctx, event{kind: eventMessage, msg: msg}); err != nil {
			return err
		}
	}
}

// serveClient registers the connection for the client's replies and passes its requests
// (and nothing else: a client has no business sending replica messages) to the replica.
func (s *Server) serveClient(ctx context.Context, conn net.Conn, r io.Reader, id uint64) error {
	cc := &clientConn{id: id, queue: wire.NewQueue()}
	if err := s.deliver(ctx, event{kind: eventClientUp, client: id, conn: cc}); err != nil {
		return err
	}
	writerCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = cc.queue.WriteTo(writerCtx, conn)
		_ = conn.Close()
	}()
	defer func() { _ = s.deliver(ctx, event{kind: eventClientDown, client: id, conn: cc}) }()
	for {
		msg, h, err := wire.ReadMessage(r, s.cluster)
		if err != nil {
			return err
		}
		if h.Command != vsr.CommandRequest || h.Client != id {
			continue
		}
		if err := s.deliver(ctx, event{kind: eventMessage, msg: msg}); err != nil {
			return err
		}
	}
}

// serveAdmin answers an operator's requests, one at a time, from the loop.
func (s *Server) serveAdmin(ctx context.Context, conn net.Conn, r io.Reader) error {
	for {
		var req wire.Request
		if err := wire.ReadJSON(r, s.cluster, &req); err != nil {
			return err
		}
		reply := make(chan wire.Response, 1)
		if err := s.deliver(ctx, event{kind: eventAdmin, req: req, reply: reply}); err != nil {
			return err
		}
		var resp wire.Response
		select {
		case resp = <-reply:
		case <-ctx.Done():
			return ctx.Err()
		}
		_ = conn.SetWriteDeadline(time.Now().Add(wire.WriteTimeout))
		if err := wire.WriteJSON(conn, s.cluster, resp); err != nil {
			return err
		}
		if len(resp.Data) > 0 {
			_ = conn.SetWriteDeadline(time.Now().Add(wire.WriteTimeout + time.Duration(len(resp.Data)>>20)*time.Second))
			if _, err := conn.Write(resp.Data); err != nil {
				return err
			}
		}
	}
}
