package invariants

import (
	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// NameViewChangeAcks checks VRR's promise behind every acknowledgement: a replica that
// acknowledged a prepare in view v (a backup's prepare_ok, a primary's vote for its own
// prepare) keeps it in its log for as long as v is its log view, so a do_view_change it sends
// with log view v names an op at least as high. A new primary takes the log with the highest
// log view, and the longest among those; a replica that offers its log view without a
// committed prepare it acknowledged there can be chosen over the replicas that hold it, and
// the view then starts without a committed op (swarm seed 2026690511, on a build whose
// recovery dropped the ops a fallback past a damaged checkpoint distrusted: replica 0 offered
// log view 17 with op 191 after acknowledging op 192 there).
//
// Only a prepare committed in the log view offered, or before it, must not be left out,
// whether it was executed before the do_view_change or after: a replica that adopts a newer
// view's log, as its backup or as the primary-elect of a view change, cuts the older view's
// ops that log does not hold before its superblock names the newer log view, and a crash in
// between leaves it offering the older log view with fewer ops. Those ops were not committed
// by then, so that is safe (swarm seeds 319, 2026712689, 2026714356 and 2026717369). Such an
// op can still commit later: another replica offers it to a later view change, whose
// primary prepares it again (seed 2026971068: acknowledged in view 0, cut for view 3's log,
// first executed in view 5). A prepare first executed in a view above the log view offered
// is safe to leave out: every later view change hears from a replica of that view's commit
// quorum, whose log view is at least as high and beats the one offered. So a denial fires
// when its prepare's first execution is in the log view offered or an earlier one (a
// replica can execute a prepare the primary of its view committed after it sent its
// do_view_change). Ops it holds but cannot read count as held: they are faulty, and
// repaired.
//
// A copy the simulator damaged is excused too: a replica whose entry of an acknowledged op
// was seen damaged after the acknowledgement (its identity lost with its record, a rotted
// tail) may lose the op for good, and the atlas keeps an intact copy elsewhere (swarm seed
// 2027006076: op 130, committed in view 9, lost its identity on replica 0, whose repair cut
// and rewrote it, crashed, and had the rewritten entry rot before its recovery).
//
// The cut is excused only by an adoption: where the harness passes what the network
// delivered (Suite.WatchDeliveries), a replica that was never delivered a log of a later
// log view (a start_view, or a do_view_change naming one) had nothing to adopt, so it may
// not leave out any acknowledged prepare that commits, whatever the view of the commit (a
// recovery that dropped its own log view's head op).
//
// Where the replica lost its disk by an operator's declared wipe, or the cluster was rebuilt
// (restore, failover), what it acknowledged before is forgotten.
//
// The other denial, nack_prepare (without a body: with one it offers the header it holds), is
// held to what the sender executed: a replica never denies an op its state machine has
// executed (or state-synced past). The
// op is committed, its prepare may be gone from the replica's log (a state sync), and a new
// primary lagging behind that op counts the nack toward truncating it.
const NameViewChangeAcks = "view_change_keeps_acks"

// ackedPrepare is a prepare a replica acknowledged (at atNs).
type ackedPrepare struct {
	op   uint64
	sum  checksum.Sum
	atNs int64
}

// denial is an acknowledged prepare a do_view_change left out, not known to be committed yet.
type denial struct {
	replica int
	view    uint32 // of the do_view_change
	logView uint32
	logKey  uint64 // viewKey of the log view's epoch and number
	claimed uint64 // the op the do_view_change named
	// adopted: the replica may have adopted a log of a later log view (it was delivered
	// one, or deliveries are not watched), so only a commit in the log view offered or
	// before it makes the denial unsafe.
	adopted bool
	sum     checksum.Sum
	atNs    int64
}

type viewChangeAcks struct {
	canon *canonicalCommit
	// acked holds, per replica and view (viewKey), the prepares it acknowledged there.
	acked []map[uint64][]ackedPrepare
	// denied holds, by op, the denials whose prepare may still commit.
	denied map[uint64][]denial
	// heard holds, per replica, the highest log view (viewKey) of a log delivered to it
	// intact, once watching says the harness passes deliveries.
	heard    []uint64
	watching bool
	// damagedAt holds, per replica and op, when a disk read last found its entry damaged
	// (not intact, or disowned).
	damagedAt []map[uint64]int64
}

// sawDisk takes a read of replica's disk: the entries it finds damaged.
func (a *viewChangeAcks) sawDisk(atNs int64, replica int, image *DiskImage) {
	for _, e := range image.Entries {
		if e.Intact && !e.Disowned {
			continue
		}
		for len(a.damagedAt) <= replica {
			a.damagedAt = append(a.damagedAt, nil)
		}
		if a.damagedAt[replica] == nil {
			a.damagedAt[replica] = map[uint64]int64{}
		}
		a.damagedAt[replica][e.Op] = atNs
	}
}

// damagedSince reports whether replica's entry of op was seen damaged at or after atNs.
func (a *viewChangeAcks) damagedSince(replica int, op uint64, atNs int64) bool {
	if replica >= len(a.damagedAt) {
		return false
	}
	at, ok := a.damagedAt[replica][op]
	return ok && at >= atNs
}

// receive takes a header the network delivered intact to replica to: a start_view carries
// the log of its view, a do_view_change the log of its log view.
func (a *viewChangeAcks) receive(to int, h vsr.Header) {
	var key uint64
	switch h.Command {
	case vsr.CommandStartView:
		key = viewKey(h.Epoch, h.View)
	case vsr.CommandDoViewChange:
		key = viewKey(h.Request, h.LogView) // the log view's epoch rides in Request
	default:
		return
	}
	for len(a.heard) <= to {
		a.heard = append(a.heard, 0)
	}
	a.heard[to] = max(a.heard[to], key)
}

// mayHaveAdopted reports whether replica may have adopted a log of a log view above key.
func (a *viewChangeAcks) mayHaveAdopted(replica int, key uint64) bool {
	return !a.watching || (replica < len(a.heard) && a.heard[replica] > key)
}

// ack records that replica acknowledged the prepare sum at op in view (of epoch).
func (a *viewChangeAcks) ack(atNs int64, replica int, epoch, view uint32, op uint64, sum checksum.Sum) {
	for len(a.acked) <= replica {
		a.acked = append(a.acked, map[uint64][]ackedPrepare{})
	}
	key := viewKey(epoch, view)
	list := a.acked[replica][key]
	if n := len(list); n > 0 && list[n-1].op == op && list[n-1].sum == sum {
		return // a prepare_ok sent again
	}
	a.acked[replica][key] = append(list, ackedPrepare{op: op, sum: sum, atNs: atNs})
}

// message takes a header a replica sent: prepare_ok acknowledges, do_view_change is checked.
func (a *viewChangeAcks) message(atNs int64, h vsr.Header) *Violation {
	replica := int(h.Replica)
	switch {
	case h.Command == vsr.CommandPrepareOK:
		a.ack(atNs, replica, h.Epoch, h.View, h.Op, h.Parent)
	case h.Command == vsr.CommandNackPrepare && h.Size == vsr.HeaderSize: // a denial, not an offer
		if x := a.canon.executor(replica); x.known && h.Op <= x.last {
			return violation(NameViewChangeAcks, replica, h.Op, h.View, atNs,
				"sent nack_prepare for op %d (prepare %s) in view %d, but its state machine had executed up to op %d: it denies a committed op",
				h.Op, short(h.Parent), h.View, x.last)
		}
	case h.Command == vsr.CommandDoViewChange && replica < len(a.acked):
		key := viewKey(h.Epoch, h.LogView)
		for _, p := range a.acked[replica][key] {
			if p.op <= h.Op || a.damagedSince(replica, p.op, p.atNs) {
				continue
			}
			d := denial{replica: replica, view: h.View, logView: h.LogView, logKey: key, claimed: h.Op,
				adopted: a.mayHaveAdopted(replica, key), sum: p.sum, atNs: atNs}
			if canon, ok := a.canon.lookup(p.op); ok {
				if d.breaks(canon.sum, viewKey(canon.epoch, canon.view)) {
					return d.violation(atNs, p.op)
				}
				continue // committed later than the log view, or another prepare committed there
			}
			a.deny(p.op, d)
		}
		for k := range a.acked[replica] {
			if k < key {
				delete(a.acked[replica], k) // a log view never goes back: never asked again
			}
		}
	}
	return nil
}

// deny keeps d until op commits.
func (a *viewChangeAcks) deny(op uint64, d denial) {
	if a.denied == nil {
		a.denied = map[uint64][]denial{}
	}
	for _, o := range a.denied[op] {
		if o.replica == d.replica && o.logView == d.logView && o.sum == d.sum {
			return // already held (the do_view_change sent again)
		}
	}
	a.denied[op] = append(a.denied[op], d)
}

// event takes a replica event: a primary's vote for its own prepare acknowledges it, and a
// commit settles the denials of its op.
func (a *viewChangeAcks) event(atNs int64, e vsr.Event) *Violation {
	switch e.Kind {
	case vsr.EventVoteSelf:
		a.ack(atNs, e.Replica, e.Epoch, e.View, e.Op, e.Checksum)
	case vsr.EventCommit:
		denials := a.denied[e.Op]
		delete(a.denied, e.Op)
		for _, d := range denials {
			if d.breaks(e.Checksum, viewKey(e.Epoch, e.View)) {
				return d.violation(atNs, e.Op)
			}
		}
	}
	return nil
}

// breaks reports whether the commit of prepare sum, first executed in the view of key
// committedIn, makes the denial unsafe: it left out that prepare from a log view at or above
// the commit's, or with no later log it could have adopted instead.
func (d denial) breaks(sum checksum.Sum, committedIn uint64) bool {
	return d.sum == sum && (committedIn <= d.logKey || !d.adopted)
}

func (d denial) violation(atNs int64, op uint64) *Violation {
	return violation(NameViewChangeAcks, d.replica, op, d.view, atNs,
		"do_view_change for view %d (at %s) carried log view %d with op %d, but the replica had acknowledged prepare %s at op %d in view %d, which is committed (first executed in that view or an earlier one)",
		d.view, formatNs(d.atNs), d.logView, d.claimed, short(d.sum), op, d.logView)
}

// forget drops what replica acknowledged (its disk was replaced).
func (a *viewChangeAcks) forget(replica int) {
	if replica < len(a.acked) {
		a.acked[replica] = map[uint64][]ackedPrepare{}
	}
	for op, ds := range a.denied {
		kept := ds[:0]
		for _, d := range ds {
			if d.replica != replica {
				kept = append(kept, d)
			}
		}
		a.denied[op] = kept
	}
}
