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
// checkAckDurable (durability.go) holds the same acknowledgements to the log entries they
// name; this check holds them to the superblock. A superblock sector the simulator damaged
// may leave only an older copy readable, which the replica cannot know of: such a disk is
// not checked (the log_view_durable checker covers what recovery then reads).

// voteDurability is what a vote needs durable: the view it is cast in and, for an
// acknowledgement of a prepare, the log view its sender holds.
type voteDurability struct {
	what    string // the vote, for the message
	view    uint32
	logView uint32 // zero: the vote needs no durable log view
}

// missing returns what a durable superblock lacks for the vote, or "" if it holds it.
func (v voteDurability) missing(sb durableSuperblock) string {
	switch {
	case !sb.ok:
		return "no intact superblock copy"
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
	return d.checkVoteDurable(replica, sentName(h.Command), h.View, h.Command == vsr.CommandPrepareOK)
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

// checkVoteDurable checks a vote cast in view; ack says it acknowledges a prepare, which
// needs the sender's log view durable too.
func (d *durableDisks) checkVoteDurable(replica int, what string, view uint32, ack bool) string {
	v := voteDurability{what: what, view: view}
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
	return fmt.Sprintf("replica %d %s in view %d%s at %s, but %s", replica, v.what, v.view, held, d.c.Loop.Now(), lack)
}
