package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Bounds of the state machine. Their relationships are checked in kv_test.go.
const (
	// KeySizeMax is the longest key in bytes; keys are never empty.
	KeySizeMax = 128
	// ValueSizeMax is the longest value in bytes (also after an Append).
	ValueSizeMax = 1024
	// KeysMax is the most keys the map holds; a Put of a new key beyond it is StatusFull.
	KeysMax = 1 << 14

	// opHeaderSize is kind, flags, key length (u16), value length (u32), expected length (u32).
	opHeaderSize = 1 + 1 + 2 + 4 + 4
	// OpSizeMax is the largest encoded operation.
	OpSizeMax = opHeaderSize + KeySizeMax + 2*ValueSizeMax
	// resultHeaderSize is status and value length (u32).
	resultHeaderSize = 1 + 4
	// ResultSizeMax is the largest encoded result.
	ResultSizeMax = resultHeaderSize + ValueSizeMax

	snapshotMagic      = "KVS2"
	snapshotHeaderSize = 4 + 4 + 4 // magic, release (u32), key count (u32)
	snapshotRecordMax  = 2 + KeySizeMax + 4 + ValueSizeMax
	// SnapshotSizeMax is the largest snapshot: a full map of maximal keys and values.
	SnapshotSizeMax = snapshotHeaderSize + KeysMax*snapshotRecordMax + len(checksum.Sum{})
)

// Kind names an operation.
type Kind uint8

// Operation kinds. The zero Kind is invalid so that zeroed bytes never decode.
const (
	// KindGet reads a key: StatusOK with the value, or StatusNotFound.
	KindGet Kind = 1 + iota
	// KindPut sets a key to Value: StatusOK, or StatusFull for a new key beyond KeysMax.
	KindPut
	// KindAppend appends Value to a key's value (an absent key counts as empty): StatusOK,
	// StatusTooLarge past ValueSizeMax, or StatusFull for a new key beyond KeysMax.
	KindAppend
	// KindCAS sets a key to Value if it holds Expected (or, with ExpectedAbsent, if it is
	// absent): StatusOK; otherwise StatusMismatch with the current value, or StatusNotFound.
	KindCAS
	// KindDelete removes a key: StatusOK, or StatusNotFound. It is a feature of release
	// ReleaseDelete: below it the machine answers StatusUnsupported and changes nothing.
	KindDelete
)

// Releases of the state machine's semantics. A machine starts at ReleaseBase; the cluster
// raises it (Machine.Upgrade) once every replica runs a binary that knows the new release,
// so that replicas never disagree on what an operation does.
const (
	ReleaseBase   uint32 = 1
	ReleaseDelete uint32 = 2 // KindDelete
	// ReleaseLatest is the newest release this code knows.
	ReleaseLatest = ReleaseDelete
)

func (k Kind) String() string {
	switch k {
	case KindGet:
		return "get"
	case KindPut:
		return "put"
	case KindAppend:
		return "append"
	case KindCAS:
		return "cas"
	case KindDelete:
		return "delete"
	default:
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
}

// Op is a decoded operation.
type Op struct {
	Kind Kind
	Key  string
	// Value is the value to put or append, or the new value of a CAS; empty for Get.
	Value string
	// Expected is the value a CAS expects; empty unless Kind is KindCAS.
	Expected string
	// ExpectedAbsent makes a CAS succeed only if the key is absent (Expected must be empty).
	ExpectedAbsent bool
}

// Status is the outcome of an operation.
type Status uint8

// Statuses. The zero Status is invalid so that zeroed bytes never decode.
const (
	StatusOK Status = 1 + iota
	StatusNotFound
	StatusMismatch
	StatusTooLarge
	StatusFull
	// StatusInvalid is Apply's answer to bytes that do not decode; the state is unchanged.
	StatusInvalid
	// StatusUnsupported: the operation's feature is not active at the machine's release.
	StatusUnsupported
)

// Result is a decoded result.
type Result struct {
	Status Status
	// Value is the value read (Get), or the current value on a CAS mismatch.
	Value string
}

// ErrInvalid wraps every decoding error.
var ErrInvalid = errors.New("kv: invalid encoding")

const flagExpectedAbsent = 1

// EncodeOp encodes op. op must be valid (see ValidateOp); encoding an invalid op is a bug.
func EncodeOp(op Op) []byte {
	assert.That(validateOp(op) == nil, "kv: encoding an invalid op")
	b := make([]byte, opHeaderSize, opHeaderSize+len(op.Key)+len(op.Value)+len(op.Expected))
	b[0] = byte(op.Kind)
	if op.ExpectedAbsent {
		b[1] = flagExpectedAbsent
	}
	binary.LittleEndian.PutUint16(b[2:], uint16(len(op.Key)))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(op.Value)))
	binary.LittleEndian.PutUint32(b[8:], uint32(len(op.Expected)))
	b = append(b, op.Key...)
	b = append(b, op.Value...)
	b = append(b, op.Expected...)
	assert.That(len(b) <= OpSizeMax, "kv: encoded op exceeds OpSizeMax")
	return b
}

