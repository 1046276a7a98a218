package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// setElectionTimeout gives the running replicas that pick chooses an election timeout of
// ticks, behind the operator's back: the knob of the tests below.
func setElectionTimeout(c *sim.Cluster, pick func(int) bool, ticks int) {
	active, _ := c.Members()
	for _, i := range active {
		if rep := c.Replica(i); rep != nil && pick(i) {
			cfg := rep.Config()
			cfg.ElectionTimeoutTicks = ticks
			if err := rep.SetConfig(cfg); err != nil {
				panic(err)
			}
		}
	}
}

// Part (a) has teeth: backups whose timers keep the boot timeout after the operator raised
// it (the knob) start a view change during the primary's stop, and the run fails as a
// liveness failure naming the setting.
func TestSwarmConfigRoundFailsOnARaiseNotInForce(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.config.round", 40)
	boot := func(c *sim.Cluster, raised bool) {
		if raised {
			p := c.Primary()
			setElectionTimeout(c, func(i int) bool { return i != p }, vsr.DefaultConfig().ElectionTimeoutTicks)
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterConfigSet: boot})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "started a view change")
	require.Contains(t, r.Reason, "with election-timeout-ms raised from 500")
	require.Contains(t, r.Reason, "not in force")
}

// Part (b) has teeth: replicas that keep the raised timeout after the operator set it back
// (the knob) do not notice the primary's stop in time, and the run fails.
func TestSwarmConfigRoundFailsOnARestoreNotInForce(t *testing.T) {
	seed := seedReaching(t, "coverage.mark.config.round", 40)
	raised := func(c *sim.Cluster, raised bool) {
		if !raised {
			setElectionTimeout(c, func(int) bool { return true }, 300)
		}
	}
	r := runSwarmWith(Options{Seed: seed}, swarmKnobs{afterConfigSet: raised})
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "no backup started a view change")
	require.Contains(t, r.Reason, "not in force")
}
