package faults

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

func drawOverride(t *testing.T, seed uint64, o Override) Swarm {
	t.Helper()
	s, err := DrawSwarmOverride(sim.Stream(seed, "swarm"), o)
	require.NoError(t, err, "seed %d override %+v", seed, o)
	require.NoError(t, s.Validate())
	return s
}

// The zero override is DrawSwarm, field for field.
func TestOverrideZeroIsTheSeed(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		require.Equal(t, drawSeed(seed), drawOverride(t, seed, Override{}), "seed %d", seed)
	}
}

// sampleRates are a few kinds' own parameters, read independently of the drawer: a kind
// still on must keep them when another kind is switched off (the draws stay aligned).
func sampleRates(s Swarm) map[Kind]any {
	n, d, m := s.Network, s.Disk, s.Nemesis
	offsets := make([]int64, s.Replicas)
	for i := range offsets {
		offsets[i] = s.Clocks[i].OffsetNs
	}
	return map[Kind]any{
		NetworkLoss:      n.PacketLossProbability,
		NetworkReplay:    n.PacketReplayProbability,
		NetworkPartition: []float64{n.PartitionProbability, m.PartitionProbability, m.HealProbability},
		DiskCrashLost:    d.CrashLostProbability,
		DiskSlow:         []float64{m.DiskSlowProbability, m.DiskFastProbability},
		DiskFull:         []float64{m.DiskFillProbability, m.DiskUnfillProbability},
		ClockOffset:      offsets,
		ClockStep:        m.ClockStepNsMax,
		NodeCrash:        []float64{m.ReplicaCrashProbability, m.ReplicaRestartProbability},
		NodeUpgrade:      m.ReplicaUpgradeProbability,
	}
}

// Switching a kind off is what the draw does to a kind whose coin came up off: every rate of
// its own is zero (requireOffKindsInert, the check every drawn swarm passes), the kinds that
// need it are off too, and every other draw keeps its value.
func TestOverrideWithoutIsAKindDrawnOff(t *testing.T) {
	for seed := uint64(0); seed < 150; seed++ {
		orig := drawSeed(seed)
		for _, k := range AllKinds() {
			s := drawOverride(t, seed, Override{Without: []Kind{k}})
			requireOffKindsInert(t, seed, s)
			if !orig.Enabled(k) {
				require.Equal(t, orig, s, "seed %d: %s was off already", seed, k)
				continue
			}
			require.False(t, s.Enabled(k))
			for _, j := range orig.Kinds {
				gone := j == k || j.needs() == k
				require.Equal(t, !gone, s.Enabled(j), "seed %d without %s: kind %s", seed, k, j)
			}
			require.Equal(t, []any{orig.Replicas, orig.Clients, orig.Density, orig.ClientTable,
				orig.Network.OneWayDelayMean, orig.Nemesis.ReplicaStabilityTicks},
				[]any{s.Replicas, s.Clients, s.Density, s.ClientTable,
					s.Network.OneWayDelayMean, s.Nemesis.ReplicaStabilityTicks}, "seed %d without %s", seed, k)
			before, after := sampleRates(orig), sampleRates(s)
			for j := range before {
				if s.Enabled(j) {
					require.Equal(t, before[j], after[j], "seed %d without %s: rates of %s moved", seed, k, j)
				}
			}
		}
		none := drawOverride(t, seed, Override{Without: AllKinds()})
		require.Empty(t, none.Kinds)
		requireOffKindsInert(t, seed, none)
	}
}

// Fewer clients or replicas keep every other draw: the same rates and, for the replicas
// kept, the same clocks. Kinds that need f >= 1 go off with f = 0, as in a drawn swarm.
func TestOverrideCounts(t *testing.T) {
	for seed := uint64(0); seed < 150; seed++ {
		orig := drawSeed(seed)
		s := drawOverride(t, seed, Override{Clients: 1})
		require.Equal(t, 1, s.Clients)
		require.Equal(t, orig.Nemesis, s.Nemesis, "seed %d", seed)
		require.Equal(t, orig.Disk, s.Disk, "seed %d", seed)
		require.Equal(t, orig.Clocks[:orig.Replicas], s.Clocks[:s.Replicas], "seed %d", seed)
		require.Equal(t, orig.Kinds, s.Kinds)

		for n := 1; n < orig.Replicas; n++ {
			s := drawOverride(t, seed, Override{Replicas: n})
			requireOffKindsInert(t, seed, s)
			require.Equal(t, n, s.Replicas)
			require.Len(t, s.Clocks, n+orig.Standbys+orig.Clients)
			require.Equal(t, orig.Clocks[:n], s.Clocks[:n], "seed %d replicas %d", seed, n)
			require.Equal(t, orig.Nemesis.ReplicaStabilityTicks, s.Nemesis.ReplicaStabilityTicks)
			before, after := sampleRates(orig), sampleRates(s)
			for j := range before {
				if s.Enabled(j) && j != ClockOffset { // the offsets of the kept replicas: above
					require.Equal(t, before[j], after[j], "seed %d replicas %d: rates of %s moved", seed, n, j)
				}
			}
			for _, k := range s.Kinds {
				require.True(t, orig.Enabled(k), "seed %d replicas %d: %s switched on", seed, n, k)
			}
			if n == orig.Replicas-1 && s.F() == orig.F() {
				require.Equal(t, orig.Kinds, s.Kinds, "same f, same kinds")
			}
			if s.F() == 0 {
				require.False(t, slices.ContainsFunc(s.Kinds, Kind.needsRedundancy), "seed %d: f=0", seed)
			}
		}
	}
}

func TestOverrideErrors(t *testing.T) {
	r := func() Swarm { return drawSeed(1) }
	_, err := DrawSwarmOverride(sim.Stream(1, "swarm"), Override{Without: []Kind{"disk.nonsense"}})
	require.ErrorContains(t, err, `unknown fault kind "disk.nonsense": expected one of clock.drift, clock.offset`)
	_, err = DrawSwarmOverride(sim.Stream(1, "swarm"), Override{Replicas: r().Replicas + 1})
	require.ErrorContains(t, err, "an override can only lower it")
	_, err = DrawSwarmOverride(sim.Stream(1, "swarm"), Override{Clients: ClientsMax + 1})
	require.ErrorContains(t, err, "want 1..8")
	_, err = DrawSwarmOverride(sim.Stream(1, "swarm"), Override{Replicas: -1})
	require.Error(t, err)
	require.True(t, Override{}.IsZero())
	require.False(t, Override{Clients: 2}.IsZero())
}
