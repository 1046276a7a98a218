package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The standby lag truth check holds the replication lag each standby reports (`replica
// status`, `replication lag --all`, the lag alert and a DR failover's eligibility all read
// Inspection.StandbyLagNs) to bounds the harness derives on its own, from what the network
// delivered to the standby and what the standby has executed.
//
// The metric's definition (runbook scenario 4, vsr/standby.go's docs): how long ago the
// primary announced the newest commit number the standby has executed, where "announced" is
// when the standby received it (a prepare or a commit heartbeat of its view's primary carries
// the commit number), and a standby that has executed everything it heard is current as of
// its last contact. The harness sees every delivery (OnReplicaReceive, before the standby
// takes it) with the standby's state just then, and reads the node's monotonic clock, the
// clock the standby measures its lag with; at every tick it compares:
//
//   - lower bound (no under-report): a standby that has not executed a commit number it was
//     told at time L has been stale at least since L. L is the first receipt that raised the
//     newest commit number heard above what it has executed now; with no such receipt, its
//     last contact. A late announcement of a commit number it has executed does
//     not make it current when it has heard of a newer one (swarm seed 5022, a database bug
//     this check found: a prepare fetched by repair reset a stuck standby's lag to ~0).
//     An under-reported lag promotes a standby that is far behind.
//   - upper bound (no over-report): once the standby has executed an announcement i, it is
//     current at least as of every announcement h whose commit number it had already
//     executed when i arrived (everything heard up to h was behind it then). The standby may
//     track one pending commit number at a time, so its lag may run one such step behind the
//     truth, never more. An over-reported lag refuses a good standby.
//
// Announcements are counted only where the standby takes them: normal status, the message's
// epoch and view its own, from its view's primary, a prepare above its op, a heartbeat whose
// commit point agrees with its log. Commit numbers are compared through their running maximum
// for the upper bound (a delayed, older announcement does not end a step), and one by one for
// the lower bound.
//
// Unknown lag: a standby process that has taken no announcement since it started (the
// first one, or a restart) has nothing to measure from, and must say its lag is unknown
// (Inspection.StandbyLagKnown false) and not be eligible: a restarted standby may know a
// commit number from its superblock far above what it executed, and a zero lag had a DR
// failover promote it as current. The model has taken no announcement for it either (it
// counts what the standby takes, or more: see the slack below), so a known lag or an
// eligible standby then is a violation. The other way, a standby that says its lag is
// unknown is held to the lower bound as a lag of zero, as strictly as before: once it has
// lacked what it was told for longer than the slack, it has heard from a primary.
//
// Slack: both sides read the same monotonic clock at the same instants (the delivery, the
// inspection after the tick), and the bounds follow from what the standby took, so on its
// own the model needs none. What it has is for the mirror of the standby's rules for taking
// an announcement, read from its status just before the delivery: a rule it missed would
// credit an announcement the standby dropped, and the standby's next heartbeat (every
// HeartbeatTicks, 50 ms) sets it right. lagTruthSlackNs is two ticks, lagTruthOverNs two
// heartbeat periods; in 1,000 swarm seeds the standby never went past either bound. State
// syncs are followed exactly (onEvent). For scale: 100 ms is a tenth of the runbook's
// eligibility bound, where an over-report starts to refuse a standby.
const (
	lagTruthSlackNs = int64(20 * sim.Millisecond)
	lagTruthOverNs  = int64(100 * sim.Millisecond)
)

// lagTruth holds the model of each standby (by standby slot).
type lagTruth struct {
	standbys      []lagModel
	checks, ahead uint64 // standby_lag_ops_truth.go's counters
}

// lagModel is the harness's record of one standby process's announcements.
type lagModel struct {
	of        *vsr.Replica // the process; a restart starts a new record
	restarted bool         // the process is not the slot's first
	started   bool         // it has taken an announcement
	// firstHeard is when it took its first announcement.
	firstHeard int64
	// current is the time as of which the standby is known current (the upper bound's
	// anchor); lastExec is the receipt time of the newest announcement whose running maximum
	// it had executed at the last look; maxCommit is the running maximum heard; lastHeard the
	// last receipt.
	current, lastExec, lastHeard int64
	maxCommit                    uint64
	// synced is the op a state sync installed, until the standby executes an op past it (0:
	// none): see onEvent.
	synced uint64
	// From the last inspection: the epoch, the members (Inspection.Outside), and whether it
	// lost its state or is outside the configuration (it then takes no announcement).
	inspected bool
	epoch     uint32
	outside   uint16
	lost      bool
	// pending are the announcements whose running maximum was above the standby's executed
	// op at the last look, oldest first (repeats of one commit number coalesced).
	pending []lagAnnouncement
}

type lagAnnouncement struct {
	commit, max uint64 // the commit number it carried, and the running maximum then
	first, last int64  // its first and last receipt (repeats coalesced)
	credit      int64  // the current-as-of time it earns once executed
}

func (m *lagModel) reset(r *vsr.Replica) {
	*m = lagModel{of: r, restarted: m.of != nil, pending: m.pending[:0]}
}

// advance moves every announcement whose running maximum the standby has executed (op
// executed) out of pending, crediting it.
func (m *lagModel) advance(executed uint64) {
	if executed > m.synced {
		m.synced = 0
	}
	n := 0
	for n < len(m.pending) && m.pending[n].max <= executed {
		a := m.pending[n]
		if m.synced == 0 {
			m.current = max(m.current, a.credit)
		}
		m.lastExec = a.last
		n++
	}
	if n > 0 {
		m.pending = append(m.pending[:0], m.pending[n:]...)
	}
}

// heard records an announcement of commit taken at now by a standby that had executed up
// to executed.
func (m *lagModel) heard(commit, executed uint64, now int64) {
	if !m.started {
		// The first contact: the standby's lag starts from it.
		m.started, m.current, m.lastExec, m.firstHeard = true, now, now, now
	}
	m.advance(executed)
	m.lastHeard, m.maxCommit = now, max(m.maxCommit, commit)
	if m.maxCommit <= executed {
		// It has executed the newest commit number it heard: current as of now.
		if m.synced == 0 {
			m.current = max(m.current, now)
		}
		m.lastExec = now
		return
	}
	credit := m.lastExec
	if m.synced != 0 {
		credit = 0
	}
	if k := len(m.pending); k > 0 && m.pending[k-1].commit == commit && m.pending[k-1].max == m.maxCommit {
		last := &m.pending[k-1]
		last.last, last.credit = now, max(last.credit, credit)
		return
	}
	m.pending = append(m.pending, lagAnnouncement{commit: commit, max: m.maxCommit, first: now, last: now, credit: credit})
}

// staleSince is the lower bound's anchor: the first receipt that raised the newest commit
// number heard above executed, or the last contact. A late announcement of an older commit
// number does not make the standby current: it still lacks the newer one it heard.
func (m *lagModel) staleSince(executed uint64) int64 {
	if len(m.pending) > 0 {
		return m.pending[0].first // advance(executed) left only those above it
	}
	return m.lastHeard
}

// onDeliver records msg if it announces a commit number that standby node i takes.
func (t *lagTruth) onDeliver(c *sim.Cluster, i int, msg []byte) {
	r := c.Replica(i)
	if r == nil || !r.IsStandby() {
		return
	}
	m := t.model(c, i, r)
	if len(msg) < vsr.HeaderSize {
		return
	}
	h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], c.ClusterID())
	if err != nil || !m.inspected {
		return
	}
	// Its status just before it takes msg (TraceState: a full inspection digests the state);
	// the epoch and membership, which change only with a reconfiguration or a failover, as
	// of the last inspection.
	st := r.TraceState()
	if _, isolated := r.Isolation(); isolated || st.Status != vsr.StatusNormal || m.lost || h.Epoch != m.epoch ||
		h.View != st.View || int(h.Replica) != vsr.PrimaryIndex(h.View, c.ReplicaCount(), m.outside) {
		return
	}
	switch h.Command {
	case vsr.CommandPrepare:
		if h.Op <= st.Op {
			return // a prepare it holds: repair or a retransmission, not an announcement
		}
	case vsr.CommandCommit:
		if held, ok := r.Header(h.Commit); ok && held.Checksum != h.Parent {
			return // its log disagrees at the commit point: it asks for the view's log instead
		}
	default:
		return
	}
	if _, err := vsr.Decode(msg, c.ClusterID()); err != nil {
		return // a damaged body: the standby drops the whole message
	}
	m.heard(h.Commit, st.CommitMin, c.Nodes[i].Clock.Monotonic())
}

