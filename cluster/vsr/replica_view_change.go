package vsr

import (
	"cmp"
	"slices"

	"vopr/cluster/checksum"
	"vopr/internal/assert"
)

// viewChangeState is what a replica gathers during a view change (VRR 2012 §4.2).
type viewChangeState struct {
	svcFrom uint64 // start_view_change senders for r.view (bitset)
	dvcs    [ReplicasMax]*doViewChange
	dvcSent bool
	// installed: the new primary has adopted the best log and is completing its uncommitted
	// suffix (repairing bodies, or truncating what a quorum never saw) before start_view.
	installed bool
	nacks     [LogSlotsMax]uint64 // per slot: replicas that answered nack_prepare (bitset)
	// asked marks the ops of the suffix whose prepare the primary asked for in this repair
	// round: at most one request_prepare broadcast per op per repair timeout, however many
	// nacks and repairs arrive in between.
	asked [LogSlotsMax]bool
	// offers holds, per replica, the header it offered for an op of the suffix that no
	// do_view_change named (replica_par.go: heldIdentity).
	offers [ReplicasMax]Header
}

type doViewChange struct {
	replica  int
	logEpoch uint32 // the epoch of the log view (in the header's Request field)
	logView  uint32
	op       uint64
	commit   uint64
	// checkpoint is the sender's checkpoint op (the header's Timestamp field).
	checkpoint uint64
	headers    []Header
	faulty     []uint64
}

func (r *Replica) onElectionTimeout() {
	if r.status != StatusNormal || r.isPrimary() {
		r.election.stop()
		return
	}
	if r.isStandby() {
		// A standby never starts a view change: the primary of a newer view reaches it with
		// its prepares and heartbeats. Meanwhile it asks its view's primary for the log.
		r.election.start(r.rand)
		r.requestStartView(r.view)
		return
	}
	r.transitionToViewChange(r.view + 1)
}

func (r *Replica) onViewChangeLimitTimeout() {
	if r.status != StatusViewChange {
		r.viewChangeLimit.stop()
		return
	}
	r.transitionToViewChange(r.view + 1)
}

// transitionToViewChange moves to view (VRR 2012 §4.2 step 1): the replica stops normal
// processing, persists the new view before it votes, and announces it.
func (r *Replica) transitionToViewChange(view uint32) {
	assert.That(view > r.view || (view == r.view && r.status != StatusNormal), "view change to an older view")
	assert.That(r.activeCount() > 1, "a single replica never changes view")
	assert.That(!r.isStandby(), "a standby never changes view")
	r.status = StatusViewChange
	r.view = view
	r.viewChange = viewChangeState{}
	r.ahead.clear()
	r.pipeline = nil
	r.requestQueue = nil
	r.metrics.ViewChangesTotal++
	r.runTimeouts(&r.viewChangeSend, &r.viewChangeLimit, &r.repairTimeout, &r.ping)
	r.emit(EventStatus, r.op, checksum.Sum{}, "view_change")
	r.persistState()
	r.viewChange.svcFrom |= 1 << uint(r.replica)
	r.sendStartViewChange()
}

func (r *Replica) sendStartViewChange() {
	r.sendToOthers(Encode(r.header(CommandStartViewChange), nil))
}

func (r *Replica) onViewChangeSendTimeout() {
	r.viewChangeSend.again(r.rand)
	if r.status != StatusViewChange {
		r.viewChangeSend.stop()
		return
	}
	r.sendStartViewChange()
	if r.viewChange.dvcSent {
		r.viewChange.dvcSent = false
		r.maybeSendDoViewChange()
	}
}

func (r *Replica) onStartViewChange(m Message) {
	h := m.Header
	if r.isStandby() || h.View < r.view || (h.View == r.view && r.status == StatusNormal) {
		return
	}
	if h.View > r.view {
		r.transitionToViewChange(h.View)
	}
	r.viewChange.svcFrom |= 1 << uint(h.Replica)
	r.maybeSendDoViewChange()
}

