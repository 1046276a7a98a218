package storage

import (
	"cmp"
	"fmt"
	"slices"

	"vopr/internal/assert"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	// File and Offset locate the damage; Offset is -1 where only the op is known.
	File   string
	Offset int64
	// Op is the op concerned, 0 if unknown (damaged bytes that name no op).
	Op     uint64
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s@%d op %d: %s", p.File, p.Offset, p.Op, p.Reason)
}

// VerifyReport is the result of a full scan (the runbook's `storage verify --full-scan`).
type VerifyReport struct {
	// OK is true when nothing is wrong: Problems is empty.
	OK bool
	// Problems lists the damage: superblock first, then the checkpoint, then the log in
	// file and offset order. Problems[0] is the first bad position.
	Problems []Problem
	// Faulty lists every op whose entry is corrupt, torn, misdirected, missing or breaks the
	// hash chain (from the checkpoint's anchor up), including ops at or below the checkpoint
	// that are still on disk.
	Faulty []uint64
	// SuperblockCopiesIntact counts the superblock copies whose checksum verifies (of 4).
	SuperblockCopiesIntact int
	CheckpointOp           uint64
	Segments               int
	// Entries counts the intact entries checked; Head is the highest op on disk.
	Entries int
	Head    uint64
	// AuditOp and AuditHead are the audit chain recomputed from the disk (when it verifies).
	AuditOp   uint64
	AuditHead [32]byte
}

// FirstBad returns the first bad position, if any.
func (r VerifyReport) FirstBad() (Problem, bool) {
	if len(r.Problems) == 0 {
		return Problem{}, false
	}
	return r.Problems[0], true
}

// Verify reads everything back and checks it: every superblock copy (and that the newest is
// the state in memory), the checkpoint file's checksum and header, every log entry's
// checksums and self-identification, the hash chain from the checkpoint's anchor through the
// head, that each entry is the one the index holds, and the audit chain up to the audited op.
// It changes nothing: the replica decides what to do about the faulty ops.
func (s *Storage) Verify(done func(VerifyReport)) {
	s.VerifyOpened(nil, done)
}

// VerifyOpened is Verify right after the Open that returned rec: the report also lists the
// damage that Open repaired on its way (Recovery.Rewritten), which the scan can no longer see.
// rec may be nil.
func (s *Storage) VerifyOpened(rec *Recovery, done func(VerifyReport)) {
	assert.That(done != nil, "storage: Verify needs a callback")
	var repaired []Problem
	if rec != nil {
		repaired = slices.Clone(rec.Rewritten)
	}
	s.submit(func(finish func(func())) {
		s.verify(repaired, func(r VerifyReport) { finish(func() { done(r) }) })
	})
}

func (s *Storage) verify(repaired []Problem, done func(VerifyReport)) {
	r := &VerifyReport{CheckpointOp: s.sb.State.CheckpointOp}
	log := repaired
	// The superblock copies Open wrote again are reported with the superblock's damage,
	// first; the records with the log's.
	ofSuperblock := func(p Problem) bool { return p.File == superblockName }
	superblockRepaired := slices.DeleteFunc(slices.Clone(log), func(p Problem) bool { return !ofSuperblock(p) })
	log = slices.DeleteFunc(slices.Clone(log), ofSuperblock)
	var names []string
	var scans []segmentScan
	sequence(func(error) {
		// The chain is checked from the checkpoint's anchor (op cp+1's parent) up: the
		// entries at or below the checkpoint, left on disk until compaction, need not chain
		// to it. A checkpoint installed by state sync anchors the ops above it at its own
		// chain sum, not at the local entry of its op, which may be another log's
		// (distrusted, or of an older view); that entry, and once the replica checkpointed
		// past it its link to the op above, are no damage (swarm seed 2026754803: op 65 above
		// state-synced checkpoint 64, verified at checkpoint 192).
		cp := s.sb.State.CheckpointOp
		ix := assemble(scans, cp, s.sb.Checkpoint.Chain, uint64(s.opts.SegmentEntriesMax), 0, opSpan{}, cp+1)
		log = append(log, ix.problems...)
		log = append(log, s.compareIndex(&ix, r)...)
		slices.SortStableFunc(log, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(uint64(a.Offset), uint64(b.Offset)))
		}) // an unknown offset (-1) sorts after the known ones of its file
		r.Problems = append(r.Problems, log...)
		s.verifyAudit(&ix, r)
		r.OK = len(r.Problems) == 0
		done(*r)
	},
		func(next func(error)) { s.verifySuperblock(r, superblockRepaired, next) },
		func(next func(error)) { s.verifyCheckpoint(r, next) },
		func(next func(error)) {
			s.fs.List(func(got []string, err error) {
				names = got
				if err != nil {
					log = append(log, Problem{Offset: -1, Reason: "list: " + err.Error()})
				}
				next(nil)
			})
		},
		func(next func(error)) { s.verifyScan(names, &scans, &log, next) },
	)
}

