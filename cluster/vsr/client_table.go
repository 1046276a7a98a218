package vsr

import (
	"encoding/binary"
	"errors"
	"slices"

	"vopr/internal/assert"
)

// clientTable is the VRR client table (VRR 2012 §4.1): for each client session, the number
// of its latest executed request and the reply to it, so that a retried request is answered
// from the table and never executed twice. It is part of the replicated state: every
// replica updates it when it executes an op, and it is saved in checkpoints, so that it
// survives view changes, crashes and state sync.
//
// Invariant: len(sessions) <= ClientsMax.
type clientTable struct {
	sessions map[uint64]*session
	capacity int // sessions kept before the oldest is evicted; the same on every replica
}

type session struct {
	// registered is the op that opened the session; the oldest session is evicted first.
	registered uint64
	request    uint32
	// reply is the reply message to request (replyMessage). A replica that does not send it
	// at once (a backup: every replica records the reply of every op it executes) keeps its
	// header and body instead, encoded only if it is ever sent or checkpointed.
	reply       []byte
	replyHeader Header
	replyBody   []byte
	replyLazy   bool // replyHeader and replyBody hold the reply, not yet encoded
}

// hasReply reports whether the session holds a reply to request.
func (s *session) hasReply() bool { return s.reply != nil || s.replyLazy }

// replyMessage returns the reply to request (nil if none), encoding it on first use: the
// same bytes Encode gave when it was recorded.
func (s *session) replyMessage() []byte {
	if s.replyLazy {
		s.reply, s.replyHeader, s.replyBody, s.replyLazy = Encode(s.replyHeader, s.replyBody), Header{}, nil, false
	}
	return s.reply
}

// replySize is len(replyMessage()), without encoding it.
func (s *session) replySize() int {
	if s.replyLazy {
		return HeaderSize + len(s.replyBody)
	}
	return len(s.reply)
}

func newClientTable(capacity int) clientTable {
	assert.That(capacity >= 1 && capacity <= ClientsMax, "client table capacity out of range")
	return clientTable{sessions: map[uint64]*session{}, capacity: capacity}
}

func (t *clientTable) get(client uint64) *session { return t.sessions[client] }

// register opens a session at op, evicting the oldest session when the table is full. It
// returns the evicted client and its session (the op that registered it), if any.
func (t *clientTable) register(client uint64, op uint64) (evicted, evictedSession uint64, ok bool) {
	if s := t.sessions[client]; s != nil {
		return 0, 0, false
	}
	if len(t.sessions) >= t.capacity {
		evicted = t.oldest()
		evictedSession = t.sessions[evicted].registered
		delete(t.sessions, evicted)
		ok = true
	}
	t.sessions[client] = &session{registered: op}
	assert.That(len(t.sessions) <= t.capacity, "client table over capacity")
	return evicted, evictedSession, ok
}

// oldest picks the session registered first; ties (impossible: one op registers one
// client per batch entry, but the same op may hold several) break by client id, so the
// choice never depends on map order.
func (t *clientTable) oldest() uint64 {
	var best uint64
	var bestSession *session
	for client, s := range t.sessions {
		if bestSession == nil || s.registered < bestSession.registered ||
			(s.registered == bestSession.registered && client < best) {
			best, bestSession = client, s
		}
	}
	assert.That(bestSession != nil, "oldest of an empty client table")
	return best
}

func (t *clientTable) sortedClients() []uint64 {
	clients := make([]uint64, 0, len(t.sessions))
	for c := range t.sessions {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	return clients
}

// encode returns the table's encoding (appendEncoded).
func (t *clientTable) encode() []byte { return t.appendEncoded(make([]byte, 0, t.encodedSize())) }

// encodedSize is the length of the table's encoding (appendEncoded).
func (t *clientTable) encodedSize() int {
	size := 4
	for _, s := range t.sessions {
		size += 24 + s.replySize()
	}
	return size
}

// appendEncoded appends the table's encoding to dst, in client order: count u32, then client
// u64, registered u64, request u32, reply size u32, reply. A checkpoint appends it to its
// buffer in place (encodedSize tells how much room to leave).
func (t *clientTable) appendEncoded(dst []byte) []byte {
	buf := binary.LittleEndian.AppendUint32(dst, uint32(len(t.sessions)))
	for _, c := range t.sortedClients() {
		s := t.sessions[c]
		buf = binary.LittleEndian.AppendUint64(buf, c)
		buf = binary.LittleEndian.AppendUint64(buf, s.registered)
		buf = binary.LittleEndian.AppendUint32(buf, s.request)
		reply := s.replyMessage()
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(reply)))
		buf = append(buf, reply...)
	}
	return buf
}

var errClientTable = errors.New("malformed client table")

func decodeClientTable(buf []byte, capacity int) (clientTable, error) {
	t := newClientTable(capacity)
	if len(buf) < 4 {
		return t, errClientTable
	}
	count := binary.LittleEndian.Uint32(buf)
	buf = buf[4:]
	if count > uint32(capacity) {
		return t, errClientTable
	}
	for i := uint32(0); i < count; i++ {
		if len(buf) < 24 {
			return t, errClientTable
		}
		c := binary.LittleEndian.Uint64(buf)
		s := &session{registered: binary.LittleEndian.Uint64(buf[8:]), request: binary.LittleEndian.Uint32(buf[16:])}
		size := binary.LittleEndian.Uint32(buf[20:])
		buf = buf[24:]
		if uint64(size) > uint64(len(buf)) || size > MessageSizeMax {
			return t, errClientTable
		}
		s.reply = append([]byte(nil), buf[:size]...)
		buf = buf[size:]
		t.sessions[c] = s
	}
	if len(buf) != 0 {
		return t, errClientTable
	}
	return t, nil
}
