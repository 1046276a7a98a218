package scenarios

import (
	"bytes"
	"slices"

	"vopr/cluster/storage"
)

// Runs of unknown identity. The episode's other damage takes one op's identity at a time (or
// the newest two or three at the log's tail, damageTail), so the engine's repair of a run of
// damaged entries that nothing names, below an entry it still knows (RewritableRun: laid
// back to back, the run ends where that entry starts, and its last chain sum must be the
// parent that entry names), was never put to the episode. So, in half the boots whose damage
// draw took nothing and whose tail draw took nothing (their own stream,
// storage_episode/run, so that every other draw of a seed stays as it was), the episode
// takes the identity (entry and record) of two or three consecutive acknowledged ops below
// an acknowledged op of the same segment that stays intact (damageRun).
//
// After every recovery that passed its check, each run of faulty ops whose acknowledged
// bodies the model holds is put to the engine (checkRewritableRun): where RewritableRun
// would write the acknowledged run in place, the same run with its first body changed
// (another history, of the same sizes) must not be rewritable: its chain sums are not those
// the entry above was written on, and written under it they would mix two histories in the
// log (RewritableRun's contract). The query writes nothing.

// damageRun takes the identity of a run of two or three consecutive acknowledged ops, all in
// the segment of the intact acknowledged op just above them (see above).
func (e *storeEpisode) damageRun() {
	r := e.runs
	n := 2 + r.IntN(2)
	ops := e.victims()
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	var starts []int
	for i := 0; i+n < len(ops); i++ {
		first, above := ops[i], ops[i+n]
		if above-first == uint64(n) && first/perSegment == above/perSegment {
			starts = append(starts, i) // ops[i..i+n] consecutive: the run, and the op above it
		}
	}
	if len(starts) == 0 {
		return
	}
	i := starts[r.IntN(len(starts))]
	for _, op := range ops[i : i+n] {
		e.damageOp(op, true, r)
	}
	e.counters["coverage.storage_episode.damage.run"]++
}

// checkRewritableRun puts each run of faulty ops in rec (below the head, with the bodies the
// model acknowledged there) to RewritableRun, and where the engine would write it in place,
// the same run with its first body changed (see above).
func (e *storeEpisode) checkRewritableRun(rec *storage.Recovery) {
	e.checkRunsWith(rec, func(run []storage.Entry) int {
		n, _ := e.s.RewritableRun(run)
		return n
	})
}

// checkRunsWith is checkRewritableRun with the engine's RewritableRun as rewritable.
func (e *storeEpisode) checkRunsWith(rec *storage.Recovery, rewritable func([]storage.Entry) int) {
	m := e.m
	faulty := slices.Sorted(slices.Values(rec.Faulty))
	for i := 0; i < len(faulty) && e.failure == ""; {
		j := i
		for j+1 < len(faulty) && faulty[j+1] == faulty[j]+1 {
			j++
		}
		var run []storage.Entry
		for _, op := range faulty[i : j+1] {
			body, ok := m.Log[op]
			if !ok || op > m.Head || m.Disowned[op] || m.PendingWrites(op) || m.PendingMayDrop(op) {
				break
			}
			run = append(run, storage.Entry{Op: op, Body: body})
		}
		i = j + 1
		n := rewritable(run)
		if n == 0 {
			continue
		}
		e.counters["coverage.storage_episode.rewritable_runs"]++
		other := slices.Clone(run[:n])
		other[0].Body = bytes.Clone(other[0].Body)
		other[0].Body[len(other[0].Body)-1] ^= 0xff
		if got := rewritable(other); got != 0 {
			e.fail("RewritableRun would write %d entries from op %d in place with another body at op %d: a run of another history under the entry the later ops chain to",
				got, other[0].Op, other[0].Op)
		}
	}
}
