package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/faults"
)

// SwarmFaultTicks is the fault phase runSwarmWith runs: overriding the phase with its own
// length changes nothing, and another length changes the run.
func TestSwarmFaultTicksIsTheRunsPhase(t *testing.T) {
	for _, o := range []Options{{Seed: 3, TicksMax: 400}, {Seed: 4}} {
		r := runSwarm(o)
		same := o
		same.SwarmOverride.FaultTicks = SwarmFaultTicks(o)
		require.Equal(t, r.TraceHash, runSwarm(same).TraceHash, "%+v", o)
		other := o
		other.SwarmOverride.FaultTicks = SwarmFaultTicks(o) / 3
		require.NotEqual(t, r.TraceHash, runSwarm(other).TraceHash, "%+v", o)
	}
	require.Equal(t, 3000, SwarmFaultTicks(Options{}))
	require.Equal(t, 200, SwarmFaultTicks(Options{TicksMax: 401}))
}

// A run under an override runs the swarm it prints, deterministically.
func TestSwarmOverrideRunsWhatItSays(t *testing.T) {
	const seed = 5
	kinds := drawSwarm(seed).Kinds
	require.NotEmpty(t, kinds)
	v := SwarmOverride{Without: kinds, Clients: 1, FaultTicks: 100}
	o := Options{Seed: seed, TicksMax: 600, SwarmOverride: v}
	r := runSwarm(o)
	want, err := SwarmDraw(seed, v)
	require.NoError(t, err)
	require.Equal(t, want.String(), r.Params)
	require.Contains(t, r.Params, "kinds= ")
	require.Contains(t, r.Params, "clients=1 ")
	params, err := SwarmParams(seed, v)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(params, "override=["+v.Flags()+"] "), params)
	for name, n := range r.Counters {
		if strings.HasPrefix(name, "nemesis.") {
			require.Zero(t, n, "%s: every kind is off", name)
		}
	}
	require.Nil(t, CheckDeterminism(runSwarm, Options{Seed: seed, TicksMax: 600, SwarmOverride: v}))
	require.NotEqual(t, runSwarm(Options{Seed: seed, TicksMax: 600}).TraceHash, r.TraceHash)

	_, err = SwarmDraw(seed, SwarmOverride{Without: []faults.Kind{"nope"}})
	require.ErrorContains(t, err, "unknown fault kind")
	_, err = SwarmDraw(seed, SwarmOverride{FaultTicks: -1})
	require.Error(t, err)
	require.Equal(t, "--without clock.drift,network.loss --replicas 3 --clients 2 --fault-ticks 7",
		SwarmOverride{Without: []faults.Kind{"clock.drift", "network.loss"}, Replicas: 3, Clients: 2, FaultTicks: 7}.Flags())
	require.Equal(t, []faults.Kind{"a", "b", "c"}, SwarmOverride{Without: []faults.Kind{"c", "a"}}.without("b", "a").Without)
}

func TestFailureSignature(t *testing.T) {
	cases := []struct {
		outcome Outcome
		reason  string
		want    string
	}{
		{Pass, "", "pass"},
		{Correctness, "invariant acked_survive violated: replica 3, op 1008, view 3, at 22.656s (tick 2265): normal primary of view 3 ...",
			"correctness: invariant acked_survive violated"},
		{Correctness, "replica 3 fail-stopped at 19.982s (assertion=true): truncating committed ops",
			"correctness: fail-stopped (assertion=true): truncating committed ops"},
		{Correctness, "replica 0 fail-stopped at 1.5s (assertion=false): runtime error: index out of range [5] with length 3",
			"correctness: fail-stopped (assertion=false): runtime error: index out of range [N] with length N"},
		{Correctness, "durability: replica 2 acknowledged op 1 (prepare f00cb81cc479266e) at 172.570ms, but ...",
			"correctness: durability"},
		{Liveness, "no convergence within 3000 ticks after heal (progressed=false): [R0 view_change backup v26 ...]",
			"liveness: no convergence within N ticks after heal (progressed=false)"},
		{Liveness, "P1 alert ReplicasUnhealthy (replicas_unhealthy > 0) firing at 40s, at least 5s after ...: [R0 ...]",
			"liveness: alert ReplicasUnhealthy"},
		{Liveness, "alert in a swarm without faults: P1 QuorumLost at 3s: [R0 ...]",
			"liveness: alert in a swarm without faults"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, FailureSignature(Result{Outcome: c.outcome, Reason: c.reason}), c.reason)
	}
	// The same assertion in another replica at another time is the same failure.
	require.Equal(t,
		FailureSignature(Result{Outcome: Correctness, Reason: "replica 1 fail-stopped at 2s (assertion=true): commit_number <= op_number"}),
		FailureSignature(Result{Outcome: Correctness, Reason: "replica 4 fail-stopped at 9.1s (assertion=true): commit_number <= op_number"}))
}