// DecodeOp decodes and validates an operation. It never panics on any input.
func DecodeOp(b []byte) (Op, error) {
	shape, err := decodeShape(b)
	if err != nil {
		return Op{}, err
	}
	var op Op
	opOf(shape, b, &op)
	return op, nil
}

// opOf fills op (a zero Op) with the op of b, whose shape decodeShape returned. It sets the
// fields in place: an Op built as a composite literal and returned was copied into the
// caller's, rereading with wide loads the fields just stored (a store-forwarding stall on
// every op every replica executes).
func opOf(shape opShape, b []byte, op *Op) {
	// One string for the three fields, cut in three: one allocation per op instead of up to
	// three (every replica decodes every op it executes).
	rest := string(b[opHeaderSize:])
	op.Kind, op.ExpectedAbsent = shape.kind, shape.expectedAbsent
	op.Key = rest[:shape.key]
	op.Value = rest[shape.key : shape.key+shape.value]
	op.Expected = rest[shape.key+shape.value:]
}

// opShape is what validation looks at in an op: its kind, field sizes and flag.
type opShape struct {
	kind                 Kind
	key, value, expected int
	expectedAbsent       bool
}

// decodeShape checks an encoded op as DecodeOp does, with DecodeOp's errors, without
// building the op (Validate runs on every request the primary receives).
func decodeShape(b []byte) (opShape, error) {
	if len(b) < opHeaderSize || len(b) > OpSizeMax {
		return opShape{}, fmt.Errorf("%w: op size %d", ErrInvalid, len(b))
	}
	keySize := int(binary.LittleEndian.Uint16(b[2:]))
	valueSize := int64(binary.LittleEndian.Uint32(b[4:]))
	expectedSize := int64(binary.LittleEndian.Uint32(b[8:]))
	if keySize > KeySizeMax || valueSize > ValueSizeMax || expectedSize > ValueSizeMax {
		return opShape{}, fmt.Errorf("%w: field size out of bounds", ErrInvalid)
	}
	if int64(len(b)) != opHeaderSize+int64(keySize)+valueSize+expectedSize {
		return opShape{}, fmt.Errorf("%w: op size %d does not match its fields", ErrInvalid, len(b))
	}
	if b[1]&^flagExpectedAbsent != 0 {
		return opShape{}, fmt.Errorf("%w: unknown flags %#x", ErrInvalid, b[1])
	}
	shape := opShape{kind: Kind(b[0]), key: keySize, value: int(valueSize), expected: int(expectedSize),
		expectedAbsent: b[1]&flagExpectedAbsent != 0}
	if err := validateShape(shape); err != nil {
		return opShape{}, err
	}
	return shape, nil
}

// ValidateOp reports whether op respects the bounds and the field rules of its kind.
func ValidateOp(op Op) error { return validateOp(op) }

func validateOp(op Op) error {
	return validateShape(opShape{kind: op.Kind, key: len(op.Key), value: len(op.Value),
		expected: len(op.Expected), expectedAbsent: op.ExpectedAbsent})
}

