package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// knobFiring is a storage episode check's test: episodes from seed 1 must pass; those that
// reach the check's case (reached) run again with knob, which breaks what the check guards,
// and must fail, with failure in their text. every: each reached seed must fail (else one
// the broken engine still passes is skipped). It stops once want seeds failed.
type knobFiring struct {
	seeds   uint64
	want    int
	reached func(counters map[string]uint64) bool
	knob    func(e *storeEpisode)
	failure string
	every   bool
	why     string // what too few failures mean
}

func (k knobFiring) run(t *testing.T) {
	t.Helper()
	reached, fired := 0, 0
	for seed := uint64(1); seed <= k.seeds && fired < k.want; seed++ {
		e := newStorageEpisode(seed)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		require.Empty(t, e.failure, "seed %d", seed)
		if !k.reached(e.counters) {
			continue
		}
		reached++
		e = newStorageEpisode(seed)
		k.knob(e)
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		if k.every {
			require.NotEmpty(t, e.failure, "seed %d", seed)
		}
		if e.failure != "" {
			require.Contains(t, e.failure, k.failure, "seed %d", seed)
			t.Logf("seed %d: %s", seed, e.failure)
			fired++
		}
	}
	t.Logf("reached %d, fired %d", reached, fired)
	require.Equal(t, k.want, fired, k.why)
}
