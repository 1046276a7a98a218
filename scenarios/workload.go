package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/sim"
)

// The clients' key/value workload. Swarm testing (Groce et al., ISSTA 2012) for the
// operations: each seed draws its own mix (workloadMix, from the stream "workload-mix", so
// that no other stream draws differently), so some seeds are read-heavy, some write-heavy,
// some compare-and-set-heavy, and some leave a kind out entirely; the key space is small and
// sometimes skewed to one hot key, so that the clients' histories of a key interleave.
//
// A compare-and-set expects a value the clients recently saw for its key (read, written or
// reported by a mismatch), or the key's absence when that is what they last saw, so that it
// often succeeds; sometimes it expects an older value, and fails.
//
// Values are unique and none is a substring of another ("c<client>.<n>.", padded with "x"),
// so that an appended value can be told apart in every later read and the linearizability
// checker can prune the writes no read observed (History.markUnobserved).
//
// Shapes at the edges of the state machine's contract (workload_edges.go), each drawn per
// seed: blind compare-and-sets that expect a value on a key nobody wrote, and long values
// (appends that run into ValueSizeMax within a key's history, and operations of exactly the
// largest encoded size).
type workload struct {
	r   *rand.Rand // every per-operation draw: the run's "workload" stream
	mix workloadMix
	// seen holds, per key, the values recently seen, newest last (at most workloadSeenMax),
	// and whether the key was last seen absent.
	seen   map[string]*seenValues
	writes map[int]int // per client, values written so far (for unique values)
	// uses and generation bound each key's history (see workloadKeyOps), per key index.
	uses, generation map[int]int
	writing          map[string]int // writes in flight, per key
	unread           map[string]int // writes issued since the key's last read, per key
	counts           map[string]uint64
	keys             []workloadKey // fullKey's cache, per key index
}

// workloadKey is a key index's full key as fullKey built it, for that prefix and generation.
type workloadKey struct {
	prefix     string
	generation int
	key        string
}

type seenValues struct {
	values []string
	absent bool
}

const workloadSeenMax = 4

// workloadKeyOps bounds the operations on one key: key i then moves on to a fresh key of its
// own ("k<i>.<generation>"). The linearizability checker's search grows with the length of a
// key's history (porcupine caches a bitset of the history per state it visits): 10,000
// appends and cas on one hot key ran it out of 24 GB (swarm seed 179, before).
const workloadKeyOps = 100

// workloadKeyWritesMax bounds the writes (put, append, cas, delete) in flight on one key.
// Porcupine tries the orders of concurrent writes until a read pins one: appends of eight
// clients at once between two reads give 8! different values, and windows of them stacked
// ran the check out of 24 GB within 100 operations of one key (campaign seed 20261560).
// Reads in flight change no state, so they are not bounded: any number interleave with two
// writers, which still race each other.
const workloadKeyWritesMax = 2

// workloadUnreadWritesMax bounds the writes to a key between two reads of it: the next
// operation on the key after that many is a read. Nothing else pins the order of concurrent
// appends, so without reads the checker's search keeps every order of them as a separate
// state (a read-less, append-heavy seed, 20261813, took minutes and 6 GB; each read that
// returns collapses them to the one it saw).
const workloadUnreadWritesMax = 5

// workloadMix is one seed's draw: weights of get, put, append and cas, the number of keys,
// and whether one key takes half the operations.
type workloadMix struct {
	weights [4]int
	keys    int
	hot     bool
	// blindCAS, size and emptyValues are the edge shapes (workload_edges.go): zero values
	// leave them out.
	blindCAS    bool
	size        workloadSize
	emptyValues bool
}

var workloadKinds = [4]kv.Kind{kv.KindGet, kv.KindPut, kv.KindAppend, kv.KindCAS}

// defaultWorkloadMix is the mix of the runbook scenarios, whose seeds draw no mix.
var defaultWorkloadMix = workloadMix{weights: [4]int{3, 3, 2, 2}, keys: 8}

