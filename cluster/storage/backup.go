package storage

import (
	"encoding/binary"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// A backup is one self-checking byte string (little endian, sector-aligned parts):
//
//	[0, 512)      backup header: checksum [16] of bytes [16:512), magic u64, version u32,
//	              reserved u32, total size u64, entry count u64, audit op u64, checkpoint
//	              file size u64, audit head [32] at the audit op, zero to 512
//	[512, 1024)   a superblock copy: the state, the checkpoint reference and the options
//	then          the checkpoint file (if CheckpointOp > 0), zero-padded to a sector
//	then          the entries CheckpointOp+1 .. head, each encoded exactly as in a segment,
//	              with Offset naming its place in the backup and Parent chaining them from
//	              the checkpoint's anchor
//	last 16 bytes the checksum of everything before
//
// Restore checks every layer: the trailer, the header, the superblock copy, the checkpoint
// file against the superblock's checksum, every entry's checksums and place, the hash chain
// from the anchor, and the SHA-256 audit chain from the checkpoint's audit head up to the
// recorded audit op (the runbook's `--verify-hash-chain`). A flipped bit anywhere fails the
// trailer; an edit that also fixes the trailer fails an entry checksum, and one that fixes
// that too breaks the chain at the next entry or the audit chain. (Checksums are not
// signatures: an edit that recomputes everything after it is caught only by comparing the
// audit head with a trusted one, such as another replica's.)
const (
	backupMagic   = 0x31304b42525f4f56 // "VO_RBK01"
	backupVersion = 1
	backupFixed   = backupHeaderSize + superblockCopySize
)

type backupHeader struct {
	size, entries, auditOp, checkpointSize uint64
	auditHead                              [32]byte
}

// Backup exports a consistent copy of the durable state: the superblock, the checkpoint and
// every log entry above it, read back from disk and verified. It runs as one operation, so
// nothing changes in between. ErrFaulty if an entry above the checkpoint is faulty (repair
// first); ErrTooLarge beyond BackupSizeMax.
func (s *Storage) Backup(done func([]byte, error)) {
	assert.That(done != nil, "storage: Backup needs a callback")
	s.submit(func(finish func(func())) {
		s.backup(func(b []byte, err error) { finish(func() { done(b, err) }) })
	})
}

func (s *Storage) backup(done func([]byte, error)) {
	if faulty := s.Faulty(); len(faulty) > 0 {
		done(nil, fmt.Errorf("%w: %d faulty ops, the first %d", ErrFaulty, len(faulty), faulty[0]))
		return
	}
	cp := s.sb.State.CheckpointOp
	var snapshot []byte
	bodies := make([][]byte, 0, s.head-cp)
	size := backupFixed + alignUp(s.sb.Checkpoint.Size) + int64(len(checksum.Sum{}))
	sequence(func(err error) {
		if err != nil {
			done(nil, err)
			return
		}
		done(s.encodeBackup(snapshot, bodies), nil)
	},
		func(next func(error)) {
			if cp == 0 {
				next(nil)
				return
			}
			s.readCheckpointFile(func(b []byte, err error) { snapshot = b; next(err) })
		},
		func(next func(error)) {
			forEach(int(s.head-cp), func(i int, next func(error)) {
				s.read(cp+1+uint64(i), func(body []byte, err error) {
					bodies = append(bodies, body)
					if size += entrySize(len(body)); size > BackupSizeMax {
						err = fmt.Errorf("%w: backup beyond %d bytes", ErrTooLarge, BackupSizeMax)
					}
					next(err)
				})
			}, next)
		},
	)
}

func (s *Storage) encodeBackup(snapshot []byte, bodies [][]byte) []byte {
	cp := s.sb.State.CheckpointOp
	b := make([]byte, backupFixed)
	copy(b[backupHeaderSize:], encodeSuperblock(s.sb))
	checkpointSize := 0
	if cp > 0 {
		file := encodeCheckpointFile(cp, snapshot)
		assert.That(checksum.Of(file) == s.sb.Checkpoint.Checksum, "storage: checkpoint re-encoding")
		checkpointSize = len(file)
		b = append(b, file...)
		b = append(b, make([]byte, alignUp(int64(len(file)))-int64(len(file)))...)
	}
	parent := s.sb.Checkpoint.Chain
	for i, body := range bodies {
		op := cp + 1 + uint64(i)
		entry := EncodeEntry(s.sb.State.Cluster, op, int64(len(b)), parent, body)
		h, _ := DecodeHeader(entry)
		assert.That(h.Chain() == s.slot(op).chain, "storage: backup entry differs from the log")
		parent = h.Chain()
		b = append(b, entry...)
	}
	writeBackupHeader(b, backupHeader{size: uint64(len(b) + len(checksum.Sum{})),
		entries: uint64(len(bodies)), auditOp: s.auditOp, checkpointSize: uint64(checkpointSize),
		auditHead: s.auditHead})
	sum := checksum.Of(b)
	return append(b, sum[:]...)
}

func writeBackupHeader(b []byte, h backupHeader) {
	le := binary.LittleEndian
	le.PutUint64(b[16:], backupMagic)
	le.PutUint32(b[24:], backupVersion)
	le.PutUint64(b[32:], h.size)
	le.PutUint64(b[40:], h.entries)
	le.PutUint64(b[48:], h.auditOp)
	le.PutUint64(b[56:], h.checkpointSize)
	copy(b[64:], h.auditHead[:])
	sum := checksum.Of(b[16:backupHeaderSize])
	copy(b, sum[:])
}

// parsedBackup is a backup that verified.
type parsedBackup struct {
	auditOp    uint64 // the highest op of the backup's audit chain: its replica had committed it
	sb         superblock
	checkpoint []byte // the checkpoint file, nil if none
	entries    []Header
	bodies     [][]byte
}

// parseBackup verifies a backup completely. It never panics on garbage.
func parseBackup(b []byte, opts Options) (parsedBackup, error) {
	var p parsedBackup
	h, err := parseBackupFrame(b)
	if err != nil {
		return p, err
	}
	if p.sb, err = decodeSuperblock(b[backupHeaderSize:backupFixed]); err != nil {
		return p, fmt.Errorf("%w: superblock: %v", ErrBackup, err)
	}
	pos, err := p.parseCheckpoint(b, h)
	if err != nil {
		return p, err
	}
	if err := p.parseEntries(b[:len(b)-len(checksum.Sum{})], pos, h.entries, opts); err != nil {
		return p, err
	}
	return p, p.checkAudit(h)
}

func parseBackupFrame(b []byte) (backupHeader, error) {
	sumSize := len(checksum.Sum{})
	if len(b) < backupFixed+sumSize || len(b) > BackupSizeMax {
		return backupHeader{}, fmt.Errorf("%w: size %d", ErrBackup, len(b))
	}
	if checksum.Of(b[:len(b)-sumSize]) != checksum.Sum(b[len(b)-sumSize:]) {
		return backupHeader{}, fmt.Errorf("%w: checksum mismatch", ErrBackup)
	}
	le := binary.LittleEndian
	h := backupHeader{size: le.Uint64(b[32:]), entries: le.Uint64(b[40:]),
		auditOp: le.Uint64(b[48:]), checkpointSize: le.Uint64(b[56:])}
	copy(h.auditHead[:], b[64:96])
	if checksum.Of(b[16:backupHeaderSize]) != checksum.Sum(b[:16]) ||
		le.Uint64(b[16:]) != backupMagic || le.Uint32(b[24:]) != backupVersion ||
		!AllZero(b[28:32]) || !AllZero(b[96:backupHeaderSize]) || h.size != uint64(len(b)) {
		return backupHeader{}, fmt.Errorf("%w: header", ErrBackup)
	}
	return h, nil
}

// parseCheckpoint checks the checkpoint file and returns where the entries start.
func (p *parsedBackup) parseCheckpoint(b []byte, h backupHeader) (int64, error) {
	cp := p.sb.State.CheckpointOp
	if cp == 0 {
		if h.checkpointSize != 0 {
			return 0, fmt.Errorf("%w: checkpoint bytes without a checkpoint", ErrBackup)
		}
		return backupFixed, nil
	}
	end := backupFixed + h.checkpointSize
	if h.checkpointSize != uint64(p.sb.Checkpoint.Size) || end > uint64(len(b)) {
		return 0, fmt.Errorf("%w: checkpoint size %d", ErrBackup, h.checkpointSize)
	}
	file := b[backupFixed:end]
	if checksum.Of(file) != p.sb.Checkpoint.Checksum {
		return 0, fmt.Errorf("%w: checkpoint checksum", ErrBackup)
	}
	if op, _, err := decodeCheckpointFile(file); err != nil || op != cp {
		return 0, fmt.Errorf("%w: checkpoint file: %v", ErrBackup, err)
	}
	p.checkpoint = file
	pos := alignUp(int64(end))
	if pos > int64(len(b)) || !AllZero(b[end:pos]) {
		return 0, fmt.Errorf("%w: checkpoint padding", ErrBackup)
	}
	return pos, nil
}

// parseEntries checks every entry: checksums, place, consecutive ops and the hash chain.
func (p *parsedBackup) parseEntries(b []byte, pos int64, count uint64, opts Options) error {
	parent := p.sb.Checkpoint.Chain
	op := p.sb.State.CheckpointOp
	for i := uint64(0); i < count; i++ {
		if pos >= int64(len(b)) {
			return fmt.Errorf("%w: %d entries announced, %d present", ErrBackup, count, i)
		}
		h, body, err := DecodeEntry(b[pos:])
		switch {
		case err != nil:
			return fmt.Errorf("%w: entry %d: %v", ErrBackup, i, err)
		case h.Offset != pos || h.Op != op+1 || h.Cluster != p.sb.State.Cluster:
			return fmt.Errorf("%w: entry %d names op %d at %d", ErrBackup, i, h.Op, h.Offset)
		case h.Parent != parent:
			return fmt.Errorf("%w: hash chain broken at op %d", ErrBackup, h.Op)
		case h.BodySize > opts.EntryBodyMax:
			return fmt.Errorf("%w: op %d body beyond EntryBodyMax", ErrBackup, h.Op)
		}
		p.entries = append(p.entries, h)
		p.bodies = append(p.bodies, body)
		parent, op, pos = h.Chain(), h.Op, pos+h.Size()
	}
	if pos != int64(len(b)) {
		return fmt.Errorf("%w: %d bytes after the entries", ErrBackup, int64(len(b))-pos)
	}
	return nil
}

// checkAudit recomputes the audit chain from the checkpoint's head up to the audit op.
func (p *parsedBackup) checkAudit(h backupHeader) error {
	cp := p.sb.State.CheckpointOp
	if h.auditOp < cp || h.auditOp > cp+uint64(len(p.entries)) {
		return fmt.Errorf("%w: audit op %d outside the backup", ErrBackup, h.auditOp)
	}
	head := p.sb.State.AuditHead
	var sha checksum.SHA256
	var in auditInput
	for i := range h.auditOp - cp {
		head = auditNext(nil, &sha, &in, head, cp+1+i, sha.Of(p.bodies[i]))
	}
	if head != h.auditHead {
		return fmt.Errorf("%w: audit chain does not match", ErrBackup)
	}
	p.auditOp = h.auditOp
	return nil
}

// Restore verifies a backup completely and, only if it verifies, replaces whatever engine
// files fs holds with the backup's state: the superblock is removed first and written last,
// so a crash during Restore leaves an unformatted disk (Open: ErrNotFormatted; run Restore
// again), never a mix. The entries are laid out afresh for opts; their chain sums are
// unchanged. ErrBackup if the backup does not verify.
func Restore(fs FS, opts Options, backup []byte, done func(error)) {
	restore(fs, opts, backup, nil, done)
}

// RestoreAs is the disaster-recovery restore (`cluster restore-from-backup`): one backup
// seeds every replica of a rebuilt cluster. Like Restore, it verifies the backup completely
// first; then the superblock names replica instead of the backup's own, and the log keeps
// only the ops the backup's audit chain covers (those its replica had committed): entries
// above them may never have committed, or may have been replaced by a later view, and
// every replica must start from the same committed prefix. Commit and the views are kept;
// ErrBackup also if replica is not below the backup's replica count.
func RestoreAs(fs FS, opts Options, backup []byte, replica uint8, done func(error)) {
	restore(fs, opts, backup, func(p *parsedBackup) error {
		if replica >= p.sb.State.ReplicaCount {
			return fmt.Errorf("%w: replica %d of a %d-replica cluster", ErrBackup, replica, p.sb.State.ReplicaCount)
		}
		keep := p.auditOp - p.sb.State.CheckpointOp
		p.entries, p.bodies = p.entries[:keep], p.bodies[:keep]
		p.sb.State.Replica = replica
		p.sb.State.Commit = min(p.sb.State.Commit, p.auditOp)
		return nil
	}, done)
}

// restore is Restore, with adjust (if not nil) changing the verified backup before it is
// laid out.
func restore(fs FS, opts Options, backup []byte, adjust func(*parsedBackup) error, done func(error)) {
	assert.That(fs != nil && done != nil, "storage: Restore needs an FS and a callback")
	opts, err := opts.normalize(fs)
	var p parsedBackup
	if err == nil {
		p, err = parseBackup(backup, opts)
	}
	if err == nil && adjust != nil {
		err = adjust(&p)
	}
	if err != nil {
		later(fs, func() { done(err) })
		return
	}
	p.sb.Sequence, p.sb.SegmentEntriesMax, p.sb.EntryBodyMax = 1, opts.SegmentEntriesMax, opts.EntryBodyMax
	files := p.layout(uint64(opts.SegmentEntriesMax), opts.RecordPrefix)
	sb := encodeSuperblockPair(p.sb)
	sequence(done,
		func(next func(error)) { removeEngineFiles(fs, next) },
		func(next func(error)) {
			forEach(len(files), func(i int, next func(error)) {
				writeFile(fs, files[i].name, files[i].data, next)
			}, next)
		},
		func(next func(error)) { writeFile(fs, superblockName, append(sb, sb...), next) },
	)
}

type namedFile struct {
	name string
	data []byte
}

// layout encodes the checkpoint file and the segments of the restored log.
func (p *parsedBackup) layout(segmentEntries uint64, recordPrefix int) []namedFile {
	var files []namedFile
	if p.checkpoint != nil {
		files = append(files, namedFile{checkpointName(p.sb.State.CheckpointOp), p.checkpoint})
	}
	area := RecordAreaSize(int(segmentEntries))
	for i, h := range p.entries {
		name := segmentName(h.Op / segmentEntries)
		if len(files) == 0 || files[len(files)-1].name != name {
			files = append(files, namedFile{name: name, data: make([]byte, area)})
		}
		f := &files[len(files)-1]
		entry := EncodeEntry(h.Cluster, h.Op, int64(len(f.data)), h.Parent, p.bodies[i])
		again, _ := DecodeHeader(entry)
		assert.That(again.Chain() == h.Chain(), "storage: restored entry changed its chain sum")
		f.data = append(f.data, entry...)
		copy(f.data[int64(h.Op%segmentEntries)*SectorSize:], encodeRecord(entry, recordPrefix))
	}
	return files
}

// removeEngineFiles removes the superblock, then every segment and checkpoint file.
func removeEngineFiles(fs FS, done func(error)) {
	fs.List(func(names []string, err error) {
		if err != nil {
			done(err)
			return
		}
		segments, checkpoints, superblock := ownedFiles(names)
		var victims []string
		if superblock {
			victims = append(victims, superblockName)
		}
		for _, k := range segments {
			victims = append(victims, segmentName(k))
		}
		for _, op := range checkpoints {
			victims = append(victims, checkpointName(op))
		}
		forEach(len(victims), func(i int, next func(error)) { fs.Remove(victims[i], next) }, done)
	})
}

// writeFile creates a file, writes data and syncs it.
func writeFile(fs FS, name string, data []byte, done func(error)) {
	sequence(done,
		func(next func(error)) { fs.Create(name, next) },
		func(next func(error)) { fs.WriteAt(name, data, 0, next) },
		func(next func(error)) { fs.Sync(name, next) },
	)
}
