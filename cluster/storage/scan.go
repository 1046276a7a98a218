package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// record is what a scan found at one place of a segment.
type record struct {
	op     uint64
	offset int64
	size   int64
	// intact: header and body verified. Otherwise only the header verified: the entry is
	// torn, its body corrupt, or it runs past the end of the file.
	intact  bool
	chain   checksum.Sum
	parent  checksum.Sum
	bodySHA [32]byte
	body    []byte // kept only for intact entries with op >= scanner.keepFrom
	// intended is the offset a misplaced entry names (where it was meant to be written).
	intended int64
}

// span is a run of bytes [start, end) that belongs to no verified entry.
type span struct{ start, end int64 }

// segmentScan is everything a scan of one segment file found, in offset order.
type segmentScan struct {
	index   uint64
	size    int64
	records []record
	garbage []span
	// misplaced are entries found intact at a place they do not name (misdirected writes):
	// not usable, but evidence that their op exists.
	misplaced []record
	// persist are the redundant records of the segment's ops (record.go), indexed by
	// op % SegmentEntriesMax; past the end of the file they are absent.
	persist []persistRecord
	// strays are redundant records of the segment's ops found among its entries: a record
	// write that a misdirect carried there (record.go).
	strays []strayRecord
}

// strayRecord is a redundant record found at offset at among a segment's entries.
type strayRecord struct {
	persistRecord
	at int64
}

// scanner walks one segment file from the start. At each sector boundary it expects an entry
// header that names this segment, this offset and this cluster; if the header is not there,
// the sector is garbage and the scan moves one sector on, so that a damaged entry costs only
// its own ops and every later intact entry is still found (an entry header that names its own
// offset cannot be mistaken for garbage at another offset).
//
// It reads in chunks of scanChunkSize (or one entry, if larger) and processes what is
// buffered in a loop, so the stack unwinds at every read.
type scanner struct {
	fs       FS
	name     string
	cluster  uint64
	opts     Options
	keepFrom uint64 // keep the bodies of intact entries with op >= keepFrom
	size     int64
	pos      int64
	buf      []byte
	bufStart int64
	out      segmentScan
	done     func(segmentScan, error)
	keep     *scanBuffers
}

// scanBuffers are the read buffers of a storage's scans, kept from one scan to the next
// (scans run one at a time, and nothing a scan returns points into them): every Open and
// Verify scans every segment, and each scan allocated a chunk and a record area. sha sums the
// intact bodies.
type scanBuffers struct {
	chunk, area []byte
	sha         checksum.SHA256
	sums        *checksum.SHA256Memo // the storage's (Storage.sums)
}

// scanSegment scans segment k: its record area, then its entries. An I/O error other than
// ErrIO (which marks the unreadable place damaged) aborts the scan.
func scanSegment(fs FS, opts Options, cluster uint64, k, keepFrom uint64, keep *scanBuffers,
	done func(segmentScan, error)) {
	name := segmentName(k)
	size, err := fs.Size(name)
	sc := &scanner{fs: fs, name: name, cluster: cluster, opts: opts, keepFrom: keepFrom,
		size: size, out: segmentScan{index: k, size: size}, done: done, keep: keep, buf: keep.chunk[:0]}
	if err != nil {
		later(fs, func() { done(segmentScan{}, err) })
		return
	}
	sc.readRecords(func(err error) {
		if err != nil {
			done(segmentScan{}, fmt.Errorf("storage: scan %s: %w", name, err))
			return
		}
		sc.pos = min(RecordAreaSize(opts.SegmentEntriesMax), sc.size)
		if sc.pos == sc.size {
			done(sc.out, nil)
			return
		}
		sc.resume()
	})
}

