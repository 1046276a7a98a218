package invariants

import (
	"sort"
	"strings"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// NameLogViewDurable checks that a durable log_view names a log that is durable. After a
// crash a replica claims its durable log_view for its durable log (in do_view_change), so
// whenever a replica's superblock durably names log_view LV (read from the disk by the
// harness, never from the replica):
//
//   - No stale entry: every durable log entry above the durable checkpoint that was
//     prepared in a view older than LV is LV's own prepare at that op. LV's log is what its
//     primary sent in its first start_view (ops up to the op it started LV with), then the
//     prepares created in LV above that op; an older-view entry beyond LV's start op, or one
//     that differs from LV's, could be chosen and committed by a later view change in place
//     of LV's. Entries of views newer than LV are allowed: the next view's prepares may land
//     before the log_view naming them. So is an older-view entry that a newer view's log
//     holds at that op (its primary's first start_view): a replica installing that log
//     rewrites its disk from the first op that changed before it can persist the newer log
//     view (the log view waits for every body), and a newer view's log holds every op
//     committed before it, so that entry cannot take a committed op's place.
//   - Nothing missing: while the replica is normal in LV (and its superblock's view is LV
//     too: a replica moving on truncates before it persists the new view), and at the
//     instant it crashes from normal in LV, every op of LV's log from above its durable checkpoint and its
//     executed op up to the op it entered LV with is durably on disk, as LV's prepare (or
//     damaged by the simulator, which the atlas allows, or being rewritten from such damage). Ops above the entry op are
//     acknowledged one by one, and the acknowledgement checks cover them. Ops at or below a
//     checkpoint the replica made durable are exempt too: a replica may execute ops from
//     memory that its checkpoint then covers, so their entries need never reach its disk,
//     and if recovery later falls back past that checkpoint (the simulator damaged it), the
//     ops between come back Faulty, to be repaired (swarm seed 20266071: op 61 executed
//     from memory under checkpoint 64, which a read fault then made recovery drop).
//
// The log of LV is known only where the harness saw its start_view (clusters of one replica
// send none); where it is not known, only the second rule's presence part applies.
const NameLogViewDurable = "log_view_durable"

// PrepareRef names one prepare of a log.
type PrepareRef struct {
	Op       uint64
	View     uint32
	Epoch    uint32 // the configuration epoch of View
	Checksum checksum.Sum
}

// viewLog is the log a view started with: its primary's first start_view.
type viewLog struct {
	op      uint64
	entries []PrepareRef // ascending by op
}

// viewKey names a view by its configuration epoch and its number, ordered that way: views of
// two epochs may share numbers (a replica left in an ended epoch may complete a view change
// of it), and a newer epoch's views are newer whatever their numbers (vsr/reconfig.go).
func viewKey(epoch, view uint32) uint64 { return uint64(epoch)<<32 | uint64(view) }

// normalIn is the view a replica runs normal in (viewKey) and the op it entered it with.
type normalIn struct {
	ok   bool
	view uint64
	op   uint64
}

type logViewDurable struct {
	views    map[uint64]*viewLog // by viewKey
	prepared *preparedTable
	canon    *canonicalCommit
	normal   []normalIn
	// left is where each replica entered the view it was last normal in, once it is no
	// longer normal there (a view change, a crash): a restart that rejoins that view from
	// its disk has not entered it again, and its recovered log may reach past that entry op
	// with ops that came one by one (the ack checks hold them) or with an unfinished append
	// it keeps as damaged. A replica that started a view change and crashed before its
	// superblock held the new view rejoins the old one too (fresh-range seed 2026222904).
	left []normalIn
	// checkpointed is the highest checkpoint each replica made durable (vsr.EventCheckpoint)
	// since its disk was last replaced.
	checkpointed []uint64
	checks       uint64
}

// startView takes a start_view its primary sent; only the first of each view is kept.
func (l *logViewDurable) startView(view uint64, op uint64, log []PrepareRef) {
	if l.views == nil {
		l.views = make(map[uint64]*viewLog)
	}
	if _, ok := l.views[view]; ok {
		return
	}
	entries := append([]PrepareRef(nil), log...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Op < entries[j].Op })
	l.views[view] = &viewLog{op: op, entries: entries}
}

// event follows a replica's status. A backup that takes a start_view of a newer view while
// normal reports no status event (it was not "entering" normal status), so any event or
// inspection in another view also ends its stay in the view it entered.
func (l *logViewDurable) event(e vsr.Event) {
	l.normal = grow(l.normal, e.Replica)
	if e.Kind == vsr.EventCheckpoint {
		l.checkpointed = grow(l.checkpointed, e.Replica)
		l.checkpointed[e.Replica] = max(l.checkpointed[e.Replica], e.Op)
	}
	in := &l.normal[e.Replica]
	switch {
	case e.Kind == vsr.EventStatus && (e.Text == "normal backup" || e.Text == "normal primary"):
		*in = normalIn{ok: true, view: viewKey(e.Epoch, e.View), op: e.Op}
		l.left = grow(l.left, e.Replica)
		if before := l.left[e.Replica]; before.ok && before.view == in.view {
			// A restart rejoining the view it was last normal in entered it where its earlier
			// incarnation did (swarm seed 20262981: an unfinished append of op 51, kept as
			// damaged because a fault rotted its unwritten record sector, was taken for part
			// of the log the replica entered log view 16 with at op 48).
			in.op = min(in.op, before.op)
		}
		l.left[e.Replica] = normalIn{}
	case e.Kind == vsr.EventRecovered, e.Text == "view_change", strings.HasPrefix(e.Text, "stopped"),
		in.ok && viewKey(e.Epoch, e.View) != in.view:
		l.leave(e.Replica)
	}
}

