package invariants

import "vopr/cluster/vsr"

// NameViewMonotonic checks that views never go backwards on a replica.
//
// While a replica runs, its view never decreases (every inspection and event carries it).
// Across a crash it may come back in a lower view than it last showed, legitimately: a view
// is adopted in memory and written to the superblock afterwards, and a crash in between
// loses it. What must survive is every view the replica made durable, whose evidence is:
//   - a vote it sent: prepare_ok and do_view_change go out only once the view is durable
//     (vsr.Replica.viewDurable), seen through OnMessage;
//   - the view it recovered in after an earlier restart (EventRecovered: read from disk).
//
// A replica that recovers (EventRecovered) or shows itself below that floor has lost a
// view it acted on, which could let it vote twice in one view.
const NameViewMonotonic = "view_monotonic"

// viewTrack is one replica's views.
//
// Invariant: live implies view is the highest view seen in this lifetime; floor is the
// highest view proven durable, and floorBy says how it was proven.
type viewTrack struct {
	live    bool
	view    uint32
	floor   uint32
	floorBy string
	floorAt int64
}

type viewMonotonic struct {
	replicas []viewTrack
	// reported names each event kind in a message ("reported KIND in"), made once per kind
	// rather than on every event.
	reported map[vsr.EventKind]string
}

func (m *viewMonotonic) reportedIn(kind vsr.EventKind) string {
	what, ok := m.reported[kind]
	if !ok {
		if m.reported == nil {
			m.reported = map[vsr.EventKind]string{}
		}
		what = "reported " + kind.String() + " in"
		m.reported[kind] = what
	}
	return what
}

func (m *viewMonotonic) track(replica int) *viewTrack {
	m.replicas = grow(m.replicas, replica)
	return &m.replicas[replica]
}

// observe checks view against the lifetime's highest and the durable floor.
func (m *viewMonotonic) observe(atNs int64, replica int, op uint64, view uint32, what string) *Violation {
	t := m.track(replica)
	if t.live && view < t.view {
		return violation(NameViewMonotonic, replica, op, view, atNs,
			"%s view %d after view %d without a restart", what, view, t.view)
	}
	if view < t.floor {
		return violation(NameViewMonotonic, replica, op, view, atNs,
			"%s view %d, below view %d that it %s at %s", what, view, t.floor, t.floorBy, formatNs(t.floorAt))
	}
	t.live, t.view = true, max(t.view, view)
	return nil
}

func (m *viewMonotonic) raiseFloor(atNs int64, replica int, view uint32, by string) {
	if t := m.track(replica); view > t.floor {
		t.floor, t.floorBy, t.floorAt = view, by, atNs
	}
}

func (m *viewMonotonic) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
	if !running(in.Status) {
		return nil
	}
	return m.observe(atNs, replica, in.Op, in.View, "shows")
}

func (m *viewMonotonic) event(atNs int64, e vsr.Event) *Violation {
	if e.Kind == vsr.EventStatus && !m.track(e.Replica).live && e.View == 0 {
		return nil // "stopped: open failed": the replica never read its view
	}
	if v := m.observe(atNs, e.Replica, e.Op, e.View, m.reportedIn(e.Kind)); v != nil {
		return v
	}
	if e.Kind == vsr.EventRecovered {
		m.raiseFloor(atNs, e.Replica, e.View, "recovered in from disk")
	}
	return nil
}

// message takes a header a replica sent: a vote proves its view durable.
func (m *viewMonotonic) message(atNs int64, h vsr.Header) *Violation {
	switch h.Command {
	case vsr.CommandPrepareOK:
		m.raiseFloor(atNs, int(h.Replica), h.View, "sent prepare_ok in")
	case vsr.CommandDoViewChange:
		m.raiseFloor(atNs, int(h.Replica), h.View, "sent do_view_change in")
	}
	return nil
}

func (m *viewMonotonic) crash(replica int) {
	t := m.track(replica)
	t.live, t.view = false, 0
}
