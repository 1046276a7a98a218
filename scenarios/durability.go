package scenarios

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/zeebo/xxh3"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// The durability checks read the simulated disks directly, so they see what a crash would
// leave, not what the replica believes:
//
//   - checkAckDurable holds a replica to its prepare_ok, and a primary to its own vote
//     ("persist before PrepareOk", DESIGN.md section 3): when it acknowledges a prepare, the
//     entry must already be on its disk's durable image, with the acknowledged checksum.
//   - durableDisks.image is a replica's whole durable state (superblock and log above the
//     checkpoint) for the Suite's disk checkers (invariants/disk.go: acked_durable,
//     log_view_durable, checkpoint_monotonic's restarts).
//
// Entries are located by scanning sectors for entry headers that name their own offset (a
// header record elsewhere in a segment names another place), never by assuming a layout.
// Each segment's parse is cached with the durable bytes it came from, and every use of the
// cache is verified against the disk first: a prepare_ok compares the one entry's durable
// bytes, an image compares the whole segment and parses only what was appended.

// durableDisks reads the cluster's disks for the checkers.
type durableDisks struct {
	c           *sim.Cluster
	segments    map[segmentKey]*segmentCache
	superblocks []superblockReader // by replica
	// spare holds dropped segment caches, emptied, for the next segments' (each grows its
	// arrays to a segment's size, an entry at a time).
	spare []*segmentCache
	// lastKey and last are the last segment cache found (cached), nil when none: every
	// acknowledgement looks up its segment's, twice.
	lastKey segmentKey
	last    *segmentCache
	// entries is the segment caches' memo of the entries their parses read.
	entries entryMemo
	// epochs is the epoch rule's watch (durable_epoch.go).
	epochs epochWatch
}

// cached returns the segment cache of key, nil if there is none.
func (d *durableDisks) cached(key segmentKey) *segmentCache {
	if d.last != nil && d.lastKey == key {
		return d.last
	}
	s := d.segments[key]
	if s != nil {
		d.lastKey, d.last = key, s
	}
	return s
}

// drop forgets a segment's cache, keeping it, emptied, for another. Nothing refers to a
// cache past the event that dropped it (find and image copy what they take).
func (d *durableDisks) drop(key segmentKey) {
	if d.last != nil && d.lastKey == key {
		d.last = nil
	}
	if s := d.segments[key]; s != nil && len(d.spare) < 8 {
		*s = segmentCache{data: s.data[:0], entries: s.entries[:0], jumps: s.jumps[:0],
			oldJumps: s.oldJumps[:0], oldEntries: s.oldEntries[:0]}
		d.spare = append(d.spare, s)
	}
	delete(d.segments, key)
}

// newSegmentCache returns an empty cache, a spare one if there is one.
func (d *durableDisks) newSegmentCache() *segmentCache {
	if n := len(d.spare); n > 0 {
		s := d.spare[n-1]
		d.spare = d.spare[:n-1]
		s.memo = &d.entries
		return s
	}
	return &segmentCache{memo: &d.entries}
}

type segmentKey struct {
	replica int
	index   uint64
}

// segmentCache is the parse of a segment's durable bytes data[:parsed].
type segmentCache struct {
	name string // the segment's file name
	// disk and stamp are the disk's DurableStamp of the file when refresh last brought the
	// cache to its durable image (stamp 0: not since the cache last changed otherwise):
	// while the stamp stays, the cache is that image's.
	disk    *sim.Disk
	stamp   uint64
	data    []byte
	parsed  int64
	entries []parsedEntry // ascending by offset
	// opMax is at least the op of every entry (0 for none): find misses an op above it
	// without a walk (an acknowledgement's op is usually not parsed yet).
	opMax uint64
	// jumps are the places where the scan found a whole entry header and stepped over the
	// entry (every other step is one sector): with them the scan's path is known, so that
	// bytes that change in place re-parse only what they can have changed (resync).
	jumps []scanJump
	memo  *entryMemo // nil: the parse reads every entry itself
	// oldJumps and oldEntries are the arrays of the last resync's old walk, emptied, for the
	// next rewind's copies (a resync follows nearly every image read).
	oldJumps   []scanJump
	oldEntries []parsedEntry
}

// scanJump is one step of the scan over an entry at at, of size bytes; entries is how many
// entries the scan had found before it.
type scanJump struct {
	at, size int64
	entries  int
}

type parsedEntry struct {
	op           uint64
	offset, size int64
	prepare      checksum.Sum
	view, epoch  uint32
	intact       bool // both checksums hold on the durable bytes
}

func newDurableDisks(c *sim.Cluster) *durableDisks {
	return &durableDisks{c: c, segments: map[segmentKey]*segmentCache{},
		superblocks: make([]superblockReader, c.MemberCount())}
}

