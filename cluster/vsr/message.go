package vsr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// HeaderSize is the fixed size of every message header on the wire and in the log.
const HeaderSize = 136

// MessageSizeMax bounds a whole message (header and body). A decoder rejects anything
// larger before it looks at the body, so a corrupt size field cannot make it allocate.
const MessageSizeMax = 1 << 20

// Command is the message type.
type Command uint8

// Commands, one handler each (replica.go onMessage).
const (
	CommandReserved         Command = iota
	CommandPing                     // replica -> replica: liveness and clock sample request
	CommandPong                     // reply to ping, carrying the responder's realtime
	CommandRequest                  // client -> primary
	CommandPrepare                  // primary -> backups; also the log entry format
	CommandPrepareOK                // backup -> primary
	CommandCommit                   // primary -> backups: commit number, doubles as heartbeat
	CommandReply                    // replica -> client
	CommandStartViewChange          // replica -> all
	CommandDoViewChange             // replica -> new primary, body: log headers
	CommandStartView                // new primary -> all, body: log headers
	CommandRequestStartView         // lagging replica -> primary of its view
	CommandRequestPrepare           // repair: ask for a prepare by op and checksum
	CommandNackPrepare              // repair: "I have never seen that prepare" (PAR); with a header in the body, "of that op I may hold only this one"
	CommandRequestSync              // state sync: ask for the newest checkpoint
	CommandSync                     // state sync: checkpoint snapshot in the body
	CommandEviction                 // replica -> client: your session (Commit) was evicted
	commandCount
)

var commandNames = [...]string{"reserved", "ping", "pong", "request", "prepare", "prepare_ok", "commit",
	"reply", "start_view_change", "do_view_change", "start_view", "request_start_view", "request_prepare",
	"nack_prepare", "request_sync", "sync_checkpoint", "eviction"}

func (c Command) String() string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	return fmt.Sprintf("command(%d)", uint8(c))
}

// Header is the decoded fixed header. Field meanings depend on the command; see the
// comments on each send function. Every header names its cluster, so a message from another
// cluster is rejected by the decoder.
type Header struct {
	Checksum     checksum.Sum // of the header bytes after this field
	ChecksumBody checksum.Sum // of the body
	// Parent is, for a prepare, the checksum of the previous op's prepare header: the log is
	// a hash chain. For prepare_ok, commit and request_prepare it names the prepare meant.
	Parent checksum.Sum
	// Context is a second checksum slot: the client's session checksum on requests and
	// replies; the checkpoint's prepare checksum on sync.
	Context   checksum.Sum
	Cluster   uint64
	Client    uint64
	Op        uint64
	Commit    uint64
	Timestamp int64
	Request   uint32
	View      uint32
	LogView   uint32
	Epoch     uint32
	Release   uint32
	// Outside is the sender's configuration of Epoch: bit i set, replica index i is not a
	// member (reconfig.go). A replica that hears a newer epoch learns from it whether it is
	// still a member.
	Outside   uint16
	Size      uint32 // header and body
	Replica   uint8
	Command   Command
	Operation Operation
}

// Operation is what a client request asks of the state machine.
type Operation uint8

const (
	OperationNone     Operation = iota
	OperationRegister           // open a client session
	OperationKV                 // a key/value operation, encoded by package kv
	// OperationUpgrade switches the cluster to a release (upgrade.go); only a primary
	// prepares it, never a client.
	OperationUpgrade
	// OperationReadStale is a read a standby serves from its executed state, outside the
	// log (standby.go): the reply's Op names the op whose state it read. It is never
	// prepared, and active replicas drop it.
	OperationReadStale
	// OperationReconfigure moves the cluster to a new configuration (reconfig.go): only a
	// primary prepares it, alone in its batch, at an operator's request; the prepare's
	// header carries it too, so that a new primary sees one in its log without the body.
	OperationReconfigure
)

// Message is a header and its body. Bytes holds the whole encoded message.
type Message struct {
	Header Header
	Body   []byte
	Bytes  []byte
}

// Errors of Decode. All are reasons to drop a message, never to crash.
var (
	ErrShort          = errors.New("message shorter than a header")
	ErrSize           = errors.New("message size field does not match its length")
	ErrChecksumHeader = errors.New("header checksum mismatch")
	ErrChecksumBody   = errors.New("body checksum mismatch")
	ErrCluster        = errors.New("message from another cluster")
	ErrCommand        = errors.New("unknown command")
	ErrPadding        = errors.New("header padding is not zero")
)

// Encode builds a message: it fills Size and both checksums and returns the bytes.
func Encode(h Header, body []byte) []byte {
	buf := append(newMessage(len(body)), body...)
	seal(buf, h)
	return buf
}

// newMessage returns room for a message of bodySize bytes: the header's bytes, with
// capacity for the body to be appended after them.
func newMessage(bodySize int) []byte {
	assert.That(HeaderSize+bodySize <= MessageSizeMax, "encode: message too large")
	return make([]byte, HeaderSize, HeaderSize+bodySize)
}

// seal fills in buf's header from h (a message whose body is already in place after the
// header: Encode, or a sender that wrote its body there directly), with Size and both
// checksums.
func seal(buf []byte, h Header) {
	h.Size = uint32(len(buf))
	putHeader(buf, &h)
	// Both checksums are written straight into their places in buf (checksum.Put), the
	// body's first: the header's covers it.
	checksum.Put(buf[16:32], buf[HeaderSize:])  // ChecksumBody
	checksum.Put(buf[0:16], buf[16:HeaderSize]) // Checksum
}

