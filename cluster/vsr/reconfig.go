package vsr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// Reconfiguration (the runbook's `cluster reconfig add-replica | remove-replica |
// add-standby | remove-standby | replace`). A cluster is formatted with a fixed table of
// replica slots: indices 0..ReplicaCount-1 for active replicas and the StandbyCount after
// them for standbys (the operator's ids: the index, or StandbyIDBase+k). The configuration
// says which slots are members: Outside, a bit per slot, with the epoch it belongs to. Slots
// never change index, so addresses, routes and replica ids stay what they were formatted as.
//
// One change at a time. A change moves one slot in or out, and goes through the log:
//
//   - The primary prepares it as an op of its own (OperationReconfigure, alone in its batch,
//     the prepare's header marked too) carrying the new epoch (ours+1) and membership. From
//     then until it has executed, no primary of this epoch prepares anything after it: a
//     primary that finds one in its log above commit_min (a new primary after a view change
//     too, from the headers alone) stops preparing. So the op ends its epoch: it is the
//     epoch's last op, committed by the old configuration's quorum.
//   - A replica that executes it moves to the new configuration: a member starts a view
//     change into the next view of the new epoch (view numbers keep rising across epochs),
//     whose quorums are the new configuration's; a replica outside it stops, saying it was
//     removed. Every op after the change is prepared and committed in the new epoch by the
//     new configuration's quorums.
//   - Every message carries the sender's epoch and membership. A replica that hears a newer
//     epoch (it missed the change, or was down) and is a member of it joins the new epoch's
//     view change or view at once, with the log it has; one outside it stops. A message of an
//     older epoch is dropped, and answered with a ping of ours, so that a replica left behind
//     learns where the cluster went even when nobody of the new configuration sends to it.
//     A removed replica stops taking part but keeps doing this (and only this), even after a
//     restart: it may be the last of the old configuration to know the change committed (a
//     primary that removed itself, say), and the others learn the new epoch from it. So an
//     operator replaces a removed replica's disk only once the new configuration has a
//     normal primary (ops and the simulator's operator wait for one).
//   - A replica formatted to join (`format --join`: its own slot outside, at the epoch the
//     cluster is in, never booted) waits, silent, until it hears a later epoch that includes
//     it; it joins with an empty log and state-syncs like any replica that is far behind. It
//     never takes part in the epoch it was formatted at or an earlier one: those may count
//     its slot with the promises of the disk it replaced. A replica whose durable state says
//     it was removed stops at once when it starts.
//
// Why this is safe with one change at a time, and why not joint consensus (VSR Revisited
// §7 moves whole groups with an epoch per change; Raft's joint consensus needs both
// majorities during the change). With C and C' differing in one member, any majority of C
// and any majority of C' intersect: |C'| <= |C|+1 and a C'-majority holds at least
// floor(|C'|/2)+1-1 members of C, which with a C-majority exceeds |C|. So the new epoch's
// first view change, whose quorum is a C'-majority, always meets a replica of every C-quorum
// that committed an op up to the change, and the usual view-change argument carries over.
// Raft's single-server changes have a known bug (Ongaro, raft-dev 2015): a leader applies a
// configuration as soon as it is appended, so two changes from leaders of different terms
// can overlap uncommitted and form disjoint majorities; the fix is an entry of the leader's
// own term committed before any change. Here a configuration takes effect only once its op
// is committed and executed, and an epoch holds at most one change (nothing is prepared
// after it), so two changes never overlap. Joint consensus would allow arbitrary changes in
// one step at the cost of double quorums in every path of the protocol (commit, view change,
// PAR's nack threshold); a `replace` here is two changes, remove then add, which the
// operator tooling runs in order.

// reconfigPayloadSize is the reconfiguration op's payload: epoch u32, outside u16.
const reconfigPayloadSize = 6

// ChangeKind is a membership change.
type ChangeKind uint8

