package invariants

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"

	"vopr/cluster/kv"
)

// NameLinearizable checks that the clients' history is linearizable (Herlihy and Wing):
// there is one order of all operations, consistent with real time (an operation that
// returned before another was invoked comes first), in which each result is what the
// key/value state machine answers. Porcupine decides it with the model of model.go,
// partitioned by key, without a timeout, at Finish; a key whose set of possible values
// outgrows kvStatesMax is checked up to there and counted unchecked (model.go), and a key
// with more than openEndedMax open-ended writes is counted unchecked, so that no history can
// take the check exponential time and memory. An indeterminate operation takes effect
// or not, before its client's next acknowledged operation returns (History explains why),
// or at any time if there is none.
//
// On failure the report names the earliest return that makes the history impossible: the
// check is repeated on the failing key's prefixes (operations invoked by time T; those
// that returned later count as indeterminate), whose failure is monotonic in T, by
// binary search over return times.
const NameLinearizable = "linearizable"

// Check reports whether the history recorded so far is linearizable: nil, or a violation
// naming the key and the operation whose return no order of the others explains.
func (h *History) Check() *Violation {
	if h.bad != nil {
		return h.bad
	}
	byKey := map[string][]int{}
	for id, o := range h.ops {
		byKey[o.op.Key] = append(byKey[o.op.Key], id)
	}
	keys := sortedKeys(byKey)
	drop := make([]bool, len(h.ops))
	for _, key := range keys {
		h.markUnobserved(byKey[key], drop)
	}
	keys, open := h.withoutOpenEnded(keys, byKey, drop)
	var all []int
	for _, key := range keys {
		all = append(all, byKey[key]...)
	}
	var capped cappedKeys
	if porcupine.CheckOperations(kvModel(&capped), h.operations(math.MaxInt64, all, drop)) {
		h.unchecked = capped.count() + open
		return nil
	}
	for _, key := range keys {
		if !porcupine.CheckOperations(kvModel(&capped), h.operations(math.MaxInt64, byKey[key], drop)) {
			return h.blame(&capped, key, byKey[key], drop)
		}
	}
	return violation(NameLinearizable, -1, 0, 0, h.lastReturn(),
		"the history is not linearizable, yet each key's history is: the partition by key is wrong")
}

// openEndedMax bounds a key's open-ended operations: indeterminate writes (not pruned by
// markUnobserved) whose client never had a later operation acknowledged, so they may take
// effect at any point up to the end. Porcupine tries the subsets of the operations open at
// once, and every open-ended one stays open to the end: a client whose requests all fail
// from some point on (evicted again and again, or cut off for good) would take the check
// exponential memory (a planted client bug took one to 20 GB).
const openEndedMax = 12

// withoutOpenEnded returns the keys whose open-ended operations are at most openEndedMax,
// and how many it left out: those are counted unchecked, like a key past kvStatesMax.
func (h *History) withoutOpenEnded(keys []string, byKey map[string][]int, drop []bool) ([]string, int) {
	bound := h.bounds(math.MaxInt64)
	var kept []string
	for _, key := range keys {
		open := 0
		for _, id := range byKey[key] {
			o := h.ops[id]
			if !drop[id] && o.op.Kind != kv.KindGet && o.status != opReturned && o.status != opEvicted &&
				bound[id] == math.MaxInt64 {
				open++
			}
		}
		if open <= openEndedMax {
			kept = append(kept, key)
		}
	}
	return kept, len(keys) - len(kept)
}

// markUnobserved marks, among one key's operations ids, the indeterminate writes that no
// observation can have seen: leaving them out changes no verdict, and it keeps porcupine
// from trying every subset of them (exponential in their number, on a failing history).
//
// An indeterminate write W of a non-empty value v (put, append or cas) is unobserved when v
// occurs in no value a known result returned (get, cas mismatch) and in no cas's expected
// value, and no reachable value can exceed kv.ValueSizeMax (the longest put or cas value
// plus every appended value fit), so that StatusTooLarge is never an answer. Then:
//   - a linearization of the history without W is one with W, where W takes no effect
//     (its result is unknown; the model lets a bounded indeterminate operation take no
//     effect, and an unbounded one is linearized last);
//   - a linearization L with W gives one without: while W's v is in the value (until a
//     put or a successful cas replaces it), no known get, cas or cas-absent can have run,
//     since each would have revealed v or expected it; known appends answer OK on any
//     value under the size bound; an indeterminate cas in that stretch failed in L (its
//     expected value does not contain v), and takes no effect without W either (bounded:
//     the model's no-effect branch; unbounded: linearized last).
//     Removing W then changes no known result.
//
// A key with a delete is not pruned: a delete's OK or NotFound reveals whether some write
// took effect without revealing its value.
func (h *History) markUnobserved(ids []int, drop []bool) {
	if h.noPrune {
		return
	}
	var observed []string
	longest, appended := 0, 0
	for _, id := range ids {
		o := h.ops[id]
		if o.status == opEvicted {
			continue
		}
		switch o.op.Kind {
		case kv.KindDelete:
			return // a delete's OK or NotFound reveals whether any write took effect
		case kv.KindAppend:
			appended += len(o.op.Value)
		case kv.KindPut, kv.KindCAS:
			longest = max(longest, len(o.op.Value))
		}
		if o.op.Kind == kv.KindCAS && o.op.Expected != "" {
			observed = append(observed, o.op.Expected)
		}
		if o.status == opReturned && o.result.Value != "" {
			observed = append(observed, o.result.Value)
		}
	}
	if longest+appended > kv.ValueSizeMax {
		return
	}
	seen := strings.Join(observed, "\x00")
	for _, id := range ids {
		o := h.ops[id]
		if o.op.Kind != kv.KindGet && (o.status == opPending || o.status == opIndeterminate) &&
			o.op.Value != "" && !strings.Contains(seen, o.op.Value) {
			drop[id] = true
		}
	}
}

