package scenarios

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Storage truth (DESIGN.md section 5): an entry or checkpoint the storage engine accepts as
// valid must equal what was written there. The simulated disk knows both sides: what the
// node wrote (sim.Disk.Written: synced or not, as the last crash left it) and which sectors
// a fault altered (sim.Disk.Altered). When a replica has recovered from its disk, what it
// holds from it (vsr.Replica.InspectDisk: the checkpoint its state machine was restored from
// and the prepares its log holds as durable, all read back by the engine) must be bytes the
// node wrote: the snapshot in its checkpoint file, each prepare as the body of an entry of
// its op in its segment. An engine that accepts a read a fault altered (a flipped bit it did
// not catch, a misdirected write's old bytes, another entry's landing) holds bytes nobody
// wrote, and this check names the altered sectors.
//
// Entries are found by scanning the written bytes of a segment sector by sector for an
// entry header that names its own op and offset (as the durability check does), never by
// assuming where the engine puts them.

// storageChecks holds the storage checks of a swarm run: the storage truth check at every
// recovery, and the operator's storage verify at random times (storage_verify.go). The zero
// value runs the truth check only.
type storageChecks struct {
	seed uint64
	// verify draws when and where the swarm runs storage verify (its own stream, so that no
	// other stream draws differently); nil: never.
	verify     *rand.Rand
	nextVerify int
	verifies   int
	// marks counts what the checks did, reported as coverage.check.<name>.
	marks map[string]uint64
	// superblocks holds the durable superblocks to the engine's contract
	// (superblock_durable.go).
	superblocks superblockChecks
	// replacing is the node whose disk an operator is replacing (swarm_reconfig.go), -1
	// for none: a disk half formatted is nobody's to verify.
	replacing int
	// keptSettled is, per replica, its disk's SyncKeptSettled when last seen, and
	// keptVerifies the verifies it prompted (maybeVerifyKept).
	keptSettled  []uint64
	keptVerifies int
}

// storageMarks are the coverage marks of the storage checks, reported even at zero.
var storageMarks = []string{"storage_truth", "storage_verify", "storage_verify_damage", "storage_verify_head_aim"}

func newStorageChecks(seed uint64) storageChecks {
	return storageChecks{seed: seed, verify: sim.Stream(seed, "verify"), nextVerify: verifyGapMin, replacing: -1}
}

func (sc *storageChecks) mark(name string) {
	if sc.marks == nil {
		sc.marks = map[string]uint64{}
	}
	sc.marks[name]++
}

// counters adds the coverage marks to a result's counters, and how many sectors crashes
// left damaged under a lost rewrite (disk.crash_kept_damage).
func (sc *storageChecks) counters(c *sim.Cluster, counters map[string]uint64) {
	for _, name := range storageMarks {
		counters["coverage.check."+name] = sc.marks[name]
	}
	kept := uint64(0)
	for i := 0; i < c.ReplicaCount(); i++ {
		kept += c.Nodes[i].Disk.Stats().CrashKeptDamage
	}
	counters["disk.crash_kept_damage"] = kept
	// The writes failed syncs kept whole, and the verifies an engine that left some after
	// handling the failure prompted (maybeVerifyKept): reported only where there were any,
	// so that the seeds without sync errors count as before. A correct engine prompts none
	// (it writes over what it gave up), so the second is no coverage mark.
	syncKept := uint64(0)
	for i := 0; i < c.ReplicaCount(); i++ {
		syncKept += c.Nodes[i].Disk.Stats().SyncKept
	}
	if syncKept > 0 {
		counters["disk.sync_kept"] = syncKept
	}
	if sc.keptVerifies > 0 {
		counters["storage_verify.kept_left"] = uint64(sc.keptVerifies)
	}
	sc.superblocks.counters(counters)
}

// onEvent runs the storage truth check when a replica has recovered from its disk, and
// returns the violation, if any.
func (sc *storageChecks) onEvent(c *sim.Cluster, e vsr.Event) string {
	if e.Kind != vsr.EventRecovered {
		return ""
	}
	r := c.Replica(e.Replica)
	if r == nil {
		return ""
	}
	sc.mark("storage_truth")
	return checkHeldWritten(c.Nodes[e.Replica].Disk, e.Replica, r.InspectDisk())
}

