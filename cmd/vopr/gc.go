package main

import (
	"os"
	"runtime/debug"

	"vopr/internal/gctune"
)

// memoryLimit is the soft heap limit: it keeps a campaign's heap under a flat ceiling
// whatever the seeds do.
const memoryLimit = 1 << 30

// tuneGC sets the collector (see internal/gctune), unless the environment sets its own
// (GOGC, GOMEMLIMIT).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		gctune.Start()
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
