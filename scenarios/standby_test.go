package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// Standbys (runbook replicas 100 and up): they follow the log and execute it, but never vote,
// never count towards a quorum and never lead.

// votesFrom records the commands each replica sends to others, to hold standbys to silence.
func votesFrom(opts *sim.ClusterOptions, sent map[int]map[vsr.Command]int) {
	opts.OnReplicaSend = func(from, to int, msg []byte) {
		h, err := vsr.DecodeHeader(msg, 7)
		if err != nil {
			return
		}
		if sent[from] == nil {
			sent[from] = map[vsr.Command]int{}
		}
		sent[from][h.Command]++
	}
}

func TestStandbyFollowsTheLogAndNeverVotes(t *testing.T) {
	sent := map[int]map[vsr.Command]int{}
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 2, seed: 101,
		mutate: func(o *sim.ClusterOptions) { votesFrom(o, sent) }})
	tc.commitN(40, ticks)
	tc.converge(ticks)
	for _, s := range []int{3, 4} {
		in := tc.inspect(s)
		require.Equal(t, vsr.RoleStandby, in.Role)
		require.Equal(t, tc.inspect(0).Digest, in.Digest, "standby %d executed another state", s)
		require.GreaterOrEqual(t, in.CommitMin, uint64(40))
		require.True(t, in.StandbyEligible, "a standby that is caught up is eligible: %+v", in)
		for _, c := range []vsr.Command{vsr.CommandPrepareOK, vsr.CommandStartViewChange,
			vsr.CommandDoViewChange, vsr.CommandNackPrepare, vsr.CommandPing} {
			require.Zero(t, sent[s][c], "standby %d sent %s", s, c)
		}
	}
	require.NotZero(t, sent[1][vsr.CommandPrepareOK], "backups vote (the recorder works)")
	require.False(t, tc.inspect(0).StandbyEligible, "an active replica is never a standby")
	tc.requireNoFailures()
}

// Two standbys and one active replica alive out of three: no quorum, nothing commits.
func TestStandbyNeverCompletesAQuorum(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 2, seed: 102})
	tc.commitN(10, ticks)
	tc.converge(ticks)
	tc.CrashReplica(1)
	tc.CrashReplica(2)
	before := tc.inspect(0).CommitMax
	acked := tc.totalAcked()
	tc.load = true
	tc.RunFor(5 * sim.Second)
	tc.load = false
	require.Equal(t, before, tc.inspect(0).CommitMax, "the primary committed with standbys' help")
	require.Equal(t, acked, tc.totalAcked())
	require.LessOrEqual(t, tc.inspect(3).CommitMax, before)
	tc.StartReplica(1)
	tc.commitN(5, ticks)
	tc.requireNoFailures()
}

// The primary crashes: the active replicas elect another, and the standbys follow the new
// view without taking part in the election.
func TestStandbyFollowsAViewChange(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 1, seed: 103})
	tc.commitN(10, ticks)
	tc.CrashReplica(0)
	tc.commitN(20, ticks)
	require.Equal(t, 1, tc.primary())
	tc.StartReplica(0)
	tc.converge(ticks)
	in := tc.inspect(3)
	require.Equal(t, tc.inspect(1).View, in.View, "the standby follows the new view")
	require.Zero(t, in.Metrics.ViewChangesTotal, "a standby never starts a view change")
	tc.requireNoFailures()
}

// A standby cut off from the cluster falls behind by more than the runbook's 1000 ms and is
// ineligible for promotion; once the network heals it catches up and is eligible again.
func TestStandbyLagMakesItIneligible(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 1, seed: 104})
	tc.commitN(10, ticks)
	tc.converge(ticks)
	require.True(t, tc.inspect(3).StandbyEligible)
	tc.Network.Isolate(3)
	tc.commitN(30, ticks)
	tc.RunFor(2 * sim.Second)
	in := tc.inspect(3)
	require.False(t, in.StandbyEligible, "a standby 2 s behind is eligible: %+v", in)
	require.Greater(t, in.StandbyLagNs, int64(vsr.StandbyLagMaxNs))
	tc.Network.Heal()
	tc.converge(ticks)
	tc.RunFor(sim.Second)
	in = tc.inspect(3)
	require.True(t, in.StandbyEligible, "caught up, the standby is eligible again: %+v", in)
	require.Zero(t, in.StandbyLagOps)
	tc.requireNoFailures()
}