// segmentName is "log-" and the index in 16 hex digits (the engine's naming, written out
// here rather than shared; without fmt, as it runs on every acknowledgement).
func segmentName(index uint64) string {
	const digits = "0123456789abcdef"
	var b [4 + 16]byte
	copy(b[:], "log-")
	for i := len(b) - 1; i >= 4; i-- {
		b[i] = digits[index&0xf]
		index >>= 4
	}
	return string(b[:])
}

// segmentOf is the segment holding op: the replica runs its engine with CheckpointInterval
// entries per segment (vsr.Replica's storage options).
func segmentOf(op uint64) uint64 { return op / vsr.CheckpointInterval }

// checkAckDurable returns a violation message if replica's disk does not durably hold the
// prepare with checksum sum at op; what names the acknowledgement. Ops at or below the
// replica's checkpoint are exempt: the engine compacts their entries away.
func (d *durableDisks) checkAckDurable(replica int, op uint64, sum checksum.Sum, what string) string {
	r := d.c.Replica(replica)
	if r == nil || op <= r.CheckpointOp() {
		return ""
	}
	e, ok := d.held(replica, op, sum)
	if !ok {
		return fmt.Sprintf("replica %d %s op %d (prepare %016x) at %s, but its disk does not durably hold it",
			replica, what, op, sum.Low64(), d.c.Loop.Now())
	}
	var name string
	if s := d.cached(segmentKey{replica, segmentOf(op)}); s != nil {
		name = s.name // held left it cached
	} else {
		name = segmentName(segmentOf(op))
	}
	return unsyncedRepairIn(d.c.Nodes[replica].Disk, name, replica, op, e, what)
}

// unsyncedRepair returns a violation message if the acknowledged entry e reads intact only
// thanks to a write not yet synced over damage: a crash would bring the damage back (an
// engine that takes a rewrite of a damaged entry as durable before syncing it). Damage that
// struck after the entry was written is not the acknowledger's doing, and is not reported.
func unsyncedRepair(disk *sim.Disk, replica int, op uint64, e parsedEntry, what string) string {
	return unsyncedRepairIn(disk, segmentName(segmentOf(op)), replica, op, e, what)
}

// unsyncedRepairIn is unsyncedRepair with the segment's file name at hand.
func unsyncedRepairIn(disk *sim.Disk, name string, replica int, op uint64, e parsedEntry, what string) string {
	durably := disk.DurablyAltered(name, e.offset, e.size)
	if len(durably) == 0 {
		return "" // the usual case: nothing for a crash to bring back
	}
	now := map[int64]bool{}
	for _, f := range disk.Altered(name, e.offset, e.size) {
		now[f.Sector] = true
	}
	for _, f := range durably {
		if !now[f.Sector] {
			return fmt.Sprintf("replica %d %s op %d, whose entry reads intact only through an unsynced rewrite: "+
				"a crash would leave %s at %s@%d", replica, what, op, f.Kind, name, f.Offset)
		}
	}
	return ""
}

// holds reports whether replica's disk durably holds an intact entry of prepare sum at op.
func (d *durableDisks) holds(replica int, op uint64, sum checksum.Sum) bool {
	_, ok := d.held(replica, op, sum)
	return ok
}

// held returns where replica's disk durably holds an intact entry of prepare sum at op.
func (d *durableDisks) held(replica int, op uint64, sum checksum.Sum) (parsedEntry, bool) {
	disk := d.c.Nodes[replica].Disk
	key := segmentKey{replica, segmentOf(op)}
	s := d.cached(key)
	if s != nil {
		name := s.name
		if e, ok := s.find(op, sum); ok && bytes.Equal(disk.DurableView(name, e.offset, e.size),
			s.data[e.offset:e.offset+e.size]) {
			return e, true
		}
		// Most acknowledgements name the entry just appended: parse the new tail only.
		if tail := disk.DurableView(name, s.parsed, storage.EntrySizeMax); len(tail) > 0 && s.parsed <= int64(len(s.data)) {
			s.data = appendDoubling(s.data[:s.parsed], tail)
			s.stamp = 0 // the prefix is not compared: no longer the image refresh read
			s.parse(d.c.ClusterID(), nil)
			if e, ok := s.find(op, sum); ok {
				return e, true
			}
		}
	}
	if e, ok := d.refresh(replica, key.index).find(op, sum); ok {
		return e, true
	}
	// The walk steps over a damaged entry's whole extent, as a scan from the start would. A
	// torn append whose header sector survived a crash claims an extent past the file's end,
	// and the engine appends the next entry at that end, inside it: the walk steps over the
	// new entry (fresh-range seed 2026386628: op 65, torn at 33792, written again at 34304).
	// On this, the rare path, an intact copy at any sector counts.
	return intactAnywhere(disk.DurableView(segmentName(key.index), 0, math.MaxInt64), d.c.ClusterID(), op, sum)
}

// find returns the intact entry of prepare sum at op.
func (s *segmentCache) find(op uint64, sum checksum.Sum) (parsedEntry, bool) {
	if s == nil || op > s.opMax {
		return parsedEntry{}, false
	}
	for i := len(s.entries) - 1; i >= 0; i-- {
		if e := s.entries[i]; e.op == op && e.prepare == sum && e.intact {
			return e, true
		}
	}
	return parsedEntry{}, false
}

