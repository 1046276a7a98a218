package storage

import "slices"

// The checkpoint op's region. The checkpoint holds every op at or below it: their entries are
// read again only by a fallback to an older checkpoint (or a replay from op 0), and then only
// if intact. When the checkpoint op's own entry is damaged or absent, its damaged region, and
// those of damaged ops below it in its segment, may run over bytes no op of the log owns: an
// append of the next op that never finished and that a read error hid, or an older entry of
// an op above. A cut at the end of that region left them below the next append's place, no
// later truncation of their op reached them, and once the sector read again one came back
// intact under its op's tombstone, a body of an older generation (storage crash seeds
// 2039188665, 2039088826; 2047164003: checkpoint op 2 and op 1 below it both damaged, op 3's
// older entry hidden in their region by a read error; 258944: the same hidden entry left by a
// truncation after the checkpoint op, whose region ran to the end of the file over the ops
// above it). So a cut just above the checkpoint op, at Open (cutUnfinished) or in a
// truncation after it, gives their damaged entries up and lands where the nearest kept entry
// below ends.

// checkpointRegionCut returns where a cut just above the checkpoint op, in its segment k,
// lands once the damaged entries at and below it are given up, and the ops given up (their
// records go with them), ascending; ok is false if the checkpoint op is not in segment k, its
// entry is intact, or the cut would not move below its region's end. A kept entry is an
// intact one, a known one (a faulty entry whose record survived), or one an intact record
// names at or below the checkpoint (recordedEnds): a fallback may still find it whole.
func (s *Storage) checkpointRegionCut(k uint64) (start int64, given []uint64, ok bool) {
	cp := s.sb.State.CheckpointOp
	sl := s.slot(cp)
	if cp == 0 || sl == nil || s.segmentOf(cp) != k || sl.state == slotIntact {
		return 0, nil, false
	}
	start = s.recordArea() // where the first given-up entry began: the segment's first
	for o := cp; o >= max(k*uint64(s.opts.SegmentEntriesMax), 1); o-- {
		below := s.slot(o) // nil: below the index, where the scan recognised no entry
		if below != nil && (below.state == slotIntact || (below.known && below.end > below.offset)) {
			start = below.end
			break
		}
		if end, recorded := s.recordedEnds[o]; recorded {
			start = end
			break
		}
		given = append(given, o)
	}
	if start >= sl.end {
		return 0, nil, false
	}
	slices.Reverse(given)
	return start, given, true
}

// checkpointRegionDue reports whether op is the checkpoint op at the head, with a damaged
// region the append of the op above must first give up, as a truncation after op does. An
// installed checkpoint can land on a head whose entry is damaged (a fallback past it left
// the op faulty), and the append above it went past the region, over a dropped append a read
// error had hidden there; once the new entry and its record rotted, that stale entry came
// back as the op's (storage crash seed 2056123453).
func (s *Storage) checkpointRegionDue(op uint64) bool {
	if sl := s.slot(op); op != s.head || op != s.sb.State.CheckpointOp || sl == nil || sl.placed {
		return false // a placed entry's extent is whole: the append lands right after it
	}
	_, _, ok := s.checkpointRegionCut(s.segmentOf(op + 1))
	return ok
}

// endCheckpointRegion ends the regions of the checkpoint op and the given-up ops at start,
// once the cut there is made (appendOffset of the op above the checkpoint is then start).
func (s *Storage) endCheckpointRegion(start int64, given []uint64) {
	for _, o := range append(given, s.sb.State.CheckpointOp) {
		if g := s.slot(o); g != nil {
			g.offset, g.end = min(g.offset, start), min(g.end, start)
		}
	}
}
