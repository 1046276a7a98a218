package sim

// Read-only accessors for the picture of a run, which shades the periods a fault holds.

// SlowMultiplier returns the disk's slow-mode multiplier (0 or 1: normal speed).
func (d *Disk) SlowMultiplier() int { return d.slow }

// InFlightUntil returns when the last operation in flight completes, or the present time if
// none is. Latencies are drawn at issue, so what was issued in slow mode completes at the
// slow latency after SetSlow makes the disk fast again. Completions that fell due while the
// disk is paused wait for the resume and count as due.
func (d *Disk) InFlightUntil() Time {
	until := d.loop.Now()
	for i := range d.pending.items {
		if op := &d.pending.items[i]; op.generation == d.generation {
			until = max(until, op.due) // a free slot is zero: due 0
		}
	}
	return until
}

// ErrorNs returns how far the node's wall clock is from true time now.
func (c *Clock) ErrorNs() int64 { return c.Realtime() - RealtimeEpochNs - int64(c.loop.Now()) }
