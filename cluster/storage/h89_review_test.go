package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/storage"
)

// h89's review: sequences of operations with one fault (a failed write, sync, truncate,
// create, remove or read, ENOSPC, a lost write) at any FS call, more operations after it, then
// a crash at any FS call (unsynced writes lost, kept or torn), and Open. The contract held:
// every acknowledged op is back intact (or the documented faulty), nothing the caller gave up
// durably comes back, and no operation after the fault fails for good.

// memFile is a file of memFS: the bytes reads see, the bytes a crash keeps for sure, and the
// writes since the last sync.
type memFile struct {
	data, durable []byte
	unsynced      []memWrite
}

type memWrite struct {
	off   int64
	b     []byte
	ghost bool // its sync failed: the page is clean again and a crash loses it
}

// memFault is what the fault hook decides for an FS call.
type memFault int

const (
	faultNone      memFault = iota
	faultIO                 // the call fails with ErrIO (nothing written; a failed sync drops the pages)
	faultNoSpace            // a write fails with ErrNoSpace
	faultLost               // a write reports success and writes nothing
	faultRefused            // a truncate, create or remove fails, changing nothing
	faultMisdirect          // a write reports success and lands a sector off its offset
)

// memFS is an in-memory FS with crash semantics: Create, Remove and Truncate durable at
// completion, writes durable at the next successful Sync of the file. crashAt counts
// mutating calls; at that one the disk stops: nothing issued from then on completes.
type memFS struct {
	files    map[string]*memFile
	queue    []func()
	capacity int64
	calls    int // FS calls issued (for the fault hook)
	mutating int
	crashAt  int // -1: never
	crashed  bool
	fault    func(kind, name string, call int) memFault
	// keepGhosts decides, at a failed sync, whether its writes are still to reach the disk.
	keepGhosts func() bool
}

func newMemFS() *memFS { return &memFS{files: map[string]*memFile{}, capacity: 1 << 30, crashAt: -1} }

func (m *memFS) later(fn func()) { m.queue = append(m.queue, fn) }

func (m *memFS) run() bool {
	if len(m.queue) == 0 {
		return false
	}
	fn := m.queue[0]
	m.queue = m.queue[1:]
	fn()
	return true
}

// decide counts a call and returns its fault; ok false: the disk has crashed (no completion).
func (m *memFS) decide(kind, name string, mutating bool) (memFault, bool) {
	if m.crashed {
		return faultNone, false
	}
	if mutating {
		if m.mutating == m.crashAt {
			m.crashed = true
			return faultNone, false
		}
		m.mutating++
	}
	m.calls++
	if m.fault == nil {
		return faultNone, true
	}
	return m.fault(kind, name, m.calls-1), true
}

func (m *memFS) used() int64 {
	n := int64(0)
	for _, f := range m.files {
		n += int64(len(f.data))
	}
	return n
}

func writeInto(b []byte, off int64, data []byte) []byte {
	if end := off + int64(len(data)); end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[off:], data)
	return b
}

func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func (m *memFS) Create(name string, done func(error)) {
	f, ok := m.decide("create", name, true)
	if !ok {
		return
	}
	m.later(func() {
		switch {
		case f != faultNone:
			done(fmt.Errorf("create %s: %w", name, storage.ErrIO))
		case m.files[name] != nil:
			done(storage.ErrExist)
		default:
			m.files[name] = &memFile{}
			done(nil)
		}
	})
}

func (m *memFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	f, ok := m.decide("read", name, false)
	if !ok {
		return
	}
	m.later(func() {
		file := m.files[name]
		switch {
		case file == nil:
			done(0, storage.ErrNotExist)
		case f != faultNone:
			clear(buf)
			done(0, storage.ErrIO)
		default:
			n := 0
			if offset < int64(len(file.data)) {
				n = copy(buf, file.data[offset:])
			}
			done(n, nil)
		}
	})
}

func (m *memFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	f, ok := m.decide("write", name, true)
	if !ok {
		return
	}
	m.later(func() {
		file := m.files[name]
		if file == nil {
			done(storage.ErrNotExist)
			return
		}
		grows := max(0, offset+int64(len(data))-int64(len(file.data)))
		switch {
		case f == faultIO:
			done(storage.ErrIO)
			return
		case f == faultNoSpace || m.used()+grows > m.capacity:
			done(storage.ErrNoSpace)
			return
		case f == faultLost:
			done(nil)
			return
		case f == faultMisdirect:
			if offset >= storage.SectorSize && offset%(2*storage.SectorSize) != 0 {
				offset -= storage.SectorSize
			} else {
				offset += storage.SectorSize
			}
		}
		file.data = writeInto(file.data, offset, data)
		file.unsynced = append(file.unsynced, memWrite{off: offset, b: slices.Clone(data)})
		done(nil)
	})
}

func (m *memFS) Sync(name string, done func(error)) {
	f, ok := m.decide("sync", name, true)
	if !ok {
		return
	}
	m.later(func() {
		file := m.files[name]
		if file == nil {
			done(storage.ErrNotExist)
			return
		}
		if f != faultNone {
			// A failed fsync: the kernel drops the dirty pages' error and marks them clean; a
			// crash loses them although reads show them and a later fsync succeeds.
			// Or the pages were written back after all (keepGhosts).
			for i := range file.unsynced {
				file.unsynced[i].ghost = m.keepGhosts == nil || !m.keepGhosts()
			}
			done(storage.ErrIO)
			return
		}
		var ghosts []memWrite
		for _, w := range file.unsynced {
			if w.ghost {
				ghosts = append(ghosts, w)
				continue
			}
			file.durable = writeInto(file.durable, w.off, w.b)
		}
		file.unsynced = ghosts
		done(nil)
	})
}

