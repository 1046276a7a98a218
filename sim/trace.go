package sim

import (
	"fmt"
	"io"
	"math/bits"
	"strconv"

	"github.com/zeebo/xxh3"

	"vopr/internal/assert"
)

// Level says how much of the trace is printed. Every record is hashed whatever the level, so
// the fingerprint of a run does not depend on how verbosely it was logged.
type Level int

const (
	// LevelNone prints nothing.
	LevelNone Level = iota
	// LevelShort prints state changes of replicas, faults and client events.
	LevelShort
	// LevelFull also prints every message sent and delivered and every disk operation.
	LevelFull
)

// ParseLevel parses the --log flag.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "none":
		return LevelNone, nil
	case "short":
		return LevelShort, nil
	case "full":
		return LevelFull, nil
	}
	return 0, fmt.Errorf("log level %q: expected none, short or full", s)
}

// Record is one structured trace event.
type Record struct {
	At    Time
	Level Level // LevelShort or LevelFull: the least verbose level that prints it
	Node  int   // the node it concerns, or -1 for the world (network-wide faults, the harness)
	Kind  string
	Text  string
	// Detail is printed after Text but left out of the hash: a reading of what the hashed
	// record already fixes (a packet's decoded header, from bytes the hash covers).
	Detail string
	// Note marks a record that is printed and tapped but neither hashed, counted nor kept
	// (Trace.Note): a description derived from the run (a replica's status line, a client
	// event, an operator's answer), so that how much is logged never changes the hash.
	Note bool
	// Data is a structured form of the record for a Tap (never hashed or printed).
	Data any
}

func (r Record) String() string {
	node := "--"
	if r.Node >= 0 {
		node = "n" + strconv.Itoa(r.Node)
	}
	if r.Detail != "" {
		return fmt.Sprintf("%14s %-4s %-10s %s %s", r.At, node, r.Kind, r.Text, r.Detail)
	}
	return fmt.Sprintf("%14s %-4s %-10s %s", r.At, node, r.Kind, r.Text)
}

// Trace collects the records of a run into a running 64-bit hash, the determinism
// fingerprint: two runs of the same seed and binary must end with the same hash. It prints
// records at or below its level to Out, and keeps up to KeepMax records in memory when
// asked, so that check-determinism can name the first event where two runs diverge.
type Trace struct {
	hash  uint64
	count uint64

	Out     io.Writer // nil prints nothing
	Level   Level
	KeepMax int // 0 keeps nothing
	Kept    []Record
	// Hashes[i] is the running hash after record i, for the first KeepMax records.
	Hashes []uint64

	// Tap, if set, sees every record and note whatever the level: what the picture of a run
	// is drawn from. It must not change the run.
	Tap func(Record)

	clock func() Time
}

// NewTrace returns a trace that stamps records with the time clock returns.
func NewTrace(clock func() Time) *Trace {
	return &Trace{hash: 0x9e3779b97f4a7c15, clock: clock}
}

// Detach stops the trace reading the run's clock (the loop, and through its pending events
// the whole simulated world): later records are stamped with the time of detaching. A
// run's result keeps its trace (check-determinism compares the kept records); detached, it
// no longer keeps the world alive after the run. It returns t.
func (t *Trace) Detach() *Trace {
	end := t.clock()
	t.clock = func() Time { return end }
	return t
}

// Hash returns the running hash of every record so far.
func (t *Trace) Hash() uint64 { return t.hash }

// Count returns how many records were emitted.
func (t *Trace) Count() uint64 { return t.count }

// Emit records an event at the current time.
func (t *Trace) Emit(level Level, node int, kind, text string) {
	t.EmitDetail(level, node, kind, text, "")
}

// EmitDetail is Emit with a detail that is printed but not hashed (Record.Detail).
func (t *Trace) EmitDetail(level Level, node int, kind, text, detail string) {
	r := Record{At: t.clock(), Level: level, Node: node, Kind: kind, Text: text, Detail: detail}
	t.hash = mix64(t.hash ^ recordHash(r.At, r.Node, r.Kind, xxh3.HashString(r.Text)))
	t.count++
	if len(t.Kept) < t.KeepMax {
		t.Kept = append(t.Kept, r)
		t.Hashes = append(t.Hashes, t.hash)
	}
	t.show(r)
}

// EmitBytes is Emit with the text in a byte slice, typically a scratch buffer the caller
// reuses: the record is hashed from the bytes, and a string is built only when the record is
// kept, printed or tapped (Recorded). The hash is the same as Emit's of string(text).
func (t *Trace) EmitBytes(level Level, node int, kind string, text []byte) {
	if t.Recorded(level) {
		t.EmitDetail(level, node, kind, string(text), "")
		return
	}
	t.hash = mix64(t.hash ^ recordHash(t.clock(), node, kind, xxh3.Hash(text)))
	t.count++
}

