package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"vopr/cluster/storage"
)

// The superblock file is four one-sector copies, two pairs written alternately. A crash may
// tear a pair write so that the new state lands in one copy only, the pair's other sector
// keeping the state of two writes before. Open adopts the newest intact state, and the
// replica acts on it (votes in its view, executes up to its checkpoint): so Open must store
// that state twice before it returns it, or one sector fault over the lone copy rolls the
// replica back to an older state at the next boot (PAR, FAST'18; storage crash seed 1863).

const sbCopy = storage.SectorSize

// tornWrite is how the last superblock write of a history is torn: which write (a SaveState
// or a Checkpoint), and which copy of its pair kept the new state (the other keeps its old
// bytes).
type tornWrite struct {
	checkpoint bool
	kept       int // 0 or 1: the first or second copy of the pair
}

func (w tornWrite) String() string {
	kind := "save_state"
	if w.checkpoint {
		kind = "checkpoint"
	}
	return fmt.Sprintf("%s/kept_copy_%d", kind, w.kept)
}

var tornWrites = []tornWrite{{false, 0}, {false, 1}, {true, 0}, {true, 1}}

// tornHistory formats d, appends ops 1-9, moves to view 2, checkpoints op 4 and moves to view
// 3 (commit 5); then the last write, a move to view 4 (commit 6) or a checkpoint of op 8, is
// torn as w says, on the raw file. It returns the state of the last write and the copy (0 to
// 3) that alone holds it.
func tornHistory(t *testing.T, d *disk, w tornWrite) (storage.State, int) {
	t.Helper()
	s := fill(t, d, smallSegments, 9)
	save := func(view uint32, commit uint64) {
		st := s.State()
		st.View, st.LogView, st.Commit = view, view, commit
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
	}
	save(2, 0)
	d.checkpoint(t, s, 4, []byte("the state at 4"))
	save(3, 5)
	before := d.raw("superblock")
	if w.checkpoint {
		d.checkpoint(t, s, 8, []byte("the state at 8"))
	} else {
		save(4, 6)
	}
	want := s.State()
	after := d.raw("superblock")
	var changed []int
	for i := range 4 {
		if !bytes.Equal(before[i*sbCopy:(i+1)*sbCopy], after[i*sbCopy:(i+1)*sbCopy]) {
			changed = append(changed, i)
		}
	}
	if len(changed) != 2 || changed[0]/2 != changed[1]/2 || !bytes.Equal(copyOf(after, changed[0]), copyOf(after, changed[1])) {
		t.Fatalf("the last write changed copies %v: want both copies of one pair", changed)
	}
	kept, lost := changed[w.kept], changed[1-w.kept]
	copy(after[lost*sbCopy:], copyOf(before, lost))
	d.setRaw("superblock", after)
	d.restart()
	if n := holding(after, copyOf(after, kept)); n != 1 {
		t.Fatalf("the torn file holds the new state in %d copies, want 1", n)
	}
	return want, kept
}

func copyOf(file []byte, i int) []byte {
	return slices.Clone(file[i*sbCopy : (i+1)*sbCopy])
}

// holding counts the copies of file equal to one.
func holding(file, one []byte) int {
	n := 0
	for i := range 4 {
		if bytes.Equal(file[i*sbCopy:(i+1)*sbCopy], one) {
			n++
		}
	}
	return n
}

// damageEachCopy damages each superblock copy in turn (a flipped bit, then a zeroed sector,
// as a read error reads), and checks that Open still returns want.
func damageEachCopy(t *testing.T, d *disk, want storage.State, what string) {
	t.Helper()
	file := d.raw("superblock")
	for i := range 4 {
		for _, how := range []string{"flipped", "zeroed"} {
			damaged := slices.Clone(file)
			if how == "flipped" {
				damaged[i*sbCopy+100] ^= 0x10
			} else {
				clear(damaged[i*sbCopy : (i+1)*sbCopy])
			}
			d.setRaw("superblock", damaged)
			d.restart()
			_, rec, err := d.open(t, smallSegments)
			if err != nil {
				t.Fatalf("%s, copy %d %s: Open: %v", what, i, how, err)
			}
			if rec.State != want {
				t.Fatalf("%s, copy %d %s: Open rolled back to %+v, want %+v", what, i, how, rec.State, want)
			}
		}
	}
	d.setRaw("superblock", file)
	d.restart()
}