// drawWorkloadMix draws a seed's mix: each weight is 0, 1, 2, 4 or 8 (a kind is left out one
// time in five); at least one kind writes, and reads are at least a fifth of the operations:
// the linearizability checker's search grows with the writes no read observes (8 clients
// putting and appending to a key with a read one time in eighteen took it 1.8 s, swarm seed
// 115 before).
func drawWorkloadMix(seed uint64) workloadMix {
	r := sim.Stream(seed, "workload-mix")
	var m workloadMix
	for i := range m.weights {
		m.weights[i] = []int{0, 1, 2, 4, 8}[r.IntN(5)]
	}
	if m.weights[1]+m.weights[2]+m.weights[3] == 0 {
		m.weights[1+r.IntN(3)] = 1
	}
	m.weights[0] = max(m.weights[0], (m.weights[1]+m.weights[2]+m.weights[3]+3)/4)
	m.keys = []int{2, 4, 8, 8}[r.IntN(4)]
	m.hot = r.IntN(2) == 0
	m.drawEdges(r) // after every draw above, so that seeds keep their mixes
	return m
}

func (m workloadMix) String() string {
	return fmt.Sprintf("get:%d,put:%d,append:%d,cas:%d keys=%d hot=%t", m.weights[0], m.weights[1],
		m.weights[2], m.weights[3], m.keys, m.hot) + m.edgesString()
}

func newWorkload(r *rand.Rand, mix workloadMix) *workload {
	return &workload{r: r, mix: mix, seen: map[string]*seenValues{}, writes: map[int]int{},
		uses: map[int]int{}, generation: map[int]int{}, writing: map[string]int{}, unread: map[string]int{}, counts: map[string]uint64{}}
}

// opCounter is the counter of the operations of kind drawn: "workload.op." and its name,
// without building the string for every operation.
func opCounter(kind kv.Kind) string {
	switch kind {
	case kv.KindGet:
		return "workload.op.get"
	case kv.KindPut:
		return "workload.op.put"
	case kv.KindAppend:
		return "workload.op.append"
	case kv.KindCAS:
		return "workload.op.cas"
	case kv.KindDelete:
		return "workload.op.delete"
	}
	return "workload.op." + kind.String()
}

// next draws client's next operation, on keys that start with prefix; with deletes, one
// operation in eight is a delete.
func (w *workload) next(clientIndex int, prefix string, deletes bool) kv.Op {
	kind := w.kind()
	if deletes && w.r.IntN(8) == 0 {
		kind = kv.KindDelete
	}
	write := kind != kv.KindGet
	key := w.key(prefix, write)
	if write && w.unread[key] >= workloadUnreadWritesMax {
		kind, write = kv.KindGet, false
	}
	if write {
		w.writing[key]++
		w.unread[key]++
	} else {
		w.unread[key] = 0
	}
	w.counts[opCounter(kind)]++
	switch kind {
	case kv.KindDelete:
		return kv.Op{Kind: kv.KindDelete, Key: key}
	case kv.KindGet:
		return kv.Op{Kind: kv.KindGet, Key: key}
	case kv.KindPut:
		return kv.Op{Kind: kv.KindPut, Key: key, Value: w.written(clientIndex)}
	case kv.KindAppend:
		return kv.Op{Kind: kv.KindAppend, Key: key, Value: "+" + w.value(clientIndex, 1)}
	}
	op := kv.Op{Kind: kv.KindCAS, Key: key, Value: w.written(clientIndex), ExpectedAbsent: true}
	seen := w.seen[key]
	switch {
	case (seen == nil || len(seen.values) == 0) && w.mix.blindCAS && w.r.IntN(2) == 0:
		// only seeds with blind cas draw here, so that the others keep their draws
		op.Expected, op.ExpectedAbsent = w.neverWritten(clientIndex), false
		w.counts["workload.cas.blind"]++
	case seen == nil || len(seen.values) == 0:
	case seen.absent && w.r.IntN(4) > 0:
	case w.r.IntN(4) > 0:
		op.Expected, op.ExpectedAbsent = seen.values[len(seen.values)-1], false
	default:
		op.Expected, op.ExpectedAbsent = seen.values[w.r.IntN(len(seen.values))], false
	}
	return op
}

// key draws a key (its fullKey): one of mix.keys (the first for half the operations if one
// is hot), in its current generation. A write goes to the next key with fewer than
// workloadKeyWritesMax writes in flight, or, if none has, to a fresh generation of the one
// drawn.
func (w *workload) key(prefix string, write bool) string {
	i := 0
	if !w.mix.hot || w.r.IntN(2) == 0 {
		i = w.r.IntN(w.mix.keys)
	}
	full := func(i int) bool {
		return write && w.writing[w.fullKey(prefix, i)] >= workloadKeyWritesMax
	}
	for tried := 0; tried < w.mix.keys && full(i); tried++ {
		i = (i + 1) % w.mix.keys
	}
	if w.uses[i] == workloadKeyOps || full(i) {
		w.uses[i] = 0
		w.generation[i]++
	}
	w.uses[i]++
	return w.fullKey(prefix, i)
}

