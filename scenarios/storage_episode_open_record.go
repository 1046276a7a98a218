package scenarios

import (
	"slices"

	"vopr/cluster/storage"
)

// A record Open writes over a mark, misdirected. An append cut by the crash between its
// entry's sync and its record's write leaves an intact entry without a record, and Open
// finishes it (writes the record) before it returns the op intact, which the replica may then
// acknowledge. Where the op's record sector held a mark (a tombstone of an earlier
// truncation of the op, a distrust mark), a write of that record lost or sent elsewhere
// leaves the mark, which a later boot reads over the entry: once the entry rots, a tombstone
// reads as an append that never finished, and the op is dropped. The engine must read such
// a record back, as an append does its record over a mark (storage_episode_marks.go).
//
// So, in half the boots whose Open will meet an intact entry under a mark (its own stream,
// storage_episode/open_record_over_mark, so that every other draw of a seed stays), the
// episode arms a misdirect of the next write to that record sector while Open runs. What the
// landing hit elsewhere is damaged (settleMisdirect's rule), but not the op's own record
// sector, which the engine must have put right; and if Open returned the op intact, the next
// boot may rot its entry (storage_episode_rewritten.go): it must come back faulty.

// aimOpenRecordOverMark arms the misdirect before the boot's Open, and returns the op it
// waits for (0: none).
func (e *storeEpisode) aimOpenRecordOverMark() uint64 {
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	var ops []uint64
	for _, name := range e.segments() {
		for _, p := range placedEntries(e.disk.Durable(name)) {
			at := int64(p.op%perSegment) * storage.SectorSize
			if p.op <= e.m.CP || segmentFileName4(p.op) != name || !e.holdsMark(p.op) ||
				slices.ContainsFunc(e.hiddenAt[name], func(h int64) bool { return h == at || (p.offset <= h && h < p.offset+p.size) }) ||
				slices.Contains(ops, p.op) {
				continue
			}
			if data, err := e.disk.Visible(name, p.offset, p.size); err != nil || storage.AllZero(data) {
				continue
			}
			ops = append(ops, p.op)
		}
	}
	if len(ops) == 0 || e.openRecord.IntN(2) != 0 {
		return 0
	}
	op := ops[e.openRecord.IntN(len(ops))]
	at := int64(op%perSegment) * storage.SectorSize
	e.disk.ArmMisdirect(segmentFileName4(op), at, at+1)
	e.openMark = e.disk.Durable(segmentFileName4(op))[at : at+storage.SectorSize]
	e.counters["coverage.storage_episode.open_record_over_mark_armed"]++
	return op
}

// settleOpenRecordOverMark withdraws the arming after the Open, before its check: if a write
// landed elsewhere, it marks the ops the landing hit, not op's record, and notes op for the
// next boot's rot if the Open returned it intact.
func (e *storeEpisode) settleOpenRecordOverMark(op uint64, rec *storage.Recovery) {
	e.openLanded = false
	if op == 0 || !e.disk.DisarmMisdirect() {
		return
	}
	e.openLanded = true // the landing may hit an entry a fallback replays (checkFallbackEntries)
	e.counters["coverage.storage_episode.open_record_over_mark_landed"]++
	// The landing came while Open ran, perhaps after it read what it hit: an op it returned
	// intact may be damaged all the same (forgetRepaired keeps them). The ops it may hit are
	// those of the log Open recovered: above its checkpoint, which a fallback past a damaged
	// one puts below the acknowledged one (storage crash seed 2200748373: after the fallback
	// from checkpoint 1 to 0, Open returned op 1 intact, then the landing of the distrust mark
	// it wrote over op 2's record covered op 1's entry; the next boot held op 1 faulty).
	e.openHit = e.markMisdirectHits(op, min(e.m.CP, rec.State.CheckpointOp))
	if slices.ContainsFunc(rec.Entries, func(entry storage.Entry) bool { return entry.Op == op }) {
		e.openAimed = op
		if e.openRecordNotReadBack {
			e.putBackOpenMark(op)
		}
	}
}

// putBackOpenMark, under the openRecordNotReadBack knob, puts back the mark op's record sector
// held before the Open, as an engine that did not read back the record it wrote over it
// left it once the write went elsewhere.
func (e *storeEpisode) putBackOpenMark(op uint64) {
	name, at := segmentFileName4(op), int64(op%uint64(storageEpisodeOptions.SegmentEntriesMax))*storage.SectorSize
	if err := e.wait(func(done func(error)) { e.disk.WriteAt(name, e.openMark, at, done) }); err != nil {
		e.fail("mark put back: %v", err)
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync(name, done) }); err != nil {
		e.fail("mark put back: %v", err)
	}
}
