package vsr

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// h98's review of the client table (client_table.go) against a model sharing no code with it:
// a map of sessions, the one registered at the lowest op (then the lowest client id) evicted
// when a new client registers into a full table; the checkpoint encoding written out by hand
// from its documented layout (count u32, then in client order: client u64, registered u64,
// request u32, reply size u32, reply); and a parser of that layout for bytes from a disk or
// a peer, which the decoder must agree with on arbitrary bytes, without panicking.

type h98Session struct {
	registered uint64
	request    uint32
	reply      []byte
}

func h98Encode(model map[uint64]h98Session) []byte {
	clients := make([]uint64, 0, len(model))
	for c := range model {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(clients)))
	for _, c := range clients {
		s := model[c]
		b = binary.LittleEndian.AppendUint64(b, c)
		b = binary.LittleEndian.AppendUint64(b, s.registered)
		b = binary.LittleEndian.AppendUint32(b, s.request)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s.reply)))
		b = append(b, s.reply...)
	}
	return b
}

// h98Parse reads the layout; ok false for bytes that are not exactly a table of at most
// capacity entries with replies of at most MessageSizeMax bytes.
func h98Parse(b []byte, capacity int) (map[uint64]h98Session, bool) {
	if len(b) < 4 {
		return nil, false
	}
	count := int(binary.LittleEndian.Uint32(b))
	if count > capacity {
		return nil, false
	}
	pos := 4
	out := map[uint64]h98Session{}
	for i := 0; i < count; i++ {
		if len(b)-pos < 24 {
			return nil, false
		}
		c := binary.LittleEndian.Uint64(b[pos:])
		s := h98Session{registered: binary.LittleEndian.Uint64(b[pos+8:]), request: binary.LittleEndian.Uint32(b[pos+16:])}
		size := int(binary.LittleEndian.Uint32(b[pos+20:]))
		pos += 24
		if size > MessageSizeMax || size > len(b)-pos {
			return nil, false
		}
		if size > 0 {
			s.reply = b[pos : pos+size]
		}
		pos += size
		out[c] = s
	}
	return out, pos == len(b)
}

func TestH98ClientTableAgreesWithModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 4).Draw(t, "capacity")
		table := newClientTable(capacity)
		model := map[uint64]h98Session{}
		op := uint64(1)
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			client := uint64(rapid.IntRange(1, 6).Draw(t, "client"))
			switch rapid.SampledFrom([]string{"register", "register", "reply", "next op"}).Draw(t, "action") {
			case "next op":
				op += uint64(rapid.IntRange(1, 3).Draw(t, "ops"))
			case "register":
				evicted, session, ok := table.register(client, op)
				if _, held := model[client]; held {
					if ok || evicted != 0 || session != 0 {
						t.Fatalf("register of a held client %d evicted %d", client, evicted)
					}
					break
				}
				wantOK := len(model) >= capacity
				var want uint64
				if wantOK {
					first := true
					for c, s := range model {
						if first || s.registered < model[want].registered ||
							(s.registered == model[want].registered && c < want) {
							want, first = c, false
						}
					}
				}
				if ok != wantOK || (ok && (evicted != want || session != model[want].registered)) {
					t.Fatalf("register %d at op %d: evicted %d (session %d) %v, model %d (session %d) %v",
						client, op, evicted, session, ok, want, model[want].registered, wantOK)
				}
				if ok {
					delete(model, want)
				}
				model[client] = h98Session{registered: op}
			case "reply":
				s := table.get(client)
				m, held := model[client]
				if (s != nil) != held {
					t.Fatalf("client %d: held %v, model %v", client, s != nil, held)
				}
				if !held {
					break
				}
				m.request++
				body := []byte(fmt.Sprintf("result %d", m.request))
				h := Header{Cluster: 7, Command: CommandReply, Client: client, Request: m.request, Op: op, Commit: m.registered}
				s.request = m.request
				if rapid.Bool().Draw(t, "lazy") {
					s.reply, s.replyHeader, s.replyBody, s.replyLazy = nil, h, body, true
				} else {
					s.reply, s.replyLazy = Encode(h, body), false
				}
				m.reply = Encode(h, body)
				model[client] = m
			}
			if len(table.sessions) != len(model) {
				t.Fatalf("%d sessions, model %d", len(table.sessions), len(model))
			}
		}
		want := h98Encode(model)
		if size := table.encodedSize(); size != len(want) {
			t.Fatalf("encodedSize %d, model %d", size, len(want))
		}
		got := table.encode()
		if !bytes.Equal(got, want) {
			t.Fatalf("encoding differs from the layout:\n got %x\nwant %x", got, want)
		}
		decoded, err := decodeClientTable(got, capacity)
		if err != nil {
			t.Fatalf("a table's own encoding refused: %v", err)
		}
		if !bytes.Equal(decoded.encode(), want) {
			t.Fatal("decode/encode is not the identity on a table's encoding")
		}
		for c, m := range model {
			s := decoded.get(c)
			if s == nil || s.registered != m.registered || s.request != m.request || !bytes.Equal(s.replyMessage(), m.reply) {
				t.Fatalf("client %d decoded as %+v, model %+v", c, s, m)
			}
		}

		// Damaged bytes (from a disk, or a peer's sync): the decoder never panics, and it
		// accepts exactly the bytes of the layout, as the parser reads them.
		bad := append([]byte(nil), got...)
		switch rapid.IntRange(0, 4).Draw(t, "damage") {
		case 4: // one entry more than the count said: refused past the capacity
			binary.LittleEndian.PutUint32(bad, binary.LittleEndian.Uint32(bad)+1)
			bad = binary.LittleEndian.AppendUint64(bad, 1000) // a client no table holds
			bad = append(bad, make([]byte, 16)...)
		case 3:
			bad = rapid.SliceOfN(rapid.Byte(), 0, 80).Draw(t, "noise")
		default:
			bad = h98Damaged(t, bad)
		}
		gotTable, err := decodeClientTable(bad, capacity)
		parsed, ok := h98Parse(bad, capacity)
		if (err == nil) != ok {
			t.Fatalf("decode of %x: error %v, model accepts %v", bad, err, ok)
		}
		if ok {
			if len(gotTable.sessions) > capacity || len(gotTable.sessions) != len(parsed) {
				t.Fatalf("decoded %d sessions, model %d (capacity %d)", len(gotTable.sessions), len(parsed), capacity)
			}
			for c, m := range parsed {
				s := gotTable.get(c)
				if s == nil || s.registered != m.registered || s.request != m.request || !bytes.Equal(s.replyMessage(), m.reply) {
					t.Fatalf("client %d decoded as %+v, model %+v", c, s, m)
				}
			}
		}
	})
}

