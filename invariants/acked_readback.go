package invariants

import (
	"math"
	"sort"
	"strings"

	"vopr/cluster/kv"
)

// NameAckedReadBack is acked_survive as a client sees it, for histories recorded without
// the replicas' events (real processes, where only the clients' view exists): after the
// writes stop, each key is read once more, and every acknowledged write must read back,
// unless a write of the key that may have taken effect after it replaced it.
//
//   - An acknowledged put or cas of value v reads back when the final value starts with v
//     (appends may have followed it); an acknowledged append of s when the final value
//     contains s. Writes that answered anything but OK changed nothing and are not held.
//   - A write W is replaced by another write R of the key (a put, a cas or a delete, whether
//     acknowledged or indeterminate) that may come after W: R did not return before W was
//     invoked. An indeterminate R "returns" when its client's next acknowledged operation
//     does (History), or never.
//
// The rule needs values that identify their write (the soak's are unique). It is weaker
// than linearizability of the same history with the final reads in it, and says more
// plainly what was lost.
const NameAckedReadBack = "acked_read_back"

// ReadBackReport counts what CheckReadBack held.
type ReadBackReport struct {
	Acked      int // acknowledged writes that changed their key
	ReadBack   int // of those, found in the final value
	Superseded int // of those, replaced by a write that may have come after
}

// CheckReadBack checks every acknowledged write of the history against final, the value
// each key held when read after the writes stopped (a key absent from final is not
// checked). The violation names the first lost write in invocation order.
func (h *History) CheckReadBack(final map[string]kv.Result) (ReadBackReport, *Violation) {
	var rep ReadBackReport
	bound := h.bounds(math.MaxInt64)
	byKey := map[string][]int{}
	for id, o := range h.ops {
		if _, ok := final[o.op.Key]; ok {
			byKey[o.op.Key] = append(byKey[o.op.Key], id)
		}
	}
	var lost []int
	for _, key := range sortedKeys(byKey) {
		ids, got := byKey[key], final[key]
		for _, id := range ids {
			o := h.ops[id]
			if !changedKey(o) {
				continue
			}
			rep.Acked++
			switch {
			case readsBack(o.op, got):
				rep.ReadBack++
			case h.replacedAfter(id, ids, bound):
				rep.Superseded++
			default:
				lost = append(lost, id)
			}
		}
	}
	if len(lost) == 0 {
		return rep, nil
	}
	sort.Ints(lost)
	o := h.ops[lost[0]]
	got := final[o.op.Key]
	return rep, violation(NameAckedReadBack, -1, o.logOp, o.view, o.returnNs,
		"client %d's %s was acknowledged (op %d, view %d, returned at %s) and no later write of key %s replaced it, yet the key reads back %s (%d acknowledged writes lost)",
		o.client, describeOp(o.op), o.logOp, o.view, formatNs(o.returnNs), quote(o.op.Key),
		describeOutput(kv.Op{Kind: kv.KindGet}, kvOutput{known: true, result: got}), len(lost))
}

// changedKey: the operation was acknowledged and wrote its key.
func changedKey(o historyOp) bool {
	if o.status != opReturned || o.result.Status != kv.StatusOK {
		return false
	}
	switch o.op.Kind {
	case kv.KindPut, kv.KindCAS, kv.KindAppend, kv.KindDelete:
		return true
	}
	return false
}

// readsBack reports whether the final read got shows op's effect.
func readsBack(op kv.Op, got kv.Result) bool {
	present := got.Status == kv.StatusOK
	switch op.Kind {
	case kv.KindPut, kv.KindCAS:
		return present && strings.HasPrefix(got.Value, op.Value)
	case kv.KindAppend:
		return present && strings.Contains(got.Value, op.Value)
	case kv.KindDelete:
		return got.Status == kv.StatusNotFound
	}
	return false
}

// replacedAfter reports whether a write among ids other than id replaces the key's value
// and may come after id: it did not return before id was invoked.
func (h *History) replacedAfter(id int, ids []int, bound []int64) bool {
	w := h.ops[id]
	for _, rid := range ids {
		r := h.ops[rid]
		if rid == id || r.status == opEvicted {
			continue
		}
		switch r.op.Kind {
		case kv.KindPut, kv.KindCAS, kv.KindDelete:
		default:
			continue
		}
		returned := bound[rid]
		if r.status == opReturned {
			if r.result.Status != kv.StatusOK {
				continue // it changed nothing
			}
			returned = r.returnNs
		}
		if returned > w.callNs {
			return true
		}
	}
	return false
}
