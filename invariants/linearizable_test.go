package invariants

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/client"
	"vopr/cluster/kv"
)

func put(key, value string) kv.Op      { return kv.Op{Kind: kv.KindPut, Key: key, Value: value} }
func get(key string) kv.Op             { return kv.Op{Kind: kv.KindGet, Key: key} }
func appendOp(key, value string) kv.Op { return kv.Op{Kind: kv.KindAppend, Key: key, Value: value} }
func cas(key, expected, value string) kv.Op {
	return kv.Op{Kind: kv.KindCAS, Key: key, Expected: expected, Value: value}
}

var (
	ok       = kv.Result{Status: kv.StatusOK}
	notFound = kv.Result{Status: kv.StatusNotFound}
)

func okValue(v string) kv.Result  { return kv.Result{Status: kv.StatusOK, Value: v} }
func mismatch(v string) kv.Result { return kv.Result{Status: kv.StatusMismatch, Value: v} }

// record adds an operation that returned r, from callMs to returnMs; logOp names its reply.
func record(h *History, client int, op kv.Op, callMs, returnMs int64, r kv.Result, logOp uint64) int {
	id := h.Invoke(client, op, callMs*ms)
	h.Complete(id, replyOK(r, logOp), returnMs*ms)
	return id
}

func replyOK(r kv.Result, logOp uint64) client.Result {
	return client.Result{Outcome: client.OK, Reply: kv.EncodeResult(r), Op: logOp, View: uint32(logOp / 10)}
}

func TestLinearizablePassesAConcurrentHistory(t *testing.T) {
	h := NewHistory()
	record(h, 1, put("x", "1"), 0, 100, ok, 1)
	record(h, 2, get("x"), 10, 40, notFound, 2)      // before the put took effect
	record(h, 3, get("x"), 50, 150, okValue("1"), 3) // concurrent with the put: sees it
	record(h, 2, appendOp("x", "2"), 110, 200, ok, 4)
	record(h, 1, cas("x", "1", "3"), 120, 210, mismatch("12"), 5) // after the append
	record(h, 3, cas("x", "12", "4"), 220, 230, ok, 6)
	record(h, 1, get("x"), 240, 250, okValue("4"), 7)
	record(h, 2, kv.Op{Kind: kv.KindCAS, Key: "y", Value: "a", ExpectedAbsent: true}, 0, 300, ok, 8)
	record(h, 3, cas("z", "a", "b"), 0, 10, notFound, 9)
	record(h, 3, put("w", "new"), 0, 10, kv.Result{Status: kv.StatusFull}, 10) // a full map refuses new keys
	record(h, 3, get("w"), 20, 30, notFound, 11)
	require.Nil(t, h.Check())
}

func TestLinearizableFiresOnAStaleRead(t *testing.T) {
	h := NewHistory()
	record(h, 1, put("x", "1"), 0, 10, ok, 11)
	record(h, 2, put("x", "2"), 20, 30, ok, 12)
	record(h, 3, get("y"), 20, 30, notFound, 13)
	record(h, 3, get("x"), 40, 50, okValue("1"), 27)
	record(h, 1, get("x"), 60, 70, okValue("2"), 28)
	v := h.Check()
	requireViolation(t, v, NameLinearizable, -1, 27, 2, 50*ms)
	require.Contains(t, v.Message, `key "x": client 3's get("x") -> ok "1" (invoked at 40.000ms)`)
	require.Contains(t, v.Message, `client 2 put("x", "2") -> ok [20.000ms, 30.000ms]`)
	require.Equal(t, v, h.Check(), "the report is deterministic")
}

