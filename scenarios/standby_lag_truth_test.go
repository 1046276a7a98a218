package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// lagTruthSeed draws standbys and passes (swarm seed 5022: two standbys, one stuck behind
// a repair for seconds).
const lagTruthSeed = 5022

// The check has teeth on both sides: a standby that reports a quarter of its lag, or 200 ms
// more than it, fails the swarm as a correctness failure naming the side.
func TestStandbyLagTruthFiresOnAWrongLag(t *testing.T) {
	r := runSwarmWith(Options{Seed: lagTruthSeed}, swarmKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)

	r = runSwarmWith(Options{Seed: lagTruthSeed}, swarmKnobs{lagReported: func(ns int64) int64 { return ns / 4 }})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "(under-reported)")

	r = runSwarmWith(Options{Seed: lagTruthSeed}, swarmKnobs{lagReported: func(ns int64) int64 { return ns + 200e6 }})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "(over-reported)")
}

// The model on its own: a standby that tracks one pending commit number runs one step behind
// the truth, within the upper bound; one that chases the newest commit number heard (the
// mutant vsr.standby_pending_commit_overwritten) does not. A late announcement of an older
// commit number does not make the standby current (swarm seed 5022's database bug).
func TestStandbyLagTruthModel(t *testing.T) {
	var m lagModel
	ms := func(n int64) int64 { return n * 1e6 }
	// Commit numbers 1, 2, 3, ... announced every 10 ms; the standby executes each 25 ms
	// after it heard it.
	for k := int64(1); k <= 100; k++ {
		executed := uint64(max(0, (10*k-25)/10))
		m.heard(uint64(k), executed, ms(10*k))
	}
	m.advance(97) // at 1000 ms
	require.GreaterOrEqual(t, m.current, ms(940), "current as of the announcements it has executed, one step behind")
	require.Equal(t, ms(980), m.staleSince(97), "commit 98 heard at 980 ms, not executed")

	// Stuck at op 97 for two seconds, hearing commit 100; then repair delivers prepare 98,
	// which carries commit 97.
	m.heard(100, 97, ms(3000))
	m.heard(97, 97, ms(3010))
	require.Equal(t, ms(980), m.staleSince(97), "a late announcement of commit 97: it has lacked commit 98 since 980 ms")
}
