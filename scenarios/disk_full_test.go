package scenarios

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDiskFullRegistered(t *testing.T) {
	s, ok := Lookup("disk_full")
	require.True(t, ok)
	require.Equal(t, "Scenario 6: Disk Full", s.Runbook)
	require.Equal(t, drawDiskFull(5).String(), s.Params(5))
}

// diskFullPassingSeeds cover a primary and a backup victim, 3 and 5 replicas, and the
// all-replicas episode (options A and B).
var diskFullPassingSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

func TestDiskFullSeeds(t *testing.T) {
	s, _ := Lookup("disk_full")
	seen := map[string]bool{}
	for _, seed := range diskFullPassingSeeds {
		r := s.Run(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		p := drawDiskFull(seed)
		seen["primary"] = seen["primary"] || p.VictimPrimary
		seen["backup"] = seen["backup"] || !p.VictimPrimary
		seen["all"] = seen["all"] || p.AllReplicas
		seen["5 replicas"] = seen["5 replicas"] || p.Replicas == 5
		require.Zero(t, r.Counters["node.fail_stops"])
		if p.AllReplicas {
			seen["operator compact"] = seen["operator compact"] || p.OperatorCompact
			seen["auto compaction"] = seen["auto compaction"] || !p.OperatorCompact
			if p.OperatorCompact {
				require.Equal(t, uint64(1), r.Counters["resolution.operator_compact"], "seed %d", seed)
				require.Zero(t, r.Counters["resolution.auto_compaction"], "seed %d", seed)
				require.Positive(t, r.Counters["operator_compact.freed_bytes"], "seed %d", seed)
				require.Less(t, r.Counters["operator_compact.max_usage_pct_after"], uint64(85), "seed %d", seed)
			} else {
				require.Equal(t, uint64(1), r.Counters["resolution.auto_compaction"], "seed %d", seed)
				require.Zero(t, r.Counters["resolution.operator_compact"], "seed %d", seed)
			}
			require.Equal(t, uint64(1), r.Counters["resolution.grow_all"], "seed %d", seed)
		} else {
			require.False(t, p.OperatorCompact, "seed %d", seed)
		}
	}
	require.True(t, seen["primary"] && seen["backup"] && seen["all"] && seen["5 replicas"] &&
		seen["operator compact"] && seen["auto compaction"], "%v", seen)
}

// TestDiskFullParamsStable: OperatorCompact is drawn after every other parameter, and
// RestartWhileFull from its own stream, so the seeds drawn before them keep theirs (these
// are the strings printed before either existed).
func TestDiskFullParamsStable(t *testing.T) {
	for _, c := range []struct {
		seed   uint64
		before string
	}{
		{1, "all_replicas=true clients=3 fill_tick=9 hold_ticks=315 net.delay=4.000ms replicas=3 slack=2048 victim=primary"},
		{2, "all_replicas=true clients=3 fill_tick=1 hold_ticks=238 net.delay=2.000ms replicas=5 slack=2048 victim=primary"},
		{10, "all_replicas=true clients=1 fill_tick=5 hold_ticks=399 net.delay=2.000ms replicas=3 slack=4096 victim=backup"},
	} {
		p := drawDiskFull(c.seed)
		now := strings.Replace(p.String(), fmt.Sprintf(" operator_compact=%t", p.OperatorCompact), "", 1)
		now = strings.Replace(now, fmt.Sprintf(" restart_while_full=%t", p.RestartWhileFull), "", 1)
		require.Equal(t, c.before, now, "seed %d", c.seed)
	}
	require.Contains(t, drawDiskFull(1).String(), "operator_compact=true")
	require.Contains(t, drawDiskFull(2).String(), "operator_compact=false")
}

func TestDiskFullDeterministic(t *testing.T) {
	a := runDiskFull(Options{Seed: 1}, diskFullKnobs{})
	b := runDiskFull(Options{Seed: 1}, diskFullKnobs{})
	require.Equal(t, a.TraceHash, b.TraceHash)
	require.Equal(t, a.Counters, b.Counters)
}

// TestDiskFullNotVacuous: the fill happened, the replica reported its disk full, the
// 80/90/95 alerts fired (P3/P1/P0), a full backup did not stop the cluster; and without the
// resolution (the disk never grown) writes do not resume on the full replica: Liveness.
// With a full primary no write is acknowledged at all until the disk grows.
func TestDiskFullNotVacuous(t *testing.T) {
	for _, seed := range []uint64{8, 12} { // no restart: the full victim runs throughout
		require.False(t, drawDiskFull(seed).RestartWhileFull)
		r := runDiskFull(Options{Seed: seed}, diskFullKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d: %s", seed, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.disk_fill"])
		require.Equal(t, uint64(1), r.Counters["status.disk_full_seen"])
		require.Positive(t, r.Counters["coverage.path.disk_full"])
		for _, rule := range []string{AlertDiskUsage80, AlertDiskUsage90, AlertDiskUsage95} {
			require.Positive(t, r.Counters["alert."+rule], "seed %d %s", seed, rule)
		}
		if drawDiskFull(seed).VictimPrimary {
			require.Positive(t, r.Counters["replica.disk_full_rejects"], "seed %d", seed)
		} else {
			require.Positive(t, r.Counters["requests_acked_while_full"], "seed %d", seed)
		}
		require.Equal(t, uint64(1), r.Counters["resolution.grow"])
	}
	// Primary victims: a full primary blocks every write until the resolution (a full
	// backup does not: the others are a quorum).
	for _, seed := range []uint64{2, 8} {
		require.True(t, drawDiskFull(seed).VictimPrimary && !drawDiskFull(seed).RestartWhileFull)
		skipped := runDiskFull(Options{Seed: seed}, diskFullKnobs{skipResolution: true})
		require.Equal(t, Liveness, skipped.Outcome, "seed %d without the resolution: %s", seed, skipped.Reason)
		require.Contains(t, skipped.Reason, "writes did not resume")
		require.Positive(t, skipped.Counters["alert."+AlertDiskUsage95])
	}
}

