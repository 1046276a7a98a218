package invariants

import (
	"fmt"
	"io"
	"math"
	"regexp"

	"github.com/anishathalye/porcupine"
)

// HistoryEntry is one client operation as the picture of a run shows it (a Jepsen-style
// timeline): who, what, when it was invoked and returned, and how it ended.
type HistoryEntry struct {
	Client   int    `json:"client"`
	Op       string `json:"op"`
	Key      string `json:"key"`
	CallNs   int64  `json:"call"`
	ReturnNs int64  `json:"ret"` // -1 while pending or when it never returned
	// Outcome is ok, indeterminate, evicted or pending.
	Outcome string `json:"outcome"`
	Result  string `json:"result,omitempty"`
	LogOp   uint64 `json:"log_op,omitempty"`
}

// Entries returns every operation invoked so far, in invocation order.
func (h *History) Entries() []HistoryEntry {
	out := make([]HistoryEntry, 0, len(h.ops))
	for _, o := range h.ops {
		e := HistoryEntry{Client: o.client, Op: describeOp(o.op), Key: o.op.Key, CallNs: o.callNs, ReturnNs: -1}
		switch o.status {
		case opReturned:
			e.Outcome, e.ReturnNs, e.LogOp = "ok", o.returnNs, o.logOp
			e.Result = describeOutput(o.op, kvOutput{known: true, result: o.result})
		case opIndeterminate:
			e.Outcome = "indeterminate"
		case opEvicted:
			e.Outcome = "evicted"
		default:
			e.Outcome = "pending"
		}
		out = append(out, e)
	}
	return out
}

// violatedKey finds the key a linearizable violation names ("...: key \"k3\": ...").
var violatedKey = regexp.MustCompile(`invariant ` + NameLinearizable + ` violated: [^:]*: key "((?:[^"\\]|\\.)*)"`)

// ViolatedKey returns the key a failure's reason names, if the reason is a linearizability
// violation (Violation.Error's form).
func ViolatedKey(reason string) (string, bool) {
	m := violatedKey.FindStringSubmatch(reason)
	if m == nil {
		return "", false
	}
	var key string
	if _, err := fmt.Sscanf(`"`+m[1]+`"`, "%q", &key); err != nil {
		return "", false
	}
	return key, true
}

// Visualize writes porcupine's own visualisation of key's history (every operation on the
// key, as the checker saw it: the partial linearizations and where they stop), an HTML
// file with no outside resources.
func (h *History) Visualize(key string, w io.Writer) error {
	var ids []int
	for id, o := range h.ops {
		if o.op.Key == key {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("invariants: no operation on key %q", key)
	}
	drop := make([]bool, len(h.ops))
	h.markUnobserved(ids, drop)
	model := KVModel()
	_, info := porcupine.CheckOperationsVerbose(model, h.operations(math.MaxInt64, ids, drop), 0)
	return porcupine.Visualize(model, info, w)
}