func (m *memFS) Truncate(name string, size int64, done func(error)) {
	f, ok := m.decide("truncate", name, true)
	if !ok {
		return
	}
	m.later(func() {
		file := m.files[name]
		switch {
		case file == nil:
			done(storage.ErrNotExist)
		case f != faultNone:
			done(fmt.Errorf("truncate %s: %w", name, storage.ErrIO))
		default:
			file.data = resize(file.data, size)
			file.durable = resize(file.durable, size)
			var kept []memWrite
			for _, w := range file.unsynced {
				if w.off >= size {
					continue
				}
				if w.off+int64(len(w.b)) > size {
					w.b = w.b[:size-w.off]
				}
				kept = append(kept, w)
			}
			file.unsynced = kept
			done(nil)
		}
	})
}

func (m *memFS) Remove(name string, done func(error)) {
	f, ok := m.decide("remove", name, true)
	if !ok {
		return
	}
	m.later(func() {
		switch {
		case m.files[name] == nil:
			done(storage.ErrNotExist)
		case f != faultNone:
			done(fmt.Errorf("remove %s: %w", name, storage.ErrIO))
		default:
			delete(m.files, name)
			done(nil)
		}
	})
}

func (m *memFS) List(done func([]string, error)) {
	if m.crashed {
		return
	}
	m.later(func() {
		names := slices.Sorted(maps.Keys(m.files))
		done(names, nil)
	})
}

func (m *memFS) Size(name string) (int64, error) {
	f := m.files[name]
	if f == nil {
		return 0, storage.ErrNotExist
	}
	return int64(len(f.data)), nil
}

func (m *memFS) Usage() storage.Usage { return storage.Usage{Used: m.used(), Capacity: m.capacity} }

// afterCrash returns a fresh memFS holding what a crash now leaves: each unsynced write kept,
// lost, or torn (a sector-aligned part kept), as fate says (0 lost, 1 kept, 2 torn); ghosts
// are lost.
func (m *memFS) afterCrash(fate func() int) *memFS {
	out := newMemFS()
	out.capacity = m.capacity
	for _, name := range slices.Sorted(maps.Keys(m.files)) {
		f := m.files[name]
		b := slices.Clone(f.durable)
		for _, w := range f.unsynced {
			if w.ghost {
				continue
			}
			switch fate() {
			case 1:
				b = writeInto(b, w.off, w.b)
			case 2:
				// Keep the sectors of the write up to a torn boundary.
				cut := int64(len(w.b)) / 2
				if rem := (w.off + cut) % storage.SectorSize; rem != 0 {
					cut -= rem
				}
				if cut > 0 {
					b = writeInto(b, w.off, w.b[:cut])
				}
			}
		}
		out.files[name] = &memFile{data: b, durable: slices.Clone(b)}
	}
	return out
}

type fataler interface{ Fatal(args ...any) }

// memDo runs an operation to its completion on m; fired false: the disk crashed first.
func memDo(t fataler, m *memFS, issue func(done func(error))) (err error, fired bool) {
	issue(func(e error) {
		if fired {
			t.Fatal("completion delivered twice")
		}
		err, fired = e, true
	})
	if fired {
		t.Fatal("completion delivered inline")
	}
	for steps := 0; !fired; steps++ {
		if steps > 1_000_000 {
			t.Fatal("event loop spinning")
		}
		if !m.run() {
			return nil, false
		}
	}
	return err, true
}

// model is the caller's view: its log, what it was acknowledged, and what it gave up.
type model struct {
	log      map[uint64][]byte // the caller's log (ops above its checkpoint)
	head     uint64            // the caller's head
	required map[uint64][]byte // acknowledged, not given up since
	disk     map[uint64][]byte // the last body issued to the engine at each op
	given    map[uint64][][]byte
	gone     map[uint64][][]byte // given up, and durably so
	acked    map[uint64][][]byte // every body ever acknowledged at the op
	cp       uint64              // the highest acknowledged checkpoint
	view     uint32
	version  int
}

func newModel() *model {
	return &model{log: map[uint64][]byte{}, required: map[uint64][]byte{}, disk: map[uint64][]byte{},
		given: map[uint64][][]byte{}, gone: map[uint64][][]byte{}, acked: map[uint64][][]byte{}, view: 1}
}

func (md *model) fresh(op uint64) []byte {
	md.version++
	b := []byte(fmt.Sprintf("op %d version %d ", op, md.version))
	for len(b) < 40+int(op*97%300) {
		b = append(b, byte(len(b)))
	}
	return b
}

func (md *model) clone() *model {
	c := *md
	c.log, c.required, c.disk = maps.Clone(md.log), maps.Clone(md.required), maps.Clone(md.disk)
	c.given, c.gone, c.acked = map[uint64][][]byte{}, map[uint64][][]byte{}, map[uint64][][]byte{}
	for o, l := range md.acked {
		c.acked[o] = slices.Clone(l)
	}
	for o, l := range md.given {
		c.given[o] = slices.Clone(l)
	}
	for o, l := range md.gone {
		c.gone[o] = slices.Clone(l)
	}
	return &c
}

func hasBody(list [][]byte, b []byte) bool {
	return slices.ContainsFunc(list, func(x []byte) bool { return bytes.Equal(x, b) })
}

// giveUp drops the caller's ops above op (a truncation issued): they are no longer required,
// and come back to no one once durably gone.
func (md *model) giveUp(op uint64) {
	for o, b := range md.log {
		if o > op {
			md.given[o] = append(md.given[o], b)
			delete(md.log, o)
		}
	}
	for o := range md.required {
		if o > op {
			delete(md.required, o)
		}
	}
	for o, b := range md.disk {
		if o > op && !hasBody(md.given[o], b) {
			md.given[o] = append(md.given[o], b)
		}
	}
	md.head = min(md.head, op)
}