// readRecords reads the record area in one go, or sector by sector if that meets an
// unreadable sector (which costs only its own record: damaged).
func (sc *scanner) readRecords(done func(error)) {
	n := sc.opts.SegmentEntriesMax
	sc.out.persist = make([]persistRecord, n)
	size := min(RecordAreaSize(n), sc.size)
	if int64(cap(sc.keep.area)) < size {
		sc.keep.area = make([]byte, size)
	}
	area := sc.keep.area[:size]
	first := sc.out.index * uint64(n)
	var prefixes []byte // the intact records' prefixes, copied out of area into one array
	decode := func(i int, b []byte) {
		sc.out.persist[i] = decodeRecord(b, first+uint64(i), sc.cluster)
		if sc.out.persist[i].foreign {
			sc.strayIn(b, int64(i)*SectorSize)
		}
		if p := sc.out.persist[i].prefix; sc.out.persist[i].state == recordIntact {
			if len(p) == 0 {
				sc.out.persist[i].prefix = nil // as a copy of nothing is
				return
			}
			if cap(prefixes)-len(prefixes) < len(p) {
				prefixes = make([]byte, 0, max(16*len(p), 2*cap(prefixes)))
			}
			start := len(prefixes)
			prefixes = append(prefixes, p...)
			sc.out.persist[i].prefix = prefixes[start:len(prefixes):len(prefixes)]
		}
	}
	whole := len(area) / SectorSize
	if len(area) == 0 {
		later(sc.fs, func() { done(nil) })
		return
	}
	sc.fs.ReadAt(sc.name, area, 0, func(got int, err error) {
		if err != nil && !errors.Is(err, ErrIO) {
			done(err)
			return
		}
		if err == nil {
			for i := 0; i < min(whole, got/SectorSize); i++ {
				decode(i, area[i*SectorSize:(i+1)*SectorSize])
			}
			done(nil)
			return
		}
		forEach(whole, func(i int, next func(error)) {
			b := area[i*SectorSize : (i+1)*SectorSize]
			sc.fs.ReadAt(sc.name, b, int64(i)*SectorSize, func(got int, err error) {
				switch {
				case errors.Is(err, ErrIO):
					sc.out.persist[i] = persistRecord{state: recordDamaged}
				case err != nil:
					next(err)
					return
				case got == SectorSize:
					decode(i, b)
				}
				next(nil)
			})
		}, done)
	})
}

func (sc *scanner) resume() {
	for sc.pos < sc.size {
		if sc.size-sc.pos < SectorSize {
			sc.damaged(sc.size)
			break
		}
		if !sc.buffered(SectorSize) {
			sc.fill(SectorSize, nil, false)
			return
		}
		h, ok := sc.header()
		if !ok {
			sc.stray()
			sc.damaged(sc.pos + SectorSize)
			continue
		}
		if h.Offset != sc.pos {
			sc.out.misplaced = append(sc.out.misplaced, record{op: h.Op, offset: sc.pos,
				size: h.Size(), intended: h.Offset})
			sc.damaged(sc.pos + SectorSize)
			continue
		}
		if sc.pos+h.Size() > sc.size {
			sc.torn(h)
			continue
		}
		if !sc.buffered(h.Size()) {
			held := h // the read's callback keeps it: a copy, so that h stays on the stack
			sc.fill(h.Size(), &held, false)
			return
		}
		sc.entry(h)
	}
	assert.That(sc.pos == sc.size, "storage: scan overran the file")
	sc.done(sc.out, nil)
}

func (sc *scanner) buffered(n int64) bool {
	return sc.pos >= sc.bufStart && sc.pos+n <= sc.bufStart+int64(len(sc.buf))
}

func (sc *scanner) at(n int64) []byte {
	assert.That(sc.buffered(n), "storage: scan reading past its buffer")
	return sc.buf[sc.pos-sc.bufStart : sc.pos-sc.bufStart+n]
}

// fill reads at least n bytes at pos (a whole chunk unless exact), then resumes. If a chunk
// read fails with ErrIO, it retries exactly n bytes (the bad sector may lie beyond them); if
// that fails too, the place is damaged: the entry whose header is known (h), or one sector.
func (sc *scanner) fill(n int64, h *Header, exact bool) {
	length := min(max(n, scanChunkSize), sc.size-sc.pos)
	if exact {
		length = n
	}
	assert.That(length >= n, "storage: scan fill beyond the file")
	if int64(cap(sc.buf)) < length {
		sc.buf = make([]byte, length)
		sc.keep.chunk = sc.buf
	}
	buf := sc.buf[:length]
	start := sc.pos
	sc.fs.ReadAt(sc.name, buf, start, func(got int, err error) {
		switch {
		case errors.Is(err, ErrIO) && length > n:
			sc.buf = sc.buf[:0]
			sc.fill(n, h, true)
			return
		case errors.Is(err, ErrIO) && h != nil:
			sc.torn(*h)
		case errors.Is(err, ErrIO):
			sc.damaged(sc.pos + SectorSize)
		case err != nil:
			sc.done(segmentScan{}, fmt.Errorf("storage: scan %s: %w", sc.name, err))
			return
		case int64(got) < n:
			sc.size = start + int64(got) // the file is shorter than it said
			sc.out.size = sc.size
		}
		sc.buf, sc.bufStart = buf[:got], start
		sc.resume()
	})
}

