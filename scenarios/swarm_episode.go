package scenarios

import (
	"fmt"

	"vopr/sim"
)

// Every swarm seed that passes ends with two episodes. The first is a protocol-aware-recovery
// episode: one placement of
// the storage_matrix experiment (PAR, FAST'18: commit a few ops, damage chosen copies and
// identities of them on chosen replicas, restart everything, hold the cluster to what PAR
// promises), drawn from the seed. The swarm's own disk faults are random and the fault atlas
// keeps them recoverable, so they rarely reach the corners PAR is about: a replica that may
// answer nack_prepare for an op it holds damaged, a recovery that takes a damaged head for a
// torn write, a new primary choosing among damaged logs next to lagging replicas. A
// placement reaches one of them by construction, in milliseconds; over a few hundred seeds
// the episodes cover the matrices well (the 3-replica one has 4,096 placements, the
// 5-replica one is sampled). As in FoundationDB's simulator, a seed draws which workloads it
// runs: here the chaos run, then the episode.
//
// The episode runs on its own cluster, with the same mutation and every checker of the
// matrix; its verdict joins the seed's: a failure of the episode fails the seed, and its
// reason names the matrix seed that replays it alone. The second is the storage episode
// (storage_crash: the engine alone, a crash point and an aimed fault), likewise.

// parEpisode is the matrix placement a swarm seed ends with.
type parEpisode struct {
	scenario string // storage_matrix, storage_matrix5 or storage_matrix_views
	seed     uint64 // that scenario's seed
}

// drawParEpisode picks the matrix and its seed from the swarm seed's own stream, so that the
// swarm's other draws are unchanged: the 3-replica matrix (every placement of its 4,096
// equally likely) or the 5-replica one with lagging replicas, half the seeds each; then, in a
// third of the seeds, the 3-replica matrix with log views apart (storage_matrix_views)
// instead, from a stream of its own.
func drawParEpisode(seed uint64) parEpisode {
	rng := sim.Stream(seed, "swarm_par_episode")
	scenario := "storage_matrix"
	if rng.IntN(2) == 1 {
		scenario = "storage_matrix5"
	}
	e := parEpisode{scenario: scenario, seed: 1 + rng.Uint64N(1<<40)}
	if sim.Stream(seed, "swarm_par_views").IntN(3) == 0 {
		e.scenario = "storage_matrix_views" // its own stream: the other draws stay as they were
	}
	return e
}

func (e parEpisode) params() matrixParams {
	switch e.scenario {
	case "storage_matrix5":
		return drawMatrix5(e.seed)
	case "storage_matrix_views":
		return drawMatrixViews(e.seed)
	}
	return drawMatrix3(e.seed)
}

// withParEpisode runs the seed's episode after a passing swarm run and folds its verdict and
// counters into r.
func withParEpisode(o Options, r Result) Result {
	e := drawParEpisode(o.Seed)
	p := e.params()
	er := runMatrix(Options{Seed: e.seed, Mutation: o.Mutation, disks: o.disks}, p, matrixKnobs{})
	r.Counters["episode.runs"]++
	r.Counters["episode."+e.scenario]++
	r.Counters["episode."+p.class()]++
	r.Counters["episode.identity_losses"] += er.Counters["matrix.damage.identity"]
	r.Counters["episode.nack_truncations"] += er.Counters["coverage.path.nack_truncation"]
	r.Counters["episode.repairs"] += er.Counters["coverage.path.repair"]
	if er.Outcome != Pass {
		r.Outcome = er.Outcome
		r.Reason = fmt.Sprintf("PAR episode %s seed %d (%s; alone: vopr replay %d --scenario %s): %s",
			e.scenario, e.seed, p.class(), e.seed, e.scenario, er.Reason)
		return r
	}
	r = upgradeReplacementEpisode.with(o, withRunbookEpisode(o, withDivergentEpisode(o, withStorageEpisode(o, r))))
	return parViews5Episode.with(o, longTransferEpisode.with(o, r))
}

// storageEpisodesPerSeed is how many storage episodes a passing swarm seed ends with. One
// takes about 0.4 ms of CPU against the swarm run's 50, and a storage bug that only some
// histories, crash points and faults reach fails one episode in a few thousand (the fresh
// blind batch 6's storage bugs: one in 8,655, 9,151 and 49,948 storage_crash seeds). Twelve
// per seed give 300 seeds 3,600 chances for about 6% more CPU per seed: bugs found per CPU
// hour, the measure that matters, gain far more on storage bugs than they lose elsewhere.
const storageEpisodesPerSeed = 12

// withStorageEpisode runs the seed's storage episodes (storage_episode.go) and folds their
// verdict and counters into r: a seed that passes everything else ends with the storage
// engine alone under crashes and aimed faults. The first episode's seed is the one a seed
// always drew; the later ones follow in the same stream.
func withStorageEpisode(o Options, r Result) Result {
	rng := sim.Stream(o.Seed, "swarm_storage_episode")
	for i := 0; i < storageEpisodesPerSeed; i++ {
		seed := rng.Uint64N(1<<40) + 1
		sr := runStorageCrash(Options{Seed: seed, disks: o.disks})
		for k, v := range sr.Counters {
			r.Counters[k] += v
		}
		if sr.Outcome != Pass {
			r.Outcome = sr.Outcome
			r.Reason = fmt.Sprintf("storage episode seed %d (alone: vopr replay %d --scenario storage_crash): %s",
				seed, seed, sr.Reason)
			return r
		}
	}
	return r
}

// oneInEpisode is an episode that ends one passing swarm seed in oneIn, on a cluster of its
// own. Whether a seed has it, and its seed, come from the seed's stream of the episode's
// name, so the seed's other draws and its trace are unchanged.
type oneInEpisode struct {
	stream string // the stream's name
	label  string // the episode's name in a failure
	oneIn  int
	run    func(Options) Result
	fold   func(counters map[string]uint64, er Result) // the episode's counters into the seed's
}

// draw returns the episode's seed for the swarm seed, or 0 where the seed has none.
func (e oneInEpisode) draw(seed uint64) uint64 {
	rng := sim.Stream(seed, e.stream)
	if rng.IntN(e.oneIn) != 0 {
		return 0
	}
	return 1 + rng.Uint64N(1<<40)
}

// with runs the episode after a passing swarm run, if the seed draws it, and folds its
// verdict into r.
func (e oneInEpisode) with(o Options, r Result) Result {
	seed := e.draw(o.Seed)
	if r.Outcome != Pass || seed == 0 {
		return r
	}
	er := e.run(Options{Seed: seed, Mutation: o.Mutation, disks: o.disks})
	e.fold(r.Counters, er)
	if er.Outcome != Pass {
		r.Outcome = er.Outcome
		r.Reason = fmt.Sprintf("%s episode seed %d: %s", e.label, seed, er.Reason)
	}
	return r
}
