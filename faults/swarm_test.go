package faults

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

func drawSeed(seed uint64) Swarm { return DrawSwarm(sim.Stream(seed, "swarm")) }

// TestDrawSwarmDeterministic: the same seed draws the same swarm, field by field and line by
// line, however often it is drawn.
func TestDrawSwarmDeterministic(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		a, b := drawSeed(seed), drawSeed(seed)
		require.Equal(t, a, b, "seed %d", seed)
		require.Equal(t, a.String(), b.String(), "seed %d", seed)
	}
}

// TestDrawSwarmVaries: different seeds draw different swarms, and the replica counts follow
// their weights (3 and 5 most often, every count 1..5 drawn).
func TestDrawSwarmVaries(t *testing.T) {
	lines := map[string]bool{}
	replicas := map[int]int{}
	clients := map[int]int{}
	for seed := uint64(0); seed < 500; seed++ {
		s := drawSeed(seed)
		lines[s.String()] = true
		replicas[s.Replicas]++
		clients[s.Clients]++
	}
	require.Len(t, lines, 500, "every seed draws its own swarm")
	for n := 1; n <= 5; n++ {
		require.Positive(t, replicas[n], "replica count %d never drawn", n)
	}
	require.Greater(t, replicas[3], replicas[1]+replicas[2], "3 replicas favoured")
	require.Greater(t, replicas[5], replicas[4], "5 replicas favoured over 4")
	require.Len(t, clients, ClientsMax, "every client count 1..%d drawn", ClientsMax)
}

// TestDrawSwarmKinds: over 500 seeds every kind is switched on at least once and off at
// least once, a kind that is off leaves its rates at zero, and with f = 0 no kind that
// needs redundancy is on.
func TestDrawSwarmKinds(t *testing.T) {
	on := map[Kind]int{}
	const seeds = 500
	for seed := uint64(0); seed < seeds; seed++ {
		s := drawSeed(seed)
		require.NoError(t, s.Validate(), "seed %d", seed)
		for _, k := range s.Kinds {
			on[k]++
			if s.F() == 0 {
				require.False(t, k.needsRedundancy(), "seed %d: %s with f=0", seed, k)
			}
			if needs := k.needs(); needs != "" {
				require.True(t, s.Enabled(needs), "seed %d: %s without %s", seed, k, needs)
			}
		}
		requireOffKindsInert(t, seed, s)
	}
	for _, k := range AllKinds() {
		require.Positive(t, on[k], "kind %s never switched on", k)
		require.Less(t, on[k], seeds, "kind %s always on", k)
	}
	t.Logf("kinds on per %d seeds: %v", seeds, on)
}