// settleGiven: a durable cut (or a superblock write after a failed one) confirms what the
// caller gave up above op as gone, but for bodies it has taken back since.
//
// A failed append's entry past the head is the engine's to cut only before the next superblock
// write (cutFailedAppend, payAppendCut): a truncation at or above the head does not touch it,
// and a crash before that write lets Open finish the append, which is harmless under the log
// view persisted with it. So a cut (bySuperblock false) settles only bodies once acknowledged.
func (md *model) settleGiven(op uint64, bySuperblock bool) {
	for o, list := range md.given {
		if o <= op {
			continue
		}
		var keep [][]byte
		for _, b := range list {
			if !bySuperblock && !hasBody(md.acked[o], b) {
				keep = append(keep, b)
				continue
			}
			if !bytes.Equal(md.log[o], b) && !hasBody(md.gone[o], b) {
				md.gone[o] = append(md.gone[o], b)
			}
		}
		if len(keep) == 0 {
			delete(md.given, o)
		} else {
			md.given[o] = keep
		}
	}
}

// adopt is an op's body the caller takes (again): it is not gone.
func (md *model) adopt(op uint64, b []byte) {
	md.gone[op] = slices.DeleteFunc(md.gone[op], func(x []byte) bool { return bytes.Equal(x, b) })
	md.given[op] = slices.DeleteFunc(md.given[op], func(x []byte) bool { return bytes.Equal(x, b) })
}

type h89Run struct {
	t     *rapid.T
	m     *memFS
	s     *storage.Storage
	md    *model
	opts  storage.Options
	trace []string
	// faultStep is the step whose FS calls may fail (-1 none); after it, errors are bugs
	// unless the documented ones.
	faulted bool
	// lostWrite: a write was lost (reported done, not written): an acknowledged op may come
	// back faulty, never missing.
	lostWrite   bool
	mayBeFaulty map[uint64]bool
}

func (r *h89Run) logf(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf(format, args...))
}

func (r *h89Run) fail(format string, args ...any) {
	r.t.Fatalf("%s\ntrace:\n  %s", fmt.Sprintf(format, args...), joinLines(r.trace))
}

