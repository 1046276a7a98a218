// Package wire frames the replica's messages on a TCP stream and defines the few frames the
// server adds around them: the hello that opens every connection and the control frames
// of the operator's commands.
//
// Framing. A stream carries whole messages back to back, each exactly as vsr.Encode built
// it: the 136-byte header, whose Size field gives the length of header and body. A reader
// checks the header's checksum and cluster before it trusts Size (vsr.DecodeHeader), so a
// corrupt or foreign stream is closed rather than read as a huge allocation. The body is
// checked by whoever decodes the whole message (the replica, the client library).
//
// Hello. The first frame on every connection says who is calling: a replica (its index:
// the frames that follow are for the replica's bus), a client (its id: replies to that
// client go back on this connection) or an operator (admin: control frames follow). A
// hello is a ping addressed from no replica (Replica = NoReplica) whose body is JSON. The
// server consumes it; the replica never sees it, and would drop it if it did (no replica
// has that index).
//
// Control frames carry the operator's requests and the server's answers, as JSON bodies in
// the same kind of ping, so that they are checksummed like everything else.
//
// Connections (conn.go). Queue is a connection's bounded send queue: Push never blocks and
// drops a message that finds it full. Dialer keeps an outgoing connection up, redialling
// with backoff, and writes its queue on it; the server's peers and the remote client both
// use it.
//
// Imports allowed: the standard library, vopr/cluster/vsr.
package wire
