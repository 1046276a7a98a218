package vsr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/internal/assert"
)

// Releases and upgrades (the runbook's rolling upgrade). Every replica runs a binary of some
// release (Options.Release) and stamps it on every message it sends (Header.Release). The
// cluster runs the state machine's semantics of one release, the cluster release, which is
// replicated state (kv.Machine.Release: in every checkpoint and digest). A new release's
// features stay off until every replica runs a binary that knows it; then the primary
// prepares an upgrade op, and when the op commits every replica switches at the same op.
//
// A binary older than the cluster release cannot run it: a replica that meets it (an
// upgrade op to execute, a checkpoint to recover or to sync) stops with a clear status
// instead of diverging. So a rollback is safe until the upgrade op commits and refused
// after: the rolled-back replica stops, the others carry on.

// errReleaseTooOld: the state needs a newer binary than this replica's.
var errReleaseTooOld = errors.New("release too old")

// upgradePayloadSize is the upgrade op's payload: the release, u32.
const upgradePayloadSize = 4

// noteRelease records the release of the binary a peer runs, from a message it sent.
func (r *Replica) noteRelease(replica int, release uint32) {
	if replica == r.replica || replica >= r.count || release == 0 || !r.isMember(replica) {
		return
	}
	if r.releases == nil {
		r.releases = make([]uint32, r.count)
	}
	r.releases[replica] = release
}

// upgradeTarget returns the release every replica's binary knows (the lowest reported, ours
// included), if some replica has not reported yet it returns 0.
func (r *Replica) upgradeTarget() uint32 {
	target := r.options.Release
	for i := 0; i < r.count; i++ {
		if i == r.replica || !r.isMember(i) {
			continue
		}
		if r.releases == nil || r.releases[i] == 0 {
			return 0
		}
		target = min(target, r.releases[i])
		if r.mutated(MutationUpgradeAtHighestRelease) {
			target = max(target, r.releases[i])
		}
	}
	return target
}

// maybeUpgrade is the primary's part: when every replica runs a binary newer than the
// cluster release, it prepares one upgrade op (alone in its batch), and no other until
// that one has executed.
func (r *Replica) maybeUpgrade() {
	if r.status != StatusNormal || !r.isPrimary() || r.diskFull || len(r.pipeline) >= PipelinePrepareMax {
		return
	}
	target := r.upgradeTarget()
	if target <= r.machine.Release() || r.upgradeOp > r.commitMin || r.reconfigBlocked() {
		return
	}
	if r.op+1 > r.checkpointOp+PrepareAheadMax || r.checkpointing || r.stateDurable.Boots != r.boots {
		return // as primaryPrepare: the window, the checkpoint and this boot come first
	}
	if _, ok := r.log.checksumOf(r.op); !ok && r.op > 0 {
		return
	}
	timestamp, ok := r.primaryTimestamp()
	if !ok {
		return
	}
	payload := binary.LittleEndian.AppendUint32(nil, target)
	r.primaryPrepareBatch([]batchEntry{{Operation: OperationUpgrade, Payload: payload}}, timestamp)
	r.upgradeOp = r.op
}

// upgradeOf returns the release of an upgrade prepare (ok false for any other prepare).
func (r *Replica) upgradeOf(m Message) (uint32, bool) {
	entries, err := decodeBatchInto(r.upgradeBatch, m.Body)
	assert.That(err == nil, "prepare batch does not decode")
	r.upgradeBatch = entries[:0] // kept for the next call (every committed op asks)
	return upgradeRelease(entries)
}

// upgradeRelease returns the release an upgrade prepare switches to (ok false for any other
// prepare).
func upgradeRelease(entries []batchEntry) (uint32, bool) {
	if len(entries) != 1 || entries[0].Operation != OperationUpgrade {
		return 0, false
	}
	assert.That(len(entries[0].Payload) == upgradePayloadSize, "upgrade op with a malformed payload")
	return binary.LittleEndian.Uint32(entries[0].Payload), true
}

// executeUpgrade switches the state machine to release (a duplicate, prepared by two
// primaries across a view change, changes nothing).
func (r *Replica) executeUpgrade(prepare Header, release uint32) {
	assert.That(release <= r.options.Release, "executing an upgrade beyond this binary's release")
	if release <= r.machine.Release() {
		return
	}
	r.machine.Upgrade(release)
	r.metrics.Upgrades++
	r.emit(EventUpgrade, prepare.Op, checksum.Sum{}, fmt.Sprintf("cluster release %d", release))
}

// stopReleaseTooOld fail-stops the replica cleanly: the cluster's state needs release, which
// its binary does not have. It takes no further part until an operator restarts it on a
// newer binary.
func (r *Replica) stopReleaseTooOld(why string) {
	r.status = StatusStopped
	r.emit(EventStatus, r.commitMin, checksum.Sum{}, "stopped: "+why)
}

// checkMachineRelease returns errReleaseTooOld if machine (restored from a checkpoint) runs
// a release newer than this binary's.
func (r *Replica) checkMachineRelease(machine *kv.Machine) error {
	if machine.Release() > r.options.Release {
		return fmt.Errorf("%w: checkpoint of cluster release %d, binary release %d", errReleaseTooOld,
			machine.Release(), r.options.Release)
	}
	return nil
}
