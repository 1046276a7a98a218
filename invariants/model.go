package invariants

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/anishathalye/porcupine"
	"github.com/zeebo/xxh3"

	"vopr/cluster/kv"
)

// The key/value model of cluster/kv for porcupine, partitioned by key: an operation reads
// and writes one key only, so the history is linearizable exactly when each key's
// sub-history is (Herlihy and Wing's locality), and the state of a partition is one value.
//
// Inputs are kv.Op; outputs are kvOutput. StatusFull depends on how many keys the whole map
// holds, which one partition cannot see, so the model allows it wherever the operation
// would create the key, and then the state is unchanged. Likewise whether a delete is
// supported depends on the machine's release, a cluster-wide state: a delete answered
// StatusUnsupported changed nothing (the upgrade scenario checks separately that no delete
// succeeded before the feature was active).

// kvState is the value of one key.
type kvState struct {
	present bool
	value   string
}

// kvOutput is an operation's result; known is false for an indeterminate operation, which
// may have taken effect (with whatever result) or not at all. An indeterminate operation
// that never returns "does not take effect" by being linearized last; one that must be
// linearized by a bound (bounded) has both outcomes in the model. Branching only where it
// is needed keeps the state sets small: a client has at most one unbounded operation.
type kvOutput struct {
	known   bool
	bounded bool
	result  kv.Result
}

// kvStatesMax bounds the set of values one key may hold in the model. Each bounded
// indeterminate append that no known result pins down doubles the set, and porcupine merges
// a set pairwise at every step: 35 of them on one key (with deletes, so that markUnobserved
// cannot prune them) took a swarm campaign to 24 GB and the OOM killer (fresh-range seed
// 2026416581). Past the bound the key's state is kvUnchecked.
const kvStatesMax = 256

// kvWorkMax bounds the work porcupine may do on one key in one check, in bytes of the states
// its steps build (each possible value's length, plus 16 per value). The search is
// exponential in the operations open at once, and a key whose set of possible values stays
// within kvStatesMax can still take it tens of seconds and gigabytes when the values are
// long (swarm seed 2027316589: 22 s and 9 GB on one key at the end of a passing run, a
// 10,000-seed campaign's peak RSS). Counting bytes rather than steps leaves a search of many
// small states alone (TestLinearizableBoundsOpenEndedWrites: a key at openEndedMax). Past
// the bound the key's state is kvUnchecked, as past kvStatesMax. The work is counted per
// kvModel, and each check makes its own, so a verdict never depends on how far an earlier
// check's partitions ran before another one failed.
const kvWorkMax = 64 << 20

// kvUnchecked is the state of a key whose set of possible values outgrew kvStatesMax: it
// takes every operation, so the rest of that key's history is not checked (Jepsen's
// "unknown"), and the key is named to capped, which the Suite counts.
type kvUnchecked struct{}

// KVModel returns the porcupine model of the key/value state machine, partitioned by key.
// It is nondeterministic (porcupine's power-set construction: a state is the set of values
// the key may hold), because an indeterminate operation may or may not take effect.
func KVModel() porcupine.Model { return kvModel(nil) }

