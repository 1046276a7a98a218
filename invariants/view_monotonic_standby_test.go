package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

// A standby entering a new configuration must keep the higher of its view and the view of the
// message that announced it (vsr.standby_takes_view_of_epoch_message): a late message of the
// new epoch names a view below the one the standby followed in the old epoch. Standbys are
// inspected as the active replicas are (NewSuite tracks them as they appear), so the standby's
// view going back while it runs is a view_monotonic violation, from an inspection or an event.
func TestViewMonotonicFiresOnAStandbyTakingAnOlderEpochView(t *testing.T) {
	s := NewSuite(3)
	standby := normal(3, vsr.RoleStandby, 8, 12, 12)
	s.OnInspect(10*ms, 3, standby)
	require.Nil(t, s.Violation())
	// The announcing message of epoch 2 names view 6; the standby took it as its view.
	entered := viewChange(3, 6, 12)
	entered.Role = vsr.RoleStandby
	s.OnInspect(20*ms, 3, entered)
	v := s.Violation()
	requireViolation(t, v, NameViewMonotonic, 3, 12, 6, 20*ms)
	require.Contains(t, v.Message, "view 6 after view 8 without a restart")
}

func TestViewMonotonicFiresOnAStandbyEventBelowItsView(t *testing.T) {
	s := NewSuite(3)
	s.OnInspect(10*ms, 3, normal(3, vsr.RoleStandby, 8, 12, 12))
	s.OnEvent(20*ms, vsr.Event{Kind: vsr.EventStatus, Replica: 3, View: 6, Op: 12,
		Text: "configuration epoch 2 (0 1 2, standby 3): announced"})
	requireViolation(t, s.Violation(), NameViewMonotonic, 3, 12, 6, 20*ms)
	// A standby that restarts may come back below a view it never voted in (nothing durable
	// proves it), as an active replica may.
	var m viewMonotonic
	require.Nil(t, m.inspect(10*ms, 3, ref(normal(3, vsr.RoleStandby, 8, 12, 12))))
	m.crash(3)
	require.Nil(t, m.event(30*ms, recovered(3, 6, 12)))
}
