package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"vopr/cluster/vsr"
	"vopr/ops"
)

// NoReplica is the replica index of the frames the server adds (hello and control): no
// replica has it, so a replica that received one would drop it.
const NoReplica = 0xff

// Kinds of connection a hello announces.
const (
	KindReplica = "replica"
	KindClient  = "client"
	KindAdmin   = "admin"
)

// Hello opens a connection.
type Hello struct {
	Kind    string `json:"kind"`
	Replica int    `json:"replica,omitempty"` // KindReplica: the caller's index
	Client  uint64 `json:"client,omitempty"`  // KindClient: the caller's client id
}

// ErrFrame reports a frame that is not one of ours: the stream must be closed.
var ErrFrame = errors.New("wire: bad frame")

// ReadMessage reads one whole message. The header is verified (checksum, cluster, size
// bounds) before the body is read; the body is returned unverified, as part of the bytes.
func ReadMessage(r io.Reader, cluster uint64) ([]byte, vsr.Header, error) {
	head := make([]byte, vsr.HeaderSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, vsr.Header{}, err
	}
	h, err := vsr.DecodeHeader(head, cluster)
	if err != nil {
		return nil, vsr.Header{}, fmt.Errorf("%w: %v", ErrFrame, err)
	}
	msg := make([]byte, h.Size)
	copy(msg, head)
	if _, err := io.ReadFull(r, msg[vsr.HeaderSize:]); err != nil {
		return nil, vsr.Header{}, err
	}
	return msg, h, nil
}

// EncodeJSON builds a server frame (hello or control) carrying v as JSON.
func EncodeJSON(cluster uint64, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if vsr.HeaderSize+len(body) > vsr.MessageSizeMax {
		return nil, fmt.Errorf("wire: control body of %d bytes is too large", len(body))
	}
	h := vsr.Header{Cluster: cluster, Command: vsr.CommandPing, Replica: NoReplica}
	return vsr.Encode(h, body), nil
}

// DecodeJSON checks a server frame (the whole message) and decodes its JSON body into v.
func DecodeJSON(msg []byte, cluster uint64, v any) error {
	m, err := vsr.Decode(msg, cluster)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFrame, err)
	}
	if m.Header.Command != vsr.CommandPing || m.Header.Replica != NoReplica {
		return fmt.Errorf("%w: %s from replica %d is not a server frame", ErrFrame, m.Header.Command, m.Header.Replica)
	}
	return json.Unmarshal(m.Body, v)
}

// ReadJSON reads one server frame and decodes it into v.
func ReadJSON(r io.Reader, cluster uint64, v any) error {
	msg, _, err := ReadMessage(r, cluster)
	if err != nil {
		return err
	}
	return DecodeJSON(msg, cluster, v)
}

// WriteJSON writes one server frame carrying v.
func WriteJSON(w io.Writer, cluster uint64, v any) error {
	msg, err := EncodeJSON(cluster, v)
	if err != nil {
		return err
	}
	_, err = w.Write(msg)
	return err
}

// Request is an operator's command to one server (ops.Request: ops.Serve answers it).
type Request = ops.Request

// Response answers a Request: Error, or the command's JSON result. Stream, when set, is
// the length of raw bytes the server writes right after this frame (storage export's
// backup, which no frame's size bound would hold).
type Response struct {
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Stream int64           `json:"stream,omitempty"`
	// Data is what Stream announces: written after the frame, never as JSON.
	Data []byte `json:"-"`
}
