package invariants

import "vopr/cluster/vsr"

// opTable maps op numbers to records: a dense slice for ops as they come (from 0 upwards),
// and a map for an op far past the dense end, so that a corrupt or mutated op number cannot
// make a checker allocate without bound. get and put are O(1).
type opTable[T any] struct {
	dense  []opSlot[T]
	sparse map[uint64]T
}

type opSlot[T any] struct {
	value T
	ok    bool
}

// opTableGrowMax is how far past the dense end an op may land and still grow the slice.
const opTableGrowMax = 1 << 16

func (t *opTable[T]) get(op uint64) (T, bool) {
	if p := t.at(op); p != nil {
		return *p, true
	}
	var zero T
	return zero, false
}

// at is get without the copy, for the checks run at every inspection: op's value, nil if
// none; the caller must neither keep it past a put nor change it.
func (t *opTable[T]) at(op uint64) *T {
	if op < uint64(len(t.dense)) {
		if s := &t.dense[op]; s.ok {
			return &s.value
		}
		return nil
	}
	if v, ok := t.sparse[op]; ok {
		p := new(T) // a copy: a sparse op (far past the dense end) is rare
		*p = v
		return p
	}
	return nil
}

func (t *opTable[T]) put(op uint64, v T) {
	if op >= uint64(len(t.dense)) && op < uint64(len(t.dense))+opTableGrowMax {
		from := uint64(len(t.dense))
		for i := from; i <= op; i++ {
			t.dense = append(t.dense, opSlot[T]{})
			if old, ok := t.sparse[i]; ok {
				t.dense[i] = opSlot[T]{value: old, ok: true}
				delete(t.sparse, i)
			}
		}
	}
	if op < uint64(len(t.dense)) {
		t.dense[op] = opSlot[T]{value: v, ok: true}
		return
	}
	if t.sparse == nil {
		t.sparse = make(map[uint64]T)
	}
	t.sparse[op] = v
}

// truncate forgets every op above op.
func (t *opTable[T]) truncate(op uint64) {
	if op+1 < uint64(len(t.dense)) {
		t.dense = t.dense[:op+1]
	}
	for k := range t.sparse {
		if k > op {
			delete(t.sparse, k) // deleting in any order leaves the same map
		}
	}
}

// grow returns s long enough to index i (replica indexes beyond the initial count, such as
// standbys, extend the per-replica state).
func grow[T any](s []T, i int) []T {
	for len(s) <= i {
		var zero T
		s = append(s, zero)
	}
	return s
}

// running reports whether an inspection shows a replica's protocol state. A recovering
// replica has not read its disk yet (its fields are placeholders), and a stopped one may
// have stopped halfway through reading it; the replica asserts its own invariants under the
// same condition (vsr/invariants.go).
func running(s vsr.Status) bool { return s == vsr.StatusNormal || s == vsr.StatusViewChange }