// onStateDurable runs when a superblock write completes: votes held back until the view was
// durable can go out now.
func (r *Replica) onStateDurable() {
	if r.checkpointDue && !r.checkpointing && r.storage != nil {
		r.commitExecute() // a checkpoint that waited for the epoch's superblock write
	}
	r.flushLog() // entries of an epoch that waited for its superblock write
	switch r.status {
	case StatusViewChange:
		if r.activeCount() == 1 && r.isPrimary() && r.viewDurable() {
			r.transitionToNormalPrimary() // alone after a reconfiguration (reconfig.go)
			return
		}
		r.maybeSendDoViewChange()
	case StatusNormal:
		if r.isPrimary() {
			r.countOwnVotes()
		} else {
			r.sendPrepareOKsAfterView()
		}
	}
}

// countOwnVotes counts the primary's vote for every prepare in its pipeline that its disk
// holds, once its log view is durable: like a backup's prepare_ok, the primary's own vote
// must survive a restart with the log view that claims the op, or a crash could bring it back
// claiming an older log view whose shorter log wins the next view change (5,000-seed
// campaign seed 20262476: a primary whose log view never became durable under load counted
// itself for an op that the next view change then lost).
func (r *Replica) countOwnVotes() {
	if !r.viewDurable() {
		return
	}
	// Over a copy: counting a vote may commit (popping the pipeline's head) and prepare
	// more. The copy is on the stack when the pipeline fits (it runs after every durable
	// write of a primary).
	var held [PipelinePrepareMax]pipelineEntry
	for _, p := range append(held[:0], r.pipeline...) {
		s := r.log.slotOf(p.op)
		if s.present && s.header.Op == p.op && s.header.Checksum == p.checksum && s.durable &&
			p.oks&(1<<uint(r.replica)) == 0 {
			r.countPrepareOK(p.op, p.checksum, r.replica)
		}
	}
}

// maybeSendDoViewChange sends our log to the new primary once a quorum has started the view
// change (VRR 2012 §4.2 step 2) and the view is durable (a restart never brings us back to
// an older view after voting in this one).
//
// The log view need not be durable: it is persisted only once every body of its log is
// (durableTarget), and bodies that no replica holds any more are never repaired, so
// requiring it deadlocked every later view change (swarm seed 900753: two of three replicas
// installed a start_view whose uncommitted suffix they could not complete). Voting with the
// log view in memory is safe: a prepare_ok is sent only once its log view is durable, so
// every op committed in a log view is on a quorum that durably claims that log view, and a
// quorum of do_view_changes always includes one of them; a replica that crashes after this
// vote comes back claiming an older log view, which only loses to the newer claim.
func (r *Replica) maybeSendDoViewChange() {
	if r.status != StatusViewChange || r.viewChange.dvcSent || r.stateDurable.View != r.view {
		return
	}
	if popcount(r.viewChange.svcFrom) < r.quorum() {
		return
	}
	r.viewChange.dvcSent = true
	h := r.header(CommandDoViewChange)
	h.LogView, h.Op, h.Commit = r.logView, r.op, r.commitMax
	h.Timestamp = int64(r.checkpointOp)
	h.Request = r.logEpoch
	buf := r.encodeLogHeaders(h)
	if r.primaryIndex(r.view) == r.replica {
		m, err := Decode(buf, r.cluster)
		assert.That(err == nil, "own do_view_change does not decode")
		r.onDoViewChange(m)
		return
	}
	r.bus.SendToReplica(r.primaryIndex(r.view), buf)
}

// encodeLogHeaders lists the headers of our log in op order: every op above the checkpoint,
// and below it as many as the window still holds (up to ViewHeadersMax in all), so that a
// receiver behind our checkpoint can verify its own ops along the hash chain. An op we know
// to be faulty has no header: the new primary fills it from other logs or repairs it.
//
// It returns the whole message with header h: the headers are written in place after the
// message header (a do_view_change or start_view is sent at every view change, and building
// the body apart and copying it was most of their cost).
func (r *Replica) encodeLogHeaders(h Header) []byte {
	low := r.checkpointOp + 1
	if r.op > ViewHeadersMax {
		low = min(low, r.op-ViewHeadersMax+1)
	} else {
		low = 1
	}
	count := 0
	for op := low; op <= r.op; op++ {
		if r.log.headerOf(op) != nil {
			count++
		}
	}
	assert.That(HeaderSize*(1+count) <= MessageSizeMax, "encode: message too large")
	buf := make([]byte, HeaderSize*(1+count))
	at := HeaderSize
	for op := low; op <= r.op; op++ {
		if p := r.log.headerOf(op); p != nil {
			putHeader(buf[at:at+HeaderSize], p) // the same bytes the header was decoded from
			at += HeaderSize
		}
	}
	seal(buf, h)
	return buf
}