// kvModel is KVModel that caps each key's set of values at kvStatesMax and reports each key
// it stops checking to capped (may be nil).
func kvModel(capped *cappedKeys) porcupine.Model {
	m := kvPowerSetModel()
	inner := m.StepContext
	var work keyWork
	m.StepContext = func(ctx context.Context, state, input, output any) (bool, any) {
		if _, unchecked := state.(kvUnchecked); unchecked {
			return true, state
		}
		ok, next := inner(ctx, state, input, output)
		if ok && !work.take(input.(kv.Op).Key, next.([]any)) {
			capped.add(input.(kv.Op).Key)
			return true, kvUnchecked{}
		}
		if ok && len(next.([]any)) > kvStatesMax {
			capped.add(input.(kv.Op).Key)
			return true, kvUnchecked{}
		}
		return ok, next
	}
	m.Step = func(state, input, output any) (bool, any) {
		return m.StepContext(context.Background(), state, input, output)
	}
	equal, hash, describe := m.Equal, m.Hash, m.DescribeState
	m.Equal = func(a, b any) bool {
		_, ua := a.(kvUnchecked)
		_, ub := b.(kvUnchecked)
		if ua || ub {
			return ua && ub
		}
		return equal(a, b)
	}
	m.Hash = func(state any) uint64 {
		if _, unchecked := state.(kvUnchecked); unchecked {
			return 0x756e636865636b64 // any fixed value: there is one such state
		}
		return hash(state)
	}
	m.DescribeState = func(state any) string {
		if _, unchecked := state.(kvUnchecked); unchecked {
			return "unchecked: more than " + strconv.Itoa(kvStatesMax) + " possible values"
		}
		return describe(state)
	}
	return m
}

// cappedKeys collects the keys kvModel stopped checking. Porcupine checks partitions in
// parallel, hence the lock. Once a check passes, every partition ran to its end, and the set
// does not depend on the order they finished in (a failing check stops the others early).
type cappedKeys struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (c *cappedKeys) add(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = map[string]bool{}
	}
	c.keys[key] = true
}

func (c *cappedKeys) count() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}

// keyWork counts one model's work on each key (kvWorkMax). Porcupine checks partitions in
// parallel, hence the lock; each key's work is that of its own partition's search, which is
// sequential and deterministic.
type keyWork struct {
	mu sync.Mutex
	n  map[string]int
}

// take counts the state a step on key built and reports whether the key is within budget.
func (k *keyWork) take(key string, state []any) bool {
	size := 0
	for _, s := range state {
		size += 16 + len(s.(kvState).value)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n == nil {
		k.n = map[string]int{}
	}
	k.n[key] += size
	return k.n[key] <= kvWorkMax
}

// kvPowerSetModel is the model before the cap: porcupine's power-set construction.
func kvPowerSetModel() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition:      partitionByKey,
		PartitionEvent: partitionEventsByKey,
		Init:           func() []any { return []any{kvState{}} },
		Step: func(state, input, output any) []any {
			return kvSteps(state, input.(kv.Op), output.(kvOutput))
		},
		DescribeOperation: func(input, output any) string {
			return describeOp(input.(kv.Op)) + " -> " + describeOutput(input.(kv.Op), output.(kvOutput))
		},
		Hash:          func(state any) uint64 { return hashState(state.(kvState)) },
		DescribeState: func(state any) string { return describeState(state.(kvState)) },
	}
	return nm.ToModel()
}

// hashState hashes the state for porcupine's cache buckets (equal states hash equal; the
// check's outcome does not depend on the hash): XXH3 of the value, complemented when
// present. FNV-1a, a byte at a time, was half of the linearizability check's time.
func hashState(s kvState) uint64 {
	h := xxh3.HashString(s.value)
	if s.present {
		h = ^h
	}
	return h
}

// kvSteps is cluster/kv's Machine.apply on one key, checked against an observed output: the
// states op can leave s in while answering out (none if out is not a possible answer). A
// bounded indeterminate operation takes effect, or not. state is s, boxed (a kvState).
func kvSteps(state any, op kv.Op, out kvOutput) []any {
	s := state.(kvState)
	want, next, creates := kvApply(s, op)
	// A state op leaves unchanged is answered with state itself: boxing a copy allocated.
	after := state
	if next != s {
		after = next
	}
	switch {
	case !out.known && out.bounded && next != s:
		return []any{after, state}
	case !out.known:
		return []any{after}
	case out.result.Status == kv.StatusFull && creates:
		return []any{state}
	case out.result.Status == kv.StatusUnsupported && op.Kind == kv.KindDelete:
		return []any{state}
	case out.result == want:
		return []any{after}
	}
	return nil
}

