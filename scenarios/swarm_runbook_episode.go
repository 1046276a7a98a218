package scenarios

import (
	"fmt"

	"vopr/sim"
)

// The runbook episode: some passing swarm seeds end with one drill of the operational
// runbook (a runbook scenario's seed, drawn from the swarm seed's own stream), as
// FoundationDB's simulator composes workloads in one test. The chaos run never takes a
// backup, restores one, fails over to a standby region, rolls an upgrade back or grows a
// full disk, and its heal cures the clock errors a view-change storm needs: the code behind
// those procedures (storage backup, verify and restore, the client table across a failover,
// clock resynchronisation, compaction) ran only in the runbook scenarios, which a campaign
// of swarm seeds alone never reached. A drill holds the cluster to the runbook's own checks
// and every invariant checker; its verdict joins the seed's, and its reason names the
// runbook seed that replays it alone.

// runbookEpisodeOneIn is how many passing swarm seeds share one drill. A drill costs about
// 30 ms of CPU on average (10 ms for quorum_lost and disk_full, 70 for view_change_storm and
// replication_lag) against a swarm seed's 50: one seed in four keeps the swarm's cost per seed
// within about 15%, while a campaign of a few hundred seeds drills each procedure a dozen
// times or more.
const runbookEpisodeOneIn = 4

// runbookEpisodeScenarios are the drills, one per runbook section.
var runbookEpisodeScenarios = []string{"replica_crash", "quorum_lost", "view_change_storm",
	"replication_lag", "assertion_failure", "disk_full", "rolling_upgrade"}

// drawRunbookEpisode draws whether the seed ends with a drill, which one and its seed ("" if
// none), from the seed's own stream, so that the swarm's other draws are unchanged.
func drawRunbookEpisode(seed uint64) (string, uint64) {
	rng := sim.Stream(seed, "swarm_runbook_episode")
	if rng.IntN(runbookEpisodeOneIn) != 0 {
		return "", 0
	}
	name := runbookEpisodeScenarios[rng.IntN(len(runbookEpisodeScenarios))]
	return name, 1 + rng.Uint64N(1<<40)
}

// withRunbookEpisode runs the seed's drill, if it draws one, after a passing swarm run and
// folds its verdict into r.
func withRunbookEpisode(o Options, r Result) Result {
	name, seed := drawRunbookEpisode(o.Seed)
	if r.Outcome != Pass || name == "" {
		return r
	}
	s, ok := Lookup(name)
	if !ok {
		panic("swarm: no runbook scenario " + name)
	}
	dr := s.Run(Options{Seed: seed, Mutation: o.Mutation, disks: o.disks})
	r.Counters["coverage.episode.runbook"]++
	r.Counters["episode.runbook."+name]++
	if dr.Outcome != Pass {
		r.Outcome = dr.Outcome
		r.Reason = fmt.Sprintf("runbook episode %s seed %d (alone: vopr replay %d --scenario %s): %s",
			name, seed, seed, name, dr.Reason)
	}
	return r
}
