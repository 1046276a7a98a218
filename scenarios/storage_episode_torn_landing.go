package scenarios

import (
	"encoding/binary"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// A torn append over a landing (its own stream, storage_episode/torn_landing, so that every
// other draw of a seed stays as it was).
//
// A misdirected record write may land on the record sector of the op above the head, where
// nothing was written yet, and outlive its boot (a whole record of another op: it verifies).
// The op's append comes next; a crash while its entry is written but not yet synced tears it:
// its header sector lost, a later sector kept, and its record never written, the landing still
// in its sector. The torn bytes past the head make the op the log's next one (entryEvidence),
// and a record of another op is no evidence that its append finished: Open must drop it as an
// append that never finished (dropUnfinished, storage crash seed 1072540137867). Held faulty
// instead, of unknown identity, it is an op invented past the head that no replica can repair
// or deny (check: a fresh append in flight reported faulty; mutant
// storage.drop_unfinished_keeps_foreign_head).
//
// In a quarter of the boots whose head's record sector holds a whole record and whose next
// op's record sector is empty, the head's record is written (and synced) over the next op's
// record sector before the boot's history runs; the crash then comes as soon as that op's
// append has written its entry and not synced it, and tears it if the crash kept it. The op is
// not marked damaged: its record sector holds a whole record of another op, which a correct
// recovery reads as absent.

// tornLandingAim is the boot's armed torn append (op 0: none).
type tornLandingAim struct {
	op   uint64
	name string
}

// armTornLanding lands the head's record on the next op's record sector, when drawn.
func (e *storeEpisode) armTornLanding() tornLandingAim {
	head := e.m.Head
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	if head == 0 || head <= e.m.CP || (head+1)/per != head/per || e.tornLanding.IntN(4) != 0 {
		return tornLandingAim{}
	}
	name := segmentFileName4(head)
	durable := e.disk.Durable(name)
	own, next := int64(head%per)*storage.SectorSize, int64((head+1)%per)*storage.SectorSize
	if int64(len(durable)) < next+storage.SectorSize {
		return tornLandingAim{}
	}
	record := durable[own : own+storage.SectorSize]
	visible, err := e.disk.Visible(name, own, storage.SectorSize)
	if err != nil || string(visible) != string(record) || binary.LittleEndian.Uint64(record[16:]) != recordMagicSector ||
		!storage.AllZero(durable[next:next+storage.SectorSize]) {
		return tornLandingAim{}
	}
	landing := append([]byte(nil), record...)
	if err := e.wait(func(done func(error)) { e.disk.WriteAt(name, landing, next, done) }); err != nil {
		e.fail("torn landing write: %v", err)
		return tornLandingAim{}
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync(name, done) }); err != nil {
		e.fail("torn landing sync: %v", err)
		return tornLandingAim{}
	}
	e.counters["coverage.storage_episode.torn_landing_armed"]++
	return tornLandingAim{op: head + 1, name: name}
}

// tornLandingDue reports whether the armed op's append has written its entry, not synced.
func (e *storeEpisode) tornLandingDue() bool {
	a := e.tornAim
	if a.op == 0 || !e.m.PendingIs(storagemodel.Append) || e.m.Pending.Op != a.op {
		return false
	}
	_, visible := e.placedVisible(a.name, a.op)
	_, durable := e.placedIn(e.disk.Durable(a.name), a.op)
	return visible && !durable
}

// tearTornLanding, after the crash, loses the header sector of the armed op's entry if the
// crash kept it: a torn write.
func (e *storeEpisode) tearTornLanding(due bool) {
	a := e.tornAim
	e.tornAim = tornLandingAim{}
	if !due {
		return
	}
	p, ok := e.placedIn(e.disk.Durable(a.name), a.op)
	if !ok {
		return // the crash lost the write whole
	}
	zeros := make([]byte, storage.SectorSize)
	if err := e.wait(func(done func(error)) { e.disk.WriteAt(a.name, zeros, p.offset, done) }); err != nil {
		e.fail("torn landing tear: %v", err)
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync(a.name, done) }); err != nil {
		e.fail("torn landing tear sync: %v", err)
		return
	}
	e.counters["coverage.storage_episode.torn_landing"]++
}

func (e *storeEpisode) placedVisible(name string, op uint64) (placedEntry, bool) {
	size, err := e.disk.Size(name)
	if err != nil {
		return placedEntry{}, false
	}
	image, err := e.disk.Visible(name, 0, size)
	if err != nil {
		return placedEntry{}, false
	}
	return e.placedIn(image, op)
}

func (e *storeEpisode) placedIn(image []byte, op uint64) (placedEntry, bool) {
	for _, p := range placedEntries(image) {
		if p.op == op {
			return p, true
		}
	}
	return placedEntry{}, false
}