// ViewHeadersMax bounds the headers a do_view_change or start_view carries.
const ViewHeadersMax = LogSlotsMax / 2

func (r *Replica) decodeLogHeaders(body []byte) ([]Header, bool) {
	if len(body)%HeaderSize != 0 || len(body)/HeaderSize > LogSlotsMax {
		return nil, false
	}
	headers := make([]Header, 0, len(body)/HeaderSize)
	for i := 0; i < len(body); i += HeaderSize {
		h, err := DecodeHeader(body[i:i+HeaderSize], r.cluster)
		if err != nil || h.Command != CommandPrepare {
			return nil, false
		}
		if len(headers) > 0 && h.Op <= headers[len(headers)-1].Op {
			return nil, false
		}
		headers = append(headers, h)
	}
	return headers, true
}

func (r *Replica) onDoViewChange(m Message) {
	h := m.Header
	if h.View < r.view || r.primaryIndex(h.View) != r.replica {
		return
	}
	if h.View == r.view && r.status == StatusNormal {
		r.sendStartView(int(h.Replica)) // it missed our start_view
		return
	}
	if h.View > r.view {
		r.transitionToViewChange(h.View)
	}
	headers, ok := r.decodeLogHeaders(m.Body)
	if !ok || h.LogView > h.View || h.Commit > h.Op || r.viewChange.installed || h.Request > h.Epoch {
		return
	}
	r.viewChange.dvcs[h.Replica] = &doViewChange{replica: int(h.Replica), logEpoch: h.Request, logView: h.LogView,
		op: h.Op, commit: h.Commit, checkpoint: uint64(max(h.Timestamp, 0)), headers: headers}
	r.viewChange.svcFrom |= 1 << uint(h.Replica)
	r.maybeSendDoViewChange()
	r.primaryInstallView()
}

// primaryInstallView runs on the new primary once a quorum of do_view_change messages is in
// (VRR 2012 §4.2 step 3): it adopts the log of the best one, the highest log view and then
// the highest op, and the highest commit number among them.
func (r *Replica) primaryInstallView() {
	if r.status != StatusViewChange || !r.isPrimary() || r.viewChange.dvcs[r.replica] == nil {
		return
	}
	var best *doViewChange
	count := 0
	var commit uint64
	for _, d := range r.viewChange.dvcs {
		if d == nil {
			continue
		}
		count++
		commit = max(commit, d.commit)
		if best == nil || d.newerLog(best) || (d.sameLog(best) && d.op > best.op) {
			best = d
		}
		if r.mutated(MutationDoViewChangeLowestOp) && d.sameLog(best) && d.op < best.op {
			best = d
		}
	}
	if count < r.quorum() || (r.mutated(MutationDoViewChangeFromAll) && count < r.activeCount()) {
		return
	}
	if best.op < r.commitMax {
		// A log that ends below an op we know committed is not this view's: a quorum of
		// do_view_changes holds every op committed in an older view, so these are stale,
		// and we learned of a commit of a later view (by a state sync, while this view
		// change waited). Installing it would truncate committed ops (fail-stop). The view
		// change times out into the next view, or a newer view's primary reaches us.
		return
	}
	if best.op >= r.commitMin+LogSlotsMax || r.behindChosenLog(best) {
		r.requestSync(best.replica) // too far behind to hold the log: fetch a checkpoint first
		return
	}
	r.installLog(best.op, r.mergeHeaders(best), best.logEpoch, best.logView)
	r.advanceCommitMax(min(max(commit, r.olderEpochHead()), r.op))
	r.viewChange.installed = true
	r.primaryMaybeStartView()
}