func joinLines(l []string) string {
	var b bytes.Buffer
	for i, s := range l {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// floor is the lowest op a truncation may keep: the checkpoint and the audit.
func (r *h89Run) floor() uint64 {
	audit, _ := r.s.AuditHead()
	return max(r.s.State().CheckpointOp, audit)
}

// step runs one random operation; it returns false once the disk has crashed.
func (r *h89Run) step(t *rapid.T, i int) bool {
	md, s := r.md, r.s
	kinds := []string{"append", "append", "append", "same", "replace", "truncate", "checkpoint", "install", "compact", "savestate", "commit", "rewrite"}
	kind := rapid.SampledFrom(kinds).Draw(t, fmt.Sprintf("kind%d", i))
	floor := r.floor()
	switch kind {
	case "append", "same", "replace":
		var op uint64
		var b []byte
		switch kind {
		case "append":
			op = md.head + 1
			if old := md.disk[op]; old != nil && rapid.IntRange(0, 3).Draw(t, fmt.Sprintf("again%d", i)) > 0 {
				b = old // the same prepare again
			} else {
				b = md.fresh(op)
			}
		case "same":
			if md.head <= floor {
				return true
			}
			op = rapid.Uint64Range(floor+1, md.head).Draw(t, fmt.Sprintf("op%d", i))
			b = md.log[op]
		case "replace":
			if md.head <= floor {
				return true
			}
			op = rapid.Uint64Range(floor+1, md.head).Draw(t, fmt.Sprintf("op%d", i))
			b = md.fresh(op)
		}
		if op <= floor || op > s.Head()+1 || b == nil {
			return true
		}
		// In place (the later ops stay) only if the engine says so: Append of an op that is
		// not Rewritable replaces it and drops the ops above (Append's contract).
		e := storage.Entry{Op: op, Body: b}
		inPlace := op > s.Head() || s.Rewritable(e) || (op == s.Head() && bytes.Equal(md.disk[op], b))
		replacing := !inPlace
		before := md.clone()
		if replacing || op <= md.head && !bytes.Equal(md.log[op], b) {
			md.giveUp(op - 1)
		}
		headBefore := s.Head()
		md.adopt(op, b)
		md.disk[op] = b
		r.logf("Append(%d, %q) replacing=%v", op, b[:14], replacing)
		err, fired := memDo(t, r.m, func(done func(error)) { s.Append(storage.Entry{Op: op, Body: b}, done) })
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v (head %d, faulty %v)", err, s.Head(), s.Faulty())
		if err != nil {
			r.unexpected(err, "Append")
			if errors.Is(err, storage.ErrFaulty) || errors.Is(err, storage.ErrTooLarge) {
				*md = *before // refused: changes nothing (Append's contract)
				return true
			}
			if op > s.Head() {
				// A failed append past the head: its entry may stay until the next superblock
				// write (settleGiven).
				md.acked[op] = slices.DeleteFunc(md.acked[op], func(x []byte) bool { return bytes.Equal(x, b) })
			}
			if replacing {
				// The caller writes op again next (vsr's flushLog): the log is as before, or
				// truncated to op-1, or op was written in place and failed (a damaged slot that
				// nothing names: Append's contract). The ops above may stay: not gone for certain.
				md.giveUp(op - 1)
				for o := range md.given {
					if o >= op {
						delete(md.given, o)
					}
				}
			} else if op <= s.Head() {
				r.mayBeFaulty[op] = true // a rewrite in place failed: its bytes are unknown
			}
			return true
		}
		delete(r.mayBeFaulty, op)
		if replacing && s.Head() >= headBefore && headBefore > op {
			// Written in place after all (a damaged slot that nothing names: Append's
			// contract), the ops above kept: the caller's log keeps them too.
			*md = *before
			md.adopt(op, b)
			md.disk[op] = b
			replacing = false
		}
		if replacing {
			md.settleGiven(op-1, false)
			md.adopt(op, b)
		}
		if !replacing && s.Head() < headBefore && op <= headBefore {
			r.fail("Append(%d) predicted in place dropped the ops above: head %d, was %d", op, s.Head(), headBefore)
		}
		if !hasBody(md.acked[op], b) {
			md.acked[op] = append(md.acked[op], b)
		}
		md.log[op] = b
		md.required[op] = b
		md.head = max(md.head, op)
	case "truncate":
		if md.head < floor {
			return true
		}
		op := rapid.Uint64Range(floor, md.head).Draw(t, fmt.Sprintf("op%d", i))
		md.giveUp(op)
		r.logf("TruncateAfter(%d)", op)
		err, fired := memDo(t, r.m, func(done func(error)) { s.TruncateAfter(op, done) })
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v (head %d)", err, s.Head())
		if err != nil {
			r.unexpected(err, "TruncateAfter")
			return true
		}
		md.settleGiven(op, false)
	case "checkpoint":
		if md.head <= floor {
			return true
		}
		op := rapid.Uint64Range(floor+1, md.head).Draw(t, fmt.Sprintf("op%d", i))
		if _, err := s.Commit(op); err != nil {
			r.logf("Commit(%d): %v", op, err)
			return true
		}
		r.logf("Checkpoint(%d)", op)
		err, fired := memDo(t, r.m, func(done func(error)) { s.Checkpoint(op, []byte(fmt.Sprintf("state %d", op)), done) })
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v", err)
		if err != nil {
			r.unexpected(err, "Checkpoint")
			return true
		}
		md.cp = op
	case "install":
		op := rapid.Uint64Range(floor+1, md.head+3).Draw(t, fmt.Sprintf("op%d", i))
		if op > s.Head() {
			// The log ends below: its entries go, and the caller's log with them.
			md.giveUp(min(md.head, op))
		}
		r.logf("InstallCheckpoint(%d)", op)
		err, fired := memDo(t, r.m, func(done func(error)) {
			s.InstallCheckpoint(op, []byte(fmt.Sprintf("peer state %d", op)), done)
		})
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v (head %d)", err, s.Head())
		if err != nil {
			r.unexpected(err, "InstallCheckpoint")
			return true
		}
		md.cp = op
		if md.head < op {
			md.head = op
		}
		for o := range md.log {
			if o <= op {
				delete(md.log, o)
				delete(md.required, o)
			}
		}
	case "commit":
		if md.head <= floor {
			return true
		}
		op := rapid.Uint64Range(floor+1, md.head).Draw(t, fmt.Sprintf("op%d", i))
		_, err := s.Commit(op)
		r.logf("Commit(%d) -> %v", op, err)
	case "rewrite":
		if md.head <= floor {
			return true
		}
		op := rapid.Uint64Range(floor+1, md.head).Draw(t, fmt.Sprintf("op%d", i))
		b := md.log[op]
		if b == nil || !s.Rewritable(storage.Entry{Op: op, Body: b}) {
			return true
		}
		r.logf("Rewrite(%d)", op)
		err, fired := memDo(t, r.m, func(done func(error)) { s.Rewrite(storage.Entry{Op: op, Body: b}, done) })
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v (head %d, faulty %v)", err, s.Head(), s.Faulty())
		if err != nil {
			r.unexpected(err, "Rewrite")
			r.mayBeFaulty[op] = true
			return true
		}
		delete(r.mayBeFaulty, op)
		md.disk[op] = b
		md.required[op] = b
	case "compact":
		r.logf("Compact")
		err, fired := memDo(t, r.m, func(done func(error)) { s.Compact(func(_ int64, err error) { done(err) }) })
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v", err)
		if err != nil {
			r.unexpected(err, "Compact")
		}
	case "savestate":
		st := s.State()
		st.View, st.LogView = md.view+1, md.view+1
		r.logf("SaveState(view %d)", st.View)
		err, fired := memDo(t, r.m, func(done func(error)) { s.SaveState(st, done) })
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v (head %d)", err, s.Head())
		if err != nil {
			r.unexpected(err, "SaveState")
			return true
		}
		md.view++
		md.settleGiven(md.head, true)
	}
	return true
}

// unexpected fails on an error no fault explains: after the faulted step, only ErrFaulty
// (an op below is faulty: the caller repairs it) and ErrNoSpace are documented.
func (r *h89Run) unexpected(err error, what string) {
	if r.faulted {
		return
	}
	if errors.Is(err, storage.ErrFaulty) || errors.Is(err, storage.ErrNoSpace) {
		return
	}
	r.fail("%s failed with no fault active: %v", what, err)
}

// repair writes the caller's body again at every op the engine holds faulty within the
// caller's log, as a replica repairs from its peers.
func (r *h89Run) repair(t *rapid.T) bool {
	for _, op := range r.s.Faulty() {
		b := r.md.log[op]
		if b == nil || op <= r.floor() || (op < r.s.Head() && !r.s.Rewritable(storage.Entry{Op: op, Body: b})) {
			continue // a caller that must keep the ops above asks first (Rewritable)
		}
		r.logf("repair Append(%d)", op)
		r.md.adopt(op, b)
		err, fired := memDo(t, r.m, func(done func(error)) { r.s.Append(storage.Entry{Op: op, Body: b}, done) })
		if !fired {
			r.logf("  crash")
			return false
		}
		r.logf("  -> %v (head %d)", err, r.s.Head())
		if err == nil {
			r.md.disk[op] = b
			r.md.required[op] = b
		} else {
			r.unexpected(err, "repair Append")
		}
	}
	return true
}

func (r *h89Run) check(t *rapid.T, fate func() int) (*storage.Storage, *memFS, *storage.Recovery) {
	fs := r.m.afterCrash(fate)
	corrupt := false
	if rapid.IntRange(0, 3).Draw(t, "corrupt") == 0 && !r.lostWrite { // one fault of the data at most
		// PAR: one sector of one file corrupted after the crash.
		names := slices.Sorted(maps.Keys(fs.files))
		name := rapid.SampledFrom(names).Draw(t, "corruptFile")
		f := fs.files[name]
		if len(f.data) > 0 {
			corrupt = true
			sectors := (len(f.data) + storage.SectorSize - 1) / storage.SectorSize
			sector := rapid.IntRange(0, sectors-1).Draw(t, "corruptSector")
			at := min(len(f.data)-1, sector*storage.SectorSize+rapid.IntRange(0, storage.SectorSize-1).Draw(t, "corruptByte"))
			f.data[at] ^= 0x5a
			r.logf("corrupted %s sector %d byte %d", name, sector, at)
		}
	}
	var rec *storage.Recovery
	if crashOpen := rapid.IntRange(-1, 12).Draw(t, "crashOpen"); crashOpen >= 0 {
		// A crash during Open's own repairs, and Open again.
		fs.crashAt = crashOpen
		_, fired := memDo(t, fs, func(done func(error)) {
			storage.Open(fs, r.opts, func(_ *storage.Storage, got *storage.Recovery, err error) { done(err) })
		})
		if !fired {
			r.logf("crash in Open at its mutating call %d", crashOpen)
			fs = fs.afterCrash(fate)
		}
		fs.crashAt = -1
	}
	// A transient read error during Open (a latent sector error that a later read gets past):
	// the op it hides may come back faulty, never missing.
	readFault := rapid.IntRange(-1, 30).Draw(t, "openReadFault")
	if readFault >= 0 && !r.lostWrite && !corrupt {
		base := fs.calls
		fs.fault = func(kind, name string, call int) memFault {
			if kind == "read" && call-base >= readFault && call-base < readFault+1 {
				r.logf("read error in Open on %s", name)
				return faultIO
			}
			return faultNone
		}
	} else {
		readFault = -1
	}
	var opened *storage.Storage
	for round := 0; round < 2; round++ {
		err, fired := memDo(t, fs, func(done func(error)) {
			storage.Open(fs, r.opts, func(s *storage.Storage, got *storage.Recovery, err error) { opened, rec = s, got; done(err) })
		})
		fs.fault = nil
		if fired && errors.Is(err, storage.ErrNoSpace) {
			return nil, nil, nil // a full disk: Open's repairs need room (noted in h89's report)
		}
		if fired && readFault >= 0 && errors.Is(err, storage.ErrIO) {
			continue // Open may fail on a read error; the next gets past it
		}
		if !fired || err != nil {
			r.fail("Open after the crash (round %d): fired %v, %v", round, fired, err)
		}
		r.checkRecovery(rec, corrupt || readFault >= 0)
		if readFault < 0 {
			break
		}
	}
	if corrupt || readFault >= 0 {
		r.lostWrite = true // a data fault: from now on an acknowledged op may be faulty, never missing
	}
	return opened, fs, rec
}

// resume takes the caller on from what Open returned: its log is the recovered one, and it
// repairs the faulty ops with the bodies it knows (as from its peers).
func (r *h89Run) resume(t *rapid.T, s *storage.Storage, fs *memFS, rec *storage.Recovery) bool {
	md := r.md
	r.s, r.m = s, fs
	r.m.keepGhosts = nil
	md.cp, md.view = rec.State.CheckpointOp, rec.State.View
	md.head = s.Head()
	log := map[uint64][]byte{}
	for _, e := range rec.Entries {
		log[e.Op] = e.Body
		md.required[e.Op] = e.Body
		md.disk[e.Op] = e.Body
		md.adopt(e.Op, e.Body)
	}
	for _, op := range rec.Faulty {
		b := md.required[op]
		if b == nil {
			b = md.disk[op]
		}
		if b == nil || hasBody(md.gone[op], b) {
			b = md.fresh(op) // the peers' prepare, not one the caller gave up
		}
		log[op] = b
	}
	for op := range md.required {
		if op <= md.cp || op > md.head {
			delete(md.required, op)
		}
	}
	md.log = log
	r.logf("--- resumed: checkpoint %d head %d faulty %v", md.cp, md.head, rec.Faulty)
	for _, op := range rec.Faulty {
		if op <= r.floor() || op > s.Head() {
			continue
		}
		b := log[op]
		if op < s.Head() && !s.Rewritable(storage.Entry{Op: op, Body: b}) {
			// A caller that must keep the ops above asks first: a run placed below the
			// next known entry, or the ops up to the head written again on a new chain.
			var run []storage.Entry
			for o := op; o <= s.Head(); o++ {
				run = append(run, storage.Entry{Op: o, Body: log[o]})
			}
			if slices.ContainsFunc(run, func(e storage.Entry) bool { return e.Body == nil }) {
				continue
			}
			what := ""
			var write func(done func(int, error))
			if n, _ := s.RewritableRun(run); n > 0 {
				what, write = "RewriteRun", func(done func(int, error)) { s.RewriteRun(run, done) }
			} else if s.RechainableRun(run) {
				what, write = "RechainRun", func(done func(int, error)) { s.RechainRun(run, done) }
			} else {
				continue
			}
			r.logf("%s from %d", what, op)
			var written int
			err, fired := memDo(t, r.m, func(done func(error)) {
				write(func(n int, err error) { written = n; done(err) })
			})
			if !fired {
				return false
			}
			r.logf("  -> %d written, %v (head %d, faulty %v)", written, err, s.Head(), s.Faulty())
			if err != nil && !errors.Is(err, storage.ErrNoSpace) {
				r.fail("%s from %d with no fault active: %v", what, op, err)
			}
			for _, e := range run[:written] {
				md.disk[e.Op], md.required[e.Op] = e.Body, e.Body
				md.acked[e.Op] = append(md.acked[e.Op], e.Body)
			}
			continue
		}
		before := md.clone()
		replacing := false
		r.logf("repair Append(%d)", op)
		md.adopt(op, b)
		err, fired := memDo(t, r.m, func(done func(error)) { s.Append(storage.Entry{Op: op, Body: b}, done) })
		if !fired {
			return false
		}
		r.logf("  -> %v (head %d, faulty %v)", err, s.Head(), s.Faulty())
		if err != nil {
			if errors.Is(err, storage.ErrFaulty) || errors.Is(err, storage.ErrNoSpace) {
				*md = *before
				continue
			}
			r.fail("repair Append(%d) with no fault active: %v", op, err)
		}
		md.disk[op] = b
		md.required[op] = b
		md.acked[op] = append(md.acked[op], b)
		if replacing {
			md.giveUp(op)
			md.settleGiven(op, false)
			md.head = op
		}
	}
	return true
}

func (r *h89Run) checkRecovery(rec *storage.Recovery, corrupt bool) {
	cp := rec.State.CheckpointOp
	if cp < r.md.cp && !((r.lostWrite || corrupt) && (rec.CheckpointDamaged != 0 || rec.CheckpointLost)) {
		r.fail("checkpoint %d after Open, below the acknowledged %d", cp, r.md.cp)
	}
	if rec.State.View < r.md.view && !r.lostWrite { // a lost superblock write: documented
		r.fail("view %d after Open, below the acknowledged %d", rec.State.View, r.md.view)
	}
	got := map[uint64][]byte{}
	for _, e := range rec.Entries {
		got[e.Op] = e.Body
	}
	var ops []uint64
	for op := range r.md.required {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i] < ops[j] })
	for _, op := range ops {
		if op <= cp {
			continue
		}
		if (r.lostWrite || corrupt || r.mayBeFaulty[op]) && slices.Contains(rec.Faulty, op) {
			continue
		}
		if b, ok := got[op]; !ok || !bytes.Equal(b, r.md.required[op]) {
			r.fail("acknowledged op %d lost after the crash: got %q (faulty %v, entries %v, checkpoint %d)",
				op, b, rec.Faulty, entriesOf(rec), cp)
		}
	}
	for op, b := range got {
		if hasBody(r.md.gone[op], b) {
			r.fail("op %d came back with a body the caller durably gave up: %q (entries %v)", op, b[:14], entriesOf(rec))
		}
	}
}

