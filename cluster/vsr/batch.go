package vsr

import (
	"encoding/binary"
	"errors"
)

// A prepare's body is a batch of client requests (the runbook's max-batch-size):
//
//	count u16, then per entry: client u64, session u64, request u32, operation u8, size u32,
//	payload
//
// Batching lets one round of consensus carry many clients' operations.
type batchEntry struct {
	Client    uint64
	Session   uint64 // the op that registered the client's session (0 for a register)
	Request   uint32
	Operation Operation
	Payload   []byte
}

const batchEntryHeaderSize = 8 + 8 + 4 + 1 + 4

var errBatch = errors.New("malformed batch")

func encodeBatch(entries []batchEntry) []byte {
	return appendBatch(make([]byte, 0, batchSize(entries)), entries)
}

// batchSize is the length of entries' batch.
func batchSize(entries []batchEntry) int {
	size := 2
	for _, e := range entries {
		size += batchEntryHeaderSize + len(e.Payload)
	}
	return size
}

// appendBatch appends entries' batch to buf (a prepare builds it in place after its header).
func appendBatch(buf []byte, entries []batchEntry) []byte {
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(entries)))
	for _, e := range entries {
		buf = binary.LittleEndian.AppendUint64(buf, e.Client)
		buf = binary.LittleEndian.AppendUint64(buf, e.Session)
		buf = binary.LittleEndian.AppendUint32(buf, e.Request)
		buf = append(buf, byte(e.Operation))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(e.Payload)))
		buf = append(buf, e.Payload...)
	}
	return buf
}

// decodeBatch validates lengths before slicing; payloads alias buf.
func decodeBatch(buf []byte) ([]batchEntry, error) { return decodeBatchInto(nil, buf) }

// takeBatchScratch returns the replica's batch array, emptied, and holds it as taken until
// putBatchScratch (nil for a nested taker, which then allocates).
func (r *Replica) takeBatchScratch() []batchEntry {
	s := r.batchScratch
	r.batchScratch = nil
	return s[:0]
}

// putBatchScratch gives back entries' array for reuse, dropping its references to payloads.
func (r *Replica) putBatchScratch(entries []batchEntry) {
	clear(entries)
	r.batchScratch = entries[:0]
}

// decodeBatchInto is decodeBatch into dst's array when it is large enough (a caller that
// only looks at the entries before its next decode reuses one).
func decodeBatchInto(dst []batchEntry, buf []byte) ([]batchEntry, error) {
	if len(buf) < 2 {
		return nil, errBatch
	}
	count := int(binary.LittleEndian.Uint16(buf))
	if count > BatchEntriesMax {
		return nil, errBatch
	}
	buf = buf[2:]
	entries := dst[:0]
	if cap(entries) < count {
		entries = make([]batchEntry, 0, count)
	}
	for i := 0; i < count; i++ {
		if len(buf) < batchEntryHeaderSize {
			return nil, errBatch
		}
		e := batchEntry{
			Client:    binary.LittleEndian.Uint64(buf),
			Session:   binary.LittleEndian.Uint64(buf[8:]),
			Request:   binary.LittleEndian.Uint32(buf[16:]),
			Operation: Operation(buf[20]),
		}
		size := binary.LittleEndian.Uint32(buf[21:])
		buf = buf[batchEntryHeaderSize:]
		if uint64(size) > uint64(len(buf)) || size > RequestBodyMax {
			return nil, errBatch
		}
		e.Payload = buf[:size]
		buf = buf[size:]
		switch {
		case e.Operation != OperationRegister && e.Operation != OperationKV && e.Operation != OperationUpgrade &&
			e.Operation != OperationReconfigure,
			e.Operation == OperationUpgrade && (size != upgradePayloadSize || e.Client != 0),
			e.Operation == OperationReconfigure && (size != reconfigPayloadSize || e.Client != 0):
			return nil, errBatch
		}
		entries = append(entries, e)
	}
	if len(buf) != 0 {
		return nil, errBatch
	}
	return entries, nil
}
