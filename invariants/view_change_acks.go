package invariants

import "vopr/cluster/vsr"

// NameViewChangeAcks checks VRR's promise behind every acknowledgement: a replica that
// acknowledged op n in view v (a backup's prepare_ok, a primary's vote for its own prepare)
// holds a log of view v reaching n for as long as v is its log view. So every do_view_change
// it sends with log view v names an op of at least n. A new primary takes the log with the
// highest log view, and the longest among those; a replica that offers its log view with
// fewer ops than it acknowledged there can be chosen over the replica that holds the
// committed ops, and the view then starts without them. Ops it holds but cannot read count
// (they are faulty, and repaired): only a log that ends below an acknowledged op fails.
//
// An acknowledgement binds until the replica runs normal in a newer view: it installed that
// view's log, which holds every committed op, and cuts from its disk the ops of the older view
// that the newer log does not hold (they were never committed) before its superblock names the
// newer log view. A crash in between leaves the older log view with fewer ops (swarm seed 319:
// replica 3, the primary of view 19 left behind with op 243, entered view 20, cut op 243 and
// crashed; it then offered log view 19 with op 242, which is safe).
//
// Where the replica lost its disk by an operator's declared wipe, or the cluster was rebuilt
// (restore, failover), what it acknowledged before is forgotten.
const NameViewChangeAcks = "view_change_keeps_acks"

// viewChangeAcks keeps, per replica, the highest op it acknowledged in each view (viewKey).
type viewChangeAcks struct {
	acked []map[uint64]uint64
}

// ack records that replica acknowledged op in view (of epoch).
func (a *viewChangeAcks) ack(replica int, epoch, view uint32, op uint64) {
	for len(a.acked) <= replica {
		a.acked = append(a.acked, map[uint64]uint64{})
	}
	key := viewKey(epoch, view)
	a.acked[replica][key] = max(a.acked[replica][key], op)
}

// message takes a header a replica sent: prepare_ok acknowledges, do_view_change is checked.
func (a *viewChangeAcks) message(atNs int64, h vsr.Header) *Violation {
	replica := int(h.Replica)
	switch h.Command {
	case vsr.CommandPrepareOK:
		a.ack(replica, h.Epoch, h.View, h.Op)
	case vsr.CommandDoViewChange:
		if replica >= len(a.acked) {
			return nil
		}
		key := viewKey(h.Epoch, h.LogView)
		if acked := a.acked[replica][key]; acked > h.Op {
			return violation(NameViewChangeAcks, replica, acked, h.View, atNs,
				"do_view_change for view %d carries log view %d with op %d, but the replica acknowledged op %d in view %d",
				h.View, h.LogView, h.Op, acked, h.LogView)
		}
		a.below(replica, key) // a log view never goes back: these are never asked again
	}
	return nil
}

// inspect forgets the acknowledgements of the views older than the one replica runs normal in.
func (a *viewChangeAcks) inspect(replica int, in vsr.Inspection) {
	if in.Status == vsr.StatusNormal && replica < len(a.acked) {
		a.below(replica, viewKey(in.Epoch, in.View))
	}
}

// below forgets replica's acknowledgements of the views before key.
func (a *viewChangeAcks) below(replica int, key uint64) {
	for k := range a.acked[replica] {
		if k < key {
			delete(a.acked[replica], k)
		}
	}
}

// forget drops what replica acknowledged (its disk was replaced).
func (a *viewChangeAcks) forget(replica int) {
	if replica < len(a.acked) {
		a.acked[replica] = map[uint64]uint64{}
	}
}