// leave: the replica is no longer normal in the view it was; a restart may rejoin it.
func (l *logViewDurable) leave(replica int) {
	l.normal = grow(l.normal, replica)
	l.left = grow(l.left, replica)
	if l.normal[replica].ok {
		l.left[replica] = l.normal[replica]
	}
	l.normal[replica] = normalIn{}
}

func (l *logViewDurable) inspect(replica int, in *vsr.Inspection) {
	l.normal = grow(l.normal, replica)
	if n := l.normal[replica]; n.ok && (viewKey(in.Epoch, in.View) != n.view || in.Status != vsr.StatusNormal) {
		l.leave(replica)
	}
}

// ofView returns LV's prepare at op: known is false where the harness cannot tell, present
// false where LV's log has no op there.
func (l *logViewDurable) ofView(lv uint64, op uint64) (sum checksum.Sum, present, known bool) {
	start := l.views[lv]
	if start == nil {
		return checksum.Sum{}, false, false
	}
	if op > start.op {
		list, _ := l.prepared.byOp.get(op)
		for _, c := range list {
			if viewKey(c.epoch, c.view) == lv {
				return c.sum, true, true
			}
		}
		return checksum.Sum{}, false, true
	}
	i := sort.Search(len(start.entries), func(i int) bool { return start.entries[i].Op >= op })
	if i < len(start.entries) && start.entries[i].Op == op {
		return start.entries[i].Checksum, true, true
	}
	return checksum.Sum{}, false, false
}

// inNewerLog reports whether the log some view newer than lv started with holds prepare sum
// at op.
func (l *logViewDurable) inNewerLog(lv uint64, op uint64, sum checksum.Sum) bool {
	for v, start := range l.views {
		if v <= lv || op > start.op {
			continue
		}
		i := sort.Search(len(start.entries), func(i int) bool { return start.entries[i].Op >= op })
		if i < len(start.entries) && start.entries[i].Op == op && start.entries[i].Checksum == sum {
			return true
		}
	}
	return false
}

// check holds a replica's disk image to the log its durable log_view names; ops missing
// from op excused on are explained by simulator damage (see damage).
func (l *logViewDurable) check(atNs int64, replica int, image *DiskImage, excused uint64) *Violation {
	if !image.Valid || image.LogView == 0 {
		return nil
	}
	l.checks++
	lv := viewKey(image.LogEpoch, image.LogView)
	fail := func(op uint64, format string, args ...any) *Violation {
		return violation(NameLogViewDurable, replica, op, image.LogView, atNs, format, args...)
	}
	for _, e := range image.Entries {
		if e.Disowned || viewKey(e.Epoch, e.View) >= lv || l.inNewerLog(lv, e.Op, e.Prepare) {
			continue
		}
		want, present, known := l.ofView(lv, e.Op)
		switch {
		case known && !present:
			return fail(e.Op, "its superblock durably names log_view %d, whose log has no op %d, but its disk durably holds prepare %s of view %d there (stale)",
				image.LogView, e.Op, short(e.Prepare), e.View)
		case known && want != e.Prepare:
			return fail(e.Op, "its superblock durably names log_view %d, whose prepare at op %d is %s, but its disk durably holds prepare %s of view %d there (stale)",
				image.LogView, e.Op, short(want), short(e.Prepare), e.View)
		}
	}
	l.normal = grow(l.normal, replica)
	in := l.normal[replica]
	if !in.ok || in.view != lv || viewKey(image.Epoch, image.View) != lv {
		return nil // not (or no longer) normal in the view its disk names
	}
	from := image.CheckpointOp
	if replica < len(l.checkpointed) {
		from = max(from, l.checkpointed[replica])
	}
	if replica < len(l.canon.executors) {
		from = max(from, l.canon.executors[replica].last)
	}
	for op := from + 1; op <= in.op; op++ {
		want, present, known := l.ofView(lv, op)
		e, ok := image.entry(op)
		ok = ok && !e.Disowned // a disowned copy holds no prepare for recovery
		switch {
		case !ok && op >= excused:
			return nil // the replica is rewriting its log from damage the simulator injected
		case !ok:
			return fail(op, "its superblock durably names log_view %d, which it entered with ops up to %d, but op %d is not durably on its disk (durable checkpoint op %d)",
				image.LogView, in.op, op, image.CheckpointOp)
		case known && present && e.Prepare != want && viewKey(e.Epoch, e.View) <= lv && !l.inNewerLog(lv, op, e.Prepare):
			// (An entry of a newer view superseded the op, as in the loop above: a replica
			// that took a newer view's log and crashed before persisting that log view;
			// swarm seed 2026171698, a standby. It is not stale.)
			return fail(op, "its superblock durably names log_view %d, whose prepare at op %d is %s, but its disk durably holds prepare %s of view %d there",
				image.LogView, op, short(want), short(e.Prepare), e.View)
		}
	}
	return nil
}

// crash: the replica is no longer normal in any view; a restart may rejoin the one it was
// last normal in.
func (l *logViewDurable) crash(replica int) { l.leave(replica) }

// forget: the replica's disk was wiped or replaced; nothing of its earlier log remains.
func (l *logViewDurable) forget(replica int) {
	l.leave(replica)
	l.left[replica] = normalIn{}
	l.checkpointed = grow(l.checkpointed, replica)
	l.checkpointed[replica] = 0
}