// entry returns where replica's disk durably holds an intact entry of prepare sum at op (in
// segment segmentName(segmentOf(op)); its header names the offset it lies at).
func (d *durableDisks) entry(replica int, op uint64, sum checksum.Sum) (parsedEntry, bool) {
	return d.refresh(replica, segmentOf(op)).find(op, sum)
}

// refresh brings a segment's cache to its durable bytes (nil if the file does not exist),
// parsing only what was appended when the parsed prefix is unchanged. It compares the
// disk's bytes in place and copies only what is new to the cache.
func (d *durableDisks) refresh(replica int, index uint64) *segmentCache {
	key := segmentKey{replica, index}
	s := d.cached(key)
	var name string
	if s != nil {
		name = s.name
	} else {
		name = segmentName(index)
	}
	disk := d.c.Nodes[replica].Disk
	stamp := disk.DurableStamp(name)
	if s != nil && stamp != 0 && s.stamp == stamp && s.disk == disk {
		return s // nothing changed the file since the cache was brought to its image
	}
	size := disk.DurableSize(name)
	if size < 0 {
		d.drop(key)
		return nil
	}
	current := disk.DurableView(name, 0, size)
	if s == nil {
		s = d.newSegmentCache()
		s.name = name
		d.segments[key] = s
	}
	s.resync(current, d.c.ClusterID())
	s.disk, s.stamp = disk, stamp
	return s
}

// resync brings the cache to current, the segment's durable bytes, with the parse a scan of
// current from its start would give. The engine rewrites the redundant records at the head
// of a segment after every entry, so the parsed prefix rarely stays unchanged; but the scan
// is a walk whose every step looks only at bytes from where it stands (a sector's header,
// or a whole entry): the steps before the first changed byte stand, and once a new walk over
// the changed bytes stands, past the last of them, where the old walk stood, the old walk
// from there stands too.
func (s *segmentCache) resync(current []byte, cluster uint64) {
	examined := min(s.parsed, int64(len(s.data))) // the old walk looked at nothing from here on
	compared := min(examined, int64(len(current)))
	first, last := differences(s.data[:compared], current[:compared])
	if int64(len(current)) < examined { // bytes the old walk looked at are gone
		if first < 0 {
			first = compared
		}
		last = math.MaxInt64
	}
	var old *oldWalk
	if first >= 0 {
		w := s.rewind(first)
		w.after = last
		old = &w
		// data[:compared] differs from current only in [first, last]: copy those bytes
		// (the head records the engine rewrites), not the whole segment from first on.
		end := compared // last is past it when bytes are gone
		if last < compared {
			end = last + 1
		}
		copy(s.data[first:end], current[first:end])
	}
	s.data = appendDoubling(s.data[:compared], current[compared:])
	s.parse(cluster, old)
	if old != nil { // the parse took what it kept of the old walk by value
		s.oldJumps, s.oldEntries = old.jumps[:0], old.entries[:0]
	}
}

// differences returns the first and last index where a and b (of equal length) differ, or
// -1, -1. Both are found by narrowing: bytes.Equal (vectorised) over large chunks steps over
// the equal bytes, and each finer level looks only inside the chunk the coarser one found.
// The last difference is searched from the back: the engine's rewrites of a segment's head
// records are usually its only changes, so from the front it would compare the whole tail.
func differences(a, b []byte) (first, last int64) {
	first = int64(firstDifference(a, b))
	if first < 0 {
		return -1, -1
	}
	return first, first + int64(lastDifference(a[first:], b[first:]))
}

// diffChunks are the chunk sizes differences narrows through, before single bytes.
var diffChunks = [...]int{4096, 256}

