package sim

import (
	"cmp"
	"slices"

	"vopr/internal/assert"
)

// DiskPool lends the disks of worlds that are done the arrays their files grew into, for the
// disks of later worlds (WorldOptions.DiskPool): without one, every new disk allocates, and
// clears, each array its files grow into (log segments, checkpoints), and a run of many
// seeds does that again for every seed although the last seed's disks had just the right
// arrays. A pool changes only where a file's bytes live, never what they are: a disk clears
// whatever part of an array it does not overwrite at once, as with its own spares (grow).
//
// A pool serves one run at a time (it has no lock): a seed's worlds, one after another.
// The zero value is an empty pool.
type DiskPool struct {
	// arrays are the kept arrays, each of length zero, sorted by capacity; bytes is the
	// sum of their capacities.
	arrays [][]byte
	bytes  int64
	// disks are the disks made with the pool since the last Reclaim.
	disks []*Disk
}

// diskPoolBytesMax bounds the capacity a pool keeps: a few worlds' worth of files.
const diskPoolBytesMax = 64 << 20

// Reclaim takes back the arrays of every disk made with the pool since the last Reclaim,
// whose worlds must all be done: nothing may run them or read their disks afterwards, since
// their files' arrays are now lent to others. Such a disk fails an assertion if used.
func (p *DiskPool) Reclaim() {
	given := map[*byte]bool{}
	for _, d := range p.disks {
		d.release(given)
	}
	p.disks = nil
}

// Adopt makes a new disk (one made by NewDisk, outside any world) draw on the pool and be
// reclaimed with it, as a world's disks are (WorldOptions.DiskPool).
func (p *DiskPool) Adopt(d *Disk) {
	assert.That(d.pool == nil && len(d.files) == 0, "disk pool: adopting a disk in use")
	d.pool = p
	p.disks = append(p.disks, d)
}

// take removes and returns (of length zero) the smallest kept array of capacity at least
// want, nil if there is none.
func (p *DiskPool) take(want int64) []byte {
	if p == nil {
		return nil
	}
	i, _ := slices.BinarySearchFunc(p.arrays, want, compareCapacity)
	if i == len(p.arrays) {
		return nil
	}
	a := p.arrays[i]
	p.arrays = slices.Delete(p.arrays, i, i+1)
	p.bytes -= int64(cap(a))
	return a
}

// give keeps b's array, which nothing else may reference any more, unless the pool is full.
func (p *DiskPool) give(b []byte) {
	if cap(b) == 0 || p.bytes+int64(cap(b)) > diskPoolBytesMax {
		return
	}
	i, _ := slices.BinarySearchFunc(p.arrays, int64(cap(b)), compareCapacity)
	p.arrays = slices.Insert(p.arrays, i, b[:0])
	p.bytes += int64(cap(b))
}

func compareCapacity(a []byte, capacity int64) int { return cmp.Compare(int64(cap(a)), capacity) }

// release gives the disk's arrays to its pool and leaves it unusable (assertLive). An array
// a Snapshot shares goes once, the first time (given holds the ends of those given): a
// snapshot of a disk with a pool has the pool too, and is reclaimed with it.
func (d *Disk) release(given map[*byte]bool) {
	for _, f := range d.sortedFiles {
		if f.shared && cap(f.data) > 0 {
			end := &f.data[:cap(f.data)][cap(f.data)-1]
			if given[end] {
				f.data = nil
				continue
			}
			given[end] = true
		}
		d.pool.give(f.data)
		f.data = nil
	}
	for _, b := range d.spare {
		d.pool.give(b)
	}
	d.spare = nil
	d.files, d.sorted, d.sortedFiles = nil, nil, nil
	d.lastFile, d.viewFile = nil, nil
	d.released = true
}

// assertLive fails if the disk's pool took its arrays back (DiskPool.Reclaim).
func (d *Disk) assertLive() {
	assert.That(!d.released, "disk: used after its pool reclaimed it")
}
