package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The tuner's bounds, and the growth it gives the heap between two collections.
const (
	PercentMax = 400
	PercentMin = 100
	Headroom   = 64 << 20
)

// Start sets the GC percentage to PercentMax and then, after every collection, to
// PercentFor the live heap. The returned stop ends the tuning and restores the percentage
// Start found.
func Start() (stop func()) {
	t := &tuner{percent: PercentMax}
	previous := debug.SetGCPercent(PercentMax)
	t.arm()
	return func() {
		t.stopped.Store(true)
		debug.SetGCPercent(previous)
	}
}

// PercentFor is the GC percentage that lets a heap of live bytes grow by Headroom, at least
// PercentMin and at most PercentMax.
func PercentFor(live uint64) int {
	if live == 0 {
		return PercentMax
	}
	return int(min(max(100*uint64(Headroom)/live, PercentMin), PercentMax))
}

// tuner resets the GC percentage after every collection: a cleanup attached to an object
// nothing references runs once a collection has freed it, and arms the next one.
type tuner struct {
	percent int
	stopped atomic.Bool
	sample  [1]metrics.Sample
}

func (t *tuner) arm() {
	// A sentinel of 32 bytes: the tiny allocator packs smaller pointer-free objects into
	// shared blocks, which may keep one alive long after it is dropped.
	runtime.AddCleanup(new([32]byte), func(t *tuner) {
		if !t.stopped.Load() {
			t.retune()
			t.arm()
		}
	}, t)
}

func (t *tuner) retune() {
	t.sample[0].Name = "/gc/heap/live:bytes"
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return // not reported by this runtime: keep the setting
	}
	if p := PercentFor(t.sample[0].Value.Uint64()); p != t.percent && !t.stopped.Load() {
		t.percent = p
		debug.SetGCPercent(p)
	}
}