// fullKey is key index i's key as operations name it: prefix and its name in its current
// generation, padded as the mix pads keys. It is kept per index until the generation moves
// on: the draw looks up several candidates per operation, and building each string anew
// cost more than the rest of the draw.
func (w *workload) fullKey(prefix string, i int) string {
	if w.keys == nil {
		w.keys = make([]workloadKey, w.mix.keys)
	}
	k := &w.keys[i]
	if k.key == "" || k.prefix != prefix || k.generation != w.generation[i] {
		*k = workloadKey{prefix: prefix, generation: w.generation[i], key: w.mix.size.key(prefix + w.name(i))}
	}
	return k.key
}

// name is key index i's name in its current generation.
func (w *workload) name(i int) string {
	if w.generation[i] == 0 {
		return "k" + strconv.Itoa(i)
	}
	return "k" + strconv.Itoa(i) + "." + strconv.Itoa(w.generation[i])
}

func (w *workload) kind() kv.Kind {
	total := 0
	for _, weight := range w.mix.weights {
		total += weight
	}
	pick := w.r.IntN(total)
	for i, weight := range w.mix.weights {
		if pick < weight {
			return workloadKinds[i]
		}
		pick -= weight
	}
	panic("workload: weights changed under the draw")
}

// value returns a value no client wrote before, padded to the mix's size less reserve bytes
// (the "+" of an append).
func (w *workload) value(clientIndex, reserve int) string {
	w.writes[clientIndex]++
	return w.mix.size.pad("c"+strconv.Itoa(clientIndex)+"."+strconv.Itoa(w.writes[clientIndex])+".", reserve)
}

// observe learns from an operation's outcome what its key holds.
func (w *workload) observe(op kv.Op, r client.Result) {
	if op.Kind != kv.KindGet {
		if w.writing[op.Key]--; w.writing[op.Key] == 0 {
			delete(w.writing, op.Key)
		}
	}
	if op.Kind == kv.KindCAS {
		w.countCAS(r)
	}
	if r.Outcome != client.OK {
		return
	}
	result, err := kv.DecodeResult(r.Reply)
	if err != nil {
		return
	}
	switch {
	case result.Status == kv.StatusNotFound && op.Kind != kv.KindCAS,
		result.Status == kv.StatusOK && op.Kind == kv.KindDelete:
		w.saw(op.Key, "", true)
	case result.Status == kv.StatusOK && op.Kind == kv.KindGet, result.Status == kv.StatusMismatch:
		w.saw(op.Key, result.Value, false)
	case result.Status == kv.StatusOK && (op.Kind == kv.KindPut || op.Kind == kv.KindCAS):
		w.saw(op.Key, op.Value, false)
	}
}

func (w *workload) saw(key, value string, absent bool) {
	s := w.seen[key]
	if s == nil {
		s = &seenValues{}
		w.seen[key] = s
	}
	s.absent = absent
	if absent || value == "" {
		return
	}
	if len(s.values) == workloadSeenMax {
		s.values = append(s.values[:0], s.values[1:]...)
	}
	s.values = append(s.values, value)
}

func (w *workload) countCAS(r client.Result) {
	outcome := "indeterminate"
	if r.Outcome == client.OK {
		outcome = "other"
		if result, err := kv.DecodeResult(r.Reply); err == nil {
			switch result.Status {
			case kv.StatusOK:
				outcome = "ok"
			case kv.StatusMismatch:
				outcome = "mismatch"
			case kv.StatusNotFound:
				outcome = "not_found"
			}
		}
	}
	w.counts["workload.cas."+outcome]++
}

// counters adds the workload's mix and counts to a result's counters.
func (w *workload) counters(counters map[string]uint64) {
	if w == nil {
		return
	}
	for i, kind := range workloadKinds {
		counters["workload.weight."+kind.String()] = uint64(w.mix.weights[i])
	}
	counters["workload.keys"] = uint64(w.mix.keys)
	for name, n := range w.counts {
		counters[name] = n
	}
}
