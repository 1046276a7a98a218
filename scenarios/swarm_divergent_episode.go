package scenarios

import (
	"fmt"
	"strings"

	"vopr/sim"
)

// The divergent episode: every passing swarm seed also runs one seed of divergent_matrix,
// drawn from its own stream. The swarm's divergent move (faults/nemesis_divergent.go) found
// two recovery bugs in 18,000 seeds (2027665936, 2027664865): the old primary's stale suffix,
// a crash in its repair and damage on its entries meet there only by chance. The matrix
// builds that meeting by construction, at about 4 ms a seed, so a few hundred swarm seeds
// try a few hundred crash points and damage placements of it.
//
// In a third of the seeds, drawn from a stream of its own (the others keep their episodes),
// the episode is a divergent_matrix_anchor seed instead: the stale suffix over a checkpoint
// op, state-synced to that very op (the swarm never reached a sync onto a replaced prepare).
//
// Its verdict joins the seed's, naming the matrix seed that replays it alone; its counters
// are added under their own names, with coverage.episode.divergent counting the runs (and
// coverage.episode.divergent_anchor the anchor's).
func withDivergentEpisode(o Options, r Result) Result {
	if r.Outcome != Pass {
		return r
	}
	seed := 1 + sim.Stream(o.Seed, "swarm_divergent_episode").Uint64N(1<<40)
	scenario, episode := "divergent_matrix", Options{Seed: seed, Mutation: o.Mutation, disks: o.disks}
	var dr Result
	if sim.Stream(o.Seed, "swarm_divergent_anchor").IntN(3) == 0 {
		scenario, dr = "divergent_matrix_anchor", runDivergentAnchor(episode)
		r.Counters["coverage.episode.divergent_anchor"]++
	} else {
		dr = runDivergent(episode, drawDivergent(seed))
	}
	r.Counters["coverage.episode.divergent"]++
	for k, v := range dr.Counters {
		if strings.HasPrefix(k, "divergent_matrix.") {
			r.Counters["episode."+k] += v
		}
	}
	if dr.Outcome != Pass {
		r.Outcome = dr.Outcome
		r.Reason = fmt.Sprintf("divergent episode seed %d (alone: vopr replay %d --scenario %s): %s",
			seed, seed, scenario, dr.Reason)
	}
	return r
}