// behindChosenLog reports whether, in a cluster that has changed its configuration, the
// chosen log's headers begin above the ops we have executed while the chosen replica's
// checkpoint covers the gap: the ops we hold in between may be of a view that never
// committed, and no header of the new log names them. PAR's offers cannot name them safely
// once the membership has changed: the n - quorum + 1 they need counts the current
// configuration's replicas, and an op committed before a change was acknowledged by the old
// configuration's (swarm seeds 2026152337 and 2026153811: lagging members offered their own
// stale prepare of an old view, took it as proven, and executed it). A checkpoint from the
// chosen replica covers them instead. A cluster that never changed (epoch 0) keeps the
// offers, sound within one configuration.
func (r *Replica) behindChosenLog(best *doViewChange) bool {
	if r.epoch == 0 || len(best.headers) == 0 {
		return false
	}
	lowest := best.headers[0].Op
	return lowest > r.commitMin+1 && best.checkpoint >= lowest-1 && best.checkpoint > r.commitMin
}

// mergeHeaders returns best's headers, with the ops it lacks up to its op (faulty on its
// disk: a do_view_change leaves their headers out) taken from the other do_view_changes: of
// the same log view, or of an older one for an op at or below that sender's commit number.
// Every replica whose log view is v holds, for each op it has, the prepare of v's primary
// log, so they agree wherever they overlap; and a replica that knows op committed holds the
// committed prepare there, which every later log holds too. A header is taken only if the
// chain agrees where best can tell (the op above names it as parent). Without this, a head op
// faulty on the chosen replica's disk left the new primary with no checksum to repair it by,
// nor to ask nacks for, while other replicas held it intact (swarm seed 2142); and a
// committed head op faulty past its record on the replica of the newest log view left its
// header to replicas of older log views, which the new log then forgot (seed 20264464).
func (r *Replica) mergeHeaders(best *doViewChange) []Header {
	byOp := make(map[uint64]Header, len(best.headers))
	for _, h := range best.headers {
		byOp[h.Op] = h
	}
	for _, d := range r.viewChange.dvcs {
		if d == nil || d == best {
			continue
		}
		for _, h := range d.headers {
			if _, have := byOp[h.Op]; have || h.Op > best.op || (!d.sameLog(best) && h.Op > d.commit) {
				continue
			}
			if above, ok := byOp[h.Op+1]; ok && above.Parent != h.Checksum {
				continue
			}
			byOp[h.Op] = h
		}
	}
	if len(byOp) == len(best.headers) {
		return best.headers
	}
	merged := make([]Header, 0, len(byOp))
	for _, h := range byOp {
		merged = append(merged, h)
	}
	slices.SortFunc(merged, func(a, b Header) int { return cmp.Compare(a.Op, b.Op) })
	return merged
}

