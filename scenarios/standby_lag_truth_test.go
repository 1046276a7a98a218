package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
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

// restartSeed draws a standby (R6) that restarts knowing commit 217 with nothing executed,
// and is inspected before it hears from a primary.
const restartSeed = 1

// The unknown-lag rule has teeth on both sides: a restarted standby that knows commits it has
// not executed and reports its lag known (the zeros the replica reported before the fix)
// before it hears from a primary fails the swarm; so does a standby that says its lag is
// unknown long after it took a primary's announcements.
func TestStandbyLagTruthFiresOnAKnownLagBeforeContact(t *testing.T) {
	r := runSwarmWith(Options{Seed: restartSeed}, swarmKnobs{})
	require.Equal(t, Pass, r.Outcome, r.Reason)

	zeros := func(in *vsr.Inspection, restarted bool) bool {
		return in.StandbyLagKnown || (restarted && in.CommitMax > in.CommitMin)
	}
	r = runSwarmWith(Options{Seed: restartSeed}, swarmKnobs{lagKnown: zeros})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "reports its lag as a measurement (known=true: 0ns, 0 ops")
	require.Contains(t, r.Reason, "but it has taken no announcement from a primary since its restart")

	never := func(*vsr.Inspection, bool) bool { return false }
	r = runSwarmWith(Options{Seed: restartSeed}, swarmKnobs{lagKnown: never})
	require.Equal(t, Correctness, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "says its lag is unknown (no primary heard since it started), but it took announcements")
}

// The rule on its own: before its first announcement a standby process must report its lag
// unknown and not be eligible; after it, the bounds apply instead.
func TestStandbyLagTruthUnknownBeforeContact(t *testing.T) {
	m := lagModel{of: &vsr.Replica{}, restarted: true}
	unknown := vsr.Inspection{Status: vsr.StatusNormal, Role: vsr.RoleStandby, CommitMax: 40}
	require.Empty(t, m.unknown(4, &unknown, false))
	require.Contains(t, m.unknown(4, &unknown, true), "since its restart (op 0 executed, commit 40 known)")
	eligible := unknown
	eligible.StandbyEligible = true
	require.Contains(t, m.unknown(4, &eligible, false), "eligible=true")
	first := lagModel{of: &vsr.Replica{}}
	require.Contains(t, first.unknown(4, &unknown, true), "since it started")
}