// onEvent follows the standbys' state syncs and configurations. A state sync installs a
// checkpoint without executing the ops below it, and the standby settles its lag when it
// executes an op: the step pending before the sync ends at its next executed op, as of the
// pending commit number's announcement (before the sync). Until then what the sync skipped
// earns nothing. A standby that enters a new configuration (every event names its epoch),
// or a new status (it may have read its configuration from disk), takes announcements by
// it from then on: the model reads the configuration again at once, not at the next
// inspection.
func (t *lagTruth) onEvent(c *sim.Cluster, e vsr.Event) {
	if e.Replica < c.ReplicaCount() || e.Replica >= c.MemberCount() {
		return
	}
	r := c.Replica(e.Replica)
	if r == nil || !r.IsStandby() {
		return
	}
	m := t.model(c, e.Replica, r)
	if e.Kind == vsr.EventStateSync {
		m.synced = max(m.synced, e.Op)
	}
	if e.Kind == vsr.EventStatus || e.Epoch != m.epoch {
		var in vsr.Inspection
		r.InspectStateInto(&in)
		m.configuration(&in)
	}
}

// configuration takes the standby's configuration from an inspection.
func (m *lagModel) configuration(in *vsr.Inspection) {
	m.inspected, m.epoch, m.outside = true, in.Epoch, in.Outside
	m.lost = in.CheckpointLost || in.Joining || in.Removed
}