// TestDiskFullBackupAfterStateSync: seed 9 fills a backup that then state-syncs a peer's
// checkpoint which does not fit; the retry used to fail-stop ("checkpoint without the header
// of its op") because the synced op's header was not kept. A full disk must not crash it.
// Seed 9 draws a restart while full (RestartWhileFull), which takes another path: the knob
// keeps the one of this test.
func TestDiskFullBackupAfterStateSync(t *testing.T) {
	require.True(t, drawDiskFull(9).RestartWhileFull)
	r := runDiskFull(Options{Seed: 9}, diskFullKnobs{noRestart: true})
	require.Equal(t, Pass, r.Outcome, "seed 9 (%s): %s", r.Params, r.Reason)
}

// TestDiskFullRestartWhileFull: in the seeds that draw it, the victim crashes with a write
// unsynced right after its disk fills, and restarts on the full disk; its recovery's writes
// meet ErrNoSpace (the record area refuses them: a full file system's holes), and it waits
// for space, reporting its disk full (the 95% alert fires), then is normal and caught up
// after the disk grows. A replica that stopped on its Open (retrying only I/O errors: the
// bug of TestOpenOnAFullDiskResumesWhenSpaceIsFreed) failed seeds 1 and 6 with "stopped on
// its full disk"; one that reported 0% usage while waiting, with "the disk alerts did not
// all fire". Without the resolution, the waiting victim never resumes: Liveness.
func TestDiskFullRestartWhileFull(t *testing.T) {
	for _, seed := range []uint64{1, 6} { // a primary and a backup victim
		p := drawDiskFull(seed)
		require.True(t, p.RestartWhileFull, "seed %d", seed)
		r := runDiskFull(Options{Seed: seed}, diskFullKnobs{})
		require.Equal(t, Pass, r.Outcome, "seed %d %s: %s", seed, r.Params, r.Reason)
		require.Equal(t, uint64(1), r.Counters["fault.restart_while_full"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["restart.open_waits_for_space"], "seed %d", seed)
		require.Equal(t, uint64(1), r.Counters["restart.record_area_refused"], "seed %d", seed)
		require.Positive(t, r.Counters["alert."+AlertDiskUsage95], "seed %d", seed)

		skipped := runDiskFull(Options{Seed: seed}, diskFullKnobs{skipResolution: true})
		require.Equal(t, Liveness, skipped.Outcome, "seed %d without the resolution: %s", seed, skipped.Reason)
		require.Contains(t, skipped.Reason, "writes did not resume on replica")
	}
	drawn := 0
	for seed := uint64(1); seed <= 200; seed++ {
		if drawDiskFull(seed).RestartWhileFull {
			drawn++
		}
	}
	require.InDelta(t, 100, drawn, 30, "RestartWhileFull in %d of 200 seeds", drawn)
}
