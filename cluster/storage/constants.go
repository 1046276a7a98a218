package storage

// Limits of the engine. Their relationships are checked in constants_test.go. Options are
// validated against the limits, and every length read from disk is checked against them (or
// against the tighter Options) before anything is allocated from it.
const (
	// HeaderSize is the size of a log entry header. The body follows it directly and the
	// entry is padded with zeros to a whole number of sectors.
	HeaderSize = 128
	// EntryBodyMaxLimit is the largest Options.EntryBodyMax.
	EntryBodyMaxLimit = 1 << 20
	// EntrySizeMax is the largest entry on disk: header, body and padding.
	EntrySizeMax = (HeaderSize + EntryBodyMaxLimit + SectorSize - 1) / SectorSize * SectorSize
	// SegmentEntriesMaxLimit is the largest Options.SegmentEntriesMax.
	SegmentEntriesMaxLimit = 1 << 16
	// SegmentEntriesMaxDefault is used when Options.SegmentEntriesMax is zero.
	SegmentEntriesMaxDefault = 1024
	// AutoCompactPercentDefault is used when Options.AutoCompactPercent is zero (runbook:
	// "Automation: Auto-compaction at 85%").
	AutoCompactPercentDefault = 85
	// CheckpointSizeMax is the largest state-machine snapshot a checkpoint holds.
	CheckpointSizeMax = 64 << 20
	// checkpointHeaderSize precedes the snapshot in a checkpoint file.
	checkpointHeaderSize = 64
	// CheckpointFileSizeMax is the largest checkpoint file.
	CheckpointFileSizeMax = checkpointHeaderSize + CheckpointSizeMax
	// superblockCopies is the number of superblock copies: two pairs, written alternately,
	// so that a torn or lost write of one pair never touches the previous state.
	superblockCopies = 4
	// superblockCopySize is one sector: a copy is torn whole or not at all.
	superblockCopySize = SectorSize
	// superblockSize is the size of the superblock file.
	superblockSize = superblockCopies * superblockCopySize
	// LogOpsMax bounds the ops the in-memory log index spans (from the checkpoint's segment
	// to the head). Compaction keeps real logs far below it; it guards memory against disk
	// contents no write of the engine produces.
	LogOpsMax = 1 << 20
	// segmentIndexMax is the highest segment number the engine recognises in a file name.
	segmentIndexMax = 1 << 40
	// QueuedMax bounds the operations queued on a Storage (issued, not yet completed). The
	// replica's pipeline and its other writers stay far below it.
	QueuedMax = 256
	// scanChunkSize is how much recovery reads at once while it walks a segment.
	scanChunkSize = 64 << 10
	// backupHeaderSize is the backup's own header; a superblock copy follows it.
	backupHeaderSize = SectorSize
	// BackupSizeMax is the largest backup Restore accepts.
	BackupSizeMax = 1 << 30
)

// Names of the files of a replica. Segments and checkpoints carry a 16-digit hex number.
const (
	superblockName   = "superblock"
	segmentPrefix    = "log-"
	checkpointPrefix = "checkpoint-"
)
