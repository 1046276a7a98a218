package sim

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// garbagePool returns a pool of n arrays from two sectors up, full of garbage: a disk that
// grows into them must read and keep exactly what it would in new, zeroed arrays (the
// reference model test runs some disks on one).
func garbagePool(n int) *DiskPool {
	p := &DiskPool{}
	for i := range n {
		p.give(bytes.Repeat([]byte{0xA5}, (2<<i)*diskSector))
	}
	return p
}

func TestDiskPoolTakesTheSmallestArrayLargeEnough(t *testing.T) {
	p := &DiskPool{}
	for _, size := range []int{4096, 1024, 16384, 2048} {
		p.give(make([]byte, 10, size))
	}
	require.Equal(t, int64(4096+1024+16384+2048), p.bytes)
	a := p.take(1500)
	require.Equal(t, 2048, cap(a))
	require.Empty(t, a, "a pooled array comes back empty")
	require.Equal(t, 4096, cap(p.take(4096)))
	require.Nil(t, p.take(16385))
	require.Equal(t, int64(1024+16384), p.bytes)
	require.Nil(t, (*DiskPool)(nil).take(1), "no pool lends nothing")

	p.give(make([]byte, diskPoolBytesMax))
	require.Equal(t, int64(1024+16384), p.bytes, "a full pool keeps nothing more")
}

// poolWorkload writes, grows, removes and syncs files on every disk of w, then runs it dry.
func poolWorkload(w *World) {
	for _, n := range w.Nodes {
		d := n.Disk
		for _, name := range []string{"log-1", "log-2", "checkpoint-1", "superblock"} {
			d.Create(name, func(error) {})
		}
		w.Loop.RunUntil(w.Loop.Now() + Time(Second))
		for i := range 40 {
			data := bytes.Repeat([]byte{byte(i + 1)}, 1000+i*37)
			d.WriteAt("log-1", data, int64(i)*3000, func(error) {})
			d.WriteAt("log-2", data, int64(i)*1500, func(error) {})
			d.WriteAt("superblock", data[:512], int64(i%4)*diskSector, func(error) {})
			w.Loop.RunUntil(w.Loop.Now() + Time(Second))
		}
		d.Remove("log-1", func(error) {})
		d.WriteAt("checkpoint-1", bytes.Repeat([]byte{7}, 50_000), 0, func(error) {})
		d.Sync("log-2", func(error) {})
		w.Loop.RunUntil(w.Loop.Now() + Time(Second))
	}
}

// A world whose disks draw on a pool that an earlier world's disks filled runs exactly as
// one without a pool: same trace, same bytes. The earlier world's disks are unusable once
// the pool reclaims them.
func TestDiskPoolLendsArraysWithoutChangingTheRun(t *testing.T) {
	options := WorldOptions{Seed: 5, NodeCount: 3, DiskNodes: 3, Disk: diskOptionsClean()}
	plain := NewWorld(options)
	poolWorkload(plain)

	options.DiskPool = &DiskPool{}
	first := NewWorld(options)
	poolWorkload(first)
	require.Zero(t, options.DiskPool.bytes)
	options.DiskPool.Reclaim()
	reclaimed := options.DiskPool.bytes
	require.Positive(t, reclaimed)
	requireAssertion(t, "used after its pool reclaimed it", func() { first.Nodes[0].Disk.DurableView("log-2", 0, 1) })
	requireAssertion(t, "used after its pool reclaimed it", func() { first.Nodes[0].Disk.Sync("log-2", func(error) {}) })

	second := NewWorld(options)
	poolWorkload(second)
	require.Less(t, options.DiskPool.bytes, reclaimed, "the second world grows into the first's arrays")
	require.Equal(t, plain.Trace.Hash(), second.Trace.Hash())
	require.Equal(t, plain.Trace.Count(), second.Trace.Count())
	for i, n := range second.Nodes {
		for _, name := range n.Disk.Names() {
			require.Equal(t, plain.Nodes[i].Disk.Pristine(name), n.Disk.Pristine(name), "node %d file %s", i, name)
			require.Equal(t, plain.Nodes[i].Disk.Durable(name), n.Disk.Durable(name), "node %d file %s", i, name)
		}
	}
}

// A Snapshot of a disk with a pool shares its files' arrays and is reclaimed with it: each
// shared array goes back once, and a file that took an array of its own since goes back too.
func TestDiskPoolReclaimsSnapshotsArraysOnce(t *testing.T) {
	pool := &DiskPool{}
	w := NewWorld(WorldOptions{Seed: 3, NodeCount: 1, DiskNodes: 1, Disk: diskOptionsClean(), DiskPool: pool})
	d := w.Nodes[0].Disk
	for _, name := range []string{"a", "b"} {
		d.Create(name, func(error) {})
		d.WriteAt(name, make([]byte, 3*diskSector), 0, func(error) {})
	}
	w.Loop.RunUntil(Time(Second))
	loop := NewLoop()
	snapshot := d.Snapshot(loop, Stream(3, "snapshot"), NewTrace(loop.Now))
	d.WriteAt("b", []byte{1}, 0, func(error) {}) // b takes an array of its own (diskFile.own)
	w.Loop.RunUntil(2 * Time(Second))
	arrays := cap(d.files["a"].data) + cap(d.files["b"].data) + cap(snapshot.files["b"].data)

	pool.Reclaim()
	require.Len(t, pool.arrays, 3, "a's shared array once, b's two arrays")
	require.Equal(t, int64(arrays), pool.bytes)
	requireAssertion(t, "used after its pool reclaimed it", func() { snapshot.DurableView("a", 0, 1) })
}

// A disk made outside a world joins a pool by Adopt: it draws on the pool, and the pool
// reclaims it. A disk in use cannot be adopted.
func TestDiskPoolAdoptsANewDisk(t *testing.T) {
	pool := garbagePool(3)
	h := newDiskHarness(t, 9, diskOptionsClean())
	pool.Adopt(h.disk)
	require.NoError(t, h.create("f"))
	require.NoError(t, h.write("f", diskSector, diskFill(0x11, diskSector)))
	require.Len(t, pool.arrays, 2, "the file grew into a pooled array")
	require.Equal(t, append(make([]byte, diskSector), diskFill(0x11, diskSector)...), h.disk.Pristine("f"))
	pool.Reclaim()
	require.Len(t, pool.arrays, 3)
	requireAssertion(t, "used after its pool reclaimed it", func() { h.disk.Pristine("f") })

	used := newDiskHarness(t, 9, diskOptionsClean())
	require.NoError(t, used.create("f"))
	requireAssertion(t, "adopting a disk in use", func() { pool.Adopt(used.disk) })
}