func TestH89FaultThenCrash(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		opts := storage.Options{SegmentEntriesMax: rapid.IntRange(2, 6).Draw(t, "segmentEntries"), EntryBodyMax: 4096,
			ReplayOpsMax: rapid.SampledFrom([]int{0, 0, 8, 64}).Draw(t, "replayOpsMax")}
		m := newMemFS()
		if rapid.Bool().Draw(t, "small") {
			// A small disk: ENOSPC for real, and auto-compaction.
			m.capacity = int64(rapid.IntRange(12, 40).Draw(t, "capacityKB")) << 10
			opts.ReserveBytes = int64(rapid.IntRange(0, 2).Draw(t, "reserveSectors")) * storage.SectorSize
		}
		if err, _ := memDo(t, m, func(done func(error)) { storage.Format(m, opts, testState, done) }); err != nil {
			t.Fatal(err)
		}
		var s *storage.Storage
		if err, _ := memDo(t, m, func(done func(error)) {
			storage.Open(m, opts, func(got *storage.Storage, _ *storage.Recovery, err error) { s = got; done(err) })
		}); err != nil {
			t.Fatal(err)
		}
		ghostFates := rapid.SliceOfN(rapid.Bool(), 0, 8).Draw(t, "ghostFates")
		m.keepGhosts = func() bool {
			if len(ghostFates) == 0 {
				return false
			}
			k := ghostFates[0]
			ghostFates = ghostFates[1:]
			return k
		}
		r := &h89Run{t: t, m: m, s: s, md: newModel(), opts: opts, mayBeFaulty: map[uint64]bool{}}
		// A prefix without faults.
		pre := rapid.IntRange(0, 10).Draw(t, "pre")
		for op := uint64(1); op <= uint64(pre); op++ {
			b := r.md.fresh(op)
			if err, _ := memDo(t, m, func(done func(error)) { s.Append(storage.Entry{Op: op, Body: b}, done) }); err != nil {
				if errors.Is(err, storage.ErrNoSpace) {
					break
				}
				t.Fatal(err)
			}
			r.md.log[op], r.md.required[op], r.md.disk[op], r.md.head = b, b, b, op
			r.md.acked[op] = [][]byte{b}
		}
		for epoch := 0; epoch < 2; epoch++ {
			steps := rapid.IntRange(1, 20).Draw(t, "steps")
			faultStep := rapid.IntRange(-1, steps-1).Draw(t, "faultStep")
			span := rapid.IntRange(1, 3).Draw(t, "faultSpan")
			faultKinds := []memFault{faultIO, faultNoSpace, faultLost, faultRefused, faultMisdirect}
			persistentKinds := []string{"", "", "sync", "truncate", "remove", "create", "nospace", "read"}
			crashAfter := rapid.IntRange(-1, 60).Draw(t, "crashAfter")
			alive := true
			for i := 0; i < steps && alive; i++ {
				if i == faultStep {
					nths := rapid.SliceOfNDistinct(rapid.IntRange(0, 40), 1, 3, rapid.ID[int]).Draw(t, "faultCalls")
					kind := rapid.SampledFrom(faultKinds).Draw(t, "faultKind")
					persistent := rapid.SampledFrom(persistentKinds).Draw(t, "persistent")
					base := m.calls
					r.faulted = true
					m.fault = func(k, name string, call int) memFault {
						var f memFault
						switch {
						case persistent == "nospace" && k == "write":
							f = faultNoSpace
						case persistent == k && (k == "sync" || k == "read"):
							f = faultIO
						case persistent == k:
							f = faultRefused
						case !slices.Contains(nths, call-base):
							return faultNone
						case k == "write":
							f = kind
							if f == faultRefused {
								f = faultIO
							}
							if (f == faultLost || f == faultMisdirect) && (name == "superblock" || r.lostWrite) {
								f = faultIO // a lost superblock write rolls the state back: documented; one lost write at most (PAR)
							}
						case k == "sync" || k == "read":
							f = faultIO
						default:
							f = faultRefused
						}
						if f == faultLost || f == faultMisdirect {
							r.lostWrite = true
						}
						r.logf("  fault %v on %s %s", f, k, name)
						return f
					}
					r.logf("faults armed at calls %v of step %d for %d steps (persistent %q)", nths, i, span, persistent)
				}
				if i == faultStep+span && faultStep >= 0 {
					m.fault = nil
					r.faulted = false
				}
				if crashAfter >= 0 && i == steps/2 {
					m.crashAt = m.mutating + crashAfter
				}
				alive = r.step(t, i)
				if alive && i > faultStep && faultStep >= 0 && rapid.Bool().Draw(t, fmt.Sprintf("repair%d", i)) {
					alive = r.repair(t)
				}
			}
			m.fault = nil
			r.faulted = false
			fates := rapid.SliceOfN(rapid.IntRange(0, 2), 0, 64).Draw(t, "fates")
			n := 0
			s, fs, rec := r.check(t, func() int {
				if n < len(fates) {
					n++
					return fates[n-1]
				}
				return 1
			})
			if s == nil || epoch == 1 || !r.resume(t, s, fs, rec) {
				return
			}
			m = r.m
		}
	})
}

