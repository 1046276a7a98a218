package main

import (
	"os"
	"runtime/debug"
)

// Garbage-collector settings for the simulator, unless the environment sets its own
// (GOGC, GOMEMLIMIT). A run's live heap is a few MB and it allocates fast, so the default
// GOGC=100 collects every few MB: 400 costs about 15% less CPU on the swarm for about twice
// the resident memory (issue 12), and the soft limit keeps a campaign's heap under a flat
// ceiling whatever the seeds do.
const (
	gcPercent   = 400
	memoryLimit = 1 << 30
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
