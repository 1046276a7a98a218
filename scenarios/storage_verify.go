package scenarios

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/sim"
)

// The swarm runs the operator's `storage verify --full-scan` (verifyDisk, the code of
// StorageVerify) on a random replica at random times of the fault phase, and holds its report
// to what the simulated disk knows it damaged:
//
//   - complete: every entry of the log (above the checkpoint, up to the head) that the node
//     wrote and a fault altered (a sector that reads otherwise than written, or not at all)
//     is reported faulty. An op's entry is the last one of it in its segment: an earlier one
//     is left over inside a damaged region that the engine skipped when it wrote the op
//     again after it (swarm seed 647). A copy of that same entry (same op, parent and body)
//     that no fault altered elsewhere in the segment keeps the op intact: the engine also
//     writes an entry nothing names again at the start of its damaged region, below its
//     damaged old copy, which then lies last (fresh-range seed 2026130971: op 65 written
//     again over the checkpoint's own damaged entry, its old copy left corrupt above it);
//   - sound: verify reports nothing on a disk without damage, and a problem in a log segment
//     only where that segment (or the one before it, whose last entry anchors its hash
//     chain) holds damage. Damage is a fault's (Altered, when it changes what a read
//     returns) or a crash's (LostWrites: sectors whose last write a crash lost or tore;
//     TornRemnants: the sectors a torn write kept, until written over).
//
// Verify runs on a snapshot of the replica's disk (sim.Disk.Snapshot) with its own event
// loop, as if the replica had stopped there with every completed write kept: the run's
// disks, loop and streams are untouched, so the swarm's draws stay the same. When and which
// replica come from the run's "verify" stream.

const (
	// verifyGapMin and verifyGapSpread space the verifies of a run: one every 300 to 900
	// ticks of the fault phase, about five per run.
	verifyGapMin    = 300
	verifyGapSpread = 600
	// verifyStepsMax bounds the snapshot's event loop (a verify of a full disk takes a few
	// thousand steps).
	verifyStepsMax = 10_000_000
)

// maybeVerify runs storage verify on a random replica if its time has come (and on each
// replica maybeVerifyKept picks), and returns the violation, if any.
func (sc *storageChecks) maybeVerify(c *sim.Cluster, tick int) string {
	if msg := sc.maybeVerifyKept(c, tick); msg != "" || sc.verify == nil || tick < sc.nextVerify {
		return msg
	}
	sc.nextVerify = tick + verifyGapMin + sc.verify.IntN(verifyGapSpread)
	replica := sc.verify.IntN(c.ReplicaCount())
	if damaged := damagedReplicas(c); len(damaged) > 0 && sc.verify.IntN(2) == 0 {
		// Half the verifies go to a replica whose disk a fault has struck: on a random one,
		// the completeness check rarely had damage to find (154 of 2,009 verifies in swarm
		// seeds 1-400). The verify stream is the checker's own: the run is unchanged.
		replica = damaged[sc.verify.IntN(len(damaged))]
	}
	if replica == sc.replacing {
		return ""
	}
	sc.verifies++
	loop := sim.NewLoop()
	snapshot := c.Nodes[replica].Disk.Snapshot(loop,
		sim.Stream(sc.seed, "verify/"+strconv.Itoa(sc.verifies)), sim.NewTrace(loop.Now))
	if sc.verify.IntN(verifyHeadAimOneIn) == 0 && damageHeadEntry(snapshot, headAim(sc.verify.IntN(int(headAims))), sc.verify) > 0 {
		sc.mark("storage_verify_head_aim")
	}
	return sc.verifySnapshot(c, tick, replica, loop, snapshot)
}

// maybeVerifyKept runs storage verify on each replica whose engine, since the last tick, got
// through a failed sync that kept writes whole and left some in place (sim.DiskStats.
// SyncKeptSettled): from then on the disk no longer takes them for its own damage
// (sim.Disk.SyncKept), and an engine that moved on from a failed append without the
// tombstone over its record shows it in the next verify of its disk, as a record over no
// entry. The engine retries the append within a few ticks, which writes the record again:
// a verify at a random time of the run would almost never look in between. It draws from
// no stream but its snapshots' own: the random verifies are unchanged.
func (sc *storageChecks) maybeVerifyKept(c *sim.Cluster, tick int) string {
	if sc.verify == nil {
		return ""
	}
	if sc.keptSettled == nil {
		sc.keptSettled = make([]uint64, c.ReplicaCount())
	}
	for replica := range min(c.ReplicaCount(), len(sc.keptSettled)) {
		disk := c.Nodes[replica].Disk
		if disk == nil || disk.Stats().SyncKeptSettled == sc.keptSettled[replica] {
			continue
		}
		sc.keptSettled[replica] = disk.Stats().SyncKeptSettled
		if replica == sc.replacing {
			continue
		}
		sc.keptVerifies++
		loop := sim.NewLoop()
		snapshot := disk.Snapshot(loop, sim.Stream(sc.seed, "verify/kept/"+strconv.Itoa(sc.keptVerifies)), sim.NewTrace(loop.Now))
		if msg := sc.verifySnapshot(c, tick, replica, loop, snapshot); msg != "" {
			return msg
		}
	}
	return ""
}