// firstDifference returns the first index where a and b differ, -1 if none.
func firstDifference(a, b []byte) int {
	lo, hi := 0, len(a)
	for _, chunk := range diffChunks {
		at := lo
		for at < hi && bytes.Equal(a[at:min(at+chunk, hi)], b[at:min(at+chunk, hi)]) {
			at += chunk
		}
		if at >= hi {
			return -1 // only the first level can find none: the others search a differing chunk
		}
		lo, hi = at, min(at+chunk, hi)
	}
	for i := lo; i < hi; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// lastDifference returns the last index where a and b differ, -1 if none.
func lastDifference(a, b []byte) int {
	lo, hi := 0, len(a)
	for _, chunk := range diffChunks {
		end := hi
		for end > lo && bytes.Equal(a[max(end-chunk, lo):end], b[max(end-chunk, lo):end]) {
			end -= chunk
		}
		if end <= lo {
			return -1
		}
		lo, hi = max(end-chunk, lo), end
	}
	for i := hi - 1; i >= lo; i-- {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// oldWalk is what a rewind kept of the walk before the bytes changed: its jumps and entries
// from where it resumes, and where it ended.
type oldWalk struct {
	jumps   []scanJump
	entries []parsedEntry
	parsed  int64
	start   int64 // where the old walk's last dropped jump ended (0: none): sector steps from there
	after   int64 // the last changed byte: the old walk is good only from past it
}

// rewind drops the steps of the walk that looked at byte first or later, leaves parsed at
// the step to take again, and returns the rest of the old walk.
func (s *segmentCache) rewind(first int64) oldWalk {
	i := sort.Search(len(s.jumps), func(i int) bool { return s.jumps[i].at+s.jumps[i].size > first })
	prevEnd := int64(0)
	if i > 0 {
		prevEnd = s.jumps[i-1].at + s.jumps[i-1].size
	}
	at := prevEnd + (first-prevEnd)/storage.SectorSize*storage.SectorSize // a sector step: it looks at <= 128 bytes
	kept := len(s.entries)
	if i < len(s.jumps) {
		at, kept = min(at, s.jumps[i].at), s.jumps[i].entries
	}
	old := oldWalk{jumps: append(s.oldJumps[:0], s.jumps[i:]...), entries: append(s.oldEntries[:0], s.entries[kept:]...),
		parsed: s.parsed, start: prevEnd}
	for j := range old.jumps {
		old.jumps[j].entries -= kept
	}
	s.jumps, s.entries, s.parsed = s.jumps[:i], s.entries[:kept], at
	return old
}

// standsAt reports whether the old walk stood at at, past the changed bytes, and if so
// returns the index of its first jump from there.
func (w *oldWalk) standsAt(at int64) (int, bool) {
	if at <= w.after || at > w.parsed {
		return 0, false
	}
	i := sort.Search(len(w.jumps), func(i int) bool { return w.jumps[i].at+w.jumps[i].size > at })
	if i < len(w.jumps) && w.jumps[i].at <= at {
		return i, w.jumps[i].at == at
	}
	prevEnd := w.start
	if i > 0 {
		prevEnd = w.jumps[i-1].at + w.jumps[i-1].size
	}
	return i, (at-prevEnd)%storage.SectorSize == 0
}

// splice takes the old walk from its jump i on: the scan stands where it stood.
func (s *segmentCache) splice(w *oldWalk, i int) {
	base := len(s.entries)
	first := len(w.entries)
	if i < len(w.jumps) {
		first = w.jumps[i].entries
	}
	for _, j := range w.jumps[i:] {
		j.entries += base - first
		s.jumps = append(s.jumps, j)
	}
	for _, e := range w.entries[first:] {
		s.opMax = max(s.opMax, e.op)
	}
	s.entries = append(s.entries, w.entries[first:]...)
}

// appendDoubling is append(dst, src...) that at least doubles the capacity when it must
// grow: a segment's cache grows an entry at a time, and append's gentler growth for large
// slices copied the segment over and over.
func appendDoubling(dst, src []byte) []byte {
	if need := len(dst) + len(src); need > cap(dst) {
		grown := make([]byte, len(dst), max(need, 2*cap(dst)))
		copy(grown, dst)
		dst = grown
	}
	return append(dst, src...)
}

// parse scans data from parsed for entries, sector by sector. With old, the walk a rewind
// kept, it takes the old walk up again as soon as it stands where that one stood.
func (s *segmentCache) parse(cluster uint64, old *oldWalk) {
	at := s.parsed
	for at+storage.HeaderSize <= int64(len(s.data)) {
		if old != nil {
			if i, ok := old.standsAt(at); ok {
				s.splice(old, i)
				at, old = old.parsed, nil
				continue
			}
		}
		e, size, ok := s.memo.read(s.data, at, cluster)
		if size == 0 {
			at += storage.SectorSize
			continue
		}
		if size < 0 {
			break // the durable file ends inside the entry: parse it once it is whole
		}
		s.jumps = append(s.jumps, scanJump{at: at, size: size, entries: len(s.entries)})
		if ok {
			s.entries = append(s.entries, e)
			s.opMax = max(s.opMax, e.op)
		}
		at += size
	}
	s.parsed = at
}

// readEntryAt reads the entry whose header stands at at in data. size is the entry's size,
// 0 if no entry header stands there, -1 if data ends inside the entry; ok reports whether
// the entry carries a prepare's header (e, intact if its bytes and the prepare check).
func readEntryAt(data []byte, at int64, cluster uint64) (e parsedEntry, size int64, ok bool) {
	// Entry headers carry this magic at byte 48 (storage/entry.go): a cheap filter before
	// the header checksum.
	const entryMagic = 0x31474f4c52504f56
	b := data[at:]
	if binary.LittleEndian.Uint64(b[48:]) != entryMagic {
		return parsedEntry{}, 0, false
	}
	h, err := storage.DecodeHeader(b[:storage.HeaderSize])
	if err != nil || h.Offset != at {
		return parsedEntry{}, 0, false
	}
	if at+h.Size() > int64(len(data)) {
		return parsedEntry{}, -1, false
	}
	if h.BodySize < vsr.HeaderSize {
		return parsedEntry{}, h.Size(), false
	}
	prepare := b[storage.HeaderSize : storage.HeaderSize+vsr.HeaderSize]
	p, perr := vsr.DecodeHeader(prepare, cluster)
	if perr != nil {
		return parsedEntry{}, h.Size(), false
	}
	// storage.DecodeEntry's check, less its decode of the header again: the body and its
	// padding under the body checksum.
	body := b[storage.HeaderSize : storage.HeaderSize+h.BodySize]
	bodyIntact := checksum.Of(b[storage.HeaderSize:h.Size()]) == h.ChecksumBody
	return parsedEntry{op: h.Op, offset: at, size: h.Size(), prepare: p.Checksum, view: p.View, epoch: p.Epoch,
		intact: bodyIntact && p.Op == h.Op && int(p.Size) == len(body)}, h.Size(), true
}

// entryMemo remembers, per sector offset, the last entry a parse read there (readEntryAt)
// with a copy of its bytes. The replicas write the same entries at the same offsets at about
// the same time, so most entries a parse reads, another replica's parse has just read, and
// comparing the bytes costs a fraction of decoding and checksumming them again. A hit needs
// the offset, the cluster and the entry's whole bytes equal to the slot's: readEntryAt's
// answer depends on nothing else, so a hit returns exactly what it would.
type entryMemo struct {
	slots [entryMemoSlots]entryMemoSlot
}

// entryMemoSlots covers two 64 KiB segments' sectors: offsets further apart share a slot.
const entryMemoSlots = 256

type entryMemoSlot struct {
	at, cluster uint64 // at: the offset as a uint64, for the comparison only
	bytes       []byte // the entry's bytes, in the slot's own array (empty: none)
	e           parsedEntry
	ok          bool
}

// read is readEntryAt(data, at, cluster).
func (m *entryMemo) read(data []byte, at int64, cluster uint64) (e parsedEntry, size int64, ok bool) {
	if m == nil {
		return readEntryAt(data, at, cluster)
	}
	slot := &m.slots[(at/storage.SectorSize)%entryMemoSlots]
	if n := int64(len(slot.bytes)); n > 0 && slot.at == uint64(at) && slot.cluster == cluster &&
		at+n <= int64(len(data)) && bytes.Equal(data[at:at+n], slot.bytes) {
		return slot.e, n, slot.ok
	}
	e, size, ok = readEntryAt(data, at, cluster)
	if size > 0 { // an entry's header, whose extent data holds: its bytes are all the answer read
		slot.at, slot.cluster, slot.e, slot.ok = uint64(at), cluster, e, ok
		slot.bytes = append(slot.bytes[:0], data[at:at+size]...)
	}
	return e, size, ok
}

// intactAnywhere returns an intact entry of prepare sum at op whose header stands at any
// sector of data, not only on the walk from the file's start.
func intactAnywhere(data []byte, cluster uint64, op uint64, sum checksum.Sum) (parsedEntry, bool) {
	for at := int64(0); at+storage.HeaderSize <= int64(len(data)); at += storage.SectorSize {
		if e, size, ok := readEntryAt(data, at, cluster); size > 0 && ok && e.intact && e.op == op && e.prepare == sum {
			return e, true
		}
	}
	return parsedEntry{}, false
}

// segmentsFromFirst reports whether every segment file from the first through op's is on
// disk (DiskImage.FormatReplayable). Compaction removes the oldest first, so the walk stops at
// once on most disks.
func segmentsFromFirst(disk *sim.Disk, op uint64) bool {
	for k := uint64(0); k <= segmentOf(op); k++ {
		if _, err := disk.Size(segmentFileName(k * vsr.CheckpointInterval)); err != nil {
			return false
		}
	}
	return true
}

// image reads a replica's durable state: the newest intact superblock copy (its own
// decoder) and the log entries above the checkpoint it names, up to opMax's segment and
// beyond while segments exist. Sectors the simulator put a fault on make their entry
// damaged.
func (d *durableDisks) image(replica int, opMax uint64) invariants.DiskImage {
	disk := d.c.Nodes[replica].Disk
	sb := d.superblocks[replica].read(disk)
	stats := disk.Stats()
	img := invariants.DiskImage{Valid: sb.ok, View: sb.view, LogView: sb.logView, Epoch: sb.epoch,
		LogEpoch: sb.logEpoch, Commit: sb.commit,
		CheckpointOp: sb.checkpointOp, FaultsInjected: stats.LatentSectorErrors + stats.ReadCorruptions +
			stats.WriteCorruptions + stats.Misdirects + stats.TargetedFaults}
	var damaged map[string][]int64 // nil (reads as empty) on a disk without faults
	for _, f := range disk.Faults() {
		if damaged == nil {
			damaged = map[string][]int64{}
		}
		damaged[f.Name] = append(damaged[f.Name], f.Offset)
		if f.Name == "superblock" || strings.HasPrefix(f.Name, "checkpoint-") {
			img.CheckpointDamaged = true
		}
		if f.Name == "superblock" {
			img.SuperblockDamaged = true
		}
	}
	if removed := disk.RemovedDamaged(); sb.checkpointOp != 0 && len(removed) > 0 &&
		slices.Contains(removed, checkpointFileName(sb.checkpointOp)) {
		// The checkpoint the durable superblock names rotted and the node removed it: an Open
		// fell back from it and cleaned up before its superblock write, which a crash then lost
		// (swarm seed 2026908257: the late checkpoint loss, a fallback to op 0, a crash).
		img.CheckpointDamaged = true
	}
	if sb.ok && sb.checkpointOp != 0 && !img.CheckpointDamaged && checkpointFileHolds(disk, replica, sb, "checkpoint",
		sb.checkpointOp, sb.checkpointSize, sb.checkpointSum) != "" {
		img.CheckpointUnheld = true
	}
	img.FormatReplayable = sb.ok && segmentsFromFirst(disk, sb.checkpointOp)
	// Segments below the checkpoint's are compacted away or soon will be: forget them.
	for key := range d.segments {
		if key.replica == replica && key.index < segmentOf(sb.checkpointOp+1) {
			d.drop(key)
		}
	}
	// The log never spans more than a few windows above the checkpoint: a corrupt op
	// number cannot make the reader probe without bound.
	last := segmentOf(min(opMax, sb.checkpointOp+4*vsr.LogSlotsMax))
	for index := segmentOf(sb.checkpointOp + 1); ; index++ {
		s := d.refresh(replica, index)
		if s == nil && index > last {
			break
		}
		if s == nil {
			continue
		}
		faults := damaged[s.name] // the segment's faulty sectors
		img.Entries = slices.Grow(img.Entries, len(s.entries))
		for _, e := range s.entries {
			if e.op <= sb.checkpointOp {
				continue
			}
			disowned := s.disowned(e.op, d.c.ClusterID())
			img.Entries = append(img.Entries, invariants.DurableEntry{Op: e.op, Prepare: e.prepare, View: e.view, Epoch: e.epoch,
				Intact: e.intact && !faultIn(faults, e.offset, e.size) && !disowned, Disowned: disowned})
		}
	}
	// Usually in op order already (segments in order, each appended in op order): sorting
	// only when not keeps the same order a stable sort gives.
	if !slices.IsSortedFunc(img.Entries, func(a, b invariants.DurableEntry) int { return cmp.Compare(a.Op, b.Op) }) {
		sort.SliceStable(img.Entries, func(i, j int) bool { return img.Entries[i].Op < img.Entries[j].Op })
	}
	// One entry per op: the last one found (a segment holds an op once; this guards a
	// misplaced duplicate from making the image ambiguous).
	out := img.Entries[:0]
	for _, e := range img.Entries {
		if len(out) > 0 && out[len(out)-1].Op == e.Op {
			out[len(out)-1] = e
			continue
		}
		out = append(out, e)
	}
	img.Entries = out
	return img
}

// distrustMagicAt16 and faultyMagicAt16 are the storage engine's distrust and faulty mark
// magics ("VOPRDST1", "VOPRFLT1", record.go) at byte 16 of a record sector. The harness reads
// the marks itself: checksum [16] of bytes [16:512), the magic, the cluster and the op as u64
// little endian, then zeros.
const (
	distrustMagicAt16 = 0x3154534452504f56
	faultyMagicAt16   = 0x31544c4652504f56
)

// disowned reports whether op's record sector, in the segment's durable bytes, holds the
// engine's distrust or faulty mark of op: recovery then holds op faulty, of unknown identity,
// whatever entry lies there.
func (s *segmentCache) disowned(op, cluster uint64) bool {
	at := int64(op%vsr.CheckpointInterval) * storage.SectorSize
	if at+storage.SectorSize > int64(len(s.data)) {
		return false
	}
	b := s.data[at : at+storage.SectorSize]
	le := binary.LittleEndian
	magic := le.Uint64(b[16:])
	return (magic == distrustMagicAt16 || magic == faultyMagicAt16) && le.Uint64(b[24:]) == cluster && le.Uint64(b[32:]) == op &&
		checksum.Of(b[16:]) == checksum.Sum(b[:16])
}

func faultIn(offsets []int64, offset, size int64) bool {
	for _, o := range offsets {
		if o >= offset && o < offset+size {
			return true
		}
	}
	return false
}

// The superblock file: 4 copies of one sector, as two pairs (copies 0-1 and 2-3), each
// (storage/superblock.go)
//
//	0 checksum [16] of bytes [16:512) (XXH3-128, big-endian)   16 magic u64
//	24 Sequence u64   40 Commit u64   48 CheckpointOp u64   56 checkpoint Size u64
//	64 View u32   68 LogView u32   72 Epoch u32   92 Boots u32   96 AuditHead [32]
//	144 checkpoint Checksum [16]   160 Outside u16   162 LogEpoch u32
//
// decoded here independently of the engine; the newest intact copy (highest sequence) is
// what recovery would read. TestDurableSuperblockDecoder holds this decoder to the engine.
const (
	superblockCopySize = storage.SectorSize
	superblockFileSize = 4 * superblockCopySize
	superblockMagic    = 0x31304253525f4f56
)

type durableSuperblock struct {
	ok            bool
	sequence      uint64
	view, logView uint32
	epoch         uint32 // superblock byte 72: the configuration epoch
	outside       uint16 // byte 160: the epoch's membership (bit i: replica i is not a member)
	logEpoch      uint32 // byte 162: the epoch of the log view
	commit        uint64
	checkpointOp  uint64
	boots         uint32
	auditHead     [32]byte // the SHA-256 audit chain's head at checkpointOp
	// checkpointSize and checkpointSum name the checkpoint file's content (the whole file's
	// size and the first 16 bytes of its SHA-256).
	checkpointSize int64
	checkpointSum  [16]byte
	// previousOp, previousSize and previousSum name the previous checkpoint the copy keeps
	// for a fallback (bytes 174, 182, 190; op 0: none).
	previousOp   uint64
	previousSize int64
	previousSum  [16]byte
	index        int    // the copy's place in the file: pair index/2
	bytes        []byte // the copy's sector
}

func readSuperblock(file []byte) durableSuperblock {
	var best durableSuperblock
	for at := 0; at+superblockCopySize <= len(file); at += superblockCopySize {
		if c, ok := superblockCopyAt(file, at); ok && (!best.ok || c.sequence > best.sequence) {
			best = c
		}
	}
	return best
}

// superblockReader is readSuperblock of one replica's durable superblock that decodes again
// only when the durable bytes differ from those it decoded last (they change a few times per
// checkpoint; the checkers read them on every prepare and vote). The bytes it returns are its
// own copy, never modified.
type superblockReader struct {
	disk  *sim.Disk
	valid bool
	file  []byte
	sb    durableSuperblock
	// stamp is the disk's DurableStamp of the superblock when file was last found to be
	// its durable bytes (0: none): while it stays, they are.
	stamp uint64
}

func (r *superblockReader) read(disk *sim.Disk) durableSuperblock {
	stamp := disk.DurableStamp("superblock")
	if r.valid && r.disk == disk && stamp != 0 && stamp == r.stamp {
		return r.sb
	}
	view := disk.DurableView("superblock", 0, superblockFileSize)
	if r.valid && r.disk == disk && bytes.Equal(view, r.file) {
		r.stamp = stamp
		return r.sb
	}
	r.disk, r.valid, r.file, r.stamp = disk, true, bytes.Clone(view), stamp
	r.sb = readSuperblock(r.file)
	return r.sb
}

// superblockCopies decodes the intact copies of a superblock file, in file order.
func superblockCopies(file []byte) []durableSuperblock {
	var copies []durableSuperblock
	for at := 0; at+superblockCopySize <= len(file); at += superblockCopySize {
		if c, ok := superblockCopyAt(file, at); ok {
			copies = append(copies, c)
		}
	}
	return copies
}

// superblockCopyAt decodes the copy at offset at of a superblock file, if it is intact.
func superblockCopyAt(file []byte, at int) (durableSuperblock, bool) {
	le := binary.LittleEndian
	c := file[at : at+superblockCopySize]
	sum := xxh3.Hash128(c[16:]).Bytes()
	if !bytes.Equal(sum[:], c[:16]) || le.Uint64(c[16:]) != superblockMagic {
		return durableSuperblock{}, false
	}
	d := durableSuperblock{ok: true, sequence: le.Uint64(c[24:]), commit: le.Uint64(c[40:]),
		checkpointOp: le.Uint64(c[48:]), checkpointSize: int64(le.Uint64(c[56:])), view: le.Uint32(c[64:]),
		logView: le.Uint32(c[68:]), epoch: le.Uint32(c[72:]), outside: le.Uint16(c[160:]), logEpoch: le.Uint32(c[162:]), boots: le.Uint32(c[92:]), index: at / superblockCopySize, bytes: c}
	copy(d.checkpointSum[:], c[144:160])
	copy(d.auditHead[:], c[96:128])
	d.previousOp, d.previousSize = le.Uint64(c[174:]), int64(le.Uint64(c[182:]))
	copy(d.previousSum[:], c[190:206])
	return d, true
}

// diskWrites counts the operations that change a disk's content: while its replica is down
// only an operator (a storage restore) can change it.
func diskWrites(disk *sim.Disk) uint64 {
	s := disk.Stats()
	return s.Writes + s.Creates + s.Removes + s.Truncates + s.Syncs
}

// wireDisks lets the Suite read the disks and readies the watch on down replicas.
func (run *swarmRun) wireDisks() {
	run.disks = newDurableDisks(run.c)
	run.down = make([]downDisk, run.c.MemberCount())
	if run.checked {
		run.suite.SetDisks(run.disks.image)
	}
}

// downDisk is the watch on a down replica's disk: writes to it while the replica is down
// are an operator's (storage restore replaces the disk), a wipe the checkers are told of.
type downDisk struct {
	down   bool
	writes uint64 // the disk's writes when last seen down (only compared while down)
}

func (run *swarmRun) watchDown(replica int, down bool) {
	w := &run.down[replica]
	if !down { // a running replica's writes are its own; the count is taken when it goes down
		w.down = false
		return
	}
	writes := diskWrites(run.c.Nodes[replica].Disk)
	if w.down && writes != w.writes {
		run.declareWipe(replica)
	}
	w.down, w.writes = true, writes
}

// declareWipe tells every checker that remembers a disk that replica's disk lost what it
// held (replaced, reformatted or restored): the Suite, and the superblock checks, whose
// boot count watch would otherwise hold a new disk's first boots to the old disk's. Telling
// the Suite alone let replica_crash seed 2026410840 (Option C) fail a new disk's first
// prepare as a restart that had not raised the boot count.
func (run *swarmRun) declareWipe(replica int) {
	run.suite.OnWipe(int64(run.c.Loop.Now()), replica)
	run.storage.superblocks.forget(replica)
}

// onPrepare decodes a prepare its creator sends (the creator's byte, vsr header layout),
// once for the checkers of prepares as they are created: onPrepareSent and checkExactStamp.
func (run *swarmRun) onPrepare(from int, msg []byte) {
	if len(msg) < vsr.HeaderSize || int(msg[128]) != from {
		return
	}
	h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], run.c.ClusterID())
	if err != nil || h.Command != vsr.CommandPrepare {
		return
	}
	r := run.c.Replica(from)
	created := r != nil && createdNow(r.TraceState(), h)
	run.onPrepareSent(from, msg, h, r, created)
	if created {
		run.checkExactStamp(from, h)
		if run.broken == "" {
			run.broken = run.checkMalformedPrepared(from, h.Op, msg)
		}
	}
}

// onPrepareSent shows the checkers a prepare sent by the replica that created it (its first
// send is its creation): its bytes msg, header h, timestamp and the clocks' readings at that
// instant. r is the sender's running replica (nil if none), created whether it made it now.
func (run *swarmRun) onPrepareSent(from int, msg []byte, h vsr.Header, r *vsr.Replica, created bool) {
	if run.durability == "" && created {
		run.durability = run.storage.superblocks.onPrepare(run.c.Nodes[from].Disk, from, r)
	}
	if run.disks != nil {
		run.disks.sawEpoch(h.Epoch)
		if run.durability == "" {
			run.durability = run.disks.checkLogEpochs() // durable_epoch.go
		}
	}
	now := int64(run.c.Loop.Now())
	run.suite.OnPrepare(now, invariants.Prepared{Replica: from, View: h.View, Epoch: h.Epoch, Op: h.Op, Checksum: h.Checksum,
		Timestamp: h.Timestamp, Bytes: msg, ClockNs: run.c.Nodes[from].Clock.Realtime(),
		TrueNs: sim.RealtimeEpochNs + now, Late: !created})
}

// createdNow reports whether a prepare its creator sends was made by the running incarnation:
// it is the normal primary of the prepare's view (a restart always moves a replica to a later
// view). A prepare of an older view is one it made before a restart and now sends again for
// repair; holding that to the new incarnation's boot count was a false alarm.
// (The replica's TraceState is enough, and cheaper than an inspection, which computes the
// state machine's digest: this runs on every prepare sent.)
func createdNow(in vsr.TraceState, h vsr.Header) bool {
	return in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && in.View == h.View
}

// onStartViewSent shows the checkers the log a view's primary sent in a start_view.
// log is logRefs of its body; its sender is the primary it names.
func (run *swarmRun) onStartViewSent(m vsr.Message, log []invariants.PrepareRef) {
	if m.Header.LogView != m.Header.View {
		return
	}
	run.suite.OnStartView(int64(run.c.Loop.Now()), m.Header.Epoch, m.Header.View, m.Header.Op, log)
}

// checkerCounters adds the simulator-aware checkers' counters to a result's.
func (run *swarmRun) checkerCounters(counters map[string]uint64) {
	if !run.checked || counters == nil {
		return
	}
	for k, v := range run.suite.Counters() {
		counters[k] = v
	}
	counters["coverage.mark.client_routing.judged"] = run.routing.judged
	counters["coverage.mark.reply_identity.checked"] = run.repliesChecked
	counters["coverage.mark.client_routing.replaced_configuration"] = run.routing.replaced
	counters["coverage.mark.client_attempts.given_up"] = run.attempts.judged
	counters["coverage.check.persisted_commit"] = run.persistedJudged
	counters["coverage.mark.persisted_commit.floor_held"] = run.persistedFloorHeld
	if run.disks != nil { // durable_epoch.go: disks read whose superblock lagged the newest epoch
		counters["coverage.check.epoch_log_lagging"] = run.disks.epochs.checks
		counters["durable_epoch.view_change_votes_ahead"] = run.disks.epochs.viewChangeAhead
	}
}