// header decodes the header at pos and checks that it belongs to this segment. The caller
// checks that it names this offset.
func (sc *scanner) header() (Header, bool) {
	h, err := DecodeHeader(sc.at(SectorSize))
	if err != nil {
		return Header{}, false
	}
	seg := h.Op / uint64(sc.opts.SegmentEntriesMax)
	return h, h.Cluster == sc.cluster && seg == sc.out.index && h.BodySize <= sc.opts.EntryBodyMax
}

// damaged records [pos, end) as garbage and moves past it.
func (sc *scanner) damaged(end int64) {
	assert.That(end > sc.pos && end <= sc.size, "storage: damaged span out of the file")
	n := len(sc.out.garbage)
	if n > 0 && sc.out.garbage[n-1].end == sc.pos {
		sc.out.garbage[n-1].end = end
	} else {
		sc.out.garbage = append(sc.out.garbage, span{start: sc.pos, end: end})
	}
	sc.pos = end
}

// stray keeps the sector at pos if it is a whole redundant record of one of the segment's
// ops: a misdirected record write landed there, over an entry (perhaps its own op's, which
// then reads as damaged with no record, like an append that never finished).
func (sc *scanner) stray() { sc.strayIn(sc.at(SectorSize), sc.pos) }

// strayIn keeps the sector b at offset at as a stray if it is a record of one of the
// segment's ops: among the entries, or in the record area over another op's record sector (a
// misdirected record write lands anywhere in the file: swarm seed 2026496656, op 20's record
// on op 11's sector, and op 20, acknowledged, was dropped as an append that never finished).
func (sc *scanner) strayIn(b []byte, at int64) {
	if binary.LittleEndian.Uint64(b[16:]) != recordMagic {
		return
	}
	h, prefix, err := parseRecord(b)
	if err != nil || h.Cluster != sc.cluster || h.Op/uint64(sc.opts.SegmentEntriesMax) != sc.out.index {
		return
	}
	raw := append([]byte(nil), b...) // kept whole, for Open to write in place (placeStrays)
	var kept []byte                  // the prefix, in raw; nil for none, as a copy of nothing is
	if n := recordPrefixAt + len(prefix); len(prefix) > 0 {
		kept = raw[recordPrefixAt:n:n]
	}
	sc.out.strays = append(sc.out.strays, strayRecord{at: at, persistRecord: persistRecord{
		state: recordIntact, header: h, prefix: kept, stray: raw}})
}

// torn records an entry whose header verified but whose body is not all there or unreadable:
// its op exists and is faulty. The scan goes on one sector later.
func (sc *scanner) torn(h Header) {
	sc.out.records = append(sc.out.records, record{op: h.Op, offset: sc.pos, size: h.Size()})
	sc.damaged(sc.pos + SectorSize)
}

// entry checks the body of a buffered entry and records it.
func (sc *scanner) entry(h Header) {
	b := sc.at(h.Size())
	r := record{op: h.Op, offset: sc.pos, size: h.Size(), chain: h.Chain(), parent: h.Parent}
	if checksum.Matches(b[HeaderSize:], h.ChecksumBody) {
		body := b[HeaderSize : HeaderSize+h.BodySize]
		r.intact = true
		r.bodySHA = bodySum(sc.keep.sums, &sc.keep.sha, h.Op, body)
		if h.Op >= sc.keepFrom {
			r.body = append([]byte{}, body...)
		}
	}
	if sc.out.records == nil {
		// A segment holds up to SegmentEntriesMax entries: room for them at once, instead
		// of growing (and copying) the records through every power of two.
		sc.out.records = make([]record, 0, sc.opts.SegmentEntriesMax)
	}
	sc.out.records = append(sc.out.records, r)
	if !r.intact {
		// The body may hold what overwrote it (a misdirected entry): look at every sector.
		sc.damaged(sc.pos + SectorSize)
		return
	}
	sc.pos += r.size
}
