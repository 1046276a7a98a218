package sim

// Read-only accessors for the picture of a run, which shades the periods a fault holds.

// SlowMultiplier returns the disk's slow-mode multiplier (0 or 1: normal speed).
func (d *Disk) SlowMultiplier() int { return d.slow }

// ErrorNs returns how far the node's wall clock is from true time now.
func (c *Clock) ErrorNs() int64 { return c.Realtime() - RealtimeEpochNs - int64(c.loop.Now()) }
