package invariants

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/cluster/kv"
)

// History records the clients' key/value operations for the linearizability check (and
// hands each acknowledgement to acked_survive when it belongs to a Suite). Every Invoke is
// completed by exactly one of Return, Complete, Indeterminate or Evicted; an operation
// still pending at the end counts as indeterminate.
//
// The client argument of Invoke must name one client.Client (one session): the replicas'
// client table executes a client's requests at most once and in request order, and a
// client has one request in flight, so an operation it gave up on can no longer take
// effect once its next request has been executed.
//
// Outcomes (client.Outcome):
//   - OK: the result is known and the operation took effect exactly once, between its
//     invocation and its return;
//   - Indeterminate: any result is accepted, and the operation takes effect or not, at any
//     time after its invocation and before the client's next acknowledged operation
//     returns (never, if there is none: its return time is then infinite). An
//     indeterminate Get constrains nothing and is left out;
//   - client.Evicted: indeterminate too (Complete). An eviction reports that the session is
//     gone, not the fate of the request in flight: the session may have been evicted after
//     executing it with the reply lost, and a new primary that has not yet executed up to
//     commit_number evicts a client whose request its log holds and will commit (seen in
//     the cluster scenario). Evicted(id) records an operation known never to have run.
type History struct {
	ops []historyOp
	// onAck, set by a Suite, takes every acknowledgement as it arrives.
	onAck func(atNs int64, client int, op uint64, view uint32) *Violation
	// report, set by a Suite, takes a malformed reply at once; standalone, Check returns it.
	report func(*Violation)
	bad    *Violation
	// noPrune keeps every indeterminate write in the check (tests compare verdicts).
	noPrune bool
	// unchecked counts the keys whose check a passing Check stopped short (kvStatesMax).
	unchecked int
}

type opStatus uint8

const (
	opPending opStatus = iota
	opReturned
	opIndeterminate
	opEvicted
)

type historyOp struct {
	client   int
	op       kv.Op
	callNs   int64
	returnNs int64
	status   opStatus
	result   kv.Result
	logOp    uint64 // the op number of the reply's prepare, 0 if unknown
	view     uint32 // the view of the reply
	// abandoned: pending when the history was cut (OnRestoreFromBackup); its completion is
	// ignored.
	abandoned bool
}

// NewHistory returns an empty history, for use without a Suite.
func NewHistory() *History { return &History{} }

// Len returns the number of operations invoked.
func (h *History) Len() int { return len(h.ops) }

// Invoke records that client submitted op at atNs and returns the operation's id. op must
// be valid (kv.ValidateOp): a client cannot send an invalid one.
func (h *History) Invoke(client int, op kv.Op, atNs int64) int {
	if err := kv.ValidateOp(op); err != nil {
		panic(fmt.Sprintf("invariants: history: invoking an invalid op: %v", err))
	}
	h.ops = append(h.ops, historyOp{client: client, op: op, callNs: atNs})
	return len(h.ops) - 1
}

// Return records the encoded kv.Result of operation id, received at atNs.
func (h *History) Return(id int, reply []byte, atNs int64) { h.complete(id, reply, 0, 0, atNs) }

// Indeterminate records that the client gave up on operation id.
func (h *History) Indeterminate(id int) {
	if !h.isAbandoned(id) {
		h.pending(id, "indeterminate").status = opIndeterminate
	}
}

// Evicted records that operation id never ran and never will (it is left out).
func (h *History) Evicted(id int) {
	if !h.isAbandoned(id) {
		h.pending(id, "evicted").status = opEvicted
	}
}

func (h *History) isAbandoned(id int) bool { return id >= 0 && id < len(h.ops) && h.ops[id].abandoned }

// Complete records a client's outcome for operation id at atNs: the one call a harness
// needs in the client's done callback.
func (h *History) Complete(id int, r client.Result, atNs int64) {
	switch r.Outcome {
	case client.OK:
		h.complete(id, r.Reply, r.Op, r.View, atNs)
	default:
		// An eviction tells the client that its session is gone, not whether the request
		// in flight ran: the session may have been evicted after executing it, with the
		// reply lost. Both outcomes are possible: the operation is indeterminate.
		h.Indeterminate(id)
	}
}

func (h *History) pending(id int, what string) *historyOp {
	if id < 0 || id >= len(h.ops) || h.ops[id].status != opPending {
		panic(fmt.Sprintf("invariants: history: %s for operation %d, which is not pending", what, id))
	}
	return &h.ops[id]
}

func (h *History) complete(id int, reply []byte, logOp uint64, view uint32, atNs int64) {
	if h.isAbandoned(id) {
		return
	}
	o := h.pending(id, "return")
	o.status, o.returnNs, o.logOp, o.view = opReturned, atNs, logOp, view
	result, err := kv.DecodeResult(reply)
	if err != nil {
		o.status = opIndeterminate // keep the check meaningful for the other operations
		h.fail(violation(NameLinearizable, -1, logOp, view, atNs, "client %d's %s was answered with a reply that does not decode: %v",
			o.client, describeOp(o.op), err))
		return
	}
	o.result = result
	if h.onAck != nil && logOp != 0 {
		h.fail(h.onAck(atNs, o.client, logOp, view))
	}
}

func (h *History) fail(v *Violation) {
	if v == nil {
		return
	}
	if h.report != nil {
		h.report(v)
	} else if h.bad == nil {
		h.bad = v
	}
}