// checkHeldWritten returns a violation message if what a replica holds from its disk is not
// what was written there.
func checkHeldWritten(disk *sim.Disk, replica int, held vsr.DiskHeld) string {
	if held.Checkpoint != nil && held.CheckpointOp > 0 {
		name := checkpointFileName(held.CheckpointOp)
		size, _ := disk.Size(name)
		if !bytes.Contains(disk.Written(name, 0, size), held.Checkpoint) {
			return fmt.Sprintf("storage truth: replica %d holds a checkpoint of op %d that the node never wrote "+
				"to %s%s", replica, held.CheckpointOp, name, describeAltered(disk, name))
		}
	}
	segments := map[string]writtenLog{}
	for _, p := range held.Prepares {
		name := segmentFileName(p.Op)
		log, ok := segments[name]
		if !ok {
			log = readWrittenLog(disk, name)
			segments[name] = log
		}
		if !log.holds(p.Op, p.Prepare) {
			return fmt.Sprintf("storage truth: replica %d holds op %d as read from its disk, but the node "+
				"never wrote that prepare to %s%s", replica, p.Op, name, describeAltered(disk, name))
		}
	}
	return ""
}

// writtenEntry is an entry found in what the node wrote to a segment.
type writtenEntry struct {
	op           uint64
	offset, size int64
	parent       checksum.Sum
	body         []byte
}

// sameEntry reports whether two entries found in a segment are copies of one entry at two
// offsets: the same op's body over the same parent.
func (e writtenEntry) sameEntry(o writtenEntry) bool {
	return e.op == o.op && e.parent == o.parent && bytes.Equal(e.body, o.body)
}

// writtenLog is the entries of one segment as the node wrote them.
type writtenLog []writtenEntry

// readWrittenLog scans the written bytes of a segment for entries that name their own
// place. Torn entries (a header whose body is not all there) are left out.
func readWrittenLog(disk *sim.Disk, name string) writtenLog {
	size, err := disk.Size(name)
	if err != nil {
		return nil
	}
	data := disk.Written(name, 0, size)
	var log writtenLog
	for offset := int64(0); offset+storage.HeaderSize <= int64(len(data)); offset += storage.SectorSize {
		h, err := storage.DecodeHeader(data[offset : offset+storage.HeaderSize])
		if err != nil || h.Offset != offset || offset+h.Size() > int64(len(data)) {
			continue
		}
		body := data[offset+storage.HeaderSize : offset+storage.HeaderSize+int64(h.BodySize)]
		log = append(log, writtenEntry{op: h.Op, offset: offset, size: h.Size(), parent: h.Parent, body: body})
	}
	return log
}

// newest keeps, of the entries of each op, the last one in the segment: usually the one
// written after the others (an earlier one is a leftover the engine wrote past); a copy of
// the same entry may lie below it (see storage_verify.go on completeness).
func (log writtenLog) newest() writtenLog {
	last := map[uint64]int64{}
	for _, e := range log {
		last[e.op] = max(last[e.op], e.offset)
	}
	var out writtenLog
	for _, e := range log {
		if e.offset == last[e.op] {
			out = append(out, e)
		}
	}
	return out
}

// holds reports whether the node wrote body as op's entry.
func (log writtenLog) holds(op uint64, body []byte) bool {
	for _, e := range log {
		if e.op == op && bytes.Equal(e.body, body) {
			return true
		}
	}
	return false
}

// describeAltered lists the sectors of a file that faults altered, for a violation message.
func describeAltered(disk *sim.Disk, name string) string {
	size, _ := disk.Size(name)
	altered := disk.Altered(name, 0, size)
	if len(altered) == 0 {
		return " (no sector of it altered by a fault)"
	}
	var parts []string
	for i, f := range altered {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("and %d more", len(altered)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("@%d %s", f.Offset, f.Kind))
	}
	return " (sectors altered by faults: " + strings.Join(parts, ", ") + ")"
}

// The engine's file names (cluster/storage/storage.go): one log segment per
// CheckpointInterval ops, and a checkpoint file per checkpoint op.
func segmentFileName(op uint64) string { return fmt.Sprintf("log-%016x", op/vsr.CheckpointInterval) }

func checkpointFileName(op uint64) string {
	// fmt.Sprintf("checkpoint-%016x", op), without fmt: the superblock checks name the
	// checkpoint files at every sync.
	const digits = "0123456789abcdef"
	var b [len("checkpoint-") + 16]byte
	copy(b[:], "checkpoint-")
	for i := len(b) - 1; i >= len("checkpoint-"); i-- {
		b[i] = digits[op&0xf]
		op >>= 4
	}
	return string(b[:])
}