// installLog makes our log the given one: headers the same as ours keep our prepares;
// different or new headers replace ours (their bodies are repaired); ops past op are
// truncated.
//
// The disk must never hold a log that contradicts the log view we persist next: after a
// crash, a replica claims its durable log_view for its durable log in do_view_change, so a
// stale entry from an older view left on disk under a newer log_view could be chosen and
// committed. So the engine's log is truncated at the first op where the new log names a
// different prepare than ours, before the superblock write that follows (the engine runs
// both in order), and rewritten from there: ours is provably not the new log's there, so it
// never committed.
//
// An op whose identity one side does not know -- our entry is damaged past its record, or
// the new log has no header for it (forgetGaps) -- proves nothing: our entry may be the new
// log's prepare, committed and acknowledged. Its durable copy stays. The log view is not
// persisted until every op of the new log is durable again (logDurable), and the engine
// checks the hash chain before it writes over such an entry in place or truncates it
// (storage's rewritable). Truncating at these ops dropped committed copies: at a faulty op
// of unknown identity, the intact ops above it (swarm seeds 20261952, 20264800), or the
// only evidence that we may have acknowledged it (storage_matrix seed 2204); at a head
// op the chosen do_view_change had lost, our own intact copy of it (seeds 20264364,
// 20264464, 20264629, 20264800), until no disk held the op and the nacks of the emptied
// replicas truncated it.
func (r *Replica) installLog(op uint64, headers []Header, logEpoch, logView uint32) {
	firstChanged := uint64(0)
	for _, h := range headers {
		if h.Op <= r.commitMin || h.Op <= r.checkpointOp {
			continue
		}
		if h.Op >= r.commitMin+LogSlotsMax {
			break
		}
		if local, ok := r.log.header(h.Op); !ok || local.Checksum != h.Checksum {
			if firstChanged == 0 && ok {
				firstChanged = h.Op
			}
			r.log.setHeader(h)
		}
	}
	if op < r.op {
		r.truncate(op)
	}
	r.forgetGaps(op, headers)
	// Ops below the new log's lowest header that its hash chain cannot vouch for are forgotten
	// in memory, not cut from the disk: they lie at or below the sender's checkpoint, so our
	// entry there is the committed op if it is of the new log, and repair or state sync
	// fetches them again (an identical entry is rewritten in place; a different one truncates
	// then). It may as well be of an older log view (campaign seed 20261674), so it is kept
	// unverified, below the persisted commit number (unverifiedFloor). The log view is not
	// persisted while they are missing (logDurable). Truncating here dropped durable copies
	// of acknowledged ops (campaign seed 20262048).
	r.unverifiedBelow(op, headers)
	if firstChanged != 0 && firstChanged <= r.op {
		r.cutLog(firstChanged - 1)
		for o := firstChanged; o <= r.op; o++ {
			if s := r.log.slotOf(o); s.header.Op == o {
				s.durable = false
			}
		}
	}
	r.op = max(op, r.commitMin)
	r.logEpoch, r.logView, r.logViewOp = logEpoch, logView, r.op
	// Ops past the new log's head that we heard of belong to an older log: asking for them
	// by number would wait for ops this log may never hold, and count its next prepares as
	// repairs (the h33 review). The new view's commit number raises it again if need be.
	r.repair.wantOp = min(r.repair.wantOp, r.op)
}

// newerLog reports whether d's log is of a later log view than o's: of a later epoch, or of
// a later view in the same epoch. A view of a newer epoch is newer whatever its number: a
// replica left in an ended epoch may have completed a view change of it (to commit its
// last op, the change) numbered above the new epoch's views, and its log, ending at the
// change, holds none of the ops the new epoch committed.
func (d *doViewChange) newerLog(o *doViewChange) bool {
	return d.logEpoch > o.logEpoch || (d.logEpoch == o.logEpoch && d.logView > o.logView)
}

// sameLog reports whether d and o claim the same log view.
func (d *doViewChange) sameLog(o *doViewChange) bool {
	return d.logEpoch == o.logEpoch && d.logView == o.logView
}

// forgetGaps forgets our own header of each op of the new log (up to op, above its lowest
// header) that the new log has no header for -- an op faulty past its record on the replica
// whose log won -- unless the op above names it as parent: our header may be of an older log,
// and keeping it would put another prepare in the new log's place. Our durable entry may be
// the new log's prepare as well, though, so it stays on disk and the op stays seen
// (log.forgetUnverified): we never deny holding it.
func (r *Replica) forgetGaps(op uint64, headers []Header) {
	if len(headers) == 0 {
		return
	}
	listed := make(map[uint64]bool, len(headers))
	for _, h := range headers {
		listed[h.Op] = true
	}
	for o := op; o > max(headers[0].Op, r.commitMin); o-- {
		if listed[o] {
			continue
		}
		local, ok := r.log.header(o)
		if !ok {
			continue
		}
		if above, ok := r.log.header(o + 1); ok && o < op && above.Parent == local.Checksum {
			continue
		}
		r.log.forgetUnverified(o)
	}
}

