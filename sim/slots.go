package sim

// slots is a table of values addressed by small integers, reusing freed slots (the last freed
// first): a hot path parks a value and passes its slot where it would otherwise allocate a
// closure. The loop keeps its events' callbacks in one, the disk its pending completions.
type slots[T any] struct {
	items []T
	free  []uint32
}

// put stores v and returns its slot.
func (s *slots[T]) put(v T) uint32 {
	if n := len(s.free); n > 0 {
		slot := s.free[n-1]
		s.free = s.free[:n-1]
		s.items[slot] = v
		return slot
	}
	s.items = append(s.items, v)
	return uint32(len(s.items) - 1)
}

// add takes a slot and returns it with a pointer to its value, zero (take clears the slots
// it frees), for a caller that fills a large value in place: one built apart and passed to
// put was copied in. The pointer is good until the next add or put.
func (s *slots[T]) add() (uint32, *T) {
	if n := len(s.free); n > 0 {
		slot := s.free[n-1]
		s.free = s.free[:n-1]
		return slot, &s.items[slot]
	}
	var zero T
	s.items = append(s.items, zero)
	return uint32(len(s.items) - 1), &s.items[len(s.items)-1]
}

// take returns the value in slot and frees the slot, dropping the table's reference to it.
func (s *slots[T]) take(slot uint32) T {
	v := s.items[slot]
	var zero T
	s.items[slot] = zero
	s.free = append(s.free, slot)
	return v
}