// TestH98BatchAgreesWithLayout: a batch encodes to its documented layout (count u16, then
// per entry client u64, session u64, request u32, operation u8, size u32, payload) and
// decodes back; damaged bytes never panic the decoder, and what it accepts is exactly a
// batch of at most BatchEntriesMax valid entries with no trailing bytes.
func TestH98BatchAgreesWithLayout(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Up to the limit and one past it; upgrades and reconfigurations of any client and
		// payload size among them.
		n := rapid.SampledFrom([]int{0, 1, 2, 3, 5, BatchEntriesMax, BatchEntriesMax + 1}).Draw(t, "entries")
		var entries []batchEntry
		var want []byte
		want = binary.LittleEndian.AppendUint16(want, uint16(n))
		for i := 0; i < n; i++ {
			ops := []Operation{OperationRegister, OperationKV} // a long batch of valid entries
			if n <= 5 {
				ops = append(ops, OperationUpgrade, OperationReconfigure)
			}
			e := batchEntry{Client: rapid.Uint64Range(0, 3).Draw(t, "client"), Session: rapid.Uint64().Draw(t, "session"),
				Request: rapid.Uint32().Draw(t, "request"), Operation: rapid.SampledFrom(ops).Draw(t, "operation")}
			e.Payload = make([]byte, rapid.SampledFrom([]int{0, 3, 4, 6, 8}).Draw(t, "payload size"))
			entries = append(entries, e)
			want = binary.LittleEndian.AppendUint64(want, e.Client)
			want = binary.LittleEndian.AppendUint64(want, e.Session)
			want = binary.LittleEndian.AppendUint32(want, e.Request)
			want = append(want, byte(e.Operation))
			want = binary.LittleEndian.AppendUint32(want, uint32(len(e.Payload)))
			want = append(want, e.Payload...)
		}
		got := encodeBatch(entries)
		if !bytes.Equal(got, want) || batchSize(entries) != len(want) {
			t.Fatalf("batch encoding differs from the layout:\n got %x\nwant %x", got, want)
		}
		decoded, err := decodeBatch(got)
		if valid := h98BatchValid(got); valid != (err == nil) {
			t.Fatalf("decode of %x: error %v, layout says valid %v", got, err, valid)
		}
		if err != nil {
			return
		}
		for i, e := range decoded {
			if e.Client != entries[i].Client || e.Session != entries[i].Session || e.Request != entries[i].Request ||
				e.Operation != entries[i].Operation || !bytes.Equal(e.Payload, entries[i].Payload) {
				t.Fatalf("entry %d decoded as %+v, encoded %+v", i, e, entries[i])
			}
		}
		bad := h98Damaged(t, append([]byte(nil), got...))
		if out, err := decodeBatch(bad); err == nil && !bytes.Equal(encodeBatch(out), bad) {
			t.Fatalf("accepted %x, which is not the encoding of what it decoded", bad)
		}
		_, err = decodeBatch(bad)
		if h98BatchValid(bad) != (err == nil) {
			t.Fatalf("decode of %x: error %v, layout says valid %v", bad, err, h98BatchValid(bad))
		}
	})
}

// h98BatchValid reads the batch layout with its rules: at most BatchEntriesMax entries,
// payloads of at most RequestBodyMax bytes, known operations (an upgrade or a reconfiguration
// only from client 0, with its payload's size), no trailing bytes.
func h98BatchValid(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	count := int(binary.LittleEndian.Uint16(b))
	if count > BatchEntriesMax {
		return false
	}
	pos := 2
	for i := 0; i < count; i++ {
		if len(b)-pos < 25 {
			return false
		}
		client := binary.LittleEndian.Uint64(b[pos:])
		op := Operation(b[pos+20])
		size := int(binary.LittleEndian.Uint32(b[pos+21:]))
		pos += 25
		if size > RequestBodyMax || size > len(b)-pos {
			return false
		}
		pos += size
		switch op {
		case OperationRegister, OperationKV:
		case OperationUpgrade:
			if client != 0 || size != 4 {
				return false
			}
		case OperationReconfigure:
			if client != 0 || size != 6 {
				return false
			}
		default:
			return false
		}
	}
	return pos == len(b)
}
