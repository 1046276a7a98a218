package scenarios

import (
	"os"
	"testing"

	"vopr/sim"
)

func TestZZDebug(t *testing.T) {
	e := newStorageEpisode(2027381379)
	e.trace.Out, e.trace.Level = os.Stderr, sim.LevelFull
	e.run(e.rng.IntN(6*len(e.steps) + 1))
	t.Log(e.failure)
	t.Log(e.steps)
}