// verifySnapshot runs storage verify on snapshot, a copy of replica's disk on loop, and holds
// its report to the damage the disk knows it did.
func (sc *storageChecks) verifySnapshot(c *sim.Cluster, tick, replica int, loop *sim.Loop, snapshot *sim.Disk) string {
	damage := diskDamage(snapshot) // before the engine's Open, which may remove a damaged file
	if r := c.Replica(replica); r != nil {
		damage.checkpointLost = r.InspectState().CheckpointLost
	}
	var report storage.VerifyReport
	var err error
	finished := false
	verifyDisk(snapshot, func(r storage.VerifyReport, e error) { report, err, finished = r, e, true })
	for steps := 0; !finished && steps < verifyStepsMax && loop.Step(); steps++ {
	}
	if !finished {
		return fmt.Sprintf("storage verify on replica %d did not finish", replica)
	}
	sc.mark("storage_verify")
	if slices.ContainsFunc(damage.live, func(e damagedEntry) bool {
		return e.entry.op > report.CheckpointOp && e.entry.op <= report.Head
	}) {
		sc.mark("storage_verify_damage") // the completeness check had damage to find
	}
	if msg := damage.judge(report, err); msg != "" {
		return fmt.Sprintf("storage verify on replica %d at tick %d: %s", replica, tick, msg)
	}
	return ""
}

// verifyHeadAimOneIn: one verify in this many first damages the snapshot's head entry.
const verifyHeadAimOneIn = 3

// headAim is how damageHeadEntry strikes the newest entry of a log.
type headAim int

const (
	aimHeader       headAim = iota // its header sector: a scan no longer finds the entry
	aimHeaderRecord                // its header and its redundant record: both copies gone
	aimAnySector                   // a sector drawn from the whole entry
	headAims
)

// damageHeadEntry corrupts the newest entry of the disk's last log segment as aim says, and
// returns its op (0 if the disk has no entry). The write a disk most often loses or garbles
// is its latest, and random faults seldom strike it before the head moves on. The swarm
// aims at the verify's own snapshot, so the run never sees this damage; the judge does,
// like any fault's (diskDamage).
func damageHeadEntry(disk *sim.Disk, aim headAim, rng *rand.Rand) uint64 {
	var last string
	for _, name := range disk.Names() { // sorted: the last segment comes last
		if strings.HasPrefix(name, "log-") {
			last = name
		}
	}
	entries := readWrittenLog(disk, last).newest()
	if last == "" || len(entries) == 0 {
		return 0
	}
	head := entries[0]
	for _, e := range entries[1:] {
		if e.op > head.op {
			head = e
		}
	}
	sector := int64(0)
	if aim == aimAnySector {
		sector = rng.Int64N((head.size + storage.SectorSize - 1) / storage.SectorSize)
	}
	if aim == aimHeaderRecord {
		if at, ok := faults.RecordSectorOf(disk.Pristine(last), head.offset); ok {
			disk.CorruptSector(last, at)
		}
	}
	disk.CorruptSector(last, head.offset+sector*storage.SectorSize)
	return head.op
}

// damagedReplicas returns the replicas whose disks hold a fault, in order.
func damagedReplicas(c *sim.Cluster) []int {
	var damaged []int
	for i := range c.ReplicaCount() {
		if disk := c.Nodes[i].Disk; disk != nil && len(disk.Faults()) > 0 {
			damaged = append(damaged, i)
		}
	}
	return damaged
}

// damage is what a disk knows it damaged: per file, the sectors that read otherwise than
// written (or not at all) and those whose last write a crash lost; and the entries the node
// wrote to log segments that a fault altered.
type damage struct {
	files map[string]bool
	// removed: damaged files the node removed and has not created again (a checkpoint the
	// engine fell back from at recovery: fresh-range seed 2026213444); removedEver: those
	// created again since too.
	removed, removedEver []string
	live                 []damagedEntry
	// checkpointLost: the replica found its checkpoint damaged at recovery and waits for a
	// peer's. The state sync that installs it rewrites the same file, which clears the
	// fault that damaged it: a verify in between finds the file short (swarm seed 278).
	checkpointLost bool
	// disowned: the ops whose record sector holds the engine's own distrust or faulty mark
	// of the op (as the node wrote it), in a log segment that damage ever struck (or in the
	// one after it: see explains), whether or not the damage is still there. The engine
	// writes a faulty mark over an op it holds of unknown identity (Open's markFaulty, or
	// markNextFaulty before it rewrites the op below in place), and the op's entry stays
	// disowned until its record is written over the mark: a verify in between reports the
	// op, though a repair may have written over every damaged sector (swarm seed 6 with the
	// client retrying one tick later: op 100's entry and record corrupted, its mark written
	// before op 99's rewrite in place, its own entry rewritten in place, and the snapshot
	// taken before its record write). A mark over an op of a segment no damage ever struck
	// is the engine's error, and still fires.
	disowned map[uint64]bool
}