// requireOffKindsInert checks that every rate of a kind that is off is zero (and of a kind
// that is on, positive): a name is a promise both ways.
func requireOffKindsInert(t *testing.T, seed uint64, s Swarm) {
	t.Helper()
	n, d, m := s.Network, s.Disk, s.Nemesis
	clocks := func(f func(sim.ClockOptions) bool) bool { return slices.ContainsFunc(s.Clocks, f) }
	active := map[Kind]bool{
		NetworkLoss:       n.PacketLossProbability > 0,
		NetworkReplay:     n.PacketReplayProbability > 0,
		NetworkReorder:    n.PacketReorderProbability > 0,
		NetworkCorruption: n.PacketCorruptionProbability > 0,
		NetworkCapacity:   n.PathMaximumCapacity != sim.DefaultPathMaximumCapacity,
		NetworkClog:       n.PathClogProbability > 0 && m.ClogProbability > 0,
		NetworkPartition: n.PartitionMode != sim.PartitionNone && n.PartitionProbability > 0 &&
			m.PartitionProbability > 0 && m.HealProbability > 0,
		DiskLatency:             d.WriteLatencyMean != 800*sim.Microsecond || d.ReadLatencyMean != 300*sim.Microsecond,
		DiskReadCorruption:      d.ReadCorruptionProbability > 0,
		DiskWriteCorruption:     d.WriteCorruptionProbability > 0,
		DiskMisdirect:           d.WriteMisdirectProbability > 0,
		DiskLatentSectorError:   d.ReadFaultProbability > 0,
		DiskCrashTorn:           d.CrashTornProbability > 0,
		DiskCrashLost:           d.CrashLostProbability > 0,
		DiskSlow:                m.DiskSlowProbability > 0 && m.DiskFastProbability > 0,
		DiskCorruption:          m.DiskCorruptProbability > 0,
		DiskFull:                m.DiskFillProbability > 0 && m.DiskUnfillProbability > 0,
		ClockOffset:             clocks(func(c sim.ClockOptions) bool { return c.OffsetNs != 0 }),
		ClockDrift:              m.ClockDriftProbability > 0,
		ClockStep:               m.ClockStepProbability > 0 && m.ClockStepNsMax > 0,
		ClockPeriodic:           m.ClockPeriodicProbability > 0,
		NodeCrash:               m.ReplicaCrashProbability > 0 && m.ReplicaRestartProbability > 0,
		NodePause:               m.ReplicaPauseProbability > 0 && m.ReplicaUnpauseProbability > 0,
		NodeUpgrade:             m.ReplicaUpgradeProbability > 0,
		NetworkPrimaryIsolation: m.PrimaryIsolationProbability > 0,
		NetworkRingBridge:       m.RingBridgeProbability > 0,
		NodeCrashAtIO:           m.CrashAtIOProbability > 0,
		DiskCorrelated:          m.DiskCorrelatedProbability > 0,
		DiskWriteError:          d.WriteErrorProbability > 0,
		DiskSyncError:           d.SyncErrorProbability > 0,
		NodeKnobs:               s.Config != vsr.Config{},
		ClockPrimary:            m.ClockPrimaryProbability > 0 && m.ClockPrimaryNsMax > 0 && m.ClockPrimaryPPMMax > 0,
	}
	require.Len(t, active, len(AllKinds()))
	for _, k := range AllKinds() {
		require.Equal(t, s.Enabled(k), active[k], "seed %d: kind %s on=%t but rates say %t: %s",
			seed, k, s.Enabled(k), active[k], s)
	}
	if !s.Enabled(ClockDrift) {
		require.False(t, clocks(func(c sim.ClockOptions) bool { return c.DriftPPM != 0 }))
	}
	if !s.Enabled(ClockPeriodic) {
		require.False(t, clocks(func(c sim.ClockOptions) bool { return c.PeriodicErrorNs != 0 }))
	}
}

// TestDrawSwarmBounds: rates stay where a cluster can usually still make progress, clients'
// clocks are perfect and clients are exempt from random partitions.
func TestDrawSwarmBounds(t *testing.T) {
	for seed := uint64(0); seed < 500; seed++ {
		s := drawSeed(seed)
		require.LessOrEqual(t, s.Network.PacketLossProbability, PacketLossProbabilityMax)
		require.LessOrEqual(t, s.Network.PacketCorruptionProbability, 0.02)
		members := s.Replicas + s.Standbys
		require.LessOrEqual(t, s.Standbys, StandbysMax)
		require.Equal(t, members+s.Clients, s.Network.NodeCount)
		require.Len(t, s.Clocks, members+s.Clients)
		for i := 0; i < members+s.Clients; i++ {
			client := i >= members
			require.Equal(t, client, s.Network.PartitionExempt[i], "seed %d node %d", seed, i)
			if i >= s.Replicas {
				require.Zero(t, s.Clocks[i], "seed %d: standby or client clock not perfect", seed)
			}
		}
		require.LessOrEqual(t, s.Nemesis.ClockDriftPPMMax, int64(sim.DriftPPMMax))
		require.True(t, slices.IsSorted(s.Kinds))
	}
}

