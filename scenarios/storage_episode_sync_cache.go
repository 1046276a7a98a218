package scenarios

import (
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// A failed sync of a truncation's tombstones whose pages stay readable. sim.Disk loses the
// writes a failed sync covered at once, in its reads as on its platter, so an engine that
// reads back after a sync sees the loss. Linux does not (fsyncgate): after a failed
// write-back it marks the pages clean and keeps them in the page cache, so reads show the
// data until the pages are evicted or the machine crashes, and a later fsync succeeds without
// writing them. An engine that answers a failed sync by syncing again, without writing the
// sectors again (storage.sync_retry_without_rewrite), reads its tombstones back as written,
// cuts, and after the crash the old records are back over entries the cut removed.
//
// In a third of the truncations that tombstone a record (and that storage_episode_mark_twice,
// and every other aimed write fault, leave alone), the engine's file system (syncCacheFS, in every boot) keeps the writes to
// the segment the tombstones go to in its cache, and never passes them to the disk, until the
// file's next Sync, which fails (ErrIO) without reaching the disk: the writes are lost as a
// failed sync loses them, and their sectors stay readable as written until a successful write
// over them, a truncation past them, the file's removal, or the crash (a fresh syncCacheFS at
// the next Open). Nothing is armed on the disk, so nothing waits there past the crash. Its
// draws come from its own stream (storage_episode/mark_sync_error).

// syncCache is one boot's cache of the sectors a failed sync lost (name, sector -> bytes), and
// the writes completed to the armed file since its last sync.
type syncCache struct {
	armed bool
	name  string
	lost  map[int64][]byte
	// held counts the writes the armed file system kept from the disk, failed the failed
	// syncs (counters of the episode's report).
	held, failed int
}

// syncCacheFS is the engine's file system with the boot's syncCache over reads.
type syncCacheFS struct {
	storage.FS
	c *syncCache
}

// SumMemos passes on the memos of the file system under it (storage.Summer), if any.
func (f syncCacheFS) SumMemos() (bodies, audits *checksum.SHA256Memo) {
	if m, ok := f.FS.(storage.Summer); ok {
		return m.SumMemos()
	}
	return nil, nil
}

// withSyncCache wraps fs for a boot's Open: a fresh cache (the crash emptied the old one).
func (e *storeEpisode) withSyncCache(fs storage.FS) storage.FS {
	if c := e.markTwice.cache; c != nil && c.failed > 0 {
		e.counters["coverage.storage_episode.mark_sync_error_failed"] += uint64(c.failed)
	}
	e.markTwice.cache = &syncCache{}
	return syncCacheFS{FS: fs, c: e.markTwice.cache}
}

// withdrawSyncCache withdraws the failed sync armed at the previous step (aimMarkTwice).
func (e *storeEpisode) withdrawSyncCache() {
	if c := e.markTwice.cache; c != nil {
		c.armed = false
	}
}

// aimSyncCache arms a failed sync at step if it is a truncation that tombstones a record
// (called by aimMarkTwice when it aimed nothing at step).
func (e *storeEpisode) aimSyncCache(step storagemodel.Step) {
	c := e.markTwice.cache
	if c == nil {
		return
	}
	if step.Kind != storagemodel.Truncate || e.s == nil {
		return
	}
	if e.markTwice.syncErrors == nil {
		e.markTwice.syncErrors = sim.Stream(e.seed, "storage_episode/mark_sync_error")
	}
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	first := step.Op + 1
	if e.markTwice.syncErrors.IntN(3) != 0 || first > e.s.Head() || first%per == 0 || e.errorAim.armed ||
		e.truncateAim.armed || e.lostAim.armed || e.markAim.op != 0 || e.markAim.bootMisdirect {
		return
	}
	c.armed, c.name, c.held = true, segmentFileName4(first), 0
	e.counters["coverage.storage_episode.mark_sync_error_armed"]++
}

// WriteAt keeps a write to the armed file in the cache, whole sectors only (the tombstones);
// any other write goes to the disk, and a successful one drops the cached sectors it covers.
func (f syncCacheFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	c := f.c
	if c.armed && name == c.name && offset%storage.SectorSize == 0 && len(data)%storage.SectorSize == 0 {
		if c.lost == nil {
			c.lost = map[int64][]byte{}
		}
		for i := 0; i < len(data); i += storage.SectorSize {
			c.lost[offset/storage.SectorSize+int64(i/storage.SectorSize)] = append([]byte(nil), data[i:i+storage.SectorSize]...)
		}
		c.held++
		// Completed through the disk (a read of nothing), so that a crash drops it.
		f.FS.ReadAt(name, nil, offset, func(int, error) { done(nil) })
		return
	}
	f.FS.WriteAt(name, data, offset, func(err error) {
		if err == nil && name == c.name {
			first, end := offset/storage.SectorSize, (offset+int64(len(data))+storage.SectorSize-1)/storage.SectorSize
			for s := range c.lost {
				if s >= first && s < end {
					delete(c.lost, s)
				}
			}
		}
		done(err)
	})
}

// Sync fails the armed file's first sync after a held write (ErrIO; the disk syncs what else
// it holds) and disarms: the held writes never reach the disk, and stay readable from the
// cache.
func (f syncCacheFS) Sync(name string, done func(error)) {
	if c := f.c; c.armed && name == c.name && c.held > 0 {
		c.armed = false
		c.failed++
		// Completed through the disk (a sync of what else it holds), so that a crash drops it.
		f.FS.Sync(name, func(error) {
			done(fmt.Errorf("%w: sync of %s (its pages stay in the cache, clean)", storage.ErrIO, name))
		})
		return
	}
	f.FS.Sync(name, done)
}

func (f syncCacheFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	f.FS.ReadAt(name, buf, offset, func(n int, err error) {
		if c := f.c; err == nil && name == c.name && len(c.lost) > 0 {
			for s, data := range c.lost {
				at := s * storage.SectorSize
				lo, hi := max(at, offset), min(at+storage.SectorSize, offset+int64(n))
				if lo < hi {
					copy(buf[lo-offset:hi-offset], data[lo-at:hi-at])
				}
			}
		}
		done(n, err)
	})
}

func (f syncCacheFS) Truncate(name string, size int64, done func(error)) {
	f.FS.Truncate(name, size, func(err error) {
		if c := f.c; err == nil && name == c.name {
			for s := range c.lost {
				if (s+1)*storage.SectorSize > size {
					delete(c.lost, s)
				}
			}
		}
		done(err)
	})
}

func (f syncCacheFS) Remove(name string, done func(error)) {
	f.FS.Remove(name, func(err error) {
		if c := f.c; err == nil && name == c.name {
			c.lost = nil
		}
		done(err)
	})
}
