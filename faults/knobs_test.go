package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// TestDrawKnobs: node.knobs gives the replicas settings the protocol allows, different from
// the defaults in every field over a few hundred seeds (batches of one request among them),
// and the cluster the swarm builds runs them; a seed without the kind runs the defaults.
func TestDrawKnobs(t *testing.T) {
	def := vsr.DefaultConfig()
	var with, without int
	differs := map[string]bool{}
	for seed := uint64(1); seed <= 400; seed++ {
		s := drawSeed(seed)
		opts := s.ClusterOptions(seed)
		if !s.Enabled(NodeKnobs) {
			without++
			require.Equal(t, vsr.Config{}, s.Config, "seed %d", seed)
			require.Equal(t, vsr.Config{}, opts.Config, "seed %d: the cluster's defaults", seed)
			continue
		}
		with++
		c := s.Config
		require.NoError(t, c.Validate(), "seed %d", seed)
		require.Equal(t, c, opts.Config, "seed %d", seed)
		require.Contains(t, s.String(), "knobs=batch", "seed %d", seed)
		for name, changed := range map[string]bool{
			"batch1": c.BatchMax == 1, "heartbeat": c.HeartbeatTicks != def.HeartbeatTicks,
			"election": c.ElectionTimeoutTicks != def.ElectionTimeoutTicks, "ping": c.PingTicks != def.PingTicks,
			"repair": c.RepairTicks != def.RepairTicks, "resend": c.PrepareResendTicks != def.PrepareResendTicks,
			"vc_resend":  c.ViewChangeResendTicks != def.ViewChangeResendTicks,
			"vc_timeout": c.ViewChangeTimeoutTicks != def.ViewChangeTimeoutTicks,
		} {
			differs[name] = differs[name] || changed
		}
	}
	require.Greater(t, with, 50)
	require.Greater(t, without, 50)
	for _, name := range []string{"batch1", "heartbeat", "election", "ping", "repair", "resend", "vc_resend", "vc_timeout"} {
		require.True(t, differs[name], "no seed changed %s", name)
	}
	s := drawSeed(1)
	s.Config = vsr.DefaultConfig()
	require.Error(t, s.Validate(), "settings without the kind")
}
