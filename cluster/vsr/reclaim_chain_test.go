package vsr

// A regression test from the lost_head round (swarm seed 2050200832): a backup that comes
// back with a run of kept unverified prepares below a head it repairs.

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKeptUnverifiedChainIsReclaimedInOneRound: backup 2 of view 1 holds ops 1..8, executed
// to 3, with ops 4..7 kept unverified (their prepares held, their identity not yet named by
// the log, as after a restart whose head lost its identity) and op 8 known. Each reclaimed
// prepare names its parent's checksum, so the whole run is ours again in one repair round,
// without asking anyone. Reclaiming in ascending order took one op per round (29 ops, 2.5 s
// of a backup behind after its restart in swarm seed 2050200832).
func TestKeptUnverifiedChainIsReclaimedInOneRound(t *testing.T) {
	const head = 8
	chain := failoverChain(t, head, 0, 0) // view 1, led by replica 1
	r, bus, _ := reviewReplica(t, 2, 1, 1, chain, head)
	for op := uint64(4); op < head; op++ {
		r.log.forgetUnverified(op)
		_, _, kept := r.log.unverified(op)
		require.True(t, kept, "op %d not kept unverified", op)
	}
	r.commitMin, r.commitMax = 3, 3
	bus.sent = nil
	r.onRepairTimeout()
	for op := uint64(4); op < head; op++ {
		_, ok := r.log.prepare(op)
		require.True(t, ok, "op %d's kept prepare not reclaimed in the first repair round", op)
	}
	for _, s := range bus.sent {
		require.NotEqual(t, CommandRequestPrepare, s.m.Header.Command, "op %d asked of a peer though it was held", s.m.Header.Op)
	}
}