// unverifiedBelow checks our ops below the lowest header of a new log (the sender's log
// starts above its checkpoint, which may be above our commit_min) along the hash chain:
// each op we keep must be the parent named by the op above it. The first op that is not
// is forgotten together with every op below it down to commit_min, since nothing vouches
// for them any more; repair fetches them again along the chain, or takes back our own
// durable copy once the chain names it (reclaimUnverified), or state sync replaces them.
func (r *Replica) unverifiedBelow(op uint64, headers []Header) {
	lowest := op + 1 // a log with no headers vouches for none of our ops
	if len(headers) > 0 {
		lowest = headers[0].Op
	}
	if lowest <= r.commitMin+1 {
		return
	}
	vouched := true
	for op := min(lowest-1, r.op); op > r.commitMin; op-- {
		if vouched {
			above, ok := r.log.header(op + 1)
			local, okLocal := r.log.header(op)
			if ok && okLocal && local.Checksum == above.Parent {
				continue
			}
			vouched = false
		}
		r.log.forgetUnverified(op)
	}
}

// truncate drops ops after op from memory and disk: they were never committed (a view
// change chose a log without them).
func (r *Replica) truncate(op uint64) {
	assert.That(op >= r.commitMax, "truncating committed ops")
	for o := op + 1; o <= r.op; o++ {
		r.log.clear(o)
	}
	r.metrics.Truncations++
	text := ""
	// Only a new primary truncates on nacks. A would-be primary of an older view change that
	// installs a newer view's start_view still holds its own view change's state, and the
	// suffix that start_view cuts is not a truncation on nacks (swarm seed 2028301644: the
	// trace, and commit_quorum's nack rule, took one for it).
	if r.status == StatusViewChange && r.viewChange.installed && r.isPrimary() {
		text = "nack"
	}
	r.emit(EventTruncate, op, checksum.Sum{}, text)
	r.op = op
	r.cutLog(op)
}

func (r *Replica) transitionToNormalPrimary() {
	r.status = StatusNormal
	r.upgradeOp = 0 // an upgrade prepared in an earlier view may have been truncated
	r.logEpoch, r.logView, r.logViewOp = r.epoch, r.view, r.op
	r.viewChange = viewChangeState{}
	r.runTimeouts(&r.heartbeat, &r.ping, &r.repairTimeout)
	r.pipeline = nil
	if h, ok := r.log.header(r.op); ok {
		r.lastTimestamp = max(r.lastTimestamp, h.Timestamp)
	}
	for op := r.commitMax + 1; op <= r.op; op++ {
		h, _ := r.log.header(op)
		r.pipeline = append(r.pipeline, pipelineEntry{op: op, checksum: h.Checksum, preparedNs: r.clock.Monotonic()})
	}
	if len(r.pipeline) > 0 {
		r.prepareResend.start(r.rand)
	}
	r.emit(EventStatus, r.op, checksum.Sum{}, "normal primary")
	r.persistState()
	r.sendStartView(-1)
	for _, p := range r.pipeline {
		if s := r.log.slotOf(p.op); !s.durable && s.prepare != nil {
			r.writePrepare(p.op)
		}
	}
	// Our own vote for the ops our disk holds counts only once the log view is durable
	// (countOwnVotes): counting it here, before the superblock write that persists this log
	// view, let a primary commit with one backup, crash with its older log view on disk, and
	// lose the committed ops to an older log in the next view change (campaign seed 20263743).
	r.countOwnVotes()
	r.commitExecute()
}

// sendStartView sends our log to one replica, or to all for to < 0 (VRR 2012 §4.2 step 4).
func (r *Replica) sendStartView(to int) {
	h := r.header(CommandStartView)
	h.LogView, h.Op, h.Commit = r.logView, r.op, r.commitMax
	buf := r.encodeLogHeaders(h)
	if to >= 0 {
		r.bus.SendToReplica(to, buf)
		return
	}
	r.sendToOthers(buf)
	r.sendToStandbys(buf)
}

