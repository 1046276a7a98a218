package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAssertionFailureRegistered(t *testing.T) {
	s, ok := Lookup("assertion_failure")
	require.True(t, ok)
	require.Equal(t, "Scenario 5: Assertion Failure", s.Runbook)
	require.Equal(t, drawAssertionFailure(5).String(), s.Params(5))
}

// TestAssertionFailureSeeds runs the scenario on a handful of seeds; each must pass with the
// injected fail-stop recorded, the P0 alert fired, writes continuing, the removal, a restore
// and a rejoin by add-replica.
func TestAssertionFailureSeeds(t *testing.T) {
	s, _ := Lookup("assertion_failure")
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 5; seed++ {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.injected_assertion"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["node.fail_stops"], "seed %d", seed)
		require.Positive(t, r.Counters["alert."+AlertAssertionFailure], "seed %d", seed)
		require.Positive(t, r.Counters["requests_acked_while_down"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["restores"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["reconfig.remove_replica"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["removed.stopped_on_restart"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["reconfig.add_replica"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["resolution.removed_and_added"], "seed %d", seed)
		// debug dump-state before the fault carried the replica's own numbers; after it the
		// node alone. Isolation and the online export of the dead process answered
		// unreachable; the export was taken offline.
		require.Positive(t, r.Counters["dump_state.op"], "seed %d", seed)
		require.Positive(t, r.Counters["dump_state.bytes"], "seed %d", seed)
		require.GreaterOrEqual(t, r.Counters["dump_state.op"], r.Counters["dump_state.commit"], "seed %d", seed)
		require.GreaterOrEqual(t, r.Counters["dump_state.commit"], r.Counters["dump_state.commit_min"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["dump_state.after_fault_unreachable"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["isolate.unreachable"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["export.online_unreachable"], "seed %d", seed)
		require.Positive(t, r.Counters["export.offline_bytes"], "seed %d", seed)
		p := drawAssertionFailure(seed)
		if p.VictimPrimary {
			seen["victim=primary"] = true
		} else {
			seen["victim=backup"] = true
		}
	}
	require.True(t, seen["victim=primary"] && seen["victim=backup"], "%v", seen)
}

func TestAssertionFailureDeterministic(t *testing.T) {
	a := runAssertionFailure(Options{Seed: 2}, assertionFailureKnobs{})
	b := runAssertionFailure(Options{Seed: 2}, assertionFailureKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestAssertionFailureNotVacuous: an assertion failure the injection does not explain (a
// different message, on another replica) is a correctness failure even though the injected
// one is expected; and without the injection the P0 alert never fires.
func TestAssertionFailureNotVacuous(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		r := runAssertionFailure(Options{Seed: seed}, assertionFailureKnobs{foreign: "commit_min <= commit_number"})
		require.Equal(t, Correctness, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Contains(t, r.Reason, "not explained by the injected fault")
		require.Contains(t, r.Reason, "commit_min <= commit_number")
		require.Equal(t, uint64(1), r.Counters["fault.injected_assertion"])
		require.Equal(t, uint64(2), r.Counters["node.fail_stops"])

		// The injected message itself, raised a second time, is not explained either.
		r = runAssertionFailure(Options{Seed: seed}, assertionFailureKnobs{foreign: injectedMessage})
		require.Equal(t, Correctness, r.Outcome, "seed %d: %s", seed, r.Reason)

		clean := runAssertionFailure(Options{Seed: seed}, assertionFailureKnobs{skipInjection: true})
		require.Equal(t, Pass, clean.Outcome, "seed %d without injection: %s", seed, clean.Reason)
		require.Zero(t, clean.Counters["alert."+AlertAssertionFailure])
		require.Zero(t, clean.Counters["node.fail_stops"])
		require.Positive(t, clean.Counters["dump_state.op"], "the dump is taken before the fault")
		require.Zero(t, clean.Counters["isolate.unreachable"]+clean.Counters["export.offline_bytes"])
	}
}

// The runbook's "remove replica from cluster" step is not vacuous: the replica is removed
// (epoch 1), restarted on its restored disk it stops as removed, and added back on a new
// disk (epoch 2) it state-syncs. Without the removal the restored replica takes part again
// as it was, which the scenario flags; without the add-replica the cluster never converges.
func TestAssertionFailureRemoveReplicaNotVacuous(t *testing.T) {
	var syncs uint64
	for seed := uint64(1); seed <= 2; seed++ {
		r := runAssertionFailure(Options{Seed: seed}, assertionFailureKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(2), r.Counters["reconfig.epoch"])
		require.Equal(t, uint64(1), r.Counters["hardware.replaced"])
		require.GreaterOrEqual(t, r.Counters["invariants.wipes_declared"], uint64(2), "the restore and the new disk")
		require.Positive(t, r.Counters["rejoin.commit"])
		syncs += r.Counters["rejoin.state_syncs"]

		kept := runAssertionFailure(Options{Seed: seed}, assertionFailureKnobs{skipRemove: true})
		require.Equal(t, Correctness, kept.Outcome, "seed %d without remove-replica: %s", seed, kept.Reason)
		require.Contains(t, kept.Reason, "want stopped as removed")

		notAdded := runAssertionFailure(Options{Seed: seed}, assertionFailureKnobs{skipAdd: true})
		require.Equal(t, Liveness, notAdded.Outcome, "seed %d without add-replica: %s", seed, notAdded.Reason)
		require.Contains(t, notAdded.Reason, "no convergence")
		require.Zero(t, notAdded.Counters["resolution.removed_and_added"])
	}
	require.Positive(t, syncs, "no replica added back state-synced")
}