func TestLinearizableIndeterminateWrites(t *testing.T) {
	build := func() *History {
		h := NewHistory()
		record(h, 1, put("x", "1"), 0, 10, ok, 1)
		h.Indeterminate(h.Invoke(2, put("x", "2"), 20*ms))
		h.Indeterminate(h.Invoke(2, get("x"), 21*ms)) // constrains nothing
		return h
	}
	t.Run("shows_up_later", func(t *testing.T) {
		h := build()
		record(h, 3, get("x"), 100, 110, okValue("1"), 3)
		record(h, 3, get("x"), 120, 130, okValue("2"), 4) // took effect long after the client gave up
		require.Nil(t, h.Check())
	})
	t.Run("never_shows_up", func(t *testing.T) {
		h := build()
		record(h, 3, get("x"), 100, 110, okValue("1"), 3)
		require.Nil(t, h.Check())
	})
	t.Run("pending_at_the_end_counts_as_indeterminate", func(t *testing.T) {
		h := build()
		h.Invoke(1, appendOp("x", "3"), 90*ms)
		record(h, 3, get("x"), 100, 110, okValue("23"), 3)
		require.Nil(t, h.Check())
	})
	t.Run("cannot_take_effect_twice", func(t *testing.T) {
		h := build()
		record(h, 3, get("x"), 100, 110, okValue("2"), 3)
		record(h, 1, put("x", "5"), 115, 118, ok, 4)
		record(h, 3, get("x"), 120, 130, okValue("2"), 5)
		requireViolation(t, h.Check(), NameLinearizable, -1, 5, 0, 130*ms)
	})
	t.Run("cannot_take_effect_after_the_clients_next_op", func(t *testing.T) {
		h := build()
		record(h, 2, get("y"), 30, 40, notFound, 3) // client 2 moved on: its put ran by 40 or never
		record(h, 1, put("x", "3"), 50, 60, ok, 4)
		record(h, 3, get("x"), 70, 80, okValue("2"), 5)
		requireViolation(t, h.Check(), NameLinearizable, -1, 5, 0, 80*ms)
	})
	t.Run("took_effect_before_the_clients_next_op", func(t *testing.T) {
		h := build()
		record(h, 3, get("x"), 25, 28, okValue("1"), 3)
		record(h, 2, get("y"), 30, 40, notFound, 4)
		record(h, 3, get("x"), 70, 80, okValue("2"), 5)
		require.Nil(t, h.Check())
	})
	t.Run("evicted_may_have_run", func(t *testing.T) {
		h := build()
		id := h.Invoke(1, put("x", "9"), 30*ms)
		h.Complete(id, client.Result{Outcome: client.Evicted}, 40*ms)
		record(h, 3, get("x"), 100, 110, okValue("9"), 41)
		require.Nil(t, h.Check())
	})
	t.Run("never_ran", func(t *testing.T) {
		h := build()
		h.Evicted(h.Invoke(1, put("x", "9"), 30*ms))
		record(h, 3, get("x"), 100, 110, okValue("9"), 41)
		requireViolation(t, h.Check(), NameLinearizable, -1, 41, 4, 110*ms)
	})
}

func TestLinearizableFiresOnAnUndecodableReply(t *testing.T) {
	h := NewHistory()
	id := h.Invoke(1, get("x"), 0)
	h.Complete(id, client.Result{Outcome: client.OK, Reply: []byte{0xff}, Op: 3, View: 1}, 10*ms)
	requireViolation(t, h.Check(), NameLinearizable, -1, 3, 1, 10*ms)
}

func TestHistoryRejectsMisuse(t *testing.T) {
	h := NewHistory()
	require.Panics(t, func() { h.Invoke(1, kv.Op{Kind: kv.KindGet}, 0) })
	id := h.Invoke(1, get("x"), 0)
	h.Indeterminate(id)
	require.Panics(t, func() { h.Return(id, kv.EncodeResult(notFound), 1) })
	require.Panics(t, func() { h.Evicted(7) })
}

func TestKVModelPartitionsByKey(t *testing.T) {
	model := KVModel()
	ops := []porcupine.Operation{
		{Input: put("b", "1"), Output: kvOutput{known: true, result: ok}, Call: 0, Return: 1},
		{Input: get("a"), Output: kvOutput{known: true, result: notFound}, Call: 0, Return: 1},
		{Input: get("b"), Output: kvOutput{known: true, result: okValue("1")}, Call: 2, Return: 3},
	}
	parts := model.Partition(ops)
	require.Len(t, parts, 2)
	require.Equal(t, "a", parts[0][0].Input.(kv.Op).Key)
	require.Len(t, parts[1], 2)
	require.True(t, porcupine.CheckOperations(model, ops))

	events := []porcupine.Event{
		{Kind: porcupine.CallEvent, Value: put("b", "1"), Id: 0},
		{Kind: porcupine.CallEvent, Value: get("a"), Id: 1},
		{Kind: porcupine.ReturnEvent, Value: kvOutput{known: true, result: ok}, Id: 0},
		{Kind: porcupine.ReturnEvent, Value: kvOutput{known: true, result: okValue("x")}, Id: 1},
	}
	eparts := model.PartitionEvent(events)
	require.Len(t, eparts, 2)
	require.Len(t, eparts[0], 2)
	require.False(t, porcupine.CheckEvents(model, events), "a read of a value never written")
	require.Equal(t, `cas("k", absent -> "v") -> mismatch "w"`, model.DescribeOperation(
		kv.Op{Kind: kv.KindCAS, Key: "k", Value: "v", ExpectedAbsent: true}, kvOutput{known: true, result: mismatch("w")}))
}