// onStartView installs the new primary's log (VRR 2012 §4.2 step 5).
func (r *Replica) onStartView(m Message) {
	h := m.Header
	if h.View < r.view || r.primaryIndex(h.View) != int(h.Replica) || int(h.Replica) == r.replica {
		return
	}
	if h.View == r.view && r.status == StatusNormal && (r.isPrimary() || h.Op < r.op) {
		return // a start_view of our own view older than our log: stale
	}
	headers, ok := r.decodeLogHeaders(m.Body)
	if !ok || h.Commit > h.Op || h.LogView != h.View {
		return
	}
	if h.Op < r.commitMax {
		// Our executed state, or an op we know committed, is ahead of this log: a stale
		// start_view (a new view's log holds every committed op). A restarted replica in
		// view change for its own view, which knows a commit past that view's first
		// start_view, would otherwise install a delayed copy of it and truncate committed
		// ops (the h33 review).
		return
	}
	if h.Op >= r.commitMin+LogSlotsMax {
		// The window holds ops commit_min .. commit_min+LogSlotsMax-1: an op at
		// commit_min+LogSlotsMax would take commit_min's slot, whose header a pending
		// checkpoint of commit_min needs (snapshot).
		if h.View > r.view && r.status == StatusNormal && !r.isStandby() {
			// A newer view started without us: leave ours first. A normal primary refuses a
			// checkpoint past its commit number (onSync), so a primary deposed while it was
			// away would otherwise ask for the sync and drop it, forever (campaign seed
			// 20265968).
			r.transitionToViewChange(h.View)
		}
		r.requestSync(int(h.Replica)) // too far behind to hold the log: fetch a checkpoint first
		return
	}
	entering := r.status != StatusNormal || r.view != h.View
	r.view = h.View
	r.installLog(h.Op, headers, r.epoch, h.View)
	r.enterNormalBackup(h.View, entering)
	r.advanceCommitMax(h.Commit)
	r.appendAhead()
	r.commitExecute()
}

func (r *Replica) transitionToNormalBackup(view uint32) {
	r.enterNormalBackup(view, r.status != StatusNormal || r.view != view)
}

// enterNormalBackup makes the replica a normal backup of view; entering says whether that is
// a change of status or view (announced as a status event).
func (r *Replica) enterNormalBackup(view uint32, entering bool) {
	assert.That(view >= r.view, "backup moved to an older view")
	r.view = view
	r.status = StatusNormal
	r.viewChange = viewChangeState{}
	if entering {
		// Prepares buffered in the view we stay in are still hints of its log (appendAhead
		// checks their view and the chain): clearing them at a start_view of our own view,
		// which a restarted backup asks for, dropped the next prepare under load, and a
		// backup more than aheadSlotsMax ops behind a busy primary catches up only by state
		// sync (swarm seed 9800006006: three syncs in the traffic round).
		r.ahead.clear()
	}
	r.pipeline, r.requestQueue = nil, nil
	r.runTimeouts(&r.election, &r.ping, &r.repairTimeout)
	if entering {
		r.emit(EventStatus, r.op, checksum.Sum{}, "normal backup")
	}
	r.persistState()
	r.sendPrepareOKsAfterView()
}

// sendPrepareOKsAfterView acknowledges the uncommitted ops we hold durably, so that the new
// primary can commit them.
func (r *Replica) sendPrepareOKsAfterView() {
	if !r.viewDurable() {
		return
	}
	for op := r.commitMax + 1; op <= r.op; op++ {
		if s := r.log.slotOf(op); s.present && s.header.Op == op && s.durable {
			r.sendPrepareOK(s.header)
		}
	}
}

// requestStartView asks the primary of view for its log: we are behind a view change.
func (r *Replica) requestStartView(view uint32) {
	h := r.header(CommandRequestStartView)
	h.View = view
	r.bus.SendToReplica(r.primaryIndex(view), Encode(h, nil))
}

func (r *Replica) onRequestStartView(m Message) {
	h := m.Header
	if r.status != StatusNormal || !r.isPrimary() || h.View > r.view {
		return
	}
	r.sendStartView(int(h.Replica))
}

// onRecoverTimeout: a replica that restarted as a backup asks the primary of its view for
// the current log until it hears from it.
func (r *Replica) onRecoverTimeout() {
	r.recoverTimeout.again(r.rand)
	if r.isStandby() && r.status == StatusViewChange {
		r.requestStartView(r.view) // a standby between views (rejoin) asks until it has the log
		return
	}
	if r.status != StatusNormal || r.isPrimary() {
		r.recoverTimeout.stop()
		return
	}
	r.requestStartView(r.view)
}
