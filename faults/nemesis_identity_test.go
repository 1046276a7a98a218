package faults

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/sim"
)

// Identity loss damages, on one replica, an entry and its redundant record together, for
// each op it strikes; every op it strikes keeps an intact copy on a replica no fault may
// strike; the struck replica is rebooted when the availability bound allows, recovers, and
// the cluster carries on without a fail-stop.
func TestNemesisIdentityLossDamagesEntryAndRecord(t *testing.T) {
	for _, replicas := range []int{3, 5} {
		run := newAimedRun(t, replicas, 90, NemesisOptions{})
		c, n := run.c, run.n
		c.RunFor(2 * sim.Second)
		requireProgress(t, c)
		for round := 0; round < 6; round++ {
			before := allFaults(c)
			n.identityLoss(c)
			entries, records := map[uint64]bool{}, map[uint64]bool{}
			struck := map[int]bool{}
			for k := range allFaults(c) {
				if before[k] {
					continue
				}
				struck[k.replica] = true
				image := c.Nodes[k.replica].Disk.Pristine(k.name)
				sector := image[k.offset : k.offset+storage.SectorSize]
				if binary.LittleEndian.Uint64(sector[16:]) == recordMagicAt16 {
					h, err := storage.DecodeHeader(sector[recordEntryAt : recordEntryAt+storage.HeaderSize])
					require.NoError(t, err)
					records[h.Op] = true
					continue
				}
				op, body := entryAt(t, image, k.offset)
				entries[op] = true
				guaranteed, intact := false, 0
				for g := 0; g < replicas; g++ {
					if g != k.replica && copyOf(c.Nodes[g].Disk, k.name, op, body) {
						guaranteed = guaranteed || !run.atlas.Allowed(g, k.name, 0)
						intact++
					}
				}
				require.True(t, guaranteed, "replicas=%d round %d: op %d damaged on r%d without a guaranteed copy",
					replicas, round, op, k.replica)
				require.GreaterOrEqual(t, intact, replicas-run.atlas.F, "a quorum keeps op %d intact", op)
			}
			require.LessOrEqual(t, len(struck), 1, "one replica per move")
			require.Equal(t, entries, records, "replicas=%d round %d: each damaged entry's record is damaged too", replicas, round)
			require.LessOrEqual(t, len(entries), identityEntriesMax)
			c.RunFor(500 * sim.Millisecond)
		}
		require.Empty(t, c.Failures())
		hits := n.Marks()
		require.Positive(t, hits.Count(MarkDiskIdentityLoss), "replicas=%d", replicas)
		require.Positive(t, hits.Count(MarkDiskIdentityLossReboot), "replicas=%d", replicas)
		require.Positive(t, n.Counts()[ActionDiskCorruptIdentity])
	}
}