// TestSwarmString: one line of key=value pairs, sorted by key, naming every parameter.
func TestSwarmString(t *testing.T) {
	s := drawSeed(7)
	line := s.String()
	require.NotContains(t, line, "\n")
	pairs := strings.Split(line, " ")
	require.True(t, slices.IsSorted(pairs), "pairs sorted: %s", line)
	keys := map[string]bool{}
	for _, p := range pairs {
		key, value, ok := strings.Cut(p, "=")
		require.True(t, ok, "pair %q", p)
		require.NotEmpty(t, value, "pair %q", p)
		require.False(t, keys[key], "key %s twice", key)
		keys[key] = true
	}
	for _, key := range []string{"replicas", "clients", "kinds", "density", "net.delay", "net.loss",
		"net.replay", "net.reorder", "net.corrupt", "net.capacity", "net.clog", "net.partition",
		"disk.read_latency", "disk.write_latency", "disk.latent", "disk.read_corrupt",
		"disk.write_corrupt", "disk.misdirect", "disk.crash_lost", "disk.crash_torn",
		"disk.capacity", "nemesis.crash", "nemesis.crash_unsynced_wait", "nemesis.pause", "nemesis.partition", "nemesis.clog",
		"nemesis.clock_step", "nemesis.clock_drift", "nemesis.clock_periodic",
		"nemesis.disk_slow", "nemesis.disk_corrupt", "nemesis.disk_fill", "nemesis.primary_isolation",
		"nemesis.crash_at_io", "nemesis.disk_correlated", "nemesis.ring_bridge", "nemesis.clock_primary", "clock.0"} {
		require.True(t, keys[key], "parameter %s missing from %s", key, line)
	}
	require.True(t, keys["clock."+string(rune('0'+s.Replicas-1))], "a clock per replica")
}

// TestSwarmClusterOptions: the options build a real cluster, and the swarm's slices are
// copied, not shared.
func TestSwarmClusterOptions(t *testing.T) {
	s := drawSeed(3)
	o := s.ClusterOptions(3)
	require.Equal(t, s.Replicas, o.Replicas)
	require.Equal(t, s.Clients, o.Clients)
	require.NotZero(t, o.ClusterID)
	o.World.Clocks[0].OffsetNs++
	o.World.Network.PartitionExempt[0] = !o.World.Network.PartitionExempt[0]
	require.NotEqual(t, s.Clocks[0], o.World.Clocks[0])
	require.NotEqual(t, s.Network.PartitionExempt[0], o.World.Network.PartitionExempt[0])
	c := sim.NewCluster(s.ClusterOptions(3))
	c.RunFor(200 * sim.Millisecond)
	require.Equal(t, s.Replicas, c.ReplicaCount())
}

// TestNemesisOptionsValidate: bad rates are clear errors.
func TestNemesisOptionsValidate(t *testing.T) {
	require.NoError(t, NemesisOptions{}.Validate())
	require.ErrorContains(t, NemesisOptions{ReplicaCrashProbability: 1.5}.Validate(),
		"ReplicaCrashProbability")
	require.Error(t, NemesisOptions{ClogProbability: 0.1}.Validate())
	require.Error(t, NemesisOptions{ClockDriftPPMMax: sim.DriftPPMMax + 1}.Validate())
	require.Error(t, NemesisOptions{DiskSlowProbability: 0.1, DiskSlowMultiplierMax: 1}.Validate())
	s := drawSeed(1)
	s.Kinds = []Kind{"disk.nonsense"}
	require.ErrorContains(t, s.Validate(), "unknown fault kind")
}

// TestKinds: sorted, unique, described, and each in a known component.
func TestKinds(t *testing.T) {
	kinds := AllKinds()
	require.True(t, slices.IsSorted(kinds))
	require.Len(t, kinds, len(slices.Compact(slices.Clone(kinds))))
	for _, k := range kinds {
		require.NotEmpty(t, k.Description(), "%s", k)
		require.Contains(t, []string{"network", "disk", "clock", "node"}, k.Component(), "%s", k)
		require.True(t, k.Valid())
	}
	require.False(t, Kind("disk.nonsense").Valid())
}

// aimedParams are the parameters the aimed moves added to a swarm's line.
var aimedParams = []string{"nemesis.primary_isolation=", "nemesis.crash_at_io=", "nemesis.disk_correlated=",
	"nemesis.ring_bridge=", "nemesis.clock_primary=", "nemesis.disk_identity_loss=", "nemesis.upgrade_straggler=",
	"standbys=", "failover=", "reconfig=", "spare=", "nemesis.primary_behind=", "nemesis.synced_checkpoint_loss=", "nemesis.late_checkpoint_loss=",
	"disk.write_error=", "disk.sync_error=", "nemesis.first_prepare_crash=", "knobs="} // standbys, failovers, reconfiguration, the primary left behind and the first primary's crash came after the aimed moves and are drawn after them

