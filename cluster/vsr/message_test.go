package vsr

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func sampleHeader() Header {
	return Header{Cluster: 7, Client: 3, Op: 42, Commit: 40, Timestamp: 1234, Request: 9, View: 5, LogView: 4,
		Epoch: 1, Release: 2, Replica: 1, Command: CommandPrepare, Operation: OperationKV}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	body := []byte("hello")
	buf := Encode(sampleHeader(), body)
	m, err := Decode(buf, 7)
	require.NoError(t, err)
	require.Equal(t, body, m.Body)
	require.Equal(t, uint64(42), m.Header.Op)
	require.Equal(t, uint32(HeaderSize+len(body)), m.Header.Size)
	h, err := DecodeHeader(buf[:HeaderSize], 7)
	require.NoError(t, err)
	require.Equal(t, m.Header, h)
}

func TestDecodeRejects(t *testing.T) {
	buf := Encode(sampleHeader(), []byte("body"))
	_, err := Decode(buf, 8)
	require.ErrorIs(t, err, ErrCluster)
	_, err = Decode(buf[:HeaderSize-1], 7)
	require.ErrorIs(t, err, ErrShort)
	_, err = Decode(buf[:len(buf)-1], 7)
	require.ErrorIs(t, err, ErrSize)
	longer := append(append([]byte(nil), buf...), 0)
	_, err = Decode(longer, 7)
	require.ErrorIs(t, err, ErrSize)
	bad := Encode(Header{Cluster: 7, Command: commandCount}, nil)
	_, err = Decode(bad, 7)
	require.ErrorIs(t, err, ErrCommand)
}

// Every single bit flip anywhere in a message is rejected by a checksum (or the size check).
func TestDecodeRejectsEveryBitFlip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "body")
		buf := Encode(sampleHeader(), body)
		bit := rapid.IntRange(0, len(buf)*8-1).Draw(t, "bit")
		buf[bit/8] ^= 1 << (bit % 8)
		_, err := Decode(buf, 7)
		if err == nil {
			t.Fatalf("bit %d flipped and the message still decoded", bit)
		}
	})
}

func TestBatchRoundTripAndRejects(t *testing.T) {
	entries := []batchEntry{{Client: 1, Request: 2, Operation: OperationKV, Payload: []byte("x")},
		{Client: 3, Request: 4, Operation: OperationRegister}}
	buf := encodeBatch(entries)
	got, err := decodeBatch(buf)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, entries[0].Payload, got[0].Payload)
	require.Equal(t, uint64(3), got[1].Client)
	for n := 0; n < len(buf); n++ {
		_, err := decodeBatch(buf[:n])
		require.Error(t, err, "truncated at %d", n)
	}
	_, err = decodeBatch(append(buf, 0))
	require.Error(t, err, "trailing bytes")
}

func TestClientTableEvictsOldest(t *testing.T) {
	table := newClientTable(ClientsMax)
	for c := uint64(1); c <= ClientsMax; c++ {
		_, _, evicted := table.register(c, c*10)
		require.False(t, evicted)
	}
	victim, session, evicted := table.register(1000, 5000)
	require.True(t, evicted)
	require.Equal(t, uint64(1), victim, "the session registered first is evicted")
	require.Equal(t, uint64(10), session, "the evicted session is named by the op that registered it")
	require.Nil(t, table.get(1))
	decoded, err := decodeClientTable(table.encode(), ClientsMax)
	require.NoError(t, err)
	require.Equal(t, table.encode(), decoded.encode())
	require.Len(t, table.encode(), table.encodedSize())
	_, err = decodeClientTable(table.encode()[:10], ClientsMax)
	require.Error(t, err)
}

// FuzzDecode: the decoder never panics and accepts only what it would itself encode.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(sampleHeader(), []byte("seed")))
	f.Add(Encode(Header{Cluster: 7, Command: CommandCommit}, nil))
	f.Add(Encode(Header{Cluster: 7, Command: CommandDoViewChange, View: 3},
		append(make([]byte, 0), Encode(sampleHeader(), nil)...)))
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, buf []byte) {
		m, err := Decode(buf, 7)
		if err != nil {
			return
		}
		again := Encode(m.Header, m.Body)
		if string(again) != string(buf) {
			t.Fatalf("decoded message does not re-encode to the same bytes")
		}
		_, _ = decodeBatch(m.Body)
		_, _ = decodeClientTable(m.Body, ClientsMax)
	})
}