// TestFailedSuperblockSyncIsNotAdopted: op 1 in the log, a state sync installs a peer's
// checkpoint at op 2, above the head, and the superblock's sync fails, though its write reaches
// the disk (a failed fsync need not undo the write). InstallCheckpoint fails, so the replica
// goes on with its log: it appends ops 2 and 3, acknowledged. After a crash, Open found the
// failed superblock, adopted checkpoint 2, whose anchor (the file's checksum) op 3 does not
// chain to: the acknowledged op 3 came back faulty, with no byte of it damaged. The engine
// must write its current state over the failed write's pair before it reports the failure.
func TestFailedSuperblockSyncIsNotAdopted(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096}
	m := newMemFS()
	if err, _ := memDo(t, m, func(done func(error)) { storage.Format(m, opts, testState, done) }); err != nil {
		t.Fatal(err)
	}
	var s *storage.Storage
	if err, _ := memDo(t, m, func(done func(error)) {
		storage.Open(m, opts, func(got *storage.Storage, _ *storage.Recovery, err error) { s = got; done(err) })
	}); err != nil {
		t.Fatal(err)
	}
	appendOp := func(op uint64) {
		t.Helper()
		if err, _ := memDo(t, m, func(done func(error)) { s.Append(storage.Entry{Op: op, Body: body(op)}, done) }); err != nil {
			t.Fatalf("Append(%d): %v", op, err)
		}
	}
	appendOp(1)
	failed := false
	m.keepGhosts = func() bool { return true } // the failed sync's write reaches the disk
	m.fault = func(kind, name string, _ int) memFault {
		if kind == "sync" && name == "superblock" && !failed {
			failed = true
			return faultIO
		}
		return faultNone
	}
	if err, _ := memDo(t, m, func(done func(error)) { s.InstallCheckpoint(2, []byte("a peer's state at 2"), done) }); err == nil {
		t.Fatal("InstallCheckpoint succeeded with its superblock sync failed")
	}
	m.fault = nil
	appendOp(2)
	appendOp(3)
	fs := m.afterCrash(func() int { return 1 }) // the failed write is kept
	var rec *storage.Recovery
	if err, _ := memDo(t, fs, func(done func(error)) {
		storage.Open(fs, opts, func(_ *storage.Storage, got *storage.Recovery, err error) { rec = got; done(err) })
	}); err != nil {
		t.Fatal(err)
	}
	got := map[uint64][]byte{}
	for _, e := range rec.Entries {
		got[e.Op] = e.Body
	}
	for op := rec.State.CheckpointOp + 1; op <= 3; op++ {
		if !bytes.Equal(got[op], body(op)) {
			t.Errorf("acknowledged op %d not intact after the crash (checkpoint %d, entries %v, faulty %v)",
				op, rec.State.CheckpointOp, entriesOf(rec), rec.Faulty)
		}
	}
}