// Membership changes (`cluster reconfig ...`).
const (
	ChangeAddReplica ChangeKind = iota + 1
	ChangeRemoveReplica
	ChangeAddStandby
	ChangeRemoveStandby
)

var changeNames = [...]string{"", "add-replica", "remove-replica", "add-standby", "remove-standby"}

func (k ChangeKind) String() string {
	if int(k) < len(changeNames) && k != 0 {
		return changeNames[k]
	}
	return fmt.Sprintf("change(%d)", uint8(k))
}

// Change is one membership change: a kind and the replica index it moves.
type Change struct {
	Kind    ChangeKind
	Replica int
}

// Errors of Reconfigure.
var (
	// ErrReconfigNotPrimary: only the primary of a normal view takes a change.
	ErrReconfigNotPrimary = errors.New("reconfig: this replica is not the primary of a normal view")
	// ErrReconfigBusy: a change is already on its way; one at a time.
	ErrReconfigBusy = errors.New("reconfig: a change is already in progress; one at a time")
)

// reconfigState is the replica's part in changes: a change the operator asked of this
// primary and not yet prepared, and a change executed whose switch is due.
type reconfigState struct {
	want    *uint16      // the membership asked for, to prepare
	switch_ *epochSwitch // executed: enter it on the next tick
	// previousActive is the active member count before the last configuration this
	// replica entered (for the planted bug MutationReconfigOldQuorum alone).
	previousActive int
}

type epochSwitch struct {
	epoch   uint32
	outside uint16
	op      uint64
}

// Reconfigure asks this primary for one membership change. It is checked against the
// configuration now in force and prepared as soon as the pipeline has room; it takes effect
// when its op commits (watch Inspection.Epoch). An error says why it was refused.
func (r *Replica) Reconfigure(c Change) error {
	if r.status != StatusNormal || !r.isPrimary() || r.stateLost {
		return ErrReconfigNotPrimary
	}
	if r.reconfig.want != nil || r.reconfigBlocked() {
		return ErrReconfigBusy
	}
	outside, err := r.changed(c)
	if err != nil {
		return err
	}
	r.reconfig.want = &outside
	r.emit(EventStatus, r.op, checksum.Sum{}, fmt.Sprintf("reconfiguration asked: %s %d", c.Kind, c.Replica))
	return nil
}

// changed returns the membership after c, or why c is not one change of ours.
func (r *Replica) changed(c Change) (uint16, error) {
	active := c.Kind == ChangeAddReplica || c.Kind == ChangeRemoveReplica
	add := c.Kind == ChangeAddReplica || c.Kind == ChangeAddStandby
	switch {
	case c.Kind < ChangeAddReplica || c.Kind > ChangeRemoveStandby:
		return 0, fmt.Errorf("reconfig: unknown change %d", c.Kind)
	case active && (c.Replica < 0 || c.Replica >= r.count || (c.Replica == 0 && r.mutated(MutationReconfigRefusesFirstSlot))):
		return 0, fmt.Errorf("reconfig: %s: replica %d is not an active slot (0..%d)", c.Kind, c.Replica, r.count-1)
	case !active && (c.Replica < r.count || c.Replica >= r.count+r.standbys):
		return 0, fmt.Errorf("reconfig: %s: replica index %d is not a standby slot", c.Kind, c.Replica)
	case add && r.isMember(c.Replica):
		return 0, fmt.Errorf("reconfig: %s: replica %d is already a member", c.Kind, c.Replica)
	case !add && !r.isMember(c.Replica):
		return 0, fmt.Errorf("reconfig: %s: replica %d is not a member", c.Kind, c.Replica)
	case c.Kind == ChangeRemoveReplica && r.activeCount() == 1:
		return 0, errors.New("reconfig: remove-replica: the last active replica cannot be removed")
	}
	return r.outside ^ 1<<uint(c.Replica), nil
}

