package mutants

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A vopr process that panics exits with status 2, the liveness verdict's code, and may leave
// the report of the seeds it finished before: the batch is a crash of the process (the kill
// findCrash pins to a seed), not a verdict on those seeds. A real liveness verdict (status 2,
// no panic) stays one.
func TestBatchTakesAPanicForACrashWhateverTheStatus(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\nfor a; do out=$a; done\n"+body), 0o755))
		return path
	}
	c := &campaign{cfg: Config{Timeout: time.Minute}, scratch: dir}
	panicked := script("panics", "echo '{\"seeds\":[]}' > \"$out\"\necho 'panic: assertion failed: boom' >&2\nexit 2\n")
	b := c.batch(panicked, []string{"swarm"})
	require.Equal(t, "harness crash: panic: assertion failed: boom", b.crash)

	verdict := script("liveness", "echo '{\"seeds\":[]}' > \"$out\"\nexit 2\n")
	b = c.batch(verdict, []string{"swarm"})
	require.Empty(t, b.crash, "a liveness verdict is no crash")
}