func validateShape(op opShape) error {
	if op.key == 0 || op.key > KeySizeMax {
		return fmt.Errorf("%w: key size %d", ErrInvalid, op.key)
	}
	if op.value > ValueSizeMax || op.expected > ValueSizeMax {
		return fmt.Errorf("%w: value size out of bounds", ErrInvalid)
	}
	switch op.kind {
	case KindGet, KindDelete:
		if op.value != 0 {
			return fmt.Errorf("%w: %s with a value", ErrInvalid, op.kind)
		}
	case KindPut, KindAppend:
	case KindCAS:
		if op.expectedAbsent && op.expected != 0 {
			return fmt.Errorf("%w: cas expecting absence with an expected value", ErrInvalid)
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrInvalid, uint8(op.kind))
	}
	if op.expected != 0 || op.expectedAbsent {
		return fmt.Errorf("%w: %s with cas fields", ErrInvalid, op.kind)
	}
	return nil
}

// EncodeResult encodes r.
func EncodeResult(r Result) []byte {
	assert.That(r.Status >= StatusOK && r.Status <= StatusUnsupported, "kv: encoding a bad status")
	assert.That(len(r.Value) <= ValueSizeMax, "kv: result value exceeds ValueSizeMax")
	b := make([]byte, resultHeaderSize, resultHeaderSize+len(r.Value))
	b[0] = byte(r.Status)
	binary.LittleEndian.PutUint32(b[1:], uint32(len(r.Value)))
	return append(b, r.Value...)
}

// DecodeResult decodes a result. It never panics on any input.
func DecodeResult(b []byte) (Result, error) {
	if len(b) < resultHeaderSize || len(b) > ResultSizeMax {
		return Result{}, fmt.Errorf("%w: result size %d", ErrInvalid, len(b))
	}
	status := Status(b[0])
	if status < StatusOK || status > StatusUnsupported {
		return Result{}, fmt.Errorf("%w: unknown status %d", ErrInvalid, b[0])
	}
	size := int64(binary.LittleEndian.Uint32(b[1:]))
	if size != int64(len(b)-resultHeaderSize) {
		return Result{}, fmt.Errorf("%w: result value size %d", ErrInvalid, size)
	}
	return Result{Status: status, Value: string(b[resultHeaderSize:])}, nil
}

// Machine is the key/value state machine.
//
// Invariants:
//   - len(data) <= KeysMax, and every entry respects KeySizeMax and ValueSizeMax;
//   - digestValid implies digest == checksum.Of(Snapshot());
//   - recordBytes is the sum of recordSize over order (AppendSnapshot checks it).
type Machine struct {
	data map[string]*pair
	// order holds data's pairs in ascending key order, kept as keys come and go: Snapshot
	// (every checkpoint, every digest) walks it instead of sorting and looking up the map's
	// keys each time.
	order []*pair
	// recordBytes is the length of order's records in a snapshot, kept as they change:
	// SnapshotSize (every checkpoint sizes its buffer with it) need not walk them.
	recordBytes int
	release     uint32 // ReleaseBase <= release <= ReleaseLatest
	digest      checksum.Sum
	digestValid bool
	// scratch are Digest's snapshot buffers, reused, taking turns (turn is the next one
	// built): records, when Digest built them, lie in the other.
	scratch [2][]byte
	turn    int
	sealer  checksum.Sealer // the snapshot's checksum and digest
	// records is the records of the last snapshot built (AppendSnapshot): the
	// next one copies the records of the pairs unchanged since (pair.kept) from it, in runs,
	// rather than gather every key and value again from all over the heap (between two
	// checkpoints of an unbatched load, a few dozen of a thousand keys change). A copy,
	// or the records in place in Digest's buffer (never the one being built).
	records []byte
}

// New returns an empty machine at ReleaseBase.
func New() *Machine { return &Machine{data: make(map[string]*pair), release: ReleaseBase} }

// pair is one key and its value. kept marks a pair unchanged since the last snapshot, whose
// record is at Machine.records[at:].
type pair struct {
	key, value string
	at         int
	kept       bool
}

// Release returns the release whose semantics the machine runs.
func (m *Machine) Release() uint32 { return m.release }

// Upgrade raises the machine's release (never lowers it): the features of every release up
// to it become active. The release is part of the state (Snapshot, Digest).
func (m *Machine) Upgrade(release uint32) {
	assert.That(release <= ReleaseLatest, "kv: upgrade to a release this code does not know")
	if release > m.release {
		m.release = release
		m.digestValid = false
	}
}

