package scenarios

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"vopr/cluster/storage"
)

// A run of record-area sectors landing above the head, over a torn tail. A misdirected write
// of the record area (a truncation's run of marks, written in one go; a record Open places;
// an append's record) lands on sectors it was not meant for, whole: each still verifies as
// the record or mark of the op it names. Landed on the record sectors of ops above the log's
// head, it is no evidence of their appends: a record proves its own op's append finished,
// and a sector that names another op proves nothing of this one (record.go's table;
// recovery.go's damagedRecordEvidence). Where it lands matters only when the head's segment
// ends in bytes no entry claims (a torn append at the crash), which recovery reads as room
// for the appends whose damaged records lie above the head: a landing taken for such a record
// invents ops past the head, of unknown identity, which no replica can repair or deny.
//
// The episode's misdirects land anywhere in a file, and the boot's crash seldom leaves a
// torn tail of two sectors or more under record sectors that nothing else wrote. So, in a
// third of the boots whose crash left such a tail in the highest segment (its own stream,
// storage_episode/landing, so that every other draw of a seed stays as it was), the episode
// copies a run of two or three whole record-area sectors (records or marks of other ops,
// consecutive, from any segment) over the record sectors of the ops just above everything
// the history wrote there (sectors of zeros). The lowest of those ops counts as damaged: the
// torn tail may be its append (the one in flight at the crash, whose header was lost), and a
// foreign sector may lie over a record of its own that it hides, so recovery may keep it,
// faulty. The ops above it do not: nothing but the landing lies over their record sectors,
// and a recovery that holds one of them faulty took another op's record for its own, the
// proof of an append that never happened (check: "reported faulty, but nothing damaged it").

// landingAbove draws and places the boot's landing above the head, if the shape is there.
func (e *storeEpisode) landingAbove() {
	r := e.landing
	if r.IntN(3) != 0 {
		return
	}
	names := e.segments()
	if len(names) == 0 {
		return
	}
	name := names[len(names)-1] // the highest segment: only there is a torn tail read as room
	if len(e.hiddenAt[name]) > 0 {
		return // a hidden record sector above the head would be evidence of its own
	}
	var index uint64
	if _, err := fmt.Sscanf(strings.TrimPrefix(name, "log-"), "%x", &index); err != nil {
		return
	}
	perSegment := uint64(storageEpisodeOptions.SegmentEntriesMax)
	first, records := index*perSegment, int64(perSegment)*storage.SectorSize
	durable := e.disk.Durable(name)
	size := int64(len(durable))
	// top is the highest op anything in the history or on disk shows: the model's head, a
	// checkpoint (or a damaged one a fallback may pass), a failed append, the operation in
	// flight unless it is an append (which counts by what it left), an entry header anywhere
	// in the file, a record sector written or unreadable. The landing goes above it, where
	// every record sector is zeros: nothing else there is evidence of an append.
	top := max(e.m.Head, e.m.CP, e.checkpointDamaged, e.errorAim.failedOp)
	if p := e.m.Pending; p != nil && !e.m.PendingWrites(p.Op) {
		top = max(top, p.Op)
	}
	end := records
	for at := records; at+storage.SectorSize <= size; at += storage.SectorSize {
		h, err := storage.DecodeHeader(durable[at : at+storage.SectorSize])
		if err != nil || h.Op/perSegment != index {
			continue
		}
		top = max(top, h.Op)
		if h.Offset == at {
			end = max(end, at+h.Size())
		}
	}
	for i := uint64(0); i < perSegment && int64(i+1)*storage.SectorSize <= size; i++ {
		sector, err := e.disk.Visible(name, int64(i)*storage.SectorSize, storage.SectorSize)
		if err != nil || !storage.AllZero(sector) || !storage.AllZero(durable[i*storage.SectorSize:(i+1)*storage.SectorSize]) {
			top = max(top, first+i)
		}
	}
	n := uint64(2 + r.IntN(2))
	low := max(top+1, first)
	if low+n-1 >= first+perSegment {
		return // no room in the record area above the head
	}
	if room := (size - end) / storage.SectorSize; room < int64(low+n-1-top) {
		return // no torn tail long enough to be read as the appends of the ops landed on
	}
	runs := e.recordRuns(int(n))
	if len(runs) == 0 {
		return
	}
	run := runs[r.IntN(len(runs))]
	at := int64(low-first) * storage.SectorSize
	if int64(len(run)) > size-at {
		return // past the end of the file: no sector there to land on
	}
	if err := e.wait(func(done func(error)) { e.disk.WriteAt(name, run, at, done) }); err != nil {
		e.fail("landing write above the head: %v", err)
		return
	}
	if err := e.wait(func(done func(error)) { e.disk.Sync(name, done) }); err != nil {
		e.fail("landing sync above the head: %v", err)
		return
	}
	e.damaged[low] = true
	e.counters["storage_episode.landing_above_head"]++
}

// recordRuns returns every run of n consecutive record-area sectors, in any segment, that
// each hold a whole record or mark of their own op, readable now.
func (e *storeEpisode) recordRuns(n int) [][]byte {
	perSegment := int(storageEpisodeOptions.SegmentEntriesMax)
	var runs [][]byte
	for _, name := range e.segments() {
		durable := e.disk.Durable(name)
		for i := 0; i+n <= perSegment && (i+n)*storage.SectorSize <= len(durable); i++ {
			run := durable[i*storage.SectorSize : (i+n)*storage.SectorSize]
			visible, err := e.disk.Visible(name, int64(i)*storage.SectorSize, int64(n)*storage.SectorSize)
			if err != nil || !bytes.Equal(visible, run) {
				continue
			}
			whole := true
			for j := 0; j < n && whole; j++ {
				sector := run[j*storage.SectorSize : (j+1)*storage.SectorSize]
				whole = e.isMarkSector(sector) || binary.LittleEndian.Uint64(sector[16:]) == recordMagicSector
			}
			if whole && !slices.ContainsFunc(runs, func(r []byte) bool { return bytes.Equal(r, run) }) {
				runs = append(runs, bytes.Clone(run))
			}
		}
	}
	return runs
}

// recordMagicSector is a redundant record's magic, as record.go lays it out (byte 16).
const recordMagicSector = 0x31434552524f5056 // "VOPRREC1"
