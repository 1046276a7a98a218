package storage

import "testing"

// TestConstants checks the relationships between the limits.
func TestConstants(t *testing.T) {
	checks := []struct {
		ok   bool
		what string
	}{
		{HeaderSize <= SectorSize, "an entry header fits a sector"},
		{EntrySizeMax%SectorSize == 0, "entries are whole sectors"},
		{EntrySizeMax >= HeaderSize+EntryBodyMaxLimit, "the largest entry fits EntrySizeMax"},
		{superblockCopySize == SectorSize, "a superblock copy is one sector (torn whole or not at all)"},
		{superblockCopies == 4, "two pairs of superblock copies"},
		{len(encodeSuperblock(superblock{Sequence: 1, SegmentEntriesMax: 1, EntryBodyMax: 1})) == superblockCopySize, "superblock encoding size"},
		{scanChunkSize%SectorSize == 0 && scanChunkSize >= SectorSize, "scan chunks are whole sectors"},
		{SegmentEntriesMaxDefault >= 1 && SegmentEntriesMaxDefault <= SegmentEntriesMaxLimit, "default segment size"},
		{AutoCompactPercentDefault > 0 && AutoCompactPercentDefault <= 100, "auto-compaction threshold"},
		{CheckpointFileSizeMax == checkpointHeaderSize+CheckpointSizeMax, "checkpoint file size"},
		{BackupSizeMax >= backupFixed+CheckpointFileSizeMax+SectorSize, "a backup holds the largest checkpoint"},
		{backupHeaderSize == SectorSize, "the backup header is one sector"},
		{QueuedMax >= 64, "the queue holds a pipeline and its writers"},
		{EntryBodyMaxLimit < 1<<32 && CheckpointSizeMax < 1<<32, "sizes fit their u32/u64 fields"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Error(c.what)
		}
	}
}