// genOp draws a valid operation on a few keys with short values from a small alphabet.
func genOp(t *rapid.T) kv.Op {
	key := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "key")
	value := rapid.StringOfN(rapid.RuneFrom([]rune("xyz")), 0, 3, -1).Draw(t, "value")
	switch rapid.IntRange(0, 4).Draw(t, "kind") {
	case 0, 1:
		return get(key)
	case 2:
		return put(key, value)
	case 3:
		return appendOp(key, value)
	}
	if rapid.Bool().Draw(t, "absent") {
		return kv.Op{Kind: kv.KindCAS, Key: key, Value: value, ExpectedAbsent: true}
	}
	return cas(key, rapid.StringOfN(rapid.RuneFrom([]rune("xyz")), 0, 3, -1).Draw(t, "expected"), value)
}

// TestKVModelMatchesTheStateMachine: the model's result and next state for any state and
// operation are what cluster/kv's Machine does.
func TestKVModelMatchesTheStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := kv.New()
		for _, op := range rapid.SliceOfN(rapid.Custom(genOp), 1, 20).Draw(t, "ops") {
			value, present := m.Get(op.Key)
			state := kvState{present: present, value: value}
			want, err := kv.DecodeResult(m.Apply(kv.EncodeOp(op)))
			require.NoError(t, err)
			next := kvSteps(state, op, kvOutput{known: true, result: want})
			require.Len(t, next, 1, "%s on %s: machine says %+v", describeOp(op), describeState(state), want)
			value, present = m.Get(op.Key)
			require.Equal(t, kvState{present: present, value: value}, next[0])
		}
	})
}

// TestLinearizableProperty: histories produced by a real state machine, with each
// operation's interval around its linearization point (so clients overlap), are
// linearizable; corrupting one read's value makes them not.
func TestLinearizableProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := rapid.SliceOfN(rapid.Custom(genOp), 1, 40).Draw(t, "ops")
		ops = append(ops, get(ops[0].Key)) // at least one read
		m := kv.New()
		h := NewHistory()
		var reads []int
		for i, op := range ops {
			point := int64(i+1) * 10
			call := point - rapid.Int64Range(0, 25).Draw(t, "before")
			ret := point + rapid.Int64Range(0, 25).Draw(t, "after")
			result, err := kv.DecodeResult(m.Apply(kv.EncodeOp(op)))
			require.NoError(t, err)
			id := h.Invoke(i%4, op, call)
			if op.Kind != kv.KindGet && rapid.IntRange(0, 9).Draw(t, "indeterminate") == 0 {
				h.Indeterminate(id) // it took effect; the client never learned
				continue
			}
			h.Return(id, kv.EncodeResult(result), ret)
			if op.Kind == kv.KindGet {
				reads = append(reads, id)
			}
		}
		require.Nil(t, h.Check())

		victim := reads[rapid.IntRange(0, len(reads)-1).Draw(t, "victim")]
		h.ops[victim].result = okValue("never-written") // outside the values' alphabet
		v := h.Check()
		require.NotNil(t, v, "a read of a value never written must fail")
		require.Equal(t, NameLinearizable, v.Checker)
		require.LessOrEqual(t, v.AtNs, h.ops[victim].returnNs, "blames the corrupt read or an earlier return")
	})
}

func TestLinearizableLargeSequentialHistoryIsFast(t *testing.T) {
	h := NewHistory()
	m := kv.New()
	for i := 0; i < 20000; i++ {
		var op kv.Op
		key := fmt.Sprintf("k%d", i%8)
		switch i % 3 {
		case 0:
			op = put(key, fmt.Sprint(i))
		case 1:
			op = get(key)
		default:
			op = appendOp(key, "z")
		}
		r, _ := kv.DecodeResult(m.Apply(kv.EncodeOp(op)))
		id := h.Invoke(i%5, op, int64(i)*ms)
		if i%97 == 0 && op.Kind != kv.KindGet {
			h.Indeterminate(id)
			continue
		}
		h.Return(id, kv.EncodeResult(r), int64(i)*ms+ms/2)
	}
	require.Nil(t, h.Check())
	last := h.Invoke(0, put("k0", "late"), 30000*ms)
	ops := h.operations(math.MaxInt64, []int{0, last}, make([]bool, h.Len()))
	require.Equal(t, 5*ms+ms/2, ops[0].Return, "indeterminate op 0 ends with its client's next op, op 5")
	require.Equal(t, int64(math.MaxInt64), ops[1].Return, "a client's last op never returns")
}

