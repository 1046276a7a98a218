package invariants

import (
	"sort"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// NameAckedSurvive checks that every operation acknowledged to a client survives every
// fault. A reply names the op of its prepare and the view of the replica that sent it; the
// replica executed the op before replying, so:
//   - when the reply arrives, the canonical commit history holds that op, and its prepare
//     is the acknowledged one from then on: a replica that executes another prepare there
//     has lost an acknowledged write;
//   - the op committed in the reply's view or earlier, so the log of every normal primary
//     of that view or a later one reaches it (VRR 2012 §4.2: a view change keeps every
//     committed op), and where such a primary's log ends exactly at it, its head is the
//     acknowledged prepare;
//   - at the end, every acknowledged op up to the highest commit_min any replica reached
//     is in the canonical history with its acknowledged prepare.
const NameAckedSurvive = "acked_survive"

type ackRecord struct {
	op     uint64
	view   uint32
	client int
	atNs   int64
	sum    checksum.Sum
}

// stair is a step of the staircase of acknowledgements: the highest op acknowledged in
// this view or an earlier one. Steps are sorted with views and ops both strictly rising.
type stair struct {
	view uint32
	op   uint64
}

type ackedSurvive struct {
	canon      *canonicalCommit
	byOp       opTable[ackRecord] // the first acknowledgement of each op
	acks       []ackRecord        // every first acknowledgement, in arrival order
	stairs     []stair
	commitMins []uint64 // each replica's last inspected commit_min
	// epoch is the newest configuration epoch a replica was seen in. Views are numbered
	// within an epoch's history, and a replica left in an ended epoch may still complete a
	// view change of it (to commit that epoch's last op, the change): its log ends there,
	// below the ops the new epoch acknowledged, and it can commit nothing after it. The
	// primaries held to the acknowledged ops are those of the newest epoch.
	epoch uint32
}

// ack takes a reply delivered to a client.
func (a *ackedSurvive) ack(atNs int64, client int, op uint64, view uint32) *Violation {
	first, ok := a.canon.lookup(op)
	if !ok {
		return violation(NameAckedSurvive, -1, op, view, atNs,
			"client %d was answered for op %d (reply view %d), which no replica has executed", client, op, view)
	}
	if _, seen := a.byOp.get(op); !seen { // a batch acknowledges many requests at one op
		rec := ackRecord{op: op, view: view, client: client, atNs: atNs, sum: first.sum}
		a.byOp.put(op, rec)
		a.acks = append(a.acks, rec)
	}
	a.addStair(view, op)
	return nil
}

func (a *ackedSurvive) addStair(view uint32, op uint64) {
	i := sort.Search(len(a.stairs), func(i int) bool { return a.stairs[i].view > view })
	if i > 0 && a.stairs[i-1].op >= op {
		return // an earlier or equal view already demands as much
	}
	j := i
	for j < len(a.stairs) && a.stairs[j].op <= op {
		j++ // later views that demand no more are now dominated
	}
	if i > 0 && a.stairs[i-1].view == view {
		i--
	}
	a.stairs = append(a.stairs[:i], append([]stair{{view: view, op: op}}, a.stairs[j:]...)...)
}

// demanded returns the highest op acknowledged in view or earlier (0 if none).
func (a *ackedSurvive) demanded(view uint32) uint64 {
	i := sort.Search(len(a.stairs), func(i int) bool { return a.stairs[i].view > view })
	if i == 0 {
		return 0
	}
	return a.stairs[i-1].op
}

func (a *ackedSurvive) event(atNs int64, e vsr.Event) *Violation {
	if e.Kind != vsr.EventCommit {
		return nil
	}
	if rec, ok := a.byOp.get(e.Op); ok && rec.sum != e.Checksum {
		return violation(NameAckedSurvive, e.Replica, e.Op, e.View, atNs,
			"executed prepare %s at op %d, which was acknowledged to client %d as prepare %s (reply view %d, at %s): an acknowledged write is lost",
			short(e.Checksum), e.Op, rec.client, short(rec.sum), rec.view, formatNs(rec.atNs))
	}
	return nil
}

func (a *ackedSurvive) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
	if !running(in.Status) {
		return nil
	}
	a.commitMins = grow(a.commitMins, replica)
	a.commitMins[replica] = in.CommitMin
	a.epoch = max(a.epoch, in.Epoch)
	if in.Status != vsr.StatusNormal || in.Role != vsr.RolePrimary || in.Epoch < a.epoch {
		return nil
	}
	if want := a.demanded(in.View); in.Op < want {
		rec, _ := a.byOp.get(want)
		return violation(NameAckedSurvive, replica, want, in.View, atNs,
			"normal primary of view %d has op_number %d, but op %d was acknowledged to client %d in view %d at %s: an acknowledged write is lost",
			in.View, in.Op, want, rec.client, rec.view, formatNs(rec.atNs))
	}
	if rec, ok := a.byOp.get(in.Op); ok && rec.view <= in.View && !in.LogHead.IsZero() && in.LogHead != rec.sum {
		return violation(NameAckedSurvive, replica, in.Op, in.View, atNs,
			"normal primary of view %d holds prepare %s at op %d, which was acknowledged to client %d as prepare %s (reply view %d, at %s)",
			in.View, short(in.LogHead), in.Op, rec.client, short(rec.sum), rec.view, formatNs(rec.atNs))
	}
	return nil
}

// finish checks every acknowledged op up to the highest commit_min reached.
func (a *ackedSurvive) finish(atNs int64) *Violation {
	var reached uint64
	for _, c := range a.commitMins {
		reached = max(reached, c)
	}
	for _, rec := range a.acks {
		if rec.op > reached {
			continue
		}
		first, ok := a.canon.lookup(rec.op)
		if !ok || first.sum != rec.sum {
			return violation(NameAckedSurvive, -1, rec.op, rec.view, atNs,
				"op %d, acknowledged to client %d as prepare %s at %s, is not in the canonical history at the end",
				rec.op, rec.client, short(rec.sum), formatNs(rec.atNs))
		}
	}
	return nil
}
