package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

const trueEpoch = int64(1_767_225_600_000_000_000)

// prepared is a prepare created at atNs by a primary whose clock is off by clockErr and
// which stamped it stampErr from true time.
func preparedAt(op uint64, name string, atNs, clockErr, stampErr int64) Prepared {
	return Prepared{Replica: 0, View: 1, Op: op, Checksum: sum(name), Bytes: []byte(name),
		Timestamp: trueEpoch + atNs + stampErr, ClockNs: trueEpoch + atNs + clockErr, TrueNs: trueEpoch + atNs}
}

func TestCommitTimestampPassesWithinHalfToleranceOfTheClockAndCarries(t *testing.T) {
	s := NewSuite(3)
	// A good clock stamps its own time plus an agreed offset up to 250 ms.
	s.OnPrepare(10*ms, preparedAt(1, "p1", 10*ms, 100*ms, 300*ms))
	// A primary whose clock is 2 s ahead (outside the model) stamps within 250 ms of it.
	s.OnPrepare(20*ms, preparedAt(2, "p2", 20*ms, 2000*ms, 1800*ms))
	// Then a primary with a true clock must stamp above it: a carry, 1 above.
	s.OnPrepare(30*ms, Prepared{Replica: 1, View: 2, Op: 3, Checksum: sum("p3"), Bytes: []byte("p3"),
		Timestamp: trueEpoch + 20*ms + 1800*ms + 1, ClockNs: trueEpoch + 30*ms, TrueNs: trueEpoch + 30*ms})
	// A resend is not a creation.
	s.OnPrepare(40*ms, preparedAt(1, "p1", 40*ms, 0, 5000*ms))
	require.Nil(t, s.Violation())
	late := *s
	late.OnPrepare(50*ms, Prepared{Replica: 1, View: 2, Op: 4, Checksum: sum("p4"), Bytes: []byte("p4"),
		Timestamp: trueEpoch - 9000*ms, ClockNs: trueEpoch + 50*ms, TrueNs: trueEpoch + 50*ms, Late: true})
	require.Nil(t, late.Violation(), "a prepare first seen after its creation is not held to this instant's clocks")
	require.Equal(t, uint64(1), late.Counters()["invariants.prepares_seen_late"])
	require.Equal(t, map[string]uint64{"invariants.prepares_created": 3, "invariants.timestamps_checked": 3,
		"invariants.prepares_seen_late":  0,
		"invariants.timestamps_in_model": 2, "invariants.executed_unseen_created": 0, "invariants.disk_checks": 0,
		"invariants.log_view_checks": 0, "invariants.wipes_declared": 0, "invariants.standby_reads_checked": 0,
		"invariants.prepare_window_checked": 0, "coverage.check.prepare_window_full": 0,
		"invariants.client_sessions_checked": 0, "invariants.client_sessions_skipped": 0, "invariants.client_sessions_stale": 0,
		"invariants.evictions_checked": 0, "invariants.evictions_skipped": 0, "invariants.sync_contexts_checked": 0,
		"invariants.sync_contexts_none":        0,
		"invariants.committed_replies_checked": 0, "invariants.checkpoint_contents_checked": 0, "invariants.committed_replies_skipped": 0,
		"invariants.session_executions_checked": 0, "invariants.session_executions_skipped": 0,
		"invariants.clock_sync_checked": 0, "invariants.clock_sync_unmatched": 0, "invariants.clock_sync_stale_pongs": 0,
		"invariants.audit_heads_checked": 0, "invariants.audit_heads_unchecked": 0, "invariants.audit_seeds": 0,
		"invariants.checkpoints_compared": 0, "invariants.standby_reads_unchecked": 0,
		"invariants.linearizable_keys_unchecked": 0}, s.Counters())
}

// TestCommitTimestampFiresOnAStampBeyondTheTolerance: a primary with a correct clock stamps
// 600 ms ahead of true time (350 ms beyond what its agreed offset allows).
func TestCommitTimestampFiresOnAStampBeyondTheTolerance(t *testing.T) {
	s := NewSuite(3)
	s.OnPrepare(10*ms, preparedAt(1, "p1", 10*ms, 0, 600*ms))
	v := s.Violation()
	requireViolation(t, v, NameCommitTimestamp, 0, 1, 1, 10*ms)
	require.Contains(t, v.Message, "inside the clock model, and beyond the 500 ms tolerance of true time")
}

// TestCommitTimestampFiresOnAStampBehindTheClock: stamped a second behind its own clock (a
// primary stamping from a stale or wrong source).
func TestCommitTimestampFiresOnAStampBehindTheClock(t *testing.T) {
	s := NewSuite(3)
	s.OnPrepare(10*ms, preparedAt(1, "p1", 10*ms, 900*ms, -100*ms))
	v := s.Violation()
	requireViolation(t, v, NameCommitTimestamp, 0, 1, 1, 10*ms)
	require.Contains(t, v.Message, "outside the clock model")
}

// TestCommitTimestampFiresOnTimestampsThatDoNotRise: op 3 executed with a timestamp at or
// below op 2's.
func TestCommitTimestampFiresOnTimestampsThatDoNotRise(t *testing.T) {
	s := NewSuite(3)
	commitRange(s, 10*ms, 0, 1, 1, 2)
	e := commitEvent(1, 1, 3, "p3")
	e.Timestamp = 2 * ms
	s.OnEvent(20*ms, e)
	requireViolation(t, s.Violation(), NameCommitTimestamp, 1, 3, 1, 20*ms)
	// Nor when the later op is executed first (a replica that state-synced past op 2).
	s = NewSuite(3)
	s.OnEvent(10*ms, vsr.Event{Kind: vsr.EventStateSync, Replica: 0, View: 1, Op: 2})
	s.OnEvent(11*ms, commitEvent(0, 1, 3, "p3"))
	late := commitEvent(1, 1, 2, "p2")
	late.Timestamp = 3 * ms
	s.OnEvent(20*ms, late)
	requireViolation(t, s.Violation(), NameCommitTimestamp, 1, 2, 1, 20*ms)
}
