package scenarios

import (
	"bytes"
	"slices"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// The entries a fallback replays. doc.go: if the newest checkpoint does not verify, Open falls
// back to the previous one (or to op 0, the format's state, for a first checkpoint) and keeps
// every op up to the damaged one, which were committed; checkpoint_region.go: the cut above a
// damaged checkpoint op gives up only damaged entries, and lands where the nearest kept
// (intact) entry below ends, since a fallback may still find that one whole. The episode
// checked what a fallback recovered only when it damaged the checkpoint in the same boot, and
// an op a fallback returned faulty under the damaged checkpoint passed (its entry may be
// gone), so an engine that destroyed an intact entry under its checkpoint went unseen until
// both a later loss of the checkpoint and the damage of the op's identity came together.
//
// So the episode notes, where nothing the episode does can touch them, the entries a fallback
// from the newest acknowledged checkpoint (one of the log's own) would replay: the ops above
// the checkpoint before it, up to it, whose acknowledged entries lie whole and readable in
// their own places (fallbackEntries). Nothing but a compaction (which removes whole segment
// files) may take them away while that checkpoint stands: the engine never writes at or below
// its checkpoint op but to give up damaged entries there. It checks them (checkFallbackEntries)
// across a boot's history up to its crash (unless a misdirect was armed, or the history
// installed a peer's checkpoint, which removes segments that later appends recreate), and
// across an Open that recovered the same checkpoint.

// fallbackEntry is an acknowledged entry in its own place that a fallback would replay.
type fallbackEntry struct {
	name         string
	op           uint64
	offset, size int64
}

// fallbackEntries returns the entries a fallback from the newest acknowledged checkpoint
// would replay (see above); none while a checkpoint is in flight, damaged, or installed from
// a peer (its log's entries need not be its history). An entry the last Open could not read
// (a transient error healed since, hiddenAt) is not one: that Open took it for damaged, and
// the engine may give it up (storage crash seed 2140085577: op 1, the checkpoint
// op, under a sector hidden from the last Open, was cut by the history that followed).
func (e *storeEpisode) fallbackEntries() []fallbackEntry {
	m := e.m
	cp := m.CP
	if cp == 0 || m.PendingCheckpoint() || e.checkpointDamaged != 0 {
		return nil
	}
	if _, installed := m.InstalledOver[cp]; installed {
		return nil
	}
	prev := uint64(0)
	for op := range m.Snapshots {
		if op < cp {
			prev = max(prev, op)
		}
	}
	var out []fallbackEntry
	for op := prev + 1; op <= cp; op++ {
		body, ok := m.Log[op]
		if !ok || m.Disowned[op] || e.staleCopies(op) {
			continue
		}
		name, p, ok := e.find(op)
		record := int64(op%uint64(storageEpisodeOptions.SegmentEntriesMax)) * storage.SectorSize
		if !ok || slices.ContainsFunc(e.hiddenAt[name], func(at int64) bool {
			return at == record || (p.offset <= at && at < p.offset+p.size)
		}) {
			continue
		}
		data, err := e.disk.Visible(name, p.offset, p.size)
		if err != nil {
			continue
		}
		if _, got, err := storage.DecodeEntry(data); err != nil || !bytes.Equal(got, body) {
			continue
		}
		out = append(out, fallbackEntry{name: name, op: op, offset: p.offset, size: p.size})
	}
	return out
}

// checkFallbackEntries fails if one of kept no longer reads whole in its place while its
// segment file is still on disk; when says across what.
func (e *storeEpisode) checkFallbackEntries(kept []fallbackEntry, cp uint64, when string) {
	names := e.disk.Names()
	for _, k := range kept {
		if e.failure != "" {
			return
		}
		if !slices.Contains(names, k.name) {
			continue // compacted
		}
		e.counters["coverage.storage_episode.fallback_entries_checked"]++
		if data, err := e.disk.Visible(k.name, k.offset, k.size); err == nil {
			if h, _, err := storage.DecodeEntry(data); err == nil && h.Op == k.op && h.Offset == k.offset {
				continue
			}
		}
		e.fail("op %d's acknowledged entry under checkpoint %d, whole at offset %d of %s, which a fallback past the checkpoint replays, was destroyed %s",
			k.op, cp, k.offset, k.name, when)
	}
}

// issuedInstall reports whether the boot's history issued a checkpoint install before the
// crash.
func (e *storeEpisode) issuedInstall() bool {
	for _, step := range e.steps[:e.m.Acked] {
		if step.Kind == storagemodel.Install {
			return true
		}
	}
	return e.m.PendingIs(storagemodel.Install)
}