// Len returns the number of keys.
func (m *Machine) Len() int { return len(m.data) }

// Get reads a key without an operation: for inspection and tests, never for replies.
func (m *Machine) Get(key string) (string, bool) {
	if p := m.data[key]; p != nil {
		return p.value, true
	}
	return "", false
}

// Validate reports whether op is a well-formed operation. The primary calls it before it
// prepares an op; a malformed op from the network is an error here, never a panic later.
func (m *Machine) Validate(op []byte) error {
	_, err := decodeShape(op)
	return err
}

// Apply executes an operation and returns its encoded result. Bytes that do not decode give
// StatusInvalid and change nothing, so even a primary bug cannot make replicas diverge.
func (m *Machine) Apply(opBytes []byte) []byte {
	shape, err := decodeShape(opBytes) // DecodeOp's checks
	if err != nil {
		return EncodeResult(Result{Status: StatusInvalid})
	}
	if shape.kind == KindGet {
		// A read changes nothing and keeps nothing of the op: its key is looked up in the
		// op's bytes rather than copied into a string (every replica executes every read).
		return EncodeResult(read(m.data[string(opBytes[opHeaderSize:opHeaderSize+shape.key])]))
	}
	var op Op
	opOf(shape, opBytes, &op)
	before := len(m.data)
	r := m.apply(op)
	assert.That(len(m.data) <= KeysMax, "kv: map exceeds KeysMax")
	assert.That(len(m.data) == before || len(m.data) == before+1 || (op.Kind == KindDelete && len(m.data) == before-1),
		"kv: apply removed keys")
	if r.Status == StatusOK && op.Kind != KindGet {
		m.digestValid = false
	}
	return EncodeResult(r)
}

func (m *Machine) apply(op Op) Result {
	current, present := m.Get(op.Key)
	switch op.Kind {
	case KindGet:
		return read(m.data[op.Key])
	case KindPut:
		return m.set(op.Key, op.Value, present)
	case KindAppend:
		if len(current)+len(op.Value) > ValueSizeMax {
			return Result{Status: StatusTooLarge}
		}
		return m.set(op.Key, current+op.Value, present)
	case KindCAS:
		return m.compareAndSet(op, current, present)
	case KindDelete:
		if m.release < ReleaseDelete {
			return Result{Status: StatusUnsupported}
		}
		if !present {
			return Result{Status: StatusNotFound}
		}
		delete(m.data, op.Key)
		i, found := m.position(op.Key)
		assert.That(found, "kv: deleted key missing from the key order")
		m.recordBytes -= recordSize(m.order[i])
		m.order = slices.Delete(m.order, i, i+1)
		return Result{Status: StatusOK}
	default:
		assert.Unreachable("kv: decoded op of unknown kind")
		return Result{}
	}
}

// read is a get's result, p the key's pair (nil if absent).
func read(p *pair) Result {
	if p == nil {
		return Result{Status: StatusNotFound}
	}
	return Result{Status: StatusOK, Value: p.value}
}

func (m *Machine) compareAndSet(op Op, current string, present bool) Result {
	if op.ExpectedAbsent {
		if present {
			return Result{Status: StatusMismatch, Value: current}
		}
		return m.set(op.Key, op.Value, present)
	}
	if !present {
		return Result{Status: StatusNotFound}
	}
	if current != op.Expected {
		return Result{Status: StatusMismatch, Value: current}
	}
	return m.set(op.Key, op.Value, present)
}

func (m *Machine) set(key, value string, present bool) Result {
	assert.That(len(value) <= ValueSizeMax, "kv: value exceeds ValueSizeMax")
	if !present && len(m.data) >= KeysMax {
		return Result{Status: StatusFull}
	}
	if present {
		p := m.data[key]
		m.recordBytes += len(value) - len(p.value)
		p.value, p.kept = value, false
		return Result{Status: StatusOK}
	}
	p := &pair{key: key, value: value}
	m.recordBytes += recordSize(p)
	m.data[key] = p
	i, found := m.position(key)
	assert.That(!found, "kv: new key already in the key order")
	m.order = slices.Insert(m.order, i, p)
	return Result{Status: StatusOK}
}