// Decode validates and decodes a message from the network or the disk: length first, then
// the header checksum, then the fields, then the body checksum. It never panics and never
// allocates for a body whose size it has not validated.
func Decode(buf []byte, cluster uint64) (m Message, err error) {
	if len(buf) < HeaderSize {
		return Message{}, ErrShort
	}
	if !checksum.Matches(buf[16:HeaderSize], checksum.Sum(buf[0:16])) {
		return Message{}, ErrChecksumHeader
	}
	// Decoded in place in the result: a header decoded apart and copied into it was reread
	// as 16-byte loads right after its fields' narrower stores (a store-forwarding stall
	// per message).
	h := &m.Header
	getHeader(buf, h)
	if int(h.Size) != len(buf) || h.Size > MessageSizeMax {
		return Message{}, ErrSize
	}
	if h.Cluster != cluster {
		return Message{}, ErrCluster
	}
	if h.Command == CommandReserved || h.Command >= commandCount {
		return Message{}, ErrCommand
	}
	if !zeroPadding(buf) {
		return Message{}, ErrPadding
	}
	body := buf[HeaderSize:]
	if !checksum.Matches(body, h.ChecksumBody) {
		return Message{}, ErrChecksumBody
	}
	m.Body, m.Bytes = body, buf
	return m, nil
}

// DecodeHeader decodes a header alone (from a DoViewChange or StartView body), checking
// its own checksum. The body it describes is not present.
func DecodeHeader(buf []byte, cluster uint64) (h Header, err error) {
	if len(buf) != HeaderSize {
		return Header{}, ErrShort
	}
	if !checksum.Matches(buf[16:HeaderSize], checksum.Sum(buf[0:16])) {
		return Header{}, ErrChecksumHeader
	}
	getHeader(buf, &h) // in the result, as Decode does: not decoded apart and copied
	if h.Cluster != cluster {
		return Header{}, ErrCluster
	}
	if h.Size < HeaderSize || h.Size > MessageSizeMax {
		return Header{}, ErrSize
	}
	if !zeroPadding(buf) {
		return Header{}, ErrPadding
	}
	return h, nil
}

// zeroPadding reports whether the header's unused bytes are zero, as putHeader leaves them: a
// header accepted with other bytes there (sealed by a peer of another build, or a bug) is one
// whose checksum a replica that writes it out again (a do_view_change, an offer, a
// checkpoint) does not reproduce.
func zeroPadding(buf []byte) bool { return buf[133]|buf[134]|buf[135] == 0 }

func putHeader(buf []byte, h *Header) {
	le := binary.LittleEndian
	copy(buf[0:16], h.Checksum[:])
	copy(buf[16:32], h.ChecksumBody[:])
	copy(buf[32:48], h.Parent[:])
	copy(buf[48:64], h.Context[:])
	le.PutUint64(buf[64:], h.Cluster)
	le.PutUint64(buf[72:], h.Client)
	le.PutUint64(buf[80:], h.Op)
	le.PutUint64(buf[88:], h.Commit)
	le.PutUint64(buf[96:], uint64(h.Timestamp))
	le.PutUint32(buf[104:], h.Request)
	le.PutUint32(buf[108:], h.View)
	le.PutUint32(buf[112:], h.LogView)
	le.PutUint32(buf[116:], h.Epoch)
	le.PutUint32(buf[120:], h.Release)
	le.PutUint32(buf[124:], h.Size)
	buf[128] = h.Replica
	buf[129] = byte(h.Command)
	buf[130] = byte(h.Operation)
	le.PutUint16(buf[131:], h.Outside)
	clear(buf[133:HeaderSize])
}

func getHeader(buf []byte, h *Header) {
	le := binary.LittleEndian
	copy(h.Checksum[:], buf[0:16])
	copy(h.ChecksumBody[:], buf[16:32])
	copy(h.Parent[:], buf[32:48])
	copy(h.Context[:], buf[48:64])
	h.Cluster = le.Uint64(buf[64:])
	h.Client = le.Uint64(buf[72:])
	h.Op = le.Uint64(buf[80:])
	h.Commit = le.Uint64(buf[88:])
	h.Timestamp = int64(le.Uint64(buf[96:]))
	h.Request = le.Uint32(buf[104:])
	h.View = le.Uint32(buf[108:])
	h.LogView = le.Uint32(buf[112:])
	h.Epoch = le.Uint32(buf[116:])
	h.Release = le.Uint32(buf[120:])
	h.Size = le.Uint32(buf[124:])
	h.Replica = buf[128]
	h.Command = Command(buf[129])
	h.Operation = Operation(buf[130])
	h.Outside = le.Uint16(buf[131:])
}

// PeekCommand returns the command byte of an undecoded message, unverified: for callers
// that decode only some commands. Decode before trusting anything else.
func PeekCommand(buf []byte) (Command, bool) {
	if len(buf) < HeaderSize {
		return CommandReserved, false
	}
	return Command(buf[129]), true
}

// HeaderBytes returns the encoded header of a message (its first HeaderSize bytes).
func HeaderBytes(m []byte) []byte { return m[:HeaderSize] }