// maybeReconfigure is the primary's part: it prepares the change asked for, alone in its
// batch, once nothing stands in the way (as maybeUpgrade). A primary that lost its view
// drops the request: the operator asks the new primary.
func (r *Replica) maybeReconfigure() {
	if r.reconfig.want == nil {
		return
	}
	if r.status != StatusNormal || !r.isPrimary() {
		r.reconfig.want = nil
		return
	}
	if r.diskFull || len(r.pipeline) >= PipelinePrepareMax || r.reconfigBlocked() {
		return
	}
	if r.op+1 > r.checkpointOp+PrepareAheadMax || r.checkpointing || r.stateDurable.Boots != r.boots {
		return
	}
	if _, ok := r.log.checksumOf(r.op); !ok && r.op > 0 {
		return
	}
	timestamp, ok := r.primaryTimestamp()
	if !ok {
		return
	}
	payload := binary.LittleEndian.AppendUint32(nil, r.epoch+1)
	payload = binary.LittleEndian.AppendUint16(payload, *r.reconfig.want)
	r.reconfig.want = nil
	r.primaryPrepareBatch([]batchEntry{{Operation: OperationReconfigure, Payload: payload}}, timestamp)
}

// reconfigBlocked reports whether this epoch is ending: a change of this epoch is in the log
// at or above commit_min (not yet executed, or executed last and not yet entered), or its
// switch is due. Nothing more is prepared in the epoch. (A change of an older epoch in the
// log is one this replica entered by hearing of it first.)
func (r *Replica) reconfigBlocked() bool {
	if r.mutated(MutationPrepareAfterReconfig) {
		return false
	}
	if r.reconfig.switch_ != nil {
		return true
	}
	for op := r.commitMin; op <= r.op; op++ { // the change may be the op executed last
		if h, ok := r.log.header(op); ok && h.Operation == OperationReconfigure && h.Epoch == r.epoch {
			return true // a change of ours: our epoch ends with it
		}
	}
	return false
}

// reconfigOf decodes a reconfiguration entry's payload.
func reconfigOf(e batchEntry) (epoch uint32, outside uint16) {
	assert.That(len(e.Payload) == reconfigPayloadSize, "reconfiguration op with a malformed payload")
	return binary.LittleEndian.Uint32(e.Payload), binary.LittleEndian.Uint16(e.Payload[4:])
}

// executeReconfig runs a committed change: the switch happens on the next tick, outside the
// execution loop (the switch changes view, which the caller's path must not see mid-way). A
// replica that already joined that epoch or a later one (it heard of it first) has nothing
// to do.
func (r *Replica) executeReconfig(prepare Header, e batchEntry) {
	epoch, outside := reconfigOf(e)
	if epoch <= r.epoch {
		assert.That(epoch < r.epoch || outside == r.outside, "executed a change that disagrees with its epoch")
		return
	}
	assert.That(epoch == r.epoch+1, "a change skips an epoch")
	r.reconfig.switch_ = &epochSwitch{epoch: epoch, outside: outside, op: prepare.Op}
}

// switchEpoch enters the configuration of an executed change.
func (r *Replica) switchEpoch() {
	s := r.reconfig.switch_
	r.reconfig.switch_ = nil
	if s.epoch <= r.epoch {
		return
	}
	r.enterConfiguration(s.epoch, s.outside, r.view+1, fmt.Sprintf("executed the change at op %d", s.op))
	r.commitExecute() // a checkpoint at the change's op waited for the switch (commitExecute)
}