// A standby restarted after a crash recovers from its disk and catches up.
func TestStandbyRestartCatchesUp(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 1, seed: 105})
	tc.commitN(10, ticks)
	tc.CrashReplica(3)
	tc.commitN(100, ticks)
	tc.StartReplica(3)
	tc.converge(ticks)
	require.Equal(t, vsr.RoleStandby, tc.inspect(3).Role)
	tc.requireNoFailures()
}

// staleRead has client 0 read key from standby and runs until the answer.
func (tc *testCluster) staleRead(standby int, key string) client.Result {
	tc.t.Helper()
	var got *client.Result
	ok := tc.Client(0).ReadStale(standby, kv.EncodeOp(kv.Op{Kind: kv.KindGet, Key: key}), func(r client.Result) { got = &r })
	require.True(tc.t, ok, "client busy")
	require.True(tc.t, tc.RunUntil(func() bool { return got != nil }, ticks))
	return *got
}

// A standby serves reads from its executed state, naming the op it read at; an active
// replica refuses them (they would bypass the log).
func TestStandbyServesStaleReads(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 1, seed: 106})
	tc.commitN(20, ticks)
	tc.converge(ticks)
	want, present := tc.Replica(0).Get("k3")
	require.True(t, present)
	r := tc.staleRead(3, "k3")
	require.Equal(t, client.OK, r.Outcome)
	require.Equal(t, tc.inspect(3).CommitMin, r.Op, "a converged standby reads at its commit")
	res, err := kv.DecodeResult(r.Reply)
	require.NoError(t, err)
	require.Equal(t, kv.Result{Status: kv.StatusOK, Value: want}, res)
	require.Equal(t, uint64(1), tc.inspect(3).Metrics.StaleReads)

	r = tc.staleRead(0, "k3")
	require.Equal(t, client.Indeterminate, r.Outcome, "the primary served a stale read")
	require.Zero(t, tc.inspect(0).Metrics.StaleReads)
	tc.requireNoFailures()
}

// standby throttle --max-qps: reads over the limit within a second are dropped.
func TestStandbyThrottleDropsReadsOverTheLimit(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 1, clients: 4, seed: 107})
	tc.commitN(10, ticks)
	tc.converge(ticks)
	require.Error(t, tc.Replica(0).ThrottleReads(1), "an active replica has no reads to throttle")
	require.NoError(t, tc.Replica(3).ThrottleReads(2))
	answered := 0
	for i := 0; i < 4; i++ {
		tc.Client(i).ReadStale(3, kv.EncodeOp(kv.Op{Kind: kv.KindGet, Key: "k1"}), func(r client.Result) {
			if r.Outcome == client.OK {
				answered++
			}
		})
	}
	tc.RunFor(200 * sim.Millisecond) // well within the one-second window, before any retry
	require.Equal(t, 2, answered)
	require.Equal(t, uint64(2), tc.inspect(3).Metrics.StaleReadsDropped)
	tc.requireNoFailures()
}

// Monotonic reads: a standby restarted from its checkpoint is behind what it served before;
// it serves a client nothing older than that client's previous read there (the client sends
// its floor), so the next read waits until the standby has caught up.
func TestStandbyReadsNeverGoBackAcrossARestart(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, standbys: 1, seed: 109})
	tc.commitN(40, ticks)
	tc.converge(ticks)
	first := tc.staleRead(3, "k1")
	require.Equal(t, client.OK, first.Outcome)
	require.Greater(t, first.Op, uint64(vsr.CheckpointInterval/2))
	tc.CrashReplica(3)
	tc.StartReplica(3)
	require.True(t, tc.RunUntil(func() bool { return tc.inspect(3).Status == vsr.StatusNormal }, ticks))
	second := tc.staleRead(3, "k1")
	require.Equal(t, client.OK, second.Outcome)
	require.GreaterOrEqual(t, second.Op, first.Op, "a read went back across the standby's restart")
	tc.requireNoFailures()
}