// operations converts the operations ids (all if nil) invoked by time limit, less those
// dropped, as known at limit: an operation that had not returned by then is indeterminate.
// An indeterminate operation returns when the client's next acknowledged operation does
// (see History), or never.
func (h *History) operations(limit int64, ids []int, drop []bool) []porcupine.Operation {
	bound := h.bounds(limit)
	n := len(ids)
	if ids == nil {
		n = len(h.ops)
	}
	out := make([]porcupine.Operation, 0, n) // at most one per id: no growing by copies
	add := func(id int) {
		o := h.ops[id]
		if o.status == opEvicted || o.callNs > limit || drop[id] {
			return
		}
		p := porcupine.Operation{ClientId: o.client, Input: o.op, Call: o.callNs, Return: bound[id]}
		if o.status == opReturned && o.returnNs <= limit {
			p.Output, p.Return = kvOutput{known: true, result: o.result}, o.returnNs
		} else if o.op.Kind == kv.KindGet {
			return // an unanswered read constrains nothing
		} else {
			p.Output = kvOutput{bounded: p.Return != math.MaxInt64}
		}
		out = append(out, p)
	}
	if ids == nil {
		for id := range h.ops {
			add(id)
		}
	}
	for _, id := range ids {
		add(id)
	}
	return out
}

// bounds returns, for each operation, the return time (by limit) of the next operation of
// the same client that returned, or math.MaxInt64.
func (h *History) bounds(limit int64) []int64 {
	bound := make([]int64, len(h.ops))
	next := map[int]int64{}
	for id := len(h.ops) - 1; id >= 0; id-- {
		o := h.ops[id]
		b, ok := next[o.client]
		if !ok {
			b = math.MaxInt64
		}
		bound[id] = b
		if o.status == opReturned && o.returnNs <= limit {
			next[o.client] = o.returnNs
		}
	}
	return bound
}

// blame finds the earliest return time T at which key's history stops being linearizable,
// and reports the operation that returned then.
func (h *History) blame(capped *cappedKeys, key string, ids []int, drop []bool) *Violation {
	var times []int64
	for _, id := range ids {
		if o := h.ops[id]; o.status == opReturned {
			times = append(times, o.returnNs)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	i := sort.Search(len(times), func(i int) bool {
		return !porcupine.CheckOperations(kvModel(capped), h.operations(times[i], ids, drop))
	})
	if i == len(times) {
		return violation(NameLinearizable, -1, 0, 0, h.lastReturn(),
			"key %s: the history is not linearizable, yet none of its prefixes fails", quote(key))
	}
	at := times[i]
	culprit := -1
	var prefix []int
	for _, id := range ids {
		o := h.ops[id]
		if o.callNs <= at && o.status != opEvicted {
			prefix = append(prefix, id)
		}
		if culprit < 0 && o.status == opReturned && o.returnNs == at {
			culprit = id
		}
	}
	c := h.ops[culprit]
	return violation(NameLinearizable, -1, c.logOp, c.view, at,
		"key %s: client %d's %s -> %s (invoked at %s) has no linearization with the %d operations on the key invoked by then; the latest: %s",
		quote(key), c.client, describeOp(c.op), describeOutput(c.op, kvOutput{known: true, result: c.result}),
		formatNs(c.callNs), len(prefix), h.describeLatest(prefix, at, 8))
}

// describeLatest lists the n operations of ids invoked last, as seen at time at.
func (h *History) describeLatest(ids []int, at int64, n int) string {
	if len(ids) > n {
		ids = ids[len(ids)-n:] // ids are in invocation order
	}
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		o := h.ops[id]
		out, ret := kvOutput{}, "pending"
		if o.status == opReturned && o.returnNs <= at {
			out, ret = kvOutput{known: true, result: o.result}, formatNs(o.returnNs)
		}
		parts = append(parts, fmt.Sprintf("client %d %s -> %s [%s, %s]", o.client, describeOp(o.op),
			describeOutput(o.op, out), formatNs(o.callNs), ret))
	}
	return strings.Join(parts, "; ")
}

// lastReturn is the time of the latest return recorded.
func (h *History) lastReturn() int64 {
	var at int64
	for _, o := range h.ops {
		if o.status == opReturned {
			at = max(at, o.returnNs)
		}
	}
	return at
}
