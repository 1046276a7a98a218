package ops

import (
	"cmp"
	"slices"

	"vopr/cluster/vsr"
)

// ViewChange is one line of `cluster view-changes`: a replica started a view change, or
// finished one (entered normal status in the view, as its primary or a backup).
type ViewChange struct {
	AtNs    int64  `json:"at_unix_ns"`
	At      string `json:"at,omitempty"` // AtNs in RFC 3339, added by the CLI
	Replica int    `json:"replica"`
	View    uint32 `json:"view"`
	Op      uint64 `json:"op"`
	// Event is "view_change" (started) or "normal primary" / "normal backup" (finished).
	Event string `json:"event"`
}

// viewChangeLogMax bounds a replica's view-change log: a storm of thousands of views keeps
// its newest ones.
const viewChangeLogMax = 1024

// ViewChangeLog is a replica process's record of its view changes, fed from its events
// (vsr.Observer) with its host's wall-clock time. Volatile, like the process: a restart
// starts it empty.
type ViewChangeLog struct {
	changes []ViewChange
}

// Observe records e if it is a view change's start or end, at wall time atNs.
func (l *ViewChangeLog) Observe(atNs int64, e vsr.Event) {
	if e.Kind != vsr.EventStatus {
		return
	}
	switch e.Text {
	case "view_change", "normal primary", "normal backup":
	default:
		return
	}
	if len(l.changes) == viewChangeLogMax {
		l.changes = l.changes[1:]
	}
	l.changes = append(l.changes, ViewChange{AtNs: atNs, Replica: e.Replica, View: e.View, Op: e.Op, Event: e.Text})
}

// Since returns the changes at or after fromNs, oldest first.
func (l *ViewChangeLog) Since(fromNs int64) []ViewChange {
	out := []ViewChange{}
	for _, c := range l.changes {
		if c.AtNs >= fromNs {
			out = append(out, c)
		}
	}
	return out
}

// ViewChangesReport is `kimberlite-cli cluster view-changes --since D`.
type ViewChangesReport struct {
	SinceNs int64 `json:"since_unix_ns"`
	// Started counts the view changes started (by any replica) in the window; Views lists
	// the distinct views entered, in order.
	Started int          `json:"started"`
	Views   []uint32     `json:"views"`
	Changes []ViewChange `json:"changes"`
	// Unreachable lists the replicas that did not answer: their changes are missing.
	Unreachable []int `json:"unreachable"`
}

// ViewChangesOf merges the replicas' logs (index order; nil and unreachable for one that
// did not answer) into one timeline.
func ViewChangesOf(sinceNs int64, replicas [][]ViewChange, unreachable []int) ViewChangesReport {
	rep := ViewChangesReport{SinceNs: sinceNs, Views: []uint32{}, Changes: []ViewChange{}, Unreachable: unreachable}
	if rep.Unreachable == nil {
		rep.Unreachable = []int{}
	}
	for _, changes := range replicas {
		rep.Changes = append(rep.Changes, changes...)
	}
	sortChanges(rep.Changes)
	seen := map[uint32]bool{}
	for _, c := range rep.Changes {
		if c.Event == "view_change" {
			rep.Started++
		}
		if !seen[c.View] {
			seen[c.View] = true
			rep.Views = append(rep.Views, c.View)
		}
	}
	return rep
}

// sortChanges orders by time, then replica, keeping each replica's own order.
func sortChanges(cs []ViewChange) {
	slices.SortStableFunc(cs, func(a, b ViewChange) int {
		return cmp.Or(cmp.Compare(a.AtNs, b.AtNs), cmp.Compare(a.Replica, b.Replica))
	})
}