// fakeBug is a stand-in for the swarm with a planted bug, so that the search's logic is
// tested on a known answer: it fails (a violation whose numbers change with the
// configuration) iff network.partition is on, the fault phase is at least 700 ticks and
// there are at least 2 clients; with one client it fails differently (liveness).
func fakeBug(o Options) Result {
	s, err := SwarmDraw(o.Seed, o.SwarmOverride)
	if err != nil {
		panic(err)
	}
	r := Result{Scenario: "swarm", Seed: o.Seed, Params: s.String()}
	switch {
	case !s.Enabled(faults.NetworkPartition) || SwarmFaultTicks(o) < 700:
	case s.Clients < 2:
		r.Outcome, r.Reason = Liveness, "no convergence within 9 ticks after heal (progressed=false): ..."
	default:
		r.Outcome = Correctness
		r.Reason = fmt.Sprintf("invariant single_primary violated: replica %d, op %d, view 1, at 1s (tick 100): two primaries",
			s.Clients%s.Replicas, len(s.Kinds))
	}
	return r
}

// fakeSeed is a seed whose swarm has network.partition on among several kinds, 3+ replicas
// and 3+ clients.
func fakeSeed(t *testing.T) uint64 {
	for seed := uint64(1); seed < 1000; seed++ {
		s := drawSwarm(seed)
		if s.Enabled(faults.NetworkPartition) && len(s.Kinds) >= 4 && s.Replicas >= 3 && s.Clients >= 3 {
			return seed
		}
	}
	t.Fatal("no seed for the fake bug")
	return 0
}

func TestShrinkFindsTheKnownAnswer(t *testing.T) {
	seed := fakeSeed(t)
	var attempts []ShrinkAttempt
	out, err := Shrink(fakeBug, Options{Seed: seed}, ShrinkLimits{Attempts: 200},
		func(a ShrinkAttempt) { attempts = append(attempts, a) })
	require.NoError(t, err)
	require.Equal(t, Correctness, out.Seed.Outcome)
	require.Equal(t, "correctness: invariant single_primary violated", out.Signature)
	require.Empty(t, out.Bound)
	require.Equal(t, []faults.Kind{faults.NetworkPartition}, out.After.Kinds)
	require.Equal(t, ShrinkShape{Kinds: out.After.Kinds, FaultTicks: 700, Clients: 2, Replicas: 1}, out.After)
	require.Equal(t, drawSwarm(seed).Kinds, out.Before.Kinds)
	require.Equal(t, 3000, out.Before.FaultTicks)
	// The result is the last kept run, and the override replays it.
	require.Equal(t, fakeBug(Options{Seed: seed, SwarmOverride: out.Override}), out.Result)
	require.Len(t, attempts, out.Attempts)
	for i, a := range attempts {
		require.Equal(t, i+1, a.N)
		require.Equal(t, a.Kept, a.Result.Outcome != Pass && FailureSignature(a.Result) == out.Signature, a.Tried)
	}
	require.Equal(t, attempts[len(attempts)-1].Round, 2, "round 2 keeps nothing, so the search ends")
}

func TestShrinkBounds(t *testing.T) {
	seed := fakeSeed(t)
	out, err := Shrink(fakeBug, Options{Seed: seed}, ShrinkLimits{Attempts: 3}, nil)
	require.NoError(t, err)
	require.Equal(t, 3, out.Attempts)
	require.Equal(t, "attempt limit (3 runs) reached", out.Bound)
	require.Equal(t, out.Signature, FailureSignature(fakeBug(Options{Seed: seed, SwarmOverride: out.Override})))

	asked := 0
	stop := func() bool { asked++; return asked > 1 }
	out, err = Shrink(fakeBug, Options{Seed: seed}, ShrinkLimits{Attempts: 200, Stop: stop}, nil)
	require.NoError(t, err)
	require.Equal(t, 1, out.Attempts)
	require.Equal(t, "wall-time budget spent", out.Bound)
}

func TestShrinkPassingSeedRunsOnce(t *testing.T) {
	runs := 0
	pass := func(o Options) Result { runs++; return Result{Seed: o.Seed} }
	out, err := Shrink(pass, Options{Seed: 1}, ShrinkLimits{Attempts: 200}, nil)
	require.NoError(t, err)
	require.Equal(t, Pass, out.Seed.Outcome)
	require.Zero(t, out.Attempts)
	require.Equal(t, 1, runs)
	_, err = Shrink(pass, Options{Seed: 1, SwarmOverride: SwarmOverride{Without: []faults.Kind{"nope"}}}, ShrinkLimits{}, nil)
	require.Error(t, err)
}