// verifySuperblock checks every copy of the superblock file, and reports with the damage it
// finds the copies that Open found damaged and wrote again (repaired, in Recovery.Rewritten:
// storeTwice), in copy order. SuperblockCopiesIntact counts the copies intact now.
func (s *Storage) verifySuperblock(r *VerifyReport, repaired []Problem, done func(error)) {
	readSuperblockFile(s.fs, func(buf []byte, err error) {
		if err != nil {
			r.Problems = append(r.Problems, Problem{File: superblockName, Offset: -1,
				Reason: err.Error()})
		}
		copies := slices.Clone(repaired)
		for i := range superblockCopies {
			start := i * superblockCopySize
			if _, err := decodeSuperblock(buf[start : start+superblockCopySize]); err != nil {
				copies = append(copies, Problem{File: superblockName,
					Offset: int64(start), Reason: fmt.Sprintf("copy %d: %v", i, err)})
				continue
			}
			r.SuperblockCopiesIntact++
		}
		for _, p := range repaired {
			assert.That(p.File == superblockName && p.Offset >= 0 && p.Offset < superblockSize,
				"storage: a repaired superblock copy out of the file")
		}
		slices.SortStableFunc(copies, func(a, b Problem) int { return cmp.Compare(a.Offset, b.Offset) })
		r.Problems = append(r.Problems, copies...)
		newest, _, _, ok := newestSuperblock(buf)
		if !ok || string(encodeSuperblock(newest)) != string(encodeSuperblock(s.sb)) {
			r.Problems = append(r.Problems, Problem{File: superblockName, Offset: -1,
				Reason: "newest superblock on disk is not the current state"})
		}
		done(nil)
	})
}

func (s *Storage) verifyCheckpoint(r *VerifyReport, done func(error)) {
	if s.sb.State.CheckpointOp == 0 {
		done(nil)
		return
	}
	s.readCheckpointFile(func(_ []byte, err error) {
		if err != nil {
			r.Problems = append(r.Problems, Problem{File: checkpointName(s.sb.State.CheckpointOp),
				Offset: 0, Op: s.sb.State.CheckpointOp, Reason: err.Error()})
		}
		done(nil)
	})
}

func (s *Storage) verifyScan(names []string, scans *[]segmentScan, log *[]Problem, done func(error)) {
	segments, _, _ := ownedFiles(names)
	slices.Sort(segments)
	for _, k := range s.segments {
		if _, found := slices.BinarySearch(segments, k); !found {
			*log = append(*log, Problem{File: segmentName(k), Offset: -1, Reason: "segment missing"})
		}
	}
	forEach(len(segments), func(i int, next func(error)) {
		scanSegment(s.fs, s.opts, s.sb.State.Cluster, segments[i], ^uint64(0), &s.scanBufs,
			func(sc segmentScan, err error) {
				if err != nil {
					*log = append(*log, Problem{File: segmentName(segments[i]), Offset: -1,
						Reason: "scan: " + err.Error()})
					next(nil)
					return
				}
				*scans = append(*scans, sc)
				next(nil)
			})
	}, done)
}

// compareIndex checks the disk against the index: same head, same entries.
func (s *Storage) compareIndex(ix *logIndex, r *VerifyReport) []Problem {
	var problems []Problem
	var missing []uint64
	for op := ix.head + 1; op <= s.head; op++ {
		if sl := s.slot(op); sl != nil && sl.state != slotAbsent {
			problems = append(problems, Problem{File: segmentName(s.segmentOf(op)), Offset: -1,
				Op: op, Reason: "entry missing on disk"})
			missing = append(missing, op)
		}
	}
	for op := max(ix.base, s.slotBase); op <= min(ix.head, s.head); op++ {
		disk, mem := &ix.slots[op-ix.base], s.slot(op)
		if disk.state == slotIntact && mem.state == slotIntact && disk.chain != mem.chain {
			problems = append(problems, Problem{File: segmentName(s.segmentOf(op)),
				Offset: disk.offset, Op: op, Reason: "entry differs from the index"})
			disk.state = slotFaulty
		}
	}
	for op := ix.base; op <= ix.head; op++ {
		if ix.slots[op-ix.base].state == slotIntact {
			r.Entries++
		}
	}
	r.Faulty = append(ix.faulty(0), missing...)
	slices.Sort(r.Faulty)
	r.Faulty = slices.Compact(r.Faulty)
	r.Segments, r.Head = len(ix.segments), max(ix.head, s.head)
	return problems
}

// verifyAudit recomputes the audit chain from the checkpoint's head over the disk's entries.
func (s *Storage) verifyAudit(ix *logIndex, r *VerifyReport) {
	cp := s.sb.State.CheckpointOp
	head := s.sb.State.AuditHead
	for op := cp + 1; op <= s.auditOp; op++ {
		if op < ix.base || op > ix.head || ix.slots[op-ix.base].state != slotIntact {
			return // already reported as faulty
		}
		head = auditNext(s.audits, &s.sha, &s.auditIn, head, op, ix.slots[op-ix.base].bodySHA)
	}
	r.AuditOp, r.AuditHead = s.auditOp, head
	if head != s.auditHead {
		r.Problems = append(r.Problems, Problem{Offset: -1, Op: s.auditOp,
			Reason: "audit chain does not match"})
	}
}
