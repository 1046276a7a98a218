package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestACommandIsRequired: a bare invocation, or flags without a command, print the usage and
// exit 64 instead of starting the campaign, which takes tens of minutes; help prints it and
// exits 0.
func TestACommandIsRequired(t *testing.T) {
	for _, args := range [][]string{nil, {"--seeds", "3"}, {"campaign"}} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, exitUsage, run(args, &stdout, &stderr), "args %q", args)
		require.Contains(t, stderr.String(), "expected a command: run, list, check or generate")
		require.Contains(t, stderr.String(), "vopr-mutate run [--seeds N]")
		require.Empty(t, stdout.String())
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"--help"}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "vopr-mutate list")
}