// kvApply returns the result and next state of op on s, and whether it would create the key
// (the only case where StatusFull may be answered instead).
func kvApply(s kvState, op kv.Op) (result kv.Result, next kvState, creates bool) {
	set := func(value string) (kv.Result, kvState, bool) {
		return kv.Result{Status: kv.StatusOK}, kvState{present: true, value: value}, !s.present
	}
	switch op.Kind {
	case kv.KindGet:
		if !s.present {
			return kv.Result{Status: kv.StatusNotFound}, s, false
		}
		return kv.Result{Status: kv.StatusOK, Value: s.value}, s, false
	case kv.KindPut:
		return set(op.Value)
	case kv.KindAppend:
		if len(s.value)+len(op.Value) > kv.ValueSizeMax {
			return kv.Result{Status: kv.StatusTooLarge}, s, false
		}
		return set(s.value + op.Value)
	case kv.KindCAS:
		switch {
		case op.ExpectedAbsent && s.present, !op.ExpectedAbsent && s.present && s.value != op.Expected:
			return kv.Result{Status: kv.StatusMismatch, Value: s.value}, s, false
		case !op.ExpectedAbsent && !s.present:
			return kv.Result{Status: kv.StatusNotFound}, s, false
		}
		return set(op.Value)
	case kv.KindDelete:
		if !s.present {
			return kv.Result{Status: kv.StatusNotFound}, s, false
		}
		return kv.Result{Status: kv.StatusOK}, kvState{}, false
	}
	return kv.Result{Status: kv.StatusInvalid}, s, false
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, o := range history {
		key := o.Input.(kv.Op).Key
		byKey[key] = append(byKey[key], o)
	}
	out := make([][]porcupine.Operation, 0, len(byKey))
	for _, key := range sortedKeys(byKey) {
		out = append(out, byKey[key])
	}
	return out
}

func partitionEventsByKey(history []porcupine.Event) [][]porcupine.Event {
	keyOf := map[int]string{}
	byKey := map[string][]porcupine.Event{}
	for _, e := range history {
		if e.Kind == porcupine.CallEvent {
			keyOf[e.Id] = e.Value.(kv.Op).Key
		}
		key := keyOf[e.Id]
		byKey[key] = append(byKey[key], e)
	}
	out := make([][]porcupine.Event, 0, len(byKey))
	for _, key := range sortedKeys(byKey) {
		out = append(out, byKey[key])
	}
	return out
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func describeOp(op kv.Op) string {
	switch op.Kind {
	case kv.KindGet, kv.KindDelete:
		return fmt.Sprintf("%s(%s)", op.Kind, quote(op.Key))
	case kv.KindCAS:
		expected := quote(op.Expected)
		if op.ExpectedAbsent {
			expected = "absent"
		}
		return fmt.Sprintf("cas(%s, %s -> %s)", quote(op.Key), expected, quote(op.Value))
	}
	return fmt.Sprintf("%s(%s, %s)", op.Kind, quote(op.Key), quote(op.Value))
}

func describeOutput(op kv.Op, out kvOutput) string {
	if !out.known {
		return "?"
	}
	r := out.result
	name := map[kv.Status]string{kv.StatusOK: "ok", kv.StatusNotFound: "not_found", kv.StatusMismatch: "mismatch",
		kv.StatusTooLarge: "too_large", kv.StatusFull: "full", kv.StatusInvalid: "invalid",
		kv.StatusUnsupported: "unsupported"}[r.Status]
	if name == "" {
		name = fmt.Sprintf("status(%d)", r.Status)
	}
	if r.Value != "" || (r.Status == kv.StatusOK && op.Kind == kv.KindGet) {
		return name + " " + quote(r.Value)
	}
	return name
}

func describeState(s kvState) string {
	if !s.present {
		return "absent"
	}
	return quote(s.value)
}

// quote prints a value, shortened past 32 bytes.
func quote(s string) string {
	const limit = 32
	if len(s) > limit {
		return fmt.Sprintf("%q...(%d bytes)", s[:limit], len(s))
	}
	return fmt.Sprintf("%q", s)
}