// TestTruncationKeepsTheSegmentOfAFaultyOp: a state sync installs a peer's checkpoint at op 1
// over an empty log, op 2 is appended at the start of segment 0's entries, and the checkpoint
// file rots: Open falls back to op 0 with op 1 faulty, of no extent (its entry never was in
// this segment), under op 2. A truncation after op 1 found op 2 at the start of the segment's
// entries and removed the whole file, op 1's included, while op 1 stayed in the log: the
// replica's repair of op 1 (the head now, written in place) wrote into the removed file and
// failed with ErrNotExist, outside Append's contract, at every retry.
func TestTruncationKeepsTheSegmentOfAFaultyOp(t *testing.T) {
	opts := storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096}
	e := newMemEngine(t, opts)
	open, appendOp := e.open, e.appendOp
	if err, _ := memDo(t, e.m, func(done func(error)) { e.s.InstallCheckpoint(1, []byte("a peer's state at 1"), done) }); err != nil {
		t.Fatal(err)
	}
	if err := appendOp(2); err != nil {
		t.Fatal(err)
	}
	e.m = e.m.afterCrash(func() int { return 1 })
	e.m.files["checkpoint-0000000000000001"].data[0] ^= 1
	if rec := open(); rec.State.CheckpointOp != 0 || !slices.Equal(rec.Faulty, []uint64{1}) {
		t.Fatalf("Open: checkpoint %d, faulty %v: want the fallback to op 0 with op 1 faulty", rec.State.CheckpointOp, rec.Faulty)
	}
	if err, _ := memDo(t, e.m, func(done func(error)) { e.s.TruncateAfter(1, done) }); err != nil {
		t.Fatalf("TruncateAfter(1): %v", err)
	}
	for try := 0; try < 2; try++ {
		if err := appendOp(1); err != nil {
			t.Fatalf("repair Append(1), try %d: %v", try, err)
		}
	}
	if err := appendOp(2); err != nil {
		t.Fatalf("Append(2): %v", err)
	}
	st := e.s.State()
	st.View, st.LogView = st.View+1, st.View+1 // a view change persists the fallen-back state
	if err, _ := memDo(t, e.m, func(done func(error)) { e.s.SaveState(st, done) }); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
	e.m = e.m.afterCrash(func() int { return 1 })
	if rec := open(); !slices.Equal(entriesOf(rec), []uint64{1, 2}) {
		t.Fatalf("after a restart: entries %v, faulty %v, want [1 2]", entriesOf(rec), rec.Faulty)
	}
}

