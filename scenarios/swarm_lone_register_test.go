package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The lone-register episode passes on the database as it is, and reaches its window (the new
// primary holds the register unexecuted when the client's first request arrives) in every
// seed: it is built, not drawn.
func TestLoneRegisterEpisodeReachesItsWindow(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := runLoneRegister(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["lone_register.window"], "seed %d", seed)
	}
}