// TestLinearizableManyLostWritesFailFast: a failing history with many indeterminate writes
// nobody observed would make porcupine try every subset of them (minutes at 16); they are
// left out instead.
func TestLinearizableManyLostWritesFailFast(t *testing.T) {
	h := NewHistory()
	at := int64(0)
	for i := 0; i < 40; i++ {
		h.Indeterminate(h.Invoke(1, put("x", fmt.Sprint("lost", i)), at*ms))
		record(h, 2, put("x", fmt.Sprint(i)), at+1, at+2, ok, uint64(2*i+1))
		record(h, 3, get("x"), at+3, at+4, okValue(fmt.Sprint(i)), uint64(2*i+2))
		at += 5
	}
	record(h, 3, get("x"), at, at+1, okValue("stale"), 99)
	requireViolation(t, h.Check(), NameLinearizable, -1, 99, 9, (at+1)*ms)
}

// TestLinearizablePruningKeepsVerdicts: leaving unobserved indeterminate writes out of the
// check never changes its verdict, on small random histories that pass or fail.
func TestLinearizablePruningKeepsVerdicts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 9).Draw(t, "n")
		m := kv.New()
		pruned, full := NewHistory(), NewHistory()
		full.noPrune = true
		for i := 0; i < n; i++ {
			op := genOp(t)
			op.Key = "k" // one key: every operation interacts
			point := int64(i+1) * 10
			call := point - rapid.Int64Range(0, 25).Draw(t, "before")
			ret := point + rapid.Int64Range(0, 25).Draw(t, "after")
			applied := rapid.IntRange(0, 5).Draw(t, "applied") != 0 // else: lost before it ran
			var result kv.Result
			if applied {
				result, _ = kv.DecodeResult(m.Apply(kv.EncodeOp(op)))
			}
			if rapid.IntRange(0, 9).Draw(t, "corrupt") == 0 {
				result = okValue(rapid.SampledFrom([]string{"", "x", "xy", "zz"}).Draw(t, "wrong"))
			}
			indeterminate := !applied || rapid.IntRange(0, 3).Draw(t, "indeterminate") == 0
			for _, h := range []*History{pruned, full} {
				id := h.Invoke(1+i%3, op, call)
				if indeterminate {
					h.Indeterminate(id)
				} else {
					h.Return(id, kv.EncodeResult(result), ret)
				}
			}
		}
		want, got := full.Check(), pruned.Check()
		if (want == nil) != (got == nil) {
			t.Fatalf("verdicts differ: without pruning %v, with pruning %v", want, got)
		}
	})
}

func del(key string) kv.Op { return kv.Op{Kind: kv.KindDelete, Key: key} }

// TestLinearizableDeletes: an unsupported delete changes nothing; a supported one removes
// the key; a read of a deleted value, or a delete that found a key nobody wrote, fires.
func TestLinearizableDeletes(t *testing.T) {
	unsupported := kv.Result{Status: kv.StatusUnsupported}
	h := NewHistory()
	record(h, 1, put("x", "1"), 0, 10, ok, 1)
	record(h, 2, del("x"), 20, 30, unsupported, 2) // before the feature: no effect
	record(h, 1, get("x"), 40, 50, okValue("1"), 3)
	record(h, 2, del("x"), 60, 70, ok, 4)
	record(h, 1, get("x"), 80, 90, notFound, 5)
	record(h, 2, del("x"), 100, 110, notFound, 6)
	require.Nil(t, h.Check())

	stale := NewHistory()
	record(stale, 1, put("x", "1"), 0, 10, ok, 1)
	record(stale, 2, del("x"), 20, 30, ok, 2)
	record(stale, 1, get("x"), 40, 50, okValue("1"), 3)
	v := stale.Check()
	require.NotNil(t, v)
	require.Equal(t, NameLinearizable, v.Checker)

	phantom := NewHistory()
	record(phantom, 2, del("y"), 20, 30, ok, 2)
	require.NotNil(t, phantom.Check(), "a delete found a key nobody wrote")

	// An indeterminate put followed by a delete that found the key: the put took effect,
	// so it must not be pruned as unobserved.
	pending := NewHistory()
	id := pending.Invoke(1, put("z", "v"), 0)
	pending.Indeterminate(id)
	record(pending, 2, del("z"), 20, 30, ok, 3)
	require.Nil(t, pending.Check())
}