// TestRepairOfALostEntryAtTheFileEnd: segments of 5 ops; op 4, the last of segment 0, is
// acknowledged but its entry's write was lost (PAR: the write reported done, and the file
// never grew to hold it), op 5 goes to segment 1. Open finds op 4 faulty under its intact
// record, but its damaged region ended at the file's end, with no room for its entry: the
// replica's repair (Append of op 4's own prepare) was not rewritable in place, truncated op 4
// (tombstoning its record) and op 5, both acknowledged, before writing op 4 again, and a crash
// in between lost them. The record names the entry's extent, past the end of the file too.
func TestRepairOfALostEntryAtTheFileEnd(t *testing.T) {
	for crashAt := 0; crashAt < 6; crashAt++ {
		t.Run(fmt.Sprintf("crash at %d", crashAt), func(t *testing.T) { repairLostEntryAtFileEnd(t, crashAt) })
	}
}

func repairLostEntryAtFileEnd(t *testing.T, crashAt int) {
	opts := storage.Options{SegmentEntriesMax: 5, EntryBodyMax: 4096}
	e := newMemEngine(t, opts)
	open, appendOp := e.open, e.appendOp
	lost := false
	for op := uint64(1); op <= 5; op++ {
		if op == 4 {
			e.m.fault = func(kind, name string, _ int) memFault {
				if kind == "write" && !lost {
					lost = true
					return faultLost // op 4's entry
				}
				return faultNone
			}
		}
		if err := appendOp(op); err != nil {
			t.Fatalf("Append(%d): %v", op, err)
		}
		e.m.fault = nil
	}
	e.m = e.m.afterCrash(func() int { return 1 })
	if rec := open(); !slices.Equal(rec.Faulty, []uint64{4}) {
		t.Fatalf("Open: entries %v, faulty %v: want op 4 faulty", entriesOf(rec), rec.Faulty)
	}
	if !e.s.Rewritable(storage.Entry{Op: 4, Body: body(4)}) {
		t.Error("op 4's own prepare is not rewritable in place under its intact record")
	}
	e.m.crashAt = e.m.mutating + crashAt // at one of the repair's writes or syncs
	// (a crash point past the repair's last call crashes nothing: the repair completes)
	memDo(t, e.m, func(done func(error)) { e.s.Append(storage.Entry{Op: 4, Body: body(4)}, done) })
	e.m = e.m.afterCrash(func() int { return 1 })
	rec := open()
	for op := uint64(4); op <= 5; op++ {
		if !slices.Contains(entriesOf(rec), op) && !slices.Contains(rec.Faulty, op) {
			t.Errorf("acknowledged op %d lost after a crash during the repair of op 4: entries %v, faulty %v",
				op, entriesOf(rec), rec.Faulty)
		}
	}
}

// memEngine is an engine opened on a fresh, formatted memFS: the setup of the tests that
// drive one sequence by hand.
type memEngine struct {
	t    *testing.T
	m    *memFS
	opts storage.Options
	s    *storage.Storage // the engine of the latest open
}

func newMemEngine(t *testing.T, opts storage.Options) *memEngine {
	e := &memEngine{t: t, m: newMemFS(), opts: opts}
	if err, _ := memDo(t, e.m, func(done func(error)) { storage.Format(e.m, opts, testState, done) }); err != nil {
		t.Fatal(err)
	}
	e.open()
	return e
}

// open opens the engine again on the filesystem as it stands, and returns its recovery.
func (e *memEngine) open() *storage.Recovery {
	e.t.Helper()
	var rec *storage.Recovery
	if err, _ := memDo(e.t, e.m, func(done func(error)) {
		storage.Open(e.m, e.opts, func(got *storage.Storage, r *storage.Recovery, err error) { e.s, rec = got, r; done(err) })
	}); err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	return rec
}

// appendOp appends op with its test body and returns the engine's answer.
func (e *memEngine) appendOp(op uint64) error {
	err, _ := memDo(e.t, e.m, func(done func(error)) { e.s.Append(storage.Entry{Op: op, Body: body(op)}, done) })
	return err
}