// position finds key in the key order: its index, or where it would go.
func (m *Machine) position(key string) (int, bool) {
	return slices.BinarySearchFunc(m.order, key, func(p *pair, key string) int { return strings.Compare(p.key, key) })
}

// Snapshot encodes the whole state: magic, key count, then (key, value) records in key order,
// then the checksum of everything before it. Equal states give equal bytes.
func (m *Machine) Snapshot() []byte {
	return m.AppendSnapshot(make([]byte, 0, m.SnapshotSize()))
}

// SnapshotSize is the length of the state's Snapshot (AppendSnapshot checks it).
func (m *Machine) SnapshotSize() int { return snapshotHeaderSize + m.recordBytes + len(checksum.Sum{}) }

// recordSize is the length of p's record in a snapshot.
func recordSize(p *pair) int { return 2 + len(p.key) + 4 + len(p.value) }

// AppendSnapshot appends the state's Snapshot to dst: for a caller that embeds it in a
// larger buffer (a checkpoint) or hashes it in a buffer it reuses (Digest).
func (m *Machine) AppendSnapshot(dst []byte) []byte { return m.appendSnapshot(dst, false) }

// appendSnapshot is AppendSnapshot; own tells that dst is the machine's (Digest's), whose
// records may then stay where they were built (see appendRecords).
func (m *Machine) appendSnapshot(dst []byte, own bool) []byte {
	assert.That(len(m.order) == len(m.data), "kv: key order out of step with the map")
	start := len(dst)
	b := append(dst, snapshotMagic...)
	b = binary.LittleEndian.AppendUint32(b, m.release)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.order)))
	b = m.appendRecords(b, own)
	// The snapshot's checksum and the digest (the checksum of the snapshot, the first
	// included) in one pass over the state.
	sum, digest := m.sealer.Of(b[start:])
	b = append(b, sum[:]...)
	assert.That(len(b)-start <= SnapshotSizeMax, "kv: snapshot exceeds SnapshotSizeMax")
	assert.That(len(b)-start == m.SnapshotSize(), "kv: snapshot size out of step with the records")
	// The digest of this state is at hand: a checkpoint asks for both, and building the
	// snapshot costs far more than hashing it.
	m.digest, m.digestValid = digest, true
	return b
}

// appendRecords appends the records of order to b: those of kept pairs copied from the last
// snapshot's (each run of them adjacent there in one copy), the others encoded. It then
// keeps the new records for the next snapshot, every pair kept: in place if b is the
// machine's own (own), else copied.
func (m *Machine) appendRecords(b []byte, own bool) []byte {
	from := len(b)
	runAt, runEnd := 0, 0 // the pending run of kept records, in m.records
	for _, p := range m.order {
		size := recordSize(p)
		at := len(b) + (runEnd - runAt) - from // p's offset in the new records
		switch {
		case p.kept && p.at == runEnd:
			runEnd += size
		case p.kept:
			b = append(b, m.records[runAt:runEnd]...)
			runAt, runEnd = p.at, p.at+size
		default:
			b = append(b, m.records[runAt:runEnd]...)
			runAt, runEnd = 0, 0
			b = binary.LittleEndian.AppendUint16(b, uint16(len(p.key)))
			b = append(b, p.key...)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(p.value)))
			b = append(b, p.value...)
		}
		p.at, p.kept = at, true
	}
	b = append(b, m.records[runAt:runEnd]...)
	if own {
		// Capped at their end: the snapshot's checksum is appended after them in b.
		m.records = b[from:len(b):len(b)]
	} else {
		m.records = append(m.records[:0], b[from:]...)
	}
	return b
}

