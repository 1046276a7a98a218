package scenarios

import (
	"math"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// Lost entry writes in the storage episode's history. The damage drawn after the crash hits
// copies at rest, and a misdirect leaves the bytes it displaced; a lost write (PAR: the device
// acknowledged it and dropped it; sim.Disk.ArmLostWrite) leaves nothing at all, and at the end
// of a file it does not even grow the file. The last op of a segment is the one whose entry
// lies at its file's end: its entry's write lost, the file ends before the extent its intact
// record names. In a quarter of the boots (their own stream, storage_episode/lost_entry, so
// that every other draw of a seed stays), the boot's first fresh append of a segment's last
// op loses its entry write. The append is acknowledged (its record landed): the op is damaged
// from then on (until written again or cut), and must come back intact or faulty, never
// silently lost; its repair in place (the last boot's, storage_episode_repair_rule.go) must
// keep the ops above it.

// lostEntryAim is the boot's lost entry write: whether the boot aims one, whether it is armed
// (for op), and whether it struck.
type lostEntryAim struct {
	on, armed bool
	op        uint64
}

// drawLostEntryAim draws the boot's lost entry write.
func (e *storeEpisode) drawLostEntryAim() lostEntryAim {
	if e.lostEntry == nil {
		e.lostEntry = sim.Stream(e.seed, "storage_episode/lost_entry")
	}
	return lostEntryAim{on: e.lostEntry.IntN(4) == 0}
}

// aimLostEntry arms the boot's lost entry write at step's entry write if step is a fresh
// append of a segment's last op.
func (e *storeEpisode) aimLostEntry(step storagemodel.Step) {
	a := &e.lostAim
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	if !a.on || a.armed || step.Kind != storagemodel.Append || step.Op%per != per-1 {
		return
	}
	a.on, a.armed, a.op = false, true, step.Op
	e.disk.ArmLostWrite(segmentFileName4(step.Op), storage.RecordAreaSize(storageEpisodeOptions.SegmentEntriesMax), math.MaxInt64)
}

// lostEntryAcknowledged marks step's op damaged if step is the append whose entry write the
// armed lost write took, now acknowledged; it withdraws the aim once its append is done.
func (e *storeEpisode) lostEntryAcknowledged(step storagemodel.Step) {
	a := &e.lostAim
	if !a.armed || step.Kind != storagemodel.Append || step.Op != a.op {
		return
	}
	a.armed = false
	if e.disk.DisarmLostWrite() {
		e.damaged[step.Op], e.entryHit[step.Op] = true, true
		e.counters["coverage.storage_episode.lost_entry_write"]++
	}
}

// settleLostEntry withdraws the boot's lost entry write at the crash. An append in flight
// whose entry it took is damaged too: its record may have landed over the entry the disk
// dropped, which the engine cannot tell from an acknowledged append's lost entry (faulty),
// and the model's crash rules may still lose it.
func (e *storeEpisode) settleLostEntry() {
	if e.disk.DisarmLostWrite() && e.lostAim.armed {
		e.damaged[e.lostAim.op], e.entryHit[e.lostAim.op] = true, true
		e.counters["storage_episode.lost_entry_write_in_flight"]++
	}
	e.lostAim = lostEntryAim{}
}
