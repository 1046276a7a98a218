package vsr

import (
	"errors"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/internal/assert"
)

// DR failover (the runbook's scenario 2, option B: `cluster failover --promote-standby 100
// --approve-data-loss-risk`). When every active replica is gone, an operator promotes a
// standby into a new configuration in which it is the only active replica. The
// configuration's epoch (the superblock's Epoch, carried by every message) rises past the
// standby's and past every epoch its kept log moves to (promotedEpoch):
//
//   - the promoted replica keeps the committed prefix it holds durably (P: the highest op it
//     knows committed whose prepares up to it are all in its write-ahead log) and drops its
//     log above P; it restarts as replica 0 of 1, primary of a view above every view it knew;
//   - everything the old configuration committed above P is lost: the recovery point the
//     operator approved (what the old replicas acknowledged above P, the simulator counts);
//   - a replica of an older epoch that comes back stops itself as soon as it hears from the
//     new configuration, with a status that says so, and its messages are dropped: it can
//     neither vote in nor lead the new configuration.

// ErrPromoteBusy: the standby's storage has a write, checkpoint or truncation in flight;
// the promotion is refused and may be retried a moment later.
var ErrPromoteBusy = errors.New("promote: the standby's storage is busy; retry")

// PromoteReport is what a promotion did.
type PromoteReport struct {
	Standby int    // the standby's index in the old configuration
	Op      uint64 // P: the committed prefix the new configuration starts from
	Dropped uint64 // log entries above P that were dropped
	Epoch   uint32 // the new configuration's epoch
	View    uint32 // the promoted replica's first view
}

// Promote is the failover of this running standby: it stops taking part, and its storage
// is rewritten as the single active replica of a new configuration keeping the committed
// prefix up to P, the highest op it knows committed whose prepares up to it are all in its
// write-ahead log (it knows its commit number in memory, which its superblock may not have
// caught up with: a promotion of a stopped standby's disk would lose more). done runs from a
// disk completion; the replica is then stopped, and its process must be restarted as replica
// 0 of 1 (Options).
func (r *Replica) Promote(done func(PromoteReport, error)) {
	switch {
	case !r.isStandby():
		done(PromoteReport{}, errNotStandby)
		return
	case (r.status != StatusNormal && r.status != StatusViewChange) || r.stateLost || r.storage == nil:
		// A standby in view_change is between entering a view (a new configuration's, or one
		// it found above its log view at a restart) and that view's start_view: its log and
		// state are its own (only the start_view installs another log, and makes it normal).
		// With the active region lost no start_view comes, and refusing it left the failover
		// impossible for good.
		done(PromoteReport{}, fmt.Errorf("promote: standby is %s: it must be normal or between views, with its own state", r.status))
		return
	case r.logWriting || r.checkpointing || r.cutsQueued > 0 || r.stateWriting || r.stateRetry:
		// Its storage has work in flight that would land after (or move) the promotion point.
		done(PromoteReport{}, ErrPromoteBusy)
		return
	}
	p := r.checkpointOp
	for p < r.commitMax {
		s := r.log.slotOf(p + 1)
		if !s.present || s.header.Op != p+1 || !s.durable {
			break
		}
		p++
	}
	epoch := r.promotedEpoch(p)
	r.status = StatusStopped
	r.emit(EventStatus, p, checksum.Sum{}, fmt.Sprintf("stopped: promoting to the active replica of epoch %d from op %d",
		epoch, p))
	promoteStorage(r.storage, r.storage.State(), p, epoch, done)
}

// promotedEpoch is the epoch of the configuration a promotion to op p makes: above the
// standby's, and above the epoch every change the kept log holds moves to. The promoted
// replica replays its log up to p after its restart, and a committed change there that the
// standby had not entered durably (a restarted standby executes nothing until it hears from
// a primary; or its superblock write of the new epoch was lost in a crash) names the epoch
// after the standby's: taking that epoch for the failover made the change one of the
// promoted replica's own epoch with another membership, and the replay fail-stopped it
// ("executed a change that disagrees with its epoch") at every restart. Above it, the change
// is one of an older configuration, as for any replica that heard of a newer epoch first.
func (r *Replica) promotedEpoch(p uint64) uint32 {
	assert.That(r.epoch >= r.storage.State().Epoch, "promote: durable epoch ahead of the standby's")
	epoch := r.epoch
	for op := r.checkpointOp + 1; op <= p; op++ {
		h, ok := r.log.header(op)
		assert.That(ok, "promote: an op of the kept prefix without its header")
		if h.Operation == OperationReconfigure {
			epoch = max(epoch, h.Epoch+1)
		}
	}
	assert.That(epoch >= r.epoch && epoch < ^uint32(0), "promote: epoch out of range")
	return epoch + 1
}

// promoteStorage truncates the log above p and writes the new configuration's state, of
// epoch (promotedEpoch).
func promoteStorage(s *storage.Storage, st storage.State, p uint64, epoch uint32, done func(PromoteReport, error)) {
	assert.That(epoch > st.Epoch, "promote: the new configuration's epoch is not newer")
	report := PromoteReport{Standby: int(st.Replica), Op: p, Epoch: epoch, View: st.View + 1}
	if head := s.Head(); head > p {
		report.Dropped = head - p
	}
	s.TruncateAfter(p, func(err error) {
		if err != nil {
			done(report, fmt.Errorf("promote: truncating the log above op %d: %w", p, err))
			return
		}
		next := st
		next.Replica, next.ReplicaCount, next.StandbyCount = 0, 1, 0
		// Every other index is outside: a replica of the old configuration that hears the
		// new one learns it is not a member of it (reconfig.go onOtherEpoch).
		next.Outside = ^uint16(1)
		next.Epoch, next.View, next.Commit = report.Epoch, report.View, p
		s.SaveState(next, func(err error) { done(report, err) })
	})
}