// TestSuperblockSingleCopyStoredTwice: a torn write left the newest state in one copy; Open
// returns it and stores it in the pair's other copy too, so a fault over either copy (or any
// other) at the next boot returns the same state. Before the fix, a fault over the lone copy
// rolled the view back to 3 (commit 5), or the checkpoint back to 4.
func TestSuperblockSingleCopyStoredTwice(t *testing.T) {
	for _, w := range tornWrites {
		t.Run(w.String(), func(t *testing.T) {
			eachDisk(t, func(t *testing.T, d *disk) {
				want, kept := tornHistory(t, d, w)
				lone := copyOf(d.raw("superblock"), kept)
				_, rec := d.mustOpen(t, smallSegments)
				if rec.State != want {
					t.Fatalf("Open returned %+v, want the torn write's %+v", rec.State, want)
				}
				if len(rec.Rewritten) != 0 {
					t.Fatalf("rewritten %v: the twin held an older state (a torn write), no damage", rec.Rewritten)
				}
				if n := holding(d.raw("superblock"), lone); n != 2 {
					t.Fatalf("after Open the newest state is in %d copies, want 2", n)
				}
				damageEachCopy(t, d, want, "after the Open that adopted the torn write")
			})
		})
	}
}

// TestSuperblockSingleCopyLostCopyFault: the fault that failed storage crash seed 1863,
// straight: the lone copy of the newest state rots after the Open that returned it.
func TestSuperblockSingleCopyLostCopyFault(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		want, kept := tornHistory(t, d, tornWrite{checkpoint: true})
		if _, rec := d.mustOpen(t, smallSegments); rec.State != want {
			t.Fatalf("Open returned %+v, want %+v", rec.State, want)
		}
		flipBit(d, "superblock", int64(kept*sbCopy+40)*8)
		d.restart()
		_, rec := d.mustOpen(t, smallSegments)
		if rec.State != want || rec.CheckpointDamaged != 0 || rec.CheckpointLost {
			t.Fatalf("after the lone copy rotted: state %+v (damaged %d, lost %t), want %+v",
				rec.State, rec.CheckpointDamaged, rec.CheckpointLost, want)
		}
	})
}

// TestSuperblockDamagedTwinReported: the newest state's other copy is damaged (a sector
// fault, not a torn write), and so is one copy of the other pair. Open writes both again and
// reports them (Recovery.Rewritten); `storage verify` right after it (VerifyOpened) reports
// them first, as superblock damage, and counts the four copies intact now; the next Open has
// nothing to write.
func TestSuperblockDamagedTwinReported(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		s := fill(t, d, smallSegments, 5)
		st := s.State()
		st.View, st.LogView = 2, 2
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) }) // pair 1
		st.View, st.LogView = 3, 3
		d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) }) // pair 0
		want := s.State()
		file := d.raw("superblock")
		file[1*sbCopy+77] ^= 1 // the newest state's second copy
		file[2*sbCopy+77] ^= 1 // the other pair's first copy
		d.setRaw("superblock", file)
		d.restart()
		s, rec := d.mustOpen(t, smallSegments)
		if rec.State != want {
			t.Fatalf("Open returned %+v, want %+v", rec.State, want)
		}
		var offsets []int64
		for _, p := range rec.Rewritten {
			if p.File != "superblock" || !strings.Contains(p.Reason, "written again at open") {
				t.Fatalf("rewritten %v", rec.Rewritten)
			}
			offsets = append(offsets, p.Offset)
		}
		if !slices.Equal(offsets, []int64{1 * sbCopy, 2 * sbCopy}) {
			t.Fatalf("rewritten %v: want copies 1 and 2", rec.Rewritten)
		}
		var r storage.VerifyReport
		d.must(t, "VerifyOpened", func(done func(error)) {
			s.VerifyOpened(rec, func(got storage.VerifyReport) { r = got; done(nil) })
		})
		if r.OK || r.SuperblockCopiesIntact != 4 || len(r.Problems) != 2 ||
			r.Problems[0].Offset != 1*sbCopy || r.Problems[1].Offset != 2*sbCopy {
			t.Fatalf("verify after Open: %+v", r)
		}
		if r := d.verify(t, s); !r.OK || r.SuperblockCopiesIntact != 4 {
			t.Fatalf("plain verify: %+v", r)
		}
		d.restart()
		if _, rec := d.mustOpen(t, smallSegments); rec.State != want || len(rec.Rewritten) != 0 {
			t.Fatalf("next Open: state %+v, rewritten %v", rec.State, rec.Rewritten)
		}
		damageEachCopy(t, d, want, "after the repair")
	})
}

// crashFS crashes the FS at its crashAt-th mutating operation (write, sync, truncate,
// create, remove; counted from 0): that operation and every later one is never issued and
// never completes, as after a power cut. It keeps, for the crash, the old bytes of the
// superblock writes issued since the file's last completed sync (a crash may lose them), and
// fails the test if a write reaches a copy in forbidden.
type crashFS struct {
	storage.FS
	t         *testing.T
	d         *disk
	crashAt   int // -1: never
	issued    int
	crashed   bool
	forbidden []int
	unsynced  []undoWrite
	writes    int // superblock writes issued
}