// Restore replaces the state with a snapshot. It refuses (and changes nothing) unless the
// bytes are exactly what Snapshot produces for some valid state: checksum, bounds, strictly
// ascending keys and no trailing bytes.
func (m *Machine) Restore(snapshot []byte) error {
	data, release, err := decodeSnapshot(snapshot)
	if err != nil {
		return err
	}
	m.data, m.order, m.release = make(map[string]*pair, len(data)), make([]*pair, 0, len(data)), release
	m.recordBytes = 0
	for _, key := range slices.Sorted(maps.Keys(data)) {
		p := &pair{key: key, value: data[key]}
		m.data[key] = p
		m.order = append(m.order, p)
		m.recordBytes += recordSize(p)
	}
	m.digestValid = false
	assert.That(len(m.data) <= KeysMax, "kv: restored map exceeds KeysMax")
	return nil
}

func decodeSnapshot(b []byte) (map[string]string, uint32, error) {
	sumSize := len(checksum.Sum{})
	if len(b) < snapshotHeaderSize+sumSize || len(b) > SnapshotSizeMax {
		return nil, 0, fmt.Errorf("%w: snapshot size %d", ErrInvalid, len(b))
	}
	body, trailer := b[:len(b)-sumSize], b[len(b)-sumSize:]
	if sum := checksum.Of(body); !bytes.Equal(sum[:], trailer) {
		return nil, 0, fmt.Errorf("%w: snapshot checksum mismatch", ErrInvalid)
	}
	if string(body[:4]) != snapshotMagic {
		return nil, 0, fmt.Errorf("%w: snapshot magic", ErrInvalid)
	}
	release := binary.LittleEndian.Uint32(body[4:])
	if release < ReleaseBase || release > ReleaseLatest {
		return nil, 0, fmt.Errorf("%w: snapshot of release %d (this code knows %d..%d)", ErrInvalid, release,
			ReleaseBase, ReleaseLatest)
	}
	count := binary.LittleEndian.Uint32(body[8:])
	if count > KeysMax {
		return nil, 0, fmt.Errorf("%w: snapshot key count %d", ErrInvalid, count)
	}
	data, err := decodeRecords(body[snapshotHeaderSize:], int(count))
	return data, release, err
}

func decodeRecords(rest []byte, count int) (map[string]string, error) {
	data := make(map[string]string, count)
	previous := ""
	for i := 0; i < count; i++ {
		key, tail, err := field(rest, 2, KeySizeMax)
		if err != nil {
			return nil, err
		}
		value, tail, err := field(tail, 4, ValueSizeMax)
		if err != nil {
			return nil, err
		}
		if len(key) == 0 || (i > 0 && key <= previous) {
			return nil, fmt.Errorf("%w: snapshot keys not strictly ascending", ErrInvalid)
		}
		data[key] = value
		previous, rest = key, tail
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing snapshot bytes", ErrInvalid, len(rest))
	}
	return data, nil
}

// field reads a length-prefixed field (prefix of 2 or 4 bytes) of at most sizeMax bytes.
func field(b []byte, prefix int, sizeMax int) (string, []byte, error) {
	assert.That(prefix == 2 || prefix == 4, "kv: field prefix must be 2 or 4 bytes")
	if len(b) < prefix {
		return "", nil, fmt.Errorf("%w: truncated snapshot record", ErrInvalid)
	}
	var size uint64
	if prefix == 2 {
		size = uint64(binary.LittleEndian.Uint16(b))
	} else {
		size = uint64(binary.LittleEndian.Uint32(b))
	}
	if size > uint64(sizeMax) || size > uint64(len(b)-prefix) {
		return "", nil, fmt.Errorf("%w: snapshot field size %d", ErrInvalid, size)
	}
	end := prefix + int(size)
	return string(b[prefix:end]), b[end:], nil
}

// Digest returns the checksum of the snapshot: equal exactly when the states are equal. It is
// cached until the next change.
func (m *Machine) Digest() checksum.Sum {
	if !m.digestValid {
		// Built in a buffer the machine keeps (AppendSnapshot sets the digest): a replica's
		// digest is asked for after nearly every change, and a fresh snapshot each time was
		// an allocation the size of the state. The records stay in it for the next snapshot,
		// built in the other buffer, to copy from: copying them out was a second pass over
		// the state.
		m.scratch[m.turn] = m.appendSnapshot(m.scratch[m.turn][:0], true)
		m.turn ^= 1
	}
	assert.That(!m.digest.IsZero(), "kv: zero digest")
	return m.digest
}
