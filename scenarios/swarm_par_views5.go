package scenarios

// parViews5OneIn is how many passing swarm seeds share one five-replica log-views episode.
// The PAR episode (swarm_episode.go) draws only the three-replica views matrix, so before
// this episode the swarm alone never met PAR's five-replica corners with log views apart:
// vsr.held_identity_drops_forgotten_faulty (blind batch 24) survived 200 swarm seeds though
// storage_matrix5_views and storage_matrix5_forgotten kill it. An episode takes about 8 ms;
// one seed in six keeps its average cost near 1.5 ms against a seed's 180.
const parViews5OneIn = 6

// parViews5Episode runs one placement of storage_matrix5_views or, for odd episode seeds,
// storage_matrix5_forgotten (the offers of faulty entries a log install forgot), on a
// cluster of its own. A failure names the episode seed; `vopr replay K --scenario S`
// replays it alone, S being the scenario its seed's parity picks.
var parViews5Episode = oneInEpisode{stream: "swarm_par_views5", label: "PAR five-replica views",
	oneIn: parViews5OneIn, run: runParViews5, fold: func(counters map[string]uint64, er Result) {
		counters["episode.par_views5"]++
		counters["episode.par_views5.repairs"] += er.Counters["coverage.path.repair"]
		counters["episode.par_views5.nack_truncations"] += er.Counters["coverage.path.nack_truncation"]
	}}

// runParViews5 picks the matrix by the episode seed's parity.
func runParViews5(o Options) Result {
	if o.Seed%2 == 1 {
		return runMatrix5Forgotten(o)
	}
	return runMatrix5Views(o)
}