// onOtherEpoch handles a message of another configuration. Of an older epoch: dropped, and
// the sender hears our epoch (a ping) so that it learns where the cluster went. Of a newer
// epoch: we missed a change or a failover; a member of it joins it, anyone else stops.
func (r *Replica) onOtherEpoch(m Message) {
	h := m.Header
	if r.removed && h.Epoch > r.epoch {
		return // stopped for good: a later epoch that adds this slot back wants a new disk
	}
	if h.Epoch < r.epoch {
		if !r.joining && int(h.Replica) != r.replica && int(h.Replica) < r.count+r.standbys {
			ping := r.header(CommandPing)
			ping.Timestamp = -1 // not a clock sample: its pong is not one of ours
			r.bus.SendToReplica(int(h.Replica), Encode(ping, nil))
		}
		return
	}
	// A failover's configuration reuses replica index 0 for the promoted standby: a replica
	// of ours hearing its own index from another process is not of that configuration.
	member := int(h.Replica) != r.replica && isMemberOf(h.Outside, r.replica, r.count+r.standbys)
	switch {
	case member:
		r.enterConfiguration(h.Epoch, h.Outside, h.View, fmt.Sprintf("heard epoch %d from replica %d", h.Epoch, h.Replica))
		if r.status != StatusStopped && h.Epoch == r.epoch {
			r.onMessage(m) // now of our epoch: a vote, a start_view or a prepare to take
		}
	case r.joining:
		// Not added yet: keep waiting.
	default:
		r.adopt(h.Epoch, h.Outside)
		r.stopRemoved(fmt.Sprintf("heard epoch %d from replica %d", h.Epoch, h.Replica))
	}
}

// stateLostEpoch follows the configuration while the replica waits for a state sync after
// losing its checkpoint: it asks its peers in its epoch, and a cluster that moved on answers
// with its own epoch (a ping), which it takes if it is a member of it (its requests then go
// out in that epoch, and the sync comes back in it), or stops if it is not (swarm seed
// 2026150975: a replica that lost its checkpoint across a change waited forever for a sync
// of its old epoch). It takes no part until the sync is in; the view change that follows
// its recovery moves it into the epoch's views.
func (r *Replica) stateLostEpoch(h Header) {
	if h.Command == CommandRequest || h.Epoch <= r.epoch || int(h.Replica) == r.replica {
		return
	}
	r.adopt(h.Epoch, h.Outside)
	if !r.isMember(r.replica) {
		r.stopRemoved(fmt.Sprintf("heard epoch %d from replica %d while its checkpoint was lost", h.Epoch, h.Replica))
	}
}

// adopt makes epoch (membership outside) the replica's configuration, without taking part
// in it yet (enterConfiguration does, stopRemoved stops a replica outside it).
func (r *Replica) adopt(epoch uint32, outside uint16) {
	assert.That(epoch > r.epoch, "adopting an older configuration")
	r.reconfig.previousActive = r.activeCount()
	r.epoch, r.outside = epoch, outside
	r.joinedEmpty = r.joinedEmpty || r.joining // added with an empty disk (replica_par.go: denies)
	r.joining = false
	r.releases = nil // the new configuration's peers report their releases again
	r.metrics.Reconfigurations++
	// The clock verdict is a quorum's, and the quorum just changed: sweep again now, not at
	// the next tick (a lone replica that added a peer kept reporting, and would have stamped
	// with, a verdict it no longer had a quorum for: swarm seed 2046200897).
	r.clockSync.update(r)
}

// enterConfiguration makes epoch (membership outside) ours and takes part in it from view:
// a standby waits for that view's log, a lone active replica leads it, an active replica
// starts its view change (and asks for its log, in case the view is already normal). A view
// of the old epoch is never taken part in under the new configuration: view is above every
// view the replica was normal in (switchEpoch passes view+1; a newer epoch's message names
// a view of that epoch, and a normal replica moves past its own).
func (r *Replica) enterConfiguration(epoch uint32, outside uint16, view uint32, why string) {
	r.adopt(epoch, outside)
	if !r.isMember(r.replica) {
		r.stopRemoved(why)
		return
	}
	r.emit(EventStatus, r.op, checksum.Sum{}, fmt.Sprintf("configuration epoch %d (%s): %s", epoch, r.membersText(), why))
	r.runTimeouts(&r.ping) // stops the others: each path below starts its own
	switch {
	case r.isStandby():
		r.view = max(r.view, view)
		r.status = StatusViewChange
		r.viewChange = viewChangeState{}
		r.ahead.clear()
		r.pipeline, r.requestQueue = nil, nil
		r.persistState()
		r.recoverTimeout.start(r.rand)
		r.requestStartView(r.view)
	case r.activeCount() == 1:
		r.leadAlone(max(view, r.view+1))
	default:
		view = max(view, r.view)
		if r.status == StatusNormal && view == r.view {
			view++ // our view is of the old epoch: leave it
		}
		r.transitionToViewChange(view)
		if p := r.primaryIndex(r.view); p != r.replica {
			r.requestStartView(r.view)
		}
	}
}