// EmitSum records an event whose hashed content is sum, a fold of the record's fields that
// the caller computes word by word (Fold), so that the hot records (every packet and disk
// operation) build no text unless it is read: text is nil, or (when Recorded(level)) what is
// printed, kept and tapped, with detail after it (Record.Detail). kindHash is KindHash(kind). The hash is that of the fields, not
// of the text, so the text's format may change without changing any run's fingerprint.
func (t *Trace) EmitSum(level Level, node int, kind string, kindHash, sum uint64, text []byte, detail string) {
	at := t.clock()
	t.hash = mix64(t.hash ^ recordHashOf(at, node, kindHash, sum))
	t.count++
	if text == nil {
		assert.That(!t.Recorded(level), "trace: a recorded record without its text")
		return
	}
	r := Record{At: at, Level: level, Node: node, Kind: kind, Text: string(text), Detail: detail}
	if len(t.Kept) < t.KeepMax {
		t.Kept = append(t.Kept, r)
		t.Hashes = append(t.Hashes, t.hash)
	}
	t.show(r)
}

// KindHash is a record kind's contribution to its record's hash, for EmitSum's callers to
// compute once.
func KindHash(kind string) uint64 { return xxh3.HashString(kind) }

// Fold folds word into a record's running sum (EmitSum): start from 0, fold each field in a
// fixed order. A multiply and a rotation keep the order and every word (zero included) in the
// sum; the record's hash mixes the sum fully once (recordHashOf).
func Fold(sum, word uint64) uint64 {
	return bits.RotateLeft64((sum^word)*0x9e3779b97f4a7c15+0x632be59bd9b4e019, 29)
}

// Recorded reports whether a record at level is kept, printed or tapped: whether it needs
// its Record built at all (EmitBytes), or its detail (callers of EmitDetail).
func (t *Trace) Recorded(level Level) bool { return len(t.Kept) < t.KeepMax || t.Wants(level) }

// Wants reports whether a record at level would be printed or tapped: callers skip
// building details and notes that nobody reads.
func (t *Trace) Wants(level Level) bool { return t.Tap != nil || (t.Out != nil && level <= t.Level) }

// Note prints (at level) and taps a record that is neither hashed, counted nor kept
// (Record.Note). data is its structured form for the tap, or nil.
func (t *Trace) Note(level Level, node int, kind, text string, data any) {
	if !t.Wants(level) {
		return
	}
	t.show(Record{At: t.clock(), Level: level, Node: node, Kind: kind, Text: text, Note: true, Data: data})
}

func (t *Trace) show(r Record) {
	if t.Out != nil && r.Level <= t.Level {
		fmt.Fprintln(t.Out, r.String())
	}
	if t.Tap != nil {
		t.Tap(r)
	}
}

// Emitf is Emit with a formatted text.
func (t *Trace) Emitf(level Level, node int, kind, format string, args ...any) {
	t.Emit(level, node, kind, fmt.Sprintf(format, args...))
}

// Mix folds an extra word into the fingerprint without a record: for bulk facts (message
// checksums, digests) that are too frequent to print but must still be compared.
func (t *Trace) Mix(word uint64) { t.hash = mix64(t.hash ^ word) }

// recordHash is a record's contribution to the fingerprint: its time, node, kind and
// text's hash (never its detail), each folded apart (so ("ab","c") and ("a","bc") differ).
// Texts are hashed with XXH3: every packet and disk operation is a record, and byte-wise
// FNV-1a was a tenth of the simulator's time.
func recordHash(at Time, node int, kind string, text uint64) uint64 {
	return recordHashOf(at, node, xxh3.HashString(kind), text)
}

func recordHashOf(at Time, node int, kindHash, text uint64) uint64 {
	h := mix64(uint64(at) ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ uint64(int64(node)))
	h = mix64(h ^ kindHash)
	return mix64(h ^ text)
}

// FirstDivergence compares the kept records of two traces of the same seed and returns the
// index of the first record whose running hash differs, or -1 if the kept prefixes agree.
func FirstDivergence(a, b *Trace) int {
	n := min(len(a.Hashes), len(b.Hashes))
	for i := 0; i < n; i++ {
		if a.Hashes[i] != b.Hashes[i] {
			return i
		}
	}
	if len(a.Hashes) != len(b.Hashes) {
		return n
	}
	return -1
}
