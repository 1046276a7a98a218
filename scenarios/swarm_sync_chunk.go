package scenarios

import (
	"vopr/cluster/kv"
	"vopr/sim"
)

// drawSyncChunk draws the replicas' state-sync chunk size (vsr.Options.SyncChunkBytes) from
// the seed's own stream: in half the seeds 1, 2 or 4 KB, so that the few-kilobyte snapshots
// of a swarm run travel in several chunks (a chunk lost, one out of turn, a transfer longer
// than the request period, a sender whose checkpoint moves on between chunks), as a
// production state machine's hundreds of megabytes travel in its 1 MB messages; in the
// others, and always with values padded to kv.ValueSizeMax (whose snapshots reach a
// megabyte: a thousand 1 KB chunks, where production sends a handful), a whole message.
// Seed 109 found with it that a periodic sync request restarted a longer transfer for ever.
func drawSyncChunk(seed uint64, mix workloadMix) int {
	r := sim.Stream(seed, "swarm_sync_chunk")
	small, size := r.IntN(2) == 0, 1024<<r.IntN(3)
	if !small || mix.size.value == kv.ValueSizeMax {
		return 0
	}
	return size
}
