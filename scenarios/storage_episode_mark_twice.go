package scenarios

import (
	"math/rand/v2"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// Two faults aimed at one tombstone of a truncation. The engine reads each tombstone back
// after writing and syncing it, and writes again each that does not read back; the rewrite
// is one more write the disk may lose or send elsewhere, and the engine must read it back
// too, and go on until the sector holds the mark, before it cuts. Otherwise the op's old
// record stays in place over an entry the cut removed: it claims a durable append the
// replica gave up, and the op comes back at the next boot (storage.mark_rewrite_not_read_back).
//
// In a third of the truncations that tombstone a record (when no other lost write or write
// error is aimed at the engine's work), the episode arms both a lost write and a write error
// (ErrIO, nothing written, which the engine takes for a write to read back) at the record
// sector of the truncation's first dropped op: the tombstones' write takes one of them, and
// the rewrite of that op's tombstone the other. Neither alters anything but that sector, so
// no other op is damaged. Both are withdrawn at the next step, or by the crash
// (settleLostEntry, settleWriteError). A misdirect would do as the second fault, but its
// landing destroys entries a fallback replays, which the episode's check of the engine's
// history then blames on the engine. Its draws come from its own stream
// (storage_episode/mark_twice).

// markTwiceAim is the episode's double fault on a tombstone: the stream and whether it is
// armed at the step in flight.
type markTwiceAim struct {
	r     *rand.Rand
	armed bool
	// cache is the boot's failed-sync cache, and syncErrors draws its arming
	// (storage_episode_sync_cache.go).
	cache      *syncCache
	syncErrors *rand.Rand
}

// aimMarkTwice withdraws the faults armed at the previous step, and arms the double fault at
// step if it is a truncation that tombstones a record, or else maybe a failed sync whose
// pages stay readable (aimSyncCache).
func (e *storeEpisode) aimMarkTwice(step storagemodel.Step) {
	e.withdrawSyncCache()
	if !e.armMarkTwice(step) {
		e.aimSyncCache(step)
	}
}

// armMarkTwice withdraws the double fault armed at the previous step, and arms one at step if
// it is a truncation that tombstones a record; it reports whether it armed one.
func (e *storeEpisode) armMarkTwice(step storagemodel.Step) bool {
	a := &e.markTwice
	if a.armed {
		a.armed = false
		if !e.lostAim.armed {
			e.disk.DisarmLostWrite()
		}
		if !e.errorAim.armed && !e.truncateAim.armed {
			e.disk.DisarmWriteError()
		}
	}
	if step.Kind != storagemodel.Truncate || e.s == nil {
		return false
	}
	if a.r == nil {
		a.r = sim.Stream(e.seed, "storage_episode/mark_twice")
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	first := step.Op + 1
	if a.r.IntN(3) != 0 || first > e.s.Head() || first%per == 0 || e.lostAim.armed ||
		e.errorAim.armed || e.truncateAim.armed {
		return false
	}
	name := segmentFileName4(first)
	at := int64(first%per) * storage.SectorSize
	e.disk.ArmLostWrite(name, at, at+1)
	e.disk.ArmWriteError(name, at, at+1)
	a.armed = true
	e.counters["coverage.storage_episode.mark_twice_armed"]++
	return true
}