type undoWrite struct {
	offset int64
	old    []byte
}

func (c *crashFS) mutate() bool {
	if c.crashed || c.issued == c.crashAt {
		c.crashed = true
		return false
	}
	c.issued++
	return true
}

func (c *crashFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	if !c.mutate() {
		return
	}
	if name == "superblock" {
		c.writes++
		for _, i := range c.forbidden {
			if offset < int64((i+1)*sbCopy) && offset+int64(len(data)) > int64(i*sbCopy) {
				c.t.Errorf("a superblock write at %d (%d bytes) reaches copy %d, the only copy of its state",
					offset, len(data), i)
			}
		}
		old := make([]byte, len(data))
		if raw := c.d.raw(name); offset < int64(len(raw)) {
			copy(old, raw[offset:])
		}
		c.unsynced = append(c.unsynced, undoWrite{offset, old})
	}
	c.FS.WriteAt(name, data, offset, done)
}

func (c *crashFS) Sync(name string, done func(error)) {
	if !c.mutate() {
		return
	}
	c.FS.Sync(name, func(err error) {
		if err == nil && name == "superblock" {
			c.unsynced = nil
		}
		done(err)
	})
}

func (c *crashFS) Truncate(name string, size int64, done func(error)) {
	if c.mutate() {
		c.FS.Truncate(name, size, done)
	}
}

func (c *crashFS) Create(name string, done func(error)) {
	if c.mutate() {
		c.FS.Create(name, done)
	}
}

func (c *crashFS) Remove(name string, done func(error)) {
	if c.mutate() {
		c.FS.Remove(name, done)
	}
}

// TestSuperblockRepairCrashSafe crashes Open at each of its mutating operations, the repair's
// write and sync first, with each unsynced superblock write lost or kept, after a torn write
// left the newest state in one copy. The repair never writes over the lone copy, and the Open
// after the crash returns the same newest state, stored twice: a fault over any one copy then
// rolls nothing back either.
func TestSuperblockRepairCrashSafe(t *testing.T) {
	for _, w := range tornWrites {
		t.Run(w.String(), func(t *testing.T) {
			points, repairWrites := 0, 0
			for crashAt := 0; ; crashAt++ {
				completed := false
				for lose := 0; lose < 4 && !completed; lose++ {
					eachDisk(t, func(t *testing.T, d *disk) {
						want, kept := tornHistory(t, d, w)
						plain := d.fs
						c := &crashFS{FS: plain, t: t, d: d, crashAt: crashAt, forbidden: []int{kept}}
						d.fs = c
						fired := false
						storage.Open(c, smallSegments, func(_ *storage.Storage, rec *storage.Recovery, err error) {
							fired = true
							if err != nil || rec.State != want {
								t.Errorf("Open without a crash: %v, state %+v", err, rec)
							}
						})
						for steps := 0; !fired && d.run(); steps++ {
							if steps > 10_000_000 {
								t.Fatal("event loop spinning")
							}
						}
						if !c.crashed {
							d.fs = plain
							completed = true
							if !fired {
								t.Fatal("Open never completed, with no crash")
							}
							points, repairWrites = c.issued, c.writes
							return
						}
						if len(c.unsynced) > 2 {
							t.Fatalf("%d superblock writes unsynced at the crash", len(c.unsynced))
						}
						// lose's bit k: the k-th unsynced write is lost (its old bytes back).
						file := d.raw("superblock")
						for k := len(c.unsynced) - 1; k >= 0; k-- {
							if lose&(1<<k) != 0 {
								u := c.unsynced[k]
								copy(file[u.offset:], u.old)
							}
						}
						d.setRaw("superblock", file)
						d.fs = plain
						d.restart()
						_, rec, err := d.open(t, smallSegments)
						if err != nil {
							t.Fatalf("crash at operation %d (lost %b): Open: %v", crashAt, lose, err)
						}
						if rec.State != want {
							t.Fatalf("crash at operation %d (lost %b): Open returned %+v, want %+v",
								crashAt, lose, rec.State, want)
						}
						damageEachCopy(t, d, want, fmt.Sprintf("crash at operation %d (lost %b)", crashAt, lose))
					})
				}
				if completed || t.Failed() {
					break
				}
			}
			if repairWrites != 1 || points < 2 {
				t.Fatalf("Open without a crash: %d mutating operations, %d superblock writes: want the repair's one write and its sync",
					points, repairWrites)
			}
		})
	}
}

// stubbornFS drops (reports done, writes nothing) the superblock writes while drops > 0, as
// a write that went astray or did not stick.
type stubbornFS struct {
	storage.FS
	drops int
}

