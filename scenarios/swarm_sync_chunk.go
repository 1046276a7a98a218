package scenarios

import (
	"vopr/cluster/kv"
	"vopr/sim"
)

// drawSyncChunk draws the replicas' state-sync chunk size (vsr.Options.SyncChunkBytes) from
// the seed's own stream: in half the seeds 4, 8 or 16 KB, so that the tens-of-kilobytes
// snapshots of a swarm run travel in several chunks (a chunk lost, one out of turn, a transfer longer
// than the request period, a sender whose checkpoint moves on between chunks), as a
// production state machine's hundreds of megabytes travel in its 1 MB messages; in the
// others, and always with values padded to kv.ValueSizeMax (whose snapshots reach a
// megabyte: a thousand 1 KB chunks, where production sends a handful), a whole message.
// Seed 109 found with 1 KB chunks that a periodic sync request restarted a longer transfer
// for ever. Chunks of 1-2 KB made a lone primary's standbys (seed 2027745852), whose
// snapshots of 100 KB and more took a hundred round trips of the simulated network's tens
// of milliseconds, fall behind for good under load: slower, relative to the network, than
// a production transfer of hundreds of 1 MB chunks at sub-millisecond round trips.
func drawSyncChunk(seed uint64, mix workloadMix) int {
	r := sim.Stream(seed, "swarm_sync_chunk")
	small, size := r.IntN(2) == 0, 4096<<r.IntN(3)
	if !small || mix.size.value == kv.ValueSizeMax {
		return 0
	}
	return size
}
