package scenarios

import (
	"fmt"
	"math/bits"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Commit latency held to the harness's own measurement. The primary's commit latency
// histogram (Inspection.Metrics.CommitLatency: the p50/p99 of `cluster status`, the metrics
// endpoint, the runbook's p99 > 100 ms alert and the performance report) counts, for each op
// it commits, the time from its prepare to the prepare_ok that completes its quorum, in
// power-of-two millisecond buckets (vsr.Histogram's contract: bucket 0 under 1 ms, bucket k
// [2^(k-1), 2^k) ms, the last one open). The harness measures the same latency from what it
// sees, on the primary's own monotonic clock, and buckets it itself:
//
//   - the op's prepare: its first send (the primary sends an op to its peers as it creates
//     it), the instant the latency starts;
//   - its votes: each prepare_ok for it the network delivers to the primary, and the
//     primary's own (EventVoteSelf). An op commits once a majority of the active members
//     voted for it and the op before it committed, so the latest instant at which the votes
//     delivered so far reached a majority, for it or an op before it, bounds its commit from
//     below (a vote the primary ignored only makes it later);
//   - its execution by the primary (EventCommit), after its commit: a bound from above.
//
// On a healthy primary both bounds are the commit instant itself. The histogram's samples
// since the witness began must number the ops committed since, and for every bucket k as
// many of them lie at or under bucket k as the ops whose upper bound does, at least, and
// whose lower bound does, at most. A histogram that files every latency a bucket low (the
// p99 reported half of what it is: an alert that fires at twice its threshold) or high, or
// measures from the wrong instant, or counts an op twice or not at all, breaks one.
//
// The witness follows one tenure of a primary process at a time: it begins at an inspection
// where the primary's pipeline is empty (its op is its commit number: every sample recorded
// from then on is an op it prepares in this view, under its eyes), and ends at any status
// event of the process (a view change, a new epoch) or a new process.
type latencyWitness struct {
	// mono reads a node's monotonic clock now: the clock the primary measures with.
	mono func(node int) int64
	// active counts the configuration's active members (a majority of them is a quorum;
	// counting fewer only weakens the lower bounds).
	active  func() int
	tenures []latencyTenure // by node
	// checked counts the checks that compared a histogram (coverage).
	checked uint64
	// lastSent is the first byte of the last prepare decoded.
	lastSent *byte
}

// latencyTenure is what the witness saw of one node's primary process in one view.
type latencyTenure struct {
	of     *vsr.Replica
	open   bool
	self   int // the primary's replica index (votes name replica indices)
	view   uint32
	epoch  uint32
	quorum int
	base   vsr.Histogram // the histogram as the tenure began
	baseOp uint64        // the op (and commit number) as it began
	// ops are the ops prepared in the tenure and not yet settled, from op first; settled
	// ones are counted in settled.
	first   uint64
	ops     []latencyOp
	settled latencyCounts
	// quorumNs is the latest quorum instant of the settled ops.
	quorumNs int64
	// lastCount and lastCommit are the histogram count and commit number last checked.
	lastCount, lastCommit uint64
}

type latencyOp struct {
	sum                              checksum.Sum
	preparedNs, quorumNs, executedNs int64 // 0: not yet
	votes                            uint64
}

// latencyCounts are per-bucket counts of ops by their lower and their upper bound.
type latencyCounts struct {
	lo, hi [len(vsr.Histogram{}.Buckets)]uint64
}

// latencyBucket is the histogram bucket a latency of ns belongs in by the documented
// contract, computed here apart from vsr.Histogram.Record.
func latencyBucket(ns int64) int {
	last := len(vsr.Histogram{}.Buckets) - 1
	for k := 0; k < last; k++ {
		if ns < int64(sim.Millisecond)<<k {
			return k
		}
	}
	return last
}

func (w *latencyWitness) tenure(node int) *latencyTenure {
	for len(w.tenures) <= node {
		w.tenures = append(w.tenures, latencyTenure{})
	}
	return &w.tenures[node]
}

// following returns node's open tenure, or nil.
func (w *latencyWitness) following(node int) *latencyTenure {
	if node < 0 || node >= len(w.tenures) || !w.tenures[node].open {
		return nil
	}
	return &w.tenures[node]
}

// sent sees a message node sent: a prepare of the primary followed is decoded, once for all
// its peers (a broadcast sends the same bytes to each, and a sender never changes them).
func (w *latencyWitness) sent(cluster uint64, node int, msg []byte) {
	if command, ok := vsr.PeekCommand(msg); !ok || command != vsr.CommandPrepare || w.following(node) == nil ||
		&msg[0] == w.lastSent {
		return
	}
	w.lastSent = &msg[0]
	if h, err := vsr.DecodeHeader(vsr.HeaderBytes(msg), cluster); err == nil && h.Command == vsr.CommandPrepare {
		w.prepared(node, h)
	}
}

// delivered sees a message the network delivered to node: a prepare_ok to the primary
// followed is decoded (one whose header fails its checksum the replica drops too).
func (w *latencyWitness) delivered(cluster uint64, node int, msg []byte) {
	if command, ok := vsr.PeekCommand(msg); !ok || command != vsr.CommandPrepareOK || w.following(node) == nil {
		return
	}
	if h, err := vsr.DecodeHeader(vsr.HeaderBytes(msg), cluster); err == nil && h.Command == vsr.CommandPrepareOK {
		w.voted(node, int(h.Replica), h.View, h.Epoch, h.Op, h.Parent)
	}
}

// prepared sees a prepare node sent (h, its header): the first send of the op after the
// last one the tenure has is its creation.
func (w *latencyWitness) prepared(node int, h vsr.Header) {
	t := w.following(node)
	if t == nil || int(h.Replica) != t.self || h.View != t.view {
		return
	}
	next := t.first + uint64(len(t.ops))
	switch {
	case h.Op == next:
		t.ops = append(t.ops, latencyOp{sum: h.Checksum, preparedNs: w.mono(node)})
	case h.Op > next:
		t.open = false // an op prepared unseen (no peer to send it to): nothing to hold
	}
}

// voted sees a vote for (op, sum) from replica index from reach node's primary in view and
// epoch.
func (w *latencyWitness) voted(node, from int, view, epoch uint32, op uint64, sum checksum.Sum) {
	t := w.following(node)
	if t == nil || view != t.view || epoch != t.epoch || op < t.first || op >= t.first+uint64(len(t.ops)) ||
		from < 0 || from >= 64 {
		return
	}
	o := &t.ops[op-t.first]
	if o.sum != sum {
		return
	}
	o.votes |= 1 << uint(from)
	if o.quorumNs == 0 && bits.OnesCount64(o.votes) >= t.quorum {
		o.quorumNs = w.mono(node)
	}
}

// event sees one of node's events.
func (w *latencyWitness) event(node int, e vsr.Event) {
	t := w.following(node)
	if t == nil {
		return
	}
	switch e.Kind {
	case vsr.EventStatus:
		t.open = false // a view change, a new epoch: the tenure is over
	case vsr.EventVoteSelf:
		w.voted(node, t.self, e.View, e.Epoch, e.Op, e.Checksum)
	case vsr.EventCommit:
		if e.Op >= t.first && e.Op < t.first+uint64(len(t.ops)) && t.ops[e.Op-t.first].executedNs == 0 {
			t.ops[e.Op-t.first].executedNs = w.mono(node)
		}
	}
}

// inspect checks node's process r, as inspected, against what the witness saw, and begins
// a tenure where r is a primary with an empty pipeline. It returns a violation, or "".
func (w *latencyWitness) inspect(node int, r *vsr.Replica, in *vsr.Inspection) string {
	t := w.tenure(node)
	if t.of != r {
		*t = latencyTenure{of: r}
	}
	primary := in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && !in.Joining && !in.Removed
	if t.open && (!primary || in.View != t.view || in.Epoch != t.epoch) {
		t.open = false
	}
	if t.open {
		return w.check(node, t, in)
	}
	if !primary || in.Op != in.CommitMax {
		return ""
	}
	if n := w.active(); n > 0 {
		*t = latencyTenure{of: r, open: true, self: in.Replica, view: in.View, epoch: in.Epoch, quorum: n/2 + 1,
			base: in.Metrics.CommitLatency, baseOp: in.Op, first: in.Op + 1, lastCount: in.Metrics.CommitLatency.Count,
			lastCommit: in.CommitMax}
	}
	return ""
}

// check holds the histogram's samples since the tenure began to the ops committed since.
func (w *latencyWitness) check(node int, t *latencyTenure, in *vsr.Inspection) string {
	h := &in.Metrics.CommitLatency
	if h.Count == t.lastCount && in.CommitMax == t.lastCommit {
		return "" // nothing committed since the last check
	}
	t.lastCount, t.lastCommit = h.Count, in.CommitMax
	if in.CommitMax >= t.first+uint64(len(t.ops)) {
		t.open = false // committed an op whose prepare the witness did not see
		return ""
	}
	w.checked++
	committed := in.CommitMax - t.baseOp
	if h.Count < t.base.Count || h.Count-t.base.Count != committed {
		return fmt.Sprintf("metrics: replica %d's commit latency histogram counted %d samples since op %d, but it "+
			"committed %d ops as primary of view %d since (one sample per op)", node, int64(h.Count)-int64(t.base.Count),
			t.baseOp, committed, t.view)
	}
	// Settle the ops committed and executed: their bounds are final.
	for len(t.ops) > 0 && t.first <= in.CommitMax && t.ops[0].executedNs != 0 {
		t.quorumNs = max(t.quorumNs, t.ops[0].quorumNs)
		t.settled.add(t.ops[0], t.quorumNs, t.ops[0].executedNs)
		t.ops = t.ops[1:]
		t.first++
	}
	bounds, quorumNs, now := t.settled, t.quorumNs, w.mono(node)
	for op := t.first; op <= in.CommitMax; op++ { // committed, not yet executed
		o := t.ops[op-t.first]
		quorumNs = max(quorumNs, o.quorumNs)
		bounds.add(o, quorumNs, now)
	}
	var sample, lo, hi uint64
	for k := range h.Buckets {
		if h.Buckets[k] < t.base.Buckets[k] {
			return fmt.Sprintf("metrics: replica %d's commit latency bucket %d fell from %d to %d", node, k,
				t.base.Buckets[k], h.Buckets[k])
		}
		sample += h.Buckets[k] - t.base.Buckets[k]
		lo, hi = lo+bounds.lo[k], hi+bounds.hi[k]
		if sample > lo || sample < hi {
			return fmt.Sprintf("metrics: replica %d's commit latency histogram puts %d of the %d ops it committed as primary "+
				"of view %d since op %d under %d ms, but by the harness's measurement (prepare to quorum, on its clock) "+
				"at least %d and at most %d of them took that little (samples by bucket %v; ops by lower bound %v, "+
				"by upper bound %v)", node, sample, committed, t.view, t.baseOp, int64(1)<<k, hi, lo, t.delta(h), bounds.lo,
				bounds.hi)
		}
	}
	return ""
}

// add counts op o, whose commit came no earlier than quorumNs and no later than laterNs.
func (c *latencyCounts) add(o latencyOp, quorumNs, laterNs int64) {
	c.lo[latencyBucket(max(quorumNs-o.preparedNs, 0))]++
	c.hi[latencyBucket(laterNs-o.preparedNs)]++
}

// delta is the histogram's samples since the tenure began, by bucket.
func (t *latencyTenure) delta(h *vsr.Histogram) []uint64 {
	d := make([]uint64, len(h.Buckets))
	for k := range d {
		d[k] = h.Buckets[k] - t.base.Buckets[k]
	}
	return d
}