// leadAlone makes the only active replica the primary of view, once that view is durable
// (onStateDurable): its start_view must name a durable view, and a view it led before (a
// restart) may hold ops its standbys took that this incarnation no longer has.
func (r *Replica) leadAlone(view uint32) {
	assert.That(r.activeCount() == 1 && !r.isStandby(), "leading alone with peers")
	r.view = view
	r.status = StatusViewChange
	r.viewChange = viewChangeState{}
	r.ahead.clear()
	r.pipeline, r.requestQueue = nil, nil
	r.runTimeouts(&r.ping)
	r.persistState()
}

// olderEpochHead is the highest op of the log prepared in an earlier epoch: committed. An
// epoch ends with its change op, committed, and nothing is prepared after it in that epoch;
// the new epoch's view changes meet a replica of every quorum that committed it (one change
// at a time), so a log they choose holds the change and only committed ops of its epoch. A
// new primary must never judge such an op by the nacks of the new configuration (PAR's
// n - quorum + 1 counts one configuration's replicas): swarm seed 20261262, a replica that
// missed ops 189-190 of epoch 4 led the first view of epoch 5 with one other member, counted
// its own nack as enough, and truncated an acknowledged op.
func (r *Replica) olderEpochHead() uint64 {
	for op := r.op; op > r.commitMax; op-- {
		if h, ok := r.log.header(op); ok && h.Epoch < r.epoch {
			return op
		}
	}
	return 0
}

// stopRemoved stops a replica that is not a member of the configuration it now knows, and
// persists that configuration: it stops again, at once, if it is restarted.
func (r *Replica) stopRemoved(why string) {
	r.status, r.removed = StatusStopped, true
	r.metrics.EpochStops++
	r.persistState()
	r.emit(EventStatus, r.op, checksum.Sum{}, fmt.Sprintf(
		"stopped: removed from the cluster: configuration epoch %d (%s) does not include this replica (%s); format it with --join to add it back",
		r.epoch, r.membersText(), why))
}

// isMember reports whether replica index i is a member of our configuration.
func (r *Replica) isMember(i int) bool { return isMemberOf(r.outside, i, r.count+r.standbys) }

func isMemberOf(outside uint16, i, slots int) bool {
	return i >= 0 && i < slots && outside&(1<<uint(i)) == 0
}

// activeCount is the number of active members: quorums are majorities of them.
func (r *Replica) activeCount() int { return activeCountOf(r.count, r.outside) }

func activeCountOf(count int, outside uint16) int {
	mask := uint16(1)<<uint(count) - 1
	return count - bits.OnesCount16(outside&mask)
}

// activeMember returns the k-th active member (k < activeCount).
func (r *Replica) activeMember(k int) int { return PrimaryIndex(uint32(k), r.count, r.outside) }

// membersText names the configuration's members, for statuses.
func (r *Replica) membersText() string {
	text := "replicas"
	standbys := false
	for i := 0; i < r.count+r.standbys; i++ {
		if !r.isMember(i) {
			continue
		}
		if i >= r.count && !standbys {
			text, standbys = text+"; standbys", true
		}
		if i >= r.count {
			text += fmt.Sprintf(" %d", StandbyIDBase+i-r.count)
		} else {
			text += fmt.Sprintf(" %d", i)
		}
	}
	return text
}