// TestDrawSwarmKeepsEarlierSeeds: the aimed moves' kinds and rates are drawn after every
// earlier draw, so every seed keeps the parameters it drew before they existed. The golden
// file holds the lines of seeds 1-300 drawn by the code before them; today's lines, without
// the aimed parameters and kinds, must be the same.
func TestDrawSwarmKeepsEarlierSeeds(t *testing.T) {
	data, err := os.ReadFile("testdata/swarm_params_before_aimed.txt")
	require.NoError(t, err)
	aimed := map[string]bool{}
	for _, k := range append(lateKinds[1:], lastKinds...) {
		aimed[string(k)] = true
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 300)
	for _, line := range lines {
		seedText, want, _ := strings.Cut(line, " ")
		seed, err := strconv.ParseUint(seedText, 10, 64)
		require.NoError(t, err)
		var kept []string
		for _, p := range strings.Split(drawSeed(seed).String(), " ") {
			if slices.ContainsFunc(aimedParams, func(a string) bool { return strings.HasPrefix(p, a) }) {
				continue
			}
			if kinds, ok := strings.CutPrefix(p, "kinds="); ok {
				p = "kinds=" + strings.Join(slices.DeleteFunc(strings.Split(kinds, ","),
					func(k string) bool { return aimed[k] }), ",")
			}
			kept = append(kept, p)
		}
		require.Equal(t, want, strings.Join(kept, " "), "seed %d", seed)
	}
}

// TestDrawSwarmStandbys: seeds draw every topology from 0 to StandbysMax standbys, the
// standbys sit between the replicas and the clients, and NoStandbys drops them while
// keeping everything else the seed drew.
func TestDrawSwarmStandbys(t *testing.T) {
	seen := map[int]int{}
	for seed := uint64(1); seed <= 200; seed++ {
		s := drawSeed(seed)
		seen[s.Standbys]++
		none, err := DrawSwarmOverride(sim.Stream(seed, "swarm"), Override{NoStandbys: true})
		require.NoError(t, err)
		require.Zero(t, none.Standbys)
		require.Equal(t, s.Replicas, none.Replicas)
		require.Equal(t, s.Nemesis, none.Nemesis, "seed %d", seed)
		require.Equal(t, s.Clocks[:s.Replicas], none.Clocks[:none.Replicas])
		require.Equal(t, s.ClusterOptions(seed).Standbys, s.Standbys)
	}
	for n := 0; n <= StandbysMax; n++ {
		require.Greater(t, seen[n], 30, "topologies with %d standbys: %v", n, seen)
	}
}

// TestDrawFailoverReconfig: the draw from its own stream adds the reconfiguring nemesis (and
// a spare, with three replicas or more) to about half the seeds that fail over with two
// replicas or more, to no other seed, changes nothing else, and NoReconfig keeps it off.
func TestDrawFailoverReconfig(t *testing.T) {
	both, failovers := 0, 0
	for seed := uint64(1); seed <= 2000; seed++ {
		s := DrawSwarm(sim.Stream(seed, "swarm"))
		drawn := s
		drawn.DrawFailoverReconfig(sim.Stream(seed, "swarm/failover_reconfig"), Override{})
		if !s.Failover || s.Replicas < 2 {
			require.Equal(t, s.String(), drawn.String(), "seed %d", seed)
			continue
		}
		failovers++
		require.False(t, s.Reconfig, "seed %d: the swarm's own draw keeps failovers apart", seed)
		if drawn.Reconfig {
			both++
			require.False(t, drawn.Spare && drawn.Replicas < 3, "seed %d", seed)
			drawn.Reconfig, drawn.Spare = false, false
		}
		require.Equal(t, s.String(), drawn.String(), "seed %d: only the nemesis and the spare change", seed)
		none := s
		none.DrawFailoverReconfig(sim.Stream(seed, "swarm/failover_reconfig"), Override{NoReconfig: true})
		require.False(t, none.Reconfig, "seed %d", seed)
	}
	require.InDelta(t, 0.5, float64(both)/float64(failovers), 0.1, "%d of %d failover seeds", both, failovers)
}