func (f *stubbornFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	if name != "superblock" || f.drops == 0 {
		f.FS.WriteAt(name, data, offset, done)
		return
	}
	f.drops--
	f.FS.List(func([]string, error) { done(nil) }) // later, never inline
}

// TestSuperblockRepairReadBack: the repair's write does not stick once; Open reads the file
// back, writes again, and the state is stored twice. A disk on which it never sticks fails
// Open (ErrIO) rather than run on one copy, and leaves the state as it was.
func TestSuperblockRepairReadBack(t *testing.T) {
	eachDisk(t, func(t *testing.T, d *disk) {
		want, kept := tornHistory(t, d, tornWrite{})
		lone := copyOf(d.raw("superblock"), kept)
		plain := d.fs
		d.fs = &stubbornFS{FS: plain, drops: 1}
		if _, rec := d.mustOpen(t, smallSegments); rec.State != want {
			t.Fatalf("Open returned %+v, want %+v", rec.State, want)
		}
		if n := holding(d.raw("superblock"), lone); n != 2 {
			t.Fatalf("after a write that did not stick, the newest state is in %d copies, want 2", n)
		}
		d.fs = plain
		damageEachCopy(t, d, want, "after a write that did not stick")
	})
	eachDisk(t, func(t *testing.T, d *disk) {
		want, _ := tornHistory(t, d, tornWrite{})
		plain := d.fs
		d.fs = &stubbornFS{FS: plain, drops: 1 << 20}
		if _, _, err := d.open(t, smallSegments); !errors.Is(err, storage.ErrIO) {
			t.Fatalf("Open on a disk that keeps no second copy: %v, want ErrIO", err)
		}
		d.fs = plain
		d.restart()
		if _, rec := d.mustOpen(t, smallSegments); rec.State != want {
			t.Fatalf("Open returned %+v, want %+v", rec.State, want)
		}
	})
}

// unreadableFS fails (ErrIO) the reads of the superblock file that reach copy bad, as a
// latent sector error that a later read gets past.
type unreadableFS struct {
	storage.FS
	bad int
}

func (f *unreadableFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	f.FS.ReadAt(name, buf, offset, func(n int, err error) {
		if name == "superblock" && offset < int64((f.bad+1)*sbCopy) && offset+int64(len(buf)) > int64(f.bad*sbCopy) {
			clear(buf)
			n, err = 0, storage.ErrIO
		}
		done(n, err)
	})
}

// TestSuperblockOlderPairStoredTwice: the other pair holds the state the newest was written
// after in one copy (its twin the state of two writes before). Open stores it twice too: it
// is what a fallback reaches. But when that copy cannot be read at this Open, the pair shows
// the older state, which Open must not write over it.
func TestSuperblockOlderPairStoredTwice(t *testing.T) {
	// Views 2 to 5, one superblock write each: sequences 2 to 5, pairs 1, 0, 1, 0.
	history := func(t *testing.T, d *disk) (storage.State, [6][]byte) {
		s := fill(t, d, smallSegments, 3)
		var files [6][]byte
		for view := uint32(2); view <= 5; view++ {
			st := s.State()
			st.View, st.LogView = view, view
			d.must(t, "SaveState", func(done func(error)) { s.SaveState(st, done) })
			files[view] = d.raw("superblock")
		}
		want := s.State()
		file := d.raw("superblock")
		copy(file[3*sbCopy:], copyOf(files[2], 3)) // sequence 4's write torn: copy 3 kept sequence 2
		d.setRaw("superblock", file)
		d.restart()
		return want, files
	}
	eachDisk(t, func(t *testing.T, d *disk) {
		want, files := history(t, d)
		_, rec := d.mustOpen(t, smallSegments)
		if rec.State != want || len(rec.Rewritten) != 0 {
			t.Fatalf("Open: state %+v, rewritten %v", rec.State, rec.Rewritten)
		}
		if !bytes.Equal(d.raw("superblock"), files[5]) {
			t.Fatal("the other pair's state is not stored twice after Open")
		}
	})
	eachDisk(t, func(t *testing.T, d *disk) {
		want, files := history(t, d)
		plain := d.fs
		d.fs = &unreadableFS{FS: plain, bad: 2}
		if _, rec := d.mustOpen(t, smallSegments); rec.State != want {
			t.Fatalf("Open with copy 2 unreadable: state %+v, want %+v", rec.State, want)
		}
		if got := copyOf(d.raw("superblock"), 2); !bytes.Equal(got, copyOf(files[4], 2)) {
			t.Fatal("Open wrote an older state over the other pair's unreadable newer copy")
		}
		d.fs = plain
		d.restart()
		d.mustOpen(t, smallSegments)
		if !bytes.Equal(d.raw("superblock"), files[5]) {
			t.Fatal("once readable, the other pair's state is not stored twice")
		}
	})
}