type damagedEntry struct {
	file   string
	entry  writtenEntry
	sector int64
	kind   sim.FaultKind
}

// diskDamage collects the damage of every file of a disk, and the written entries that a
// fault altered.
func diskDamage(disk *sim.Disk) damage {
	d := damage{files: map[string]bool{}, removed: disk.RemovedDamaged(), removedEver: disk.RemovedDamagedEver(),
		disowned: disownedOps(disk)}
	altered := map[string]map[int64]sim.FaultKind{}
	for _, f := range disk.Faults() {
		visible, err := disk.Visible(f.Name, f.Offset, storage.SectorSize)
		if err == nil && slices.Equal(visible, disk.Written(f.Name, f.Offset, storage.SectorSize)) {
			continue // reads as written (faults off, or a misdirected rewrite of the same bytes)
		}
		d.files[f.Name] = true
		if altered[f.Name] == nil {
			altered[f.Name] = map[int64]sim.FaultKind{}
		}
		altered[f.Name][f.Sector] = f.Kind
	}
	for _, name := range disk.Names() {
		// A torn write's kept sectors count until written over: the entry they begin is
		// not whole, though each sector reads as written (swarm seed 2027192864: op 193's
		// append torn at a crash, its first sector kept; recovery held the op faulty under a
		// damaged checkpoint, its repair went in after the torn head, and the lost sectors,
		// written over, were no longer damage).
		if len(disk.LostWrites(name)) > 0 || len(disk.TornRemnants(name)) > 0 {
			d.files[name] = true
		}
		// A write a failed sync kept whole counts too, until written over: the engine was
		// told it failed and may have moved on without it (a failed append's entry cut, its
		// record left for a tombstone that a crash forestalled), so the disk holds bytes
		// beside state that no longer names them: the op verify finds faulty there is the
		// disk's doing, not the engine's.
		if len(disk.SyncKept(name)) > 0 {
			d.files[name] = true
		}
		if !strings.HasPrefix(name, "log-") || altered[name] == nil {
			continue
		}
		log := readWrittenLog(disk, name)
		for _, e := range log.newest() {
			s, kind, ok := firstAltered(e, altered[name])
			if ok && !slices.ContainsFunc(log, func(c writtenEntry) bool {
				_, _, cAltered := firstAltered(c, altered[name])
				return c.sameEntry(e) && !cAltered
			}) {
				d.live = append(d.live, damagedEntry{file: name, entry: e, sector: s, kind: kind})
			}
		}
	}
	return d
}

// The storage engine's distrust and faulty mark magics ("VOPRDST1", "VOPRFLT1", record.go) at
// byte 16 of a record sector (durability.go reads them too): checksum [16] of bytes [16:512),
// the magic, the cluster and the op as u64 little endian, then zeros.
const (
	verifyDistrustMagic = 0x3154534452504f56
	verifyFaultyMagic   = 0x31544c4652504f56
)

// disownedOps returns the ops whose record sector, as the node wrote it, holds the engine's
// distrust or faulty mark of the op, in the log segments that damage ever struck
// (sim.Disk.DamagedEver) and the segments after them (damage.disowned).
func disownedOps(disk *sim.Disk) map[uint64]bool {
	var ops map[uint64]bool
	prevEver := false // the segment before, by index, was ever damaged
	prevIndex := uint64(0)
	for _, name := range disk.Names() { // sorted: segments in index order
		k, ok := strings.CutPrefix(name, "log-")
		index, err := strconv.ParseUint(k, 16, 64)
		if !ok || err != nil {
			continue
		}
		ever := disk.DamagedEver(name)
		struck := ever || (prevEver && index > 0 && prevIndex == index-1)
		prevEver, prevIndex = ever, index
		if !struck {
			continue
		}
		for i := range uint64(vsr.CheckpointInterval) {
			op := index*vsr.CheckpointInterval + i
			b := disk.Written(name, int64(i)*storage.SectorSize, storage.SectorSize)
			if len(b) < storage.SectorSize {
				break
			}
			if isEngineMark(b, op) {
				if ops == nil {
					ops = map[uint64]bool{}
				}
				ops[op] = true
			}
		}
	}
	return ops
}

