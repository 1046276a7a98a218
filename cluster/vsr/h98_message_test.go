package vsr

import (
	"bytes"
	"encoding/binary"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/checksum"
)

// h98's review of the message codec (message.go): every header field survives a round trip
// through Encode and Decode (and DecodeHeader), and a message whose header bytes are
// arbitrary but sealed with a correct checksum (what a peer of another build, or a bug,
// could send: no checksum stops it) is accepted only if it is exactly what Encode makes of
// what it decodes to. Otherwise its identity (the header checksum) differs from the one the
// replica computes when it writes the header out again (a do_view_change, an offer, a
// checkpoint), and the two copies of one prepare no longer match.

func h98Header(t *rapid.T) Header {
	var h Header
	for _, sum := range []*checksum.Sum{&h.Parent, &h.Context} {
		copy(sum[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "sum"))
	}
	h.Cluster = 7
	h.Client, h.Op, h.Commit = rapid.Uint64().Draw(t, "client"), rapid.Uint64().Draw(t, "op"), rapid.Uint64().Draw(t, "commit")
	h.Timestamp = rapid.Int64().Draw(t, "timestamp")
	h.Request, h.View, h.LogView = rapid.Uint32().Draw(t, "request"), rapid.Uint32().Draw(t, "view"), rapid.Uint32().Draw(t, "log view")
	h.Epoch, h.Release = rapid.Uint32().Draw(t, "epoch"), rapid.Uint32().Draw(t, "release")
	h.Outside = rapid.Uint16().Draw(t, "outside")
	h.Replica = rapid.Uint8().Draw(t, "replica")
	h.Command = Command(rapid.IntRange(1, int(commandCount)-1).Draw(t, "command"))
	h.Operation = Operation(rapid.Uint8().Draw(t, "operation"))
	return h
}

func TestH98MessageCodec(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := h98Header(t)
		body := rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "body")
		buf := Encode(h, body)
		if len(buf) != HeaderSize+len(body) {
			t.Fatalf("encoded %d bytes for a body of %d", len(buf), len(body))
		}
		m, err := Decode(buf, 7)
		if err != nil {
			t.Fatalf("an encoded message refused: %v", err)
		}
		got := m.Header
		want := h
		want.Size, want.Checksum, want.ChecksumBody = uint32(len(buf)), got.Checksum, got.ChecksumBody
		if got != want || !bytes.Equal(m.Body, body) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
		if got.Checksum != checksum.Of(buf[16:HeaderSize]) || got.ChecksumBody != checksum.Of(body) {
			t.Fatal("checksums are not those of the header and the body")
		}
		if alone, err := DecodeHeader(buf[:HeaderSize], 7); err != nil || alone != got {
			t.Fatalf("DecodeHeader: %+v %v", alone, err)
		}

		// Header bytes changed and sealed again.
		bad := append([]byte(nil), buf...)
		for n := rapid.IntRange(1, 3).Draw(t, "changes"); n > 0; n-- {
			at := rapid.IntRange(32, HeaderSize-1).Draw(t, "at")
			bad[at] = rapid.Byte().Draw(t, "byte")
		}
		if rapid.Bool().Draw(t, "keep size") {
			binary.LittleEndian.PutUint32(bad[124:], uint32(len(bad)))
		}
		checksum.Put(bad[0:16], bad[16:HeaderSize])
		if m, err := Decode(bad, 7); err == nil && !bytes.Equal(Encode(m.Header, m.Body), bad) {
			t.Fatalf("accepted a message that is not the encoding of what it decodes to:\n%x\n%x",
				bad[:HeaderSize], Encode(m.Header, m.Body)[:HeaderSize])
		}
		if h, err := DecodeHeader(bad[:HeaderSize], 7); err == nil {
			again := make([]byte, HeaderSize)
			putHeader(again, &h)
			if !bytes.Equal(again, bad[:HeaderSize]) {
				t.Fatalf("DecodeHeader accepted a header that is not the encoding of what it decodes to")
			}
		}
		// Arbitrary bytes never panic either decoder.
		noise := rapid.SliceOfN(rapid.Byte(), 0, 2*HeaderSize).Draw(t, "noise")
		_, _ = Decode(noise, 7)
		_, _ = DecodeHeader(noise, 7)
	})
}

// TestDecodeRefusesHeaderPadding: a header whose unused bytes are not zero, sealed with a
// correct checksum, was accepted by Decode and DecodeHeader, though Encode of what they
// decoded gives other bytes and another checksum.
func TestDecodeRefusesHeaderPadding(t *testing.T) {
	for at := 133; at < HeaderSize; at++ {
		buf := Encode(Header{Cluster: 7, Command: CommandPrepare, Op: 3}, []byte("body"))
		buf[at] = 1
		checksum.Put(buf[0:16], buf[16:HeaderSize])
		if _, err := Decode(buf, 7); err == nil {
			t.Fatalf("Decode accepted padding byte %d set", at)
		}
		if _, err := DecodeHeader(buf[:HeaderSize], 7); err == nil {
			t.Fatalf("DecodeHeader accepted padding byte %d set", at)
		}
	}
}