// cappedHistory is a key whose bounded indeterminate appends double its set of possible
// values each (a delete keeps markUnobserved from pruning them): 2^12 values, past
// kvStatesMax. staleRead first adds a read of a value never written.
func cappedHistory(staleRead bool) *History {
	h := NewHistory()
	del := kv.Op{Kind: kv.KindDelete, Key: "x"}
	record(h, 2, del, 0, 5, notFound, 1)
	if staleRead {
		record(h, 2, get("x"), 6, 8, okValue("never"), 2)
	}
	at := int64(10)
	for i := range 12 {
		h.Indeterminate(h.Invoke(1, appendOp("x", fmt.Sprintf("<%d>", i)), at*ms))
		record(h, 1, put("y", fmt.Sprint(i)), at+1, at+2, ok, uint64(10+i)) // bounds the append
		at += 3
	}
	record(h, 2, del, at, at+1, ok, 99)
	return h
}

// TestLinearizableCapsAKeyWhoseValuesMultiply: past kvStatesMax possible values the key is
// left unchecked and counted, not searched to exhaustion (fresh-range seed 2026416581 went
// to 24 GB); a violation before the cap still fires.
func TestLinearizableCapsAKeyWhoseValuesMultiply(t *testing.T) {
	h := cappedHistory(false)
	require.Nil(t, h.Check())
	require.Equal(t, 1, h.unchecked)

	h = cappedHistory(true)
	v := h.Check()
	require.NotNil(t, v)
	require.Equal(t, NameLinearizable, v.Checker)
	require.Equal(t, 0, h.unchecked)
}

// TestLinearizableBoundsOpenEndedWrites: a key with more open-ended writes (indeterminate, no
// later acknowledgement of their client, observed so not pruned) than openEndedMax is counted
// unchecked instead of taking the check exponential memory; the other keys are still checked.
func TestLinearizableBoundsOpenEndedWrites(t *testing.T) {
	build := func(open int) *History {
		h := NewHistory()
		for i := 0; i < open; i++ {
			h.Indeterminate(h.Invoke(10+i, put("x", fmt.Sprint("v", i)), int64(i)*ms))
		}
		for i := 0; i < open; i++ { // each value seen, so none is pruned
			record(h, 2, get("x"), int64(100+2*i), int64(101+2*i), okValue(fmt.Sprint("v", i)), uint64(i+1))
		}
		return h
	}
	h := build(openEndedMax)
	require.Nil(t, h.Check())
	require.Equal(t, 0, h.unchecked)
	h = build(openEndedMax + 1)
	require.Nil(t, h.Check())
	require.Equal(t, 1, h.unchecked, "key x left out")
	record(h, 3, put("y", "1"), 300, 301, ok, 90)
	record(h, 3, get("y"), 302, 303, okValue("stale"), 91)
	requireViolation(t, h.Check(), NameLinearizable, -1, 91, 9, 303*ms)
}

// concurrentPuts is n puts of distinct long values on one key, all concurrent and
// acknowledged, then a read of a value none of them wrote: porcupine must try every subset of
// the puts, with each last value, before it can call the history impossible.
func concurrentPuts(n int) *History {
	h := NewHistory()
	for i := range n {
		value := fmt.Sprintf("<%d>", i) + strings.Repeat(".", 1000)
		record(h, 10+i, put("x", value), 0, 100, ok, uint64(i+1))
	}
	record(h, 2, get("x"), 200, 201, okValue("<none>"), uint64(n+1))
	return h
}

// TestLinearizableBoundsTheSearchOnAKey: a key whose search builds more than kvWorkMax bytes
// of states is counted unchecked instead of searched to exhaustion (swarm seed 2027316589
// took 22 s and 9 GB on one key); under the bound the same kind of history still fails.
func TestLinearizableBoundsTheSearchOnAKey(t *testing.T) {
	v := concurrentPuts(8).Check() // 2^8 subsets: well within the bound
	require.NotNil(t, v)
	require.Equal(t, NameLinearizable, v.Checker)

	h := concurrentPuts(20) // 2^20 subsets: past it
	require.Nil(t, h.Check())
	require.Equal(t, 1, h.unchecked)
}
