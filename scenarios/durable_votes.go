package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
)

// Votes are durable before they leave a replica. A replica that votes in a view and then
// crashes must come back in that view at least, claiming at least the log view it voted
// with: a restart into an older view (or an older log view) would let it vote again for a
// different log, or hand a view change an older claim than the acknowledgements it gave.
// The replica keeps its view and log view in the superblock (DESIGN.md section 3), so at
// the moment a vote is sent the sender's superblock, read from its simulated disk's durable
// bytes (never from the replica), must already hold:
//
//   - for a prepare_ok, a do_view_change or a start_view of view V: a view of at least V;
//   - for a prepare_ok, also a log view of at least the log view the sender holds when it
//     sends it: every op committed in a log view must be on a quorum that durably claims
//     it, or a crash of one of them lets a view change pick a log without the op.
//
//   - for an acknowledgement of a prepare (a prepare_ok, or a primary counting its own
//     vote), the configuration it is cast in: an epoch of at least the vote's epoch and, at
//     that epoch, the vote's membership. A replica that entered a new configuration and
//     acknowledged in it before its superblock held that epoch comes back, after a crash, in
//     the old configuration having acknowledged in the new one: the new quorums counted a
//     vote that the old configuration's replica no longer stands by. An epoch has one
//     membership (a change raises the epoch; a replica only ever adopts a newer epoch), so
//     a durable copy of the vote's epoch with another membership is a vote in a
//     configuration the disk does not hold.
//
// A do_view_change and a start_view are held to the view alone, as the DB holds them
// (vsr maybeSendDoViewChange waits for stateDurable.View only, transitionToNormalPrimary
// sends at once): a replica in a view change that hears a newer epoch at its own view
// number enters it without a new view number and votes at once (swarm seed 109: replica 0,
// view 2 of epoch 1 durable, sent do_view_change in view 2 of epoch 2 a millisecond before
// its superblock write of epoch 2 synced). Such a vote survives a crash by its view
// number, which views keep raising across epochs; the epoch it forgets ended with its
// change op committed, after which no primary of it prepares anything. The harness counts
// these votes (durable_epoch.view_change_votes_ahead).
//
// checkAckDurable (durability.go) holds the same acknowledgements to the log entries they
// name; this check holds them to the superblock. A superblock sector the simulator damaged
// may leave only an older copy readable, which the replica cannot know of: such a disk is
// not checked (the log_view_durable checker covers what recovery then reads). Each vote
// also holds every running replica's durable log to its superblock's epoch
// (durable_epoch.go).

// voteDurability is what a vote needs durable: the configuration and view it is cast in
// and, for an acknowledgement of a prepare, the log view its sender holds.
type voteDurability struct {
	what    string // the vote, for the message
	view    uint32
	logView uint32 // zero: the vote needs no durable log view
	epoch   uint32 // the configuration epoch the vote is cast in
	// outside is the vote's membership (its header's), held to the superblock's at its
	// epoch when members is set (a primary's own vote is known by its epoch alone).
	outside uint16
	members bool
	// configuration: the vote needs its epoch durable (an acknowledgement of a prepare).
	configuration bool
}

// missing returns what a durable superblock lacks for the vote, or "" if it holds it.
func (v voteDurability) missing(sb durableSuperblock) string {
	switch {
	case !sb.ok:
		return "no intact superblock copy"
	case v.configuration && sb.epoch < v.epoch:
		return fmt.Sprintf("its superblock durably holds epoch %d (view %d)", sb.epoch, sb.view)
	case v.configuration && v.members && sb.epoch == v.epoch && sb.outside != v.outside:
		return fmt.Sprintf("its superblock durably holds epoch %d with membership outside=%#x, not the vote's %#x",
			sb.epoch, sb.outside, v.outside)
	case sb.view < v.view:
		return fmt.Sprintf("its superblock durably holds view %d (log view %d)", sb.view, sb.logView)
	case sb.logView < v.logView:
		return fmt.Sprintf("its superblock durably holds log view %d (view %d)", sb.logView, sb.view)
	}
	return ""
}

// checkVoteSent returns a violation message if replica sends the vote h (a prepare_ok, a
// do_view_change or a start_view) while its superblock does not durably hold what the vote
// needs, "" otherwise.
func (d *durableDisks) checkVoteSent(replica int, h vsr.Header) string {
	d.sawEpoch(h.Epoch)
	ack := h.Command == vsr.CommandPrepareOK
	v := voteDurability{what: sentName(h.Command), view: h.View, epoch: h.Epoch, outside: h.Outside, members: true,
		configuration: ack}
	if msg := d.checkVote(replica, v, ack); msg != "" {
		return msg
	}
	if !ack {
		d.viewChangeVoteAhead(replica, h)
	}
	return d.checkLogEpochs()
}

// viewChangeVoteAhead counts a do_view_change or start_view sent before the sender's
// superblock durably holds its epoch (allowed: see above).
func (d *durableDisks) viewChangeVoteAhead(replica int, h vsr.Header) {
	disk := d.c.Nodes[replica].Disk
	if sb := d.superblocks[replica].read(disk); sb.ok && sb.epoch < h.Epoch {
		d.epochs.viewChangeAhead++
	}
}

// sentName is "sent " and the command's name, without building a string for the votes.
func sentName(c vsr.Command) string {
	switch c {
	case vsr.CommandPrepareOK:
		return "sent prepare_ok"
	case vsr.CommandDoViewChange:
		return "sent do_view_change"
	case vsr.CommandStartView:
		return "sent start_view"
	}
	return "sent " + c.String()
}

// checkVoteDurable checks a vote cast in view, in the sender's current epoch; ack says it
// acknowledges a prepare, which needs the sender's log view durable too.
func (d *durableDisks) checkVoteDurable(replica int, what string, view uint32, ack bool) string {
	v := voteDurability{what: what, view: view, configuration: ack}
	if r := d.c.Replica(replica); r != nil {
		v.epoch = r.TraceState().Epoch // the vote is counted as it is cast: in its epoch
		d.sawEpoch(v.epoch)
	}
	if msg := d.checkVote(replica, v, ack); msg != "" {
		return msg
	}
	return d.checkLogEpochs()
}

// checkVote checks the vote v of replica; ack says it acknowledges a prepare.
func (d *durableDisks) checkVote(replica int, v voteDurability, ack bool) string {
	disk := d.c.Nodes[replica].Disk
	if len(disk.Altered("superblock", 0, superblockFileSize)) > 0 {
		return "" // the simulator damaged a copy: what survives is not the replica's doing
	}
	sb := d.superblocks[replica].read(disk)
	if ack && sb.ok && sb.logView < v.view {
		// The sender's log view is at most its view: read it only when the durable one
		// could be behind it.
		if r := d.c.Replica(replica); r != nil {
			v.logView = r.Inspect().LogView
		}
	}
	lack := v.missing(sb)
	if lack == "" {
		return ""
	}
	held := ""
	if v.logView > 0 {
		held = fmt.Sprintf(" (holding log view %d)", v.logView)
	}
	return fmt.Sprintf("replica %d %s in view %d of epoch %d%s at %s, but %s", replica, v.what, v.view, v.epoch, held, d.c.Loop.Now(), lack)
}