// model returns standby node i's record, started anew for a new process.
func (t *lagTruth) model(c *sim.Cluster, i int, r *vsr.Replica) *lagModel {
	if t.standbys == nil {
		t.standbys = make([]lagModel, c.StandbyCount())
	}
	m := &t.standbys[i-c.ReplicaCount()]
	if m.of != r {
		m.reset(r)
	}
	return m
}

// lagKnobs are the tests' broken standbys (swarmKnobs.lagReported, lagKnown).
type lagKnobs struct {
	reported func(ns int64) int64 // changes the reported lag
	// known, if set, is whether the lag is reported known, given the inspection and whether
	// the process is a restart.
	known func(in *vsr.Inspection, restarted bool) bool
	ops   lagOpsKnobs // the lag in ops and eligibility (standby_lag_ops_truth.go)
}

// check holds what standby node i reports in in (inspected after the tick) to the bounds;
// it returns the violation, or "". knobs change what it reports first.
func (t *lagTruth) check(c *sim.Cluster, i int, r *vsr.Replica, in *vsr.Inspection, knobs lagKnobs) string {
	if i < c.ReplicaCount() || !r.IsStandby() {
		return ""
	}
	m := t.model(c, i, r)
	m.configuration(in)
	known := in.StandbyLagKnown
	if knobs.known != nil {
		known = knobs.known(in, m.restarted)
	}
	if !m.started {
		return m.unknown(i, in, known)
	}
	now := c.Nodes[i].Clock.Monotonic()
	m.advance(in.CommitMin)
	if !known {
		// As a lag of zero: the lower bound alone can fail.
		if since := m.staleSince(in.CommitMin); now-since > lagTruthSlackNs {
			return fmt.Sprintf("standby R%d says its lag is unknown (no primary heard since it started), but it took "+
				"announcements of commit numbers up to %d from its view's primary, the first at %s, the last at %s "+
				"(op %d executed)", i, m.maxCommit, sim.Duration(m.firstHeard), sim.Duration(m.lastHeard), in.CommitMin)
		}
		return t.checkOps(i, m, in, known, knobs.ops)
	}
	reported := in.StandbyLagNs
	if knobs.reported != nil {
		reported = knobs.reported(reported)
	}
	if since := m.staleSince(in.CommitMin); reported < now-since-lagTruthSlackNs {
		return fmt.Sprintf("standby R%d reports a lag of %s, but it was told at %s of a commit number above the op "+
			"it has executed (%d) and still lacks it: it has been behind for %s (under-reported)", i,
			sim.Duration(reported), sim.Duration(since), in.CommitMin, sim.Duration(now-since))
	}
	if bound := now - m.current; reported > bound+lagTruthOverNs {
		return fmt.Sprintf("standby R%d reports a lag of %s, but it has executed every commit number it had heard "+
			"by %s (op %d executed, %d heard): it is at most %s behind (over-reported)", i,
			sim.Duration(reported), sim.Duration(m.current), in.CommitMin, m.maxCommit, sim.Duration(bound))
	}
	return t.checkOps(i, m, in, known, knobs.ops)
}

// unknown holds a standby process that has taken no announcement since it started to the
// rule: its lag is unknown and it is not eligible; known is the lag's state as reported.
func (m *lagModel) unknown(i int, in *vsr.Inspection, known bool) string {
	if !known && !in.StandbyEligible {
		return ""
	}
	since := "it started"
	if m.restarted {
		since = "its restart"
	}
	return fmt.Sprintf("standby R%d reports its lag as a measurement (known=%t: %s, %d ops, contact lag %s; eligible=%t), "+
		"but it has taken no announcement from a primary since %s (op %d executed, commit %d known): its lag is "+
		"unknown, and it must say so and not be eligible", i, known, sim.Duration(in.StandbyLagNs), in.StandbyLagOps,
		sim.Duration(in.StandbyContactLagNs), in.StandbyEligible, since, in.CommitMin, in.CommitMax)
}
