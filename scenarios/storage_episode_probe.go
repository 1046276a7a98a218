package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"vopr/cluster/storage"
)

// Probes of the writes a recovery's log invites. The episode writes only what a replica
// writes in order (appends above an intact head, repairs of the lowest faulty op, runs of the
// acknowledged bodies), so the engine's refusals were never put to it: an append whose parent
// is faulty (Append's contract: ErrFaulty, the parent's chain sum unknown, before anything
// changes), and a write in place (Rewritable, RewritableRun, RechainableRun) of a run that
// holds another body than the disk's intact entry at some op of it. An engine that took
// either wrote a log that no longer chains, or chained the ops above an intact entry onto
// another prepare of its op: acknowledged ops distrusted or dropped at a later boot, or two
// histories mixed in one log. A swarm replica offers the engine such writes when a peer's
// log differs from its own; the episode's model never does.
//
// So after every recovery that passed its check, in half of them (their own stream,
// storage_episode/probe, so that every other draw of a seed stays as it was):
//
//   - for a faulty op f (drawn) at or above the audit, an Append of op f+1 with a fresh body
//     must fail with ErrFaulty, and the queries must refuse op f+1's write in place;
//   - for an intact op x below the head (drawn), the run of the log's bodies from x to the
//     head, with the body of one intact op of it (drawn, x in half the probes) changed and of
//     the same size, must be refused by every query: Rewritable (for x), RewritableRun,
//     RechainableRun.
//
// The queries write nothing; a refused Append changes nothing (its contract), so the episode
// goes on as drawn. probeTarget is the engine, or a test's liar (probeLies).

// probeTarget is what the probes ask.
type probeTarget interface {
	Head() uint64
	AuditHead() (uint64, [32]byte)
	Rewritable(storage.Entry) bool
	RewritableRun([]storage.Entry) (int, bool)
	RechainableRun([]storage.Entry) bool
	Append(storage.Entry, func(error))
}

// probeNeighbours runs the probes after recovery rec (see above).
func (e *storeEpisode) probeNeighbours(rec *storage.Recovery) {
	if e.probes.IntN(2) != 0 || e.s == nil {
		return
	}
	t := e.asked()
	bodies := map[uint64][]byte{}
	for _, entry := range rec.Entries {
		bodies[entry.Op] = entry.Body
	}
	e.probeAboveFaulty(t, rec)
	if e.failure == "" {
		e.probeOtherBody(t, rec, bodies)
	}
}

// asked is the engine the probes ask: the episode's, or a test's liar (probeLies).
func (e *storeEpisode) asked() probeTarget {
	if e.probeLies != nil {
		return e.probeLies(e.s)
	}
	return e.s
}

// probeAboveFaulty asks for an append and a rewrite above a drawn faulty op.
func (e *storeEpisode) probeAboveFaulty(t probeTarget, rec *storage.Recovery) {
	auditOp, _ := t.AuditHead()
	head := t.Head()
	var candidates []uint64
	for _, f := range slices.Sorted(slices.Values(rec.Faulty)) {
		if f > rec.State.CheckpointOp && f >= auditOp && f <= head {
			candidates = append(candidates, f)
		}
	}
	if len(candidates) == 0 {
		return
	}
	f := candidates[e.probes.IntN(len(candidates))]
	op := f + 1
	body := fmt.Appendf(nil, "probe op %d above faulty op %d ", op, f)
	body = append(body, bytes.Repeat([]byte{byte(op) | 1}, e.probes.IntN(600))...)
	e.counters["coverage.storage_episode.probe.above_faulty"]++
	if op <= head && t.Rewritable(storage.Entry{Op: op, Body: body}) {
		e.fail("probe: Rewritable(op %d) with op %d faulty: its parent's chain sum is unknown", op, f)
		return
	}
	if n, _ := t.RewritableRun([]storage.Entry{{Op: op, Body: body}}); n != 0 {
		e.fail("probe: RewritableRun from op %d would write %d entries with op %d faulty", op, n, f)
		return
	}
	err := e.wait(func(done func(error)) { t.Append(storage.Entry{Op: op, Body: body}, done) })
	switch {
	case err == nil:
		e.fail("probe: an Append of op %d over faulty op %d was acknowledged: ErrFaulty expected (its parent's chain sum is unknown)", op, f)
	case !errors.Is(err, storage.ErrFaulty):
		e.fail("probe: an Append of op %d over faulty op %d failed with %v, not ErrFaulty", op, f, err)
	case t.Head() != head:
		e.fail("probe: a refused Append of op %d over faulty op %d moved the head from %d to %d", op, f, head, t.Head())
	}
}

// probeOtherBody asks for writes in place of a run from a drawn op to the head, each op with
// the body the log holds there (intact) or the model acknowledged (faulty), with one body
// changed, of the same size, at an op whose identity the disk knows (intact, or faulty with
// its record; see above).
func (e *storeEpisode) probeOtherBody(t probeTarget, rec *storage.Recovery, intact map[uint64][]byte) {
	r := e.probes
	m := e.m
	auditOp, _ := t.AuditHead()
	head := t.Head()
	lo := max(rec.State.CheckpointOp, auditOp)
	known := func(op uint64) bool {
		_, ok := intact[op]
		return ok || rec.FaultyPrefix[op] != nil
	}
	bodyAt := func(op uint64) ([]byte, bool) {
		if body, ok := intact[op]; ok {
			return body, true
		}
		body, ok := m.Log[op]
		if !ok || m.Disowned[op] || m.PendingWrites(op) || m.PendingMayDrop(op) || len(e.unsettled[op]) > 0 ||
			(rec.FaultyPrefix[op] != nil && !bytes.HasPrefix(body, rec.FaultyPrefix[op])) {
			return nil, false // not known to be the disk's
		}
		return body, true
	}
	var starts []uint64
	for op := lo + 1; op < head; op++ {
		if _, ok := bodyAt(op); ok {
			starts = append(starts, op)
		}
	}
	if len(starts) == 0 {
		return
	}
	x := starts[r.IntN(len(starts))]
	var run []storage.Entry
	var changeable []int
	for op := x; op <= head; op++ {
		body, ok := bodyAt(op)
		if !ok {
			return
		}
		if known(op) {
			changeable = append(changeable, len(run))
		}
		run = append(run, storage.Entry{Op: op, Body: body})
	}
	if len(changeable) == 0 {
		return
	}
	at := changeable[0]
	if r.IntN(2) == 0 {
		at = changeable[r.IntN(len(changeable))]
	}
	writes, _ := t.RewritableRun(run) // how many of the unchanged run it would write
	other := slices.Clone(run)
	other[at].Body = bytes.Clone(other[at].Body)
	other[at].Body[len(other[at].Body)-1] ^= 0x5a
	e.counters["coverage.storage_episode.probe.other_body"]++
	changed := other[at].Op
	if at == 0 && t.Rewritable(other[0]) {
		e.fail("probe: Rewritable(op %d) with another body than the one the disk knows there", changed)
		return
	}
	if n, _ := t.RewritableRun(other); n != 0 && (at < n || writes == 0) {
		e.fail("probe: RewritableRun from op %d would write %d entries with another body at op %d, whose identity the disk knows",
			x, n, changed)
		return
	}
	if t.RechainableRun(other) {
		e.fail("probe: RechainableRun from op %d to the head would write another body over op %d, whose identity the disk knows",
			x, changed)
	}
}