// isEngineMark reports whether b, a record sector, is a whole distrust or faulty mark of op.
func isEngineMark(b []byte, op uint64) bool {
	le := binary.LittleEndian
	magic := le.Uint64(b[16:])
	return (magic == verifyDistrustMagic || magic == verifyFaultyMagic) && le.Uint64(b[32:]) == op &&
		storage.AllZero(b[40:]) && checksum.Of(b[16:]) == checksum.Sum(b[:16])
}

// firstAltered returns the first sector of an entry that a fault altered, if any.
func firstAltered(e writtenEntry, altered map[int64]sim.FaultKind) (int64, sim.FaultKind, bool) {
	for s := e.offset / storage.SectorSize; s < (e.offset+e.size)/storage.SectorSize; s++ {
		if kind, ok := altered[s]; ok {
			return s, kind, true
		}
	}
	return 0, "", false
}

// explains reports whether the damage explains a problem verify found in file, on a replica
// whose checkpoint is cp.
func (d damage) explains(file string, cp uint64) bool {
	k, ok := strings.CutPrefix(file, "log-")
	index, err := strconv.ParseUint(k, 16, 64)
	if !ok || err != nil {
		// Superblock and checkpoint: one's damage shows in the other. A damaged checkpoint the
		// engine removed counts too: the superblock still names it (swarm seed 20263182: a
		// removed replica's recovery fell back past it and stopped before writing its state).
		return len(d.files) > 0 || d.checkpointLost || d.checkpointDamagedAtOrAbove(0)
	}
	return d.files[file] || (index > 0 && d.files[fmt.Sprintf("log-%016x", index-1)]) ||
		d.checkpointDamagedAtOrAbove(index*vsr.CheckpointInterval) ||
		d.checkpointFallenBackFrom(index*vsr.CheckpointInterval, cp)
}

// checkpointDamagedAtOrAbove reports whether a damaged checkpoint file, present or removed,
// names an op at or above op: the engine falls back to the checkpoint before it (or to the
// format's empty state) and removes the damaged file, and the ops between the two that its
// log does not hold come back as missing. Compaction removed their entries (swarm seed 55
// with long values), or the replica never wrote them, having installed the lost checkpoint
// from a peer (state sync): fresh-range seed 2026213444.
func (d damage) checkpointDamagedAtOrAbove(op uint64) bool {
	atOrAbove := func(name string) bool {
		k, ok := strings.CutPrefix(name, "checkpoint-")
		c, err := strconv.ParseUint(k, 16, 64)
		return ok && err == nil && c >= op
	}
	for name := range d.files {
		if atOrAbove(name) {
			return true
		}
	}
	return slices.ContainsFunc(d.removed, atOrAbove)
}

// checkpointFallenBackFrom reports whether the node ever removed a damaged checkpoint file
// naming an op at or above op and above the replica's checkpoint cp, even one it has created
// again since: the engine fell back past it, and until its state moves to that checkpoint or
// past it, the log below it keeps what the fallback left. The ops the damaged checkpoint held
// are missing, and the entries it had not audited stay distrusted until written again, across
// boots (swarm seed 2026631882: checkpoint 64 unreadable, fetched again by a state sync
// that a crash cut short before the superblock named it; op 1 distrusted, op 60 missing).
func (d damage) checkpointFallenBackFrom(op, cp uint64) bool {
	return slices.ContainsFunc(d.removedEver, func(name string) bool {
		k, ok := strings.CutPrefix(name, "checkpoint-")
		c, err := strconv.ParseUint(k, 16, 64)
		return ok && err == nil && c >= op && c > cp
	})
}

// judge holds a verify report to the damage: complete and sound (see above).
func (d damage) judge(report storage.VerifyReport, openErr error) string {
	if openErr != nil {
		if len(d.files) == 0 {
			return fmt.Sprintf("the engine could not open a disk without damage: %v", openErr)
		}
		return ""
	}
	for _, e := range d.live {
		inLog := e.entry.op > report.CheckpointOp && e.entry.op <= report.Head
		if inLog && !slices.Contains(report.Faulty, e.entry.op) {
			return fmt.Sprintf("missed damage: op %d's entry at %s@%d has sector %d %s, but verify reports "+
				"it intact (faulty: %v)", e.entry.op, e.file, e.entry.offset, e.sector, e.kind, report.Faulty)
		}
	}
	for _, p := range report.Problems {
		if !d.explains(p.File, report.CheckpointOp) && !(p.Op != 0 && p.File == segmentFileName(p.Op) && d.disowned[p.Op]) {
			return fmt.Sprintf("reported damage the disk did not do: %s", p)
		}
	}
	for _, op := range report.Faulty {
		if !d.explains(segmentFileName(op), report.CheckpointOp) && !d.disowned[op] {
			return fmt.Sprintf("reported op %d faulty, but the disk did no damage to %s", op, segmentFileName(op))
		}
	}
	return ""
}
