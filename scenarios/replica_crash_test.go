package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReplicaCrashRegistered(t *testing.T) {
	s, ok := Lookup("replica_crash")
	require.True(t, ok)
	require.Equal(t, "Scenario 1: Replica Crash", s.Runbook)
	require.Equal(t, drawReplicaCrash(5).String(), s.Params(5))
}

// TestReplicaCrashSeeds runs the scenario on a handful of seeds; between them they cover
// both victims, both cluster sizes, option B and option C.
func TestReplicaCrashSeeds(t *testing.T) {
	s, _ := Lookup("replica_crash")
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 10; seed++ {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		p := drawReplicaCrash(seed)
		if p.VictimPrimary {
			seen["victim=primary"] = true
		} else {
			seen["victim=backup"] = true
		}
		if p.OptionB {
			seen["optionB"] = true
		}
		if p.OptionC {
			seen["optionC"] = true
			require.Equal(t, uint64(1), r.Counters["resolution.option_c"], "seed %d", seed)
		}
		if p.Replicas == 5 {
			seen["5 replicas"] = true
		}
		require.Positive(t, r.Counters["fault.replica_crash"])
		require.Positive(t, r.Counters["fault.crash_with_unsynced_writes"], "seed %d", seed)
	}
	require.True(t, seen["victim=primary"] && seen["victim=backup"] && seen["optionB"] && seen["optionC"] &&
		seen["5 replicas"], "%v", seen)
}

func TestReplicaCrashDeterministic(t *testing.T) {
	a := runReplicaCrash(Options{Seed: 2}, replicaCrashKnobs{})
	b := runReplicaCrash(Options{Seed: 2}, replicaCrashKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestReplicaCrashNotVacuous: the fault was injected (crashes, unsynced writes torn or lost
// across the seeds, the corruption in option B), the alert fired, option B's verify found
// problems and the restore ran; and with the restart step skipped the run is a liveness
// failure.
func TestReplicaCrashNotVacuous(t *testing.T) {
	var tornOrLost uint64
	for seed := uint64(1); seed <= 6; seed++ {
		r := runReplicaCrash(Options{Seed: seed}, replicaCrashKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Positive(t, r.Counters["fault.replica_crash"])
		require.Positive(t, r.Counters["alert."+AlertReplicasUnhealthy])
		require.Positive(t, r.Counters["requests_acked_while_down"])
		tornOrLost += r.Counters["fault.crash_torn_writes"] + r.Counters["fault.crash_lost_writes"]
		if drawReplicaCrash(seed).OptionC {
			continue // TestReplicaCrashOptionCNotVacuous
		}
		require.Positive(t, r.Counters["status.recovering_seen"])
		if drawReplicaCrash(seed).OptionB {
			require.Equal(t, uint64(2), r.Counters["fault.replica_crash"])
			require.Equal(t, uint64(1), r.Counters["fault.corrupt_sector"])
			require.Positive(t, r.Counters["verify.problems"])
			require.Equal(t, uint64(1), r.Counters["restores"])
		}

		skipped := runReplicaCrash(Options{Seed: seed}, replicaCrashKnobs{skipRestart: true})
		require.Equal(t, Liveness, skipped.Outcome, "seed %d without the restart: %s", seed, skipped.Reason)
		require.Positive(t, skipped.Counters["alert."+AlertReplicasUnhealthy])
	}
	require.Positive(t, tornOrLost, "no unsynced write was torn or lost at any crash")
}

// Option C (remove, replace the hardware, add back) is not vacuous: both changes commit, the
// new disk is formatted and the replica caught up by state sync; without the reconfiguration
// (the hardware stays dead) or without the add-replica (the new disk waits outside the
// configuration) the cluster never converges.
func TestReplicaCrashOptionCNotVacuous(t *testing.T) {
	var syncs uint64
	for _, seed := range []uint64{1, 5} { // seed 1 draws option A+B, seed 5 option C
		r := runReplicaCrash(Options{Seed: seed}, replicaCrashKnobs{forceOptionC: true})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["resolution.option_c"])
		require.Equal(t, uint64(1), r.Counters["reconfig.remove_replica"])
		require.Equal(t, uint64(1), r.Counters["hardware.replaced"])
		require.Equal(t, uint64(1), r.Counters["reconfig.add_replica"])
		require.Equal(t, uint64(2), r.Counters["reconfig.epoch"])
		require.Equal(t, uint64(1), r.Counters["invariants.wipes_declared"])
		require.Positive(t, r.Counters["rejoin.commit"])
		require.Zero(t, r.Counters["status.recovering_seen"], "option C never restarts the old hardware")
		syncs += r.Counters["rejoin.state_syncs"]

		for _, knobs := range []replicaCrashKnobs{{forceOptionC: true, skipReconfig: true}, {forceOptionC: true, skipAdd: true}} {
			skipped := runReplicaCrash(Options{Seed: seed}, knobs)
			require.Equal(t, Liveness, skipped.Outcome, "seed %d %+v: %s", seed, knobs, skipped.Reason)
			require.Contains(t, skipped.Reason, "no convergence after option C")
			require.Zero(t, skipped.Counters["resolution.option_c"])
		}
	}
	require.Positive(t, syncs, "no replica added back state-synced")
}
