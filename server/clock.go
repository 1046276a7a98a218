package server

import "time"

// wallClock is the replica's vsr.Clock: realtime from the wall clock, monotonic time from
// Go's monotonic clock reading (time.Since), counted from the process start.
type wallClock struct{ start time.Time }

func newWallClock() wallClock { return wallClock{start: time.Now()} }

func (c wallClock) Monotonic() int64 { return int64(time.Since(c.start)) }

func (c wallClock) Realtime() int64 { return time.Now().UnixNano() }
