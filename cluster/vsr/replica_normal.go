package vsr

import (
	"errors"
	"slices"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/internal/assert"
)

// pipelineEntry is a prepare the primary has sent and not yet committed.
type pipelineEntry struct {
	op         uint64
	checksum   checksum.Sum
	oks        uint64 // bitset of replicas whose prepare_ok arrived (incl. ourselves, when durable)
	preparedNs int64  // monotonic time of the prepare, for commit latency
}

type queuedRequest struct {
	header  Header
	payload []byte
}

// onRequest queues a client request on the primary (VRR 2012 §4.1 step 1-2). Retries of the
// latest request are answered from the client table; older ones are dropped.
func (r *Replica) onRequest(m Message) {
	h := m.Header
	if h.Operation == OperationReadStale {
		r.onStaleRead(m) // a standby's business, outside the log
		return
	}
	if r.isStandby() {
		return // a standby takes no part in ordering requests
	}
	if r.status == StatusNormal && !r.isPrimary() {
		r.backupOnRequest(m)
		return
	}
	if r.ignoreRequest(m) {
		return
	}
	if s := r.clients.get(h.Client); s != nil && h.Request <= s.request {
		// A retry (or a stale duplicate, a register included) of an executed request:
		// answer the latest from the table, drop anything older.
		if h.Request == s.request && s.hasReply() && !r.mutated(MutationRetryUnanswered) {
			r.metrics.RequestsDuplicate++
			r.sendReply(h.Client, s)
		}
		return
	}
	if h.Operation != OperationRegister {
		s := r.clients.get(h.Client)
		if s == nil || s.registered != h.Op {
			// Unknown session. The client is told its session is gone only if no op of
			// our log that is not executed yet may register it (a primary catching up
			// after a view change may not have executed the registration yet), so that it
			// is never told that an operation which may still run was refused.
			if !r.registrationPending(h.Client) {
				r.sendEviction(h.Client, h.Op)
			}
			return
		}
	}
	for _, q := range r.requestQueue {
		if q.header.Client == h.Client && q.header.Request == h.Request {
			r.primaryPrepare() // already queued: the client retried before we could prepare it
			return
		}
	}
	if r.inPipeline(h.Client, h.Request) {
		return
	}
	if len(r.requestQueue) >= RequestQueueMax {
		return // overloaded: the client retries
	}
	r.requestQueue = append(r.requestQueue, queuedRequest{header: h, payload: m.Body})
	r.primaryPrepare()
}

// requestForwarded in a request's LogView field marks a request a backup forwarded to its
// primary (Replica names the backup): it is never forwarded again, so a request cannot
// circle between replicas that disagree on the primary.
const requestForwarded = 1

// backupOnRequest serves a client that cannot reach the primary, or whose replies from it
// are lost: a retry of the request this backup last executed for the client is answered
// from its client table (the op committed; every replica keeps the reply), and any other
// request is forwarded to the primary of the backup's view, once. At-most-once execution is
// the primary's client table's business, as for a request sent to it directly.
func (r *Replica) backupOnRequest(m Message) {
	h := m.Header
	if s := r.clients.get(h.Client); s != nil && h.Request == s.request && s.hasReply() && !r.mutated(MutationRetryUnanswered) {
		r.metrics.RequestsDuplicate++
		r.sendReply(h.Client, s)
		return
	}
	if h.LogView == requestForwarded || h.Client == 0 || len(m.Body) > RequestBodyMax {
		return
	}
	forward := h
	forward.LogView, forward.Replica = requestForwarded, uint8(r.replica)
	r.metrics.RequestsForwarded++
	r.bus.SendToReplica(r.primaryIndex(r.view), Encode(forward, m.Body))
}

func (r *Replica) ignoreRequest(m Message) bool {
	h := m.Header
	switch {
	case r.status != StatusNormal || !r.isPrimary():
		return true // clients find the primary by trying replicas in turn
	case h.Client == 0:
		return true
	case len(m.Body) > RequestBodyMax:
		return true
	case h.Operation == OperationKV && r.machine.Validate(m.Body) != nil:
		return true
	case h.Operation != OperationKV && h.Operation != OperationRegister:
		return true
	case r.diskFull:
		r.metrics.DiskFullRejects++
		return true
	}
	return false
}

// registrationPending reports whether an op of our log above commit_min registers client,
// or may (its prepare is not at hand).
func (r *Replica) registrationPending(client uint64) bool {
	for op := r.commitMin + 1; op <= r.op; op++ {
		entries, ok := r.preparedBatch(op, "logged prepare does not decode", "logged batch does not decode")
		if !ok {
			return true
		}
		for _, e := range entries {
			if e.Client == client && e.Operation == OperationRegister {
				return true
			}
		}
	}
	return false
}

// inPipeline reports whether a prepared, uncommitted op already carries the request.
func (r *Replica) inPipeline(client uint64, request uint32) bool {
	for _, p := range r.pipeline {
		entries, ok := r.preparedBatch(p.op, "pipeline prepare does not decode", "pipeline batch does not decode")
		if !ok {
			continue
		}
		for _, e := range entries {
			if e.Client == client && e.Request == request {
				return true
			}
		}
	}
	return false
}

// preparedBatch returns the batch of the prepare the log holds for op (ok false if it holds
// none). The prepare is decoded, its checksums verified, once per prepare the slot holds;
// failing that is an assertion (notDecoded, notBatch): the log holds only verified prepares.
func (r *Replica) preparedBatch(op uint64, notDecoded, notBatch string) ([]batchEntry, bool) {
	prepare, ok := r.log.prepare(op)
	if !ok {
		return nil, false
	}
	s := r.log.slotOf(op)
	if !s.decoded {
		m, err := Decode(prepare, r.cluster)
		assert.That(err == nil, notDecoded)
		entries, err := decodeBatch(m.Body)
		assert.That(err == nil, notBatch)
		s.batch, s.decoded = entries, true
	}
	return s.batch, true
}

// primaryPrepare turns queued requests into a prepare while the pipeline has room, the log
// window has room, and the clock is synchronised (VRR 2012 §4.1 step 3; timestamps need a
// synchronised clock).
func (r *Replica) primaryPrepare() {
	if len(r.requestQueue) > 0 && r.reconfigBlocked() {
		return // the epoch ends with a change: nothing is prepared after it (reconfig.go)
	}
	for len(r.requestQueue) > 0 && len(r.pipeline) < PipelinePrepareMax && !r.diskFull {
		if r.op+1 > r.checkpointOp+PrepareAheadMax || r.checkpointing {
			return // wait for the checkpoint to advance the window
		}
		if r.stateDurable.Boots != r.boots {
			return // this boot is not durable yet: a crash now must look like a first boot
		}
		timestamp, ok := r.primaryTimestamp()
		if !ok {
			return
		}
		if _, ok := r.log.checksumOf(r.op); !ok && r.op > 0 {
			return // the head is being repaired: a prepare must name its parent
		}
		n := min(len(r.requestQueue), r.config.BatchMax)
		entries := r.takeBatchScratch()
		for _, q := range r.requestQueue[:n] {
			entries = append(entries, batchEntry{Client: q.header.Client, Session: q.header.Op, Request: q.header.Request,
				Operation: q.header.Operation, Payload: q.payload})
		}
		r.requestQueue = append(r.requestQueue[:0], r.requestQueue[n:]...)
		r.primaryPrepareBatch(entries, timestamp)
		r.putBatchScratch(entries)
	}
}

func (r *Replica) primaryPrepareBatch(entries []batchEntry, timestamp int64) {
	// Every caller waits for room: a view change may leave more than PipelinePrepareMax
	// uncommitted ops in the pipeline, but no new op joins them until it drains.
	assert.That(len(r.pipeline) < PipelinePrepareMax, "primary: preparing with the pipeline full")
	parent, ok := r.log.checksumOf(r.op)
	assert.That(ok || r.op == 0, "primary: missing head of log")
	h := r.header(CommandPrepare)
	h.Op, h.Commit, h.Parent, h.Timestamp = r.op+1, r.commitMax, parent, timestamp
	if len(entries) == 1 && entries[0].Operation == OperationReconfigure {
		h.Operation = OperationReconfigure // marks the epoch's last op in the headers too
	}
	buf := appendBatch(newMessage(batchSize(entries)), entries) // the body in place: no copy
	seal(buf, h)
	m, err := Decode(buf, r.cluster)
	assert.That(err == nil, "primary: own prepare does not decode")
	r.op++
	r.lastTimestamp = timestamp
	r.log.setPrepare(m)
	if len(r.pipeline) == cap(r.pipeline) {
		// Room for a pipeline's worth more: commits take entries off the front
		// (pipeline[1:]), so an array doubled for the few entries in flight filled up again
		// within a few prepares.
		r.pipeline = slices.Grow(r.pipeline, PipelinePrepareMax)
	}
	r.pipeline = append(r.pipeline, pipelineEntry{op: r.op, checksum: m.Header.Checksum, preparedNs: r.clock.Monotonic()})
	r.writePrepare(r.op)
	r.sendToOthers(buf)
	r.sendToStandbys(buf)
	r.prepareResend.reset(r.rand)
	if !r.prepareResend.running {
		r.prepareResend.start(r.rand)
	}
}

// writePrepare makes op's prepare durable: the log is written in op order (the storage
// engine's log is append-only), so this schedules a flush that writes every prepare from
// the first non-durable one up to the first gap. On completion a backup sends prepare_ok and
// the primary counts its own. A full disk stops new operations until space is freed;
// nothing already written is lost.
func (r *Replica) writePrepare(op uint64) {
	s := r.log.slotOf(op)
	assert.That(s.present && s.header.Op == op && s.prepare != nil, "write of a missing prepare")
	r.flushLog()
}

func (r *Replica) flushLog() {
	// A checkpoint in flight decides which ops still need entries (all, if it fails): the
	// engine runs its operations in order, so a write queued behind it could land below it
	// or past a gap. Writes resume when it completes.
	if r.logWriting || r.storage == nil || r.checkpointing {
		return
	}
	op, ok := r.nextWrite()
	if !ok {
		return
	}
	s := r.log.slotOf(op)
	if s.header.Epoch > r.stateDurable.Epoch {
		// An op of an epoch our superblock does not hold yet waits for it (onStateDurable
		// writes it): a crash in between would recover the older epoch over a log of the
		// newer one (swarm seed 2026205879: a standby that heard epoch 1 wrote its ops while
		// the superblock write of the epoch was lost to a crash).
		r.persistState()
		return
	}
	entry := storage.Entry{Op: op, Body: s.prepare}
	write := r.storage.Append
	if op <= r.storage.Head() {
		if r.storage.Rewritable(entry) {
			// The entry the engine already names at op (a repair of a damaged one): it is
			// rewritten in place and the ops above stay durable. Marking them not durable
			// wrote the whole log above a repaired op again, one synced entry at a time,
			// and held back every prepare_ok meanwhile (swarm seed 20266049: 35 entries on a
			// slow disk, past the liveness budget).
			write = r.storage.Rewrite
		} else if run, wants := r.repairRun(op); wants {
			return // the prepares that place it come first: the repair timeout asks for them
		} else if run != nil {
			r.writeRun(run, r.storage.RewriteRun)
			return
		} else if run := r.rechainRun(op); run != nil {
			r.writeRun(run, r.storage.RechainRun)
			return
		} else if r.rechainWants(op) {
			return // the prepares the rechain needs come first: the repair timeout asks for them
		} else {
			// Replacing an entry truncates the engine's log after it: everything above
			// must be written again.
			for o := op + 1; o <= r.op; o++ {
				if t := r.log.slotOf(o); t.header.Op == o {
					t.durable = false
				}
			}
		}
	}
	r.logWriting = true
	r.logWrite = logWrite{op: op, sum: s.header.Checksum}
	if r.logWrittenFn == nil {
		r.logWrittenFn = r.logWritten
	}
	write(entry, r.logWrittenFn)
}

// logWrite names the single append flushLog has in flight (logWriting).
type logWrite struct {
	op  uint64
	sum checksum.Sum
}

// logWritten is the completion of flushLog's append.
func (r *Replica) logWritten(err error) {
	r.logWriting = false
	r.logRetry = err != nil && !errors.Is(err, storage.ErrNotRewritable)
	r.writePrepareCallback(r.logWrite.op, r.logWrite.sum, err)
	if err == nil || errors.Is(err, storage.ErrNotRewritable) {
		r.flushLog() // after a failure, the repair timeout retries: no tight loop
	}
}

// repairRun returns the prepares from op up that the engine rewrites as one run in place
// (storage.RewritableRun: a run of damaged entries that only the entry above it can place),
// or wants if the engine needs prepares of the run that the log lacks yet. Without it, the
// repair of such a run's lowest op truncated the durable entries above it, committed and
// acknowledged ones included (swarm seed 20266198). A truncation queued in the engine makes
// its head stale: no waiting then.
func (r *Replica) repairRun(op uint64) (run []storage.Entry, wants bool) {
	for o := op; o <= min(r.op, r.storage.Head()); o++ {
		s := r.log.slotOf(o)
		if !s.present || s.header.Op != o || s.prepare == nil {
			break
		}
		run = append(run, storage.Entry{Op: o, Body: s.prepare})
	}
	n, wants := r.storage.RewritableRun(run)
	if n == 0 {
		return nil, wants && r.cutsQueued == 0
	}
	return run[:n], false
}

// writeRun writes a run repairRun (with the engine's RewriteRun) or rechainRun (RechainRun)
// returned; each op written is durable as a single write's.
func (r *Replica) writeRun(run []storage.Entry, write func([]storage.Entry, func(written int, err error))) {
	sums := make([]checksum.Sum, len(run))
	for i, e := range run {
		sums[i] = r.log.slotOf(e.Op).header.Checksum
	}
	r.logWriting = true
	write(run, func(written int, err error) {
		r.logWriting = false
		r.logRetry = err != nil && !errors.Is(err, storage.ErrNotRewritable)
		for i := range written {
			r.writePrepareCallback(run[i].Op, sums[i], nil)
		}
		if err == nil || errors.Is(err, storage.ErrNotRewritable) {
			r.flushLog()
		}
	})
}

// rechainRun returns the prepares from op up to the engine's head when our log holds every
// one of them, each naming the prepare below it as its parent, and the engine's entries above
// op are those prepares (or of unknown identity, placed by the known ones above them), yet
// op's entry does not chain to them in the engine (storage.RechainableRun: the chain sum they
// were written on is lost). The engine then writes them all again in place, linked from op's
// parent, instead of truncating them to append them again: a crash before they were all
// written back lost acknowledged, committed ops of the log view we still claimed (swarm seed
// 2026753315: a state sync to 64 over ops 64-65 of unknown identity, then the repair of op 65
// by the primary-elect of view 17 cut view 14's ops 66-69, and op 69 was lost). The engine
// checks each op it knows against our prepare's bytes (the prepare names its parent), so an
// op we hold only repaired, not yet durable (its entry faulty), need not block the run:
// requiring durable ops refused the run over ops 130-131 and 134-136, repaired after a
// recovery found them of unknown identity, and the repair of op 129 truncated view 9's ops
// 132-161 (swarm seed 2026919031). A truncation queued in the engine makes its head stale:
// none then.
func (r *Replica) rechainRun(op uint64) []storage.Entry {
	head := r.storage.Head()
	if r.cutsQueued > 0 || head > r.op || op >= head {
		return nil
	}
	run := make([]storage.Entry, 0, head-op+1)
	for o := op; o <= head; o++ {
		s := r.log.slotOf(o)
		if !s.present || s.header.Op != o || s.prepare == nil {
			return nil
		}
		if o > op && s.header.Parent != r.log.slotOf(o-1).header.Checksum {
			return nil // not one chain of our log
		}
		run = append(run, storage.Entry{Op: o, Body: s.prepare})
	}
	if !r.storage.RechainableRun(run) {
		return nil
	}
	return run
}

// rechainWants reports that rechainRun(op) may yet place op without truncating, once the
// repair brings the prepares it lacks: a prepare of an op between op and the engine's head is
// missing from our log, one the repair timeout asks for (above commit_min). The truncating
// Append would drop the entries above op, our own durable prepares among them, and the ones
// the disk holds damaged but known by their records: ops we acknowledged in the log view our
// superblock still names (the new one is persisted only once its log is durable again,
// logDurable), and a crash before they were all written back left that log view offered with
// a shorter log, committed ops missing (swarm seed 2029100348: a state sync to 256 over ops
// 256-257 of unknown identity, the rechain of 257-314 refused for four prepares not yet
// repaired, the append of 257 cut view 8's ops 258-314, committed and acknowledged, the
// reboot that followed recovered log view 8 with op 256, and a later do_view_change offered
// it with op 289). Waiting costs little: the log is written in op order, so the ops above
// the first missing prepare wait for it either way; only those below it are written later.
// The conditions are rechainRun's own: with a truncation queued, or an engine log above
// ours, the rechain never applies.
func (r *Replica) rechainWants(op uint64) bool {
	head := r.storage.Head()
	if r.cutsQueued > 0 || head > r.op || op >= head {
		return false
	}
	wants := false
	for o := op + 1; o <= head; o++ {
		if s := r.log.slotOf(o); s.present && s.header.Op == o && s.prepare != nil {
			continue
		}
		if o <= max(r.commitMin, r.checkpointOp) {
			return false // not asked for: waiting for it would wait for ever
		}
		wants = true
	}
	return wants
}

// nextWrite returns the lowest op above the checkpoint that has a prepare not yet durable,
// provided every op below it is durable (no gap in the engine's log) or left to a checkpoint
// (leftToCheckpoint).
func (r *Replica) nextWrite() (uint64, bool) {
	// Ops at or below the durable checkpoint need no log entry.
	for op := max(r.checkpointOp, r.storageFloor()) + 1; op <= r.op; op++ {
		s := r.log.slotOf(op)
		if !s.present || s.header.Op != op || s.prepare == nil {
			return 0, false // a gap: repair fills it first
		}
		if !s.durable && !r.leftToCheckpoint(op, s.prepare) {
			return op, true
		}
	}
	return 0, false
}

// leftToCheckpoint reports whether op's entry is not written because the engine cannot take
// it without truncating its log after it (op is at or below its head and not rewritable in
// place), while the checkpoint that will cover op is committed: executing up to it needs only
// the prepares in memory, and once it is durable op needs no entry. Truncating would drop the
// durable entries above op, committed ones included, which the replica may have acknowledged.
// That arises after a recovery fell back past a damaged checkpoint: the ops between the two
// checkpoints that the newer one covered were never written, and the entries above it are
// laid out from it, leaving no room for them (swarm seed 20262805 truncated committed op
// 641, acknowledged after the restart, to write op 635).
//
// The engine's head and entries are those of the operations it has run: while a truncation
// is queued below op, op may look present and unrewritable yet be about to go, and skipping
// it would append the op above it past the truncated head (swarm seed 20261568: an install
// cut the log after 640, 641 was skipped as "left to checkpoint 704", and 642 left a gap). A
// truncation queued at or above op keeps it: refusing the skip then wrote op by truncating
// everything above it (fresh-range seed 2026235521: a start_view's cut after 142 was queued,
// so op 109, left to checkpoint 128, was written by a truncation after 108 that dropped
// committed, acknowledged op 129).
//
// At the engine's head there is nothing above op to lose: its entry there is another prepare
// (of an older view), which the write replaces. Skipping it put the next ops after that stale
// entry, and a crash before the checkpoint recovered a log whose hash chain broke under them
// (fresh-range seed 2026249483: view 12's op 1069 under view 14's 1070 and 1071).
func (r *Replica) leftToCheckpoint(op uint64, prepare []byte) bool {
	covering := (op + CheckpointInterval - 1) / CheckpointInterval * CheckpointInterval
	owedAfter, owed := r.storage.CutOwed() // a truncation that failed, still to run
	if covering > r.commitMax || op >= r.storage.Head() || (r.cutsQueued > 0 && r.cutLowest < op) ||
		(owed && owedAfter < op) {
		return false
	}
	return !r.storage.Rewritable(storage.Entry{Op: op, Body: prepare})
}

// cutLog truncates the engine's log after op; cutsQueued counts the truncations not yet run,
// and cutLowest is the lowest op they keep.
func (r *Replica) cutLog(op uint64) {
	if r.cutsQueued == 0 || op < r.cutLowest {
		r.cutLowest = op
	}
	r.cutsQueued++
	r.storage.TruncateAfter(op, func(error) { r.cutsQueued-- })
}

// storageFloor is the op below which the engine holds nothing we may need to rewrite: its
// newest checkpoint (entries at or below it are compacted).
func (r *Replica) storageFloor() uint64 { return r.storage.State().CheckpointOp }

func (r *Replica) writePrepareCallback(op uint64, sum checksum.Sum, err error) {
	defer r.invariants()
	s := r.log.slotOf(op)
	if !s.present || s.header.Op != op || s.header.Checksum != sum {
		return // replaced by a view change while the write was in flight
	}
	if err != nil {
		if errors.Is(err, storage.ErrNoSpace) {
			r.onDiskFull()
		}
		return // retried by the repair timeout
	}
	if r.diskFull {
		r.diskFull = false
		r.emit(EventDiskFull, op, sum, "disk has space again")
	}
	if r.cutsQueued > 0 && r.cutLowest < op {
		// A truncation queued behind this write (the engine runs its operations in order, so
		// one queued before it has run and been counted off) drops the entry just written:
		// it stays to be written again. Marking it durable because the slot was refilled with
		// the same prepare meanwhile left a gap below the next append (fresh-range seed
		// 2026375596: a standby's in-flight op 21 of view 1, cut after 19 by view 2's
		// start_view and repaired back in view 3).
		return
	}
	r.log.markDurable(op)
	if op == r.op || !r.viewDurable() {
		// The log may now be durable up to op_number, or up to where the log view began
		// (a repaired op below the head, rewritten in place): its log_view can be.
		r.persistState()
	} else if r.commitMax > r.stateDurable.Commit+CheckpointInterval/2 {
		// An entry that held the persisted commit number down (unverifiedFloor: damaged,
		// kept unverified or missing) may now be the log's: the commit number can catch up
		// with commit_max, and no other event need come to write it (an idle cluster's
		// commit heartbeats repeat the commit number, a backup's repair may end below its
		// head, a checkpoint may be an interval away). Persisting only at the head left the
		// commit number at 0 under commit_max 50 once op 10 was repaired
		// (TestRepairedEntryPersistsTheCommitItHeldBack).
		r.persistState()
	}
	if r.status != StatusNormal {
		return
	}
	if r.isPrimary() {
		r.countOwnVotes()
	} else {
		r.sendPrepareOK(s.header)
	}
}

func (r *Replica) onDiskFull() {
	if !r.diskFull {
		r.diskFull = true
		r.emit(EventDiskFull, r.op, checksum.Sum{}, "disk full: no new operations accepted")
		// Free what can be freed: segments below the newest checkpoint. Once per episode:
		// compacting again frees nothing until a checkpoint advances.
		r.storage.Compact(func(int64, error) {})
	}
}

// retryDiskFull runs on the repair timeout while the disk is full: it retries the log
// write (which clears the condition when it succeeds) and, when the disk reports free space
// again, lets new operations in, so that a replica whose failed write was covered by a
// checkpoint meanwhile does not stay "full" forever.
func (r *Replica) retryDiskFull() {
	if !r.diskFull {
		return
	}
	if r.storage.UsagePercent() < DiskFullClearPercent {
		r.diskFull = false
		r.emit(EventDiskFull, r.op, checksum.Sum{}, "disk has space again")
	}
	r.flushLog()
}

func (r *Replica) sendPrepareOK(prepare Header) {
	if r.isStandby() && !r.mutated(MutationStandbyVotes) {
		return // a standby never votes
	}
	if !r.viewDurable() || r.status != StatusNormal || prepare.View > r.view || prepare.Op > r.op {
		return
	}
	if h, ok := r.log.header(prepare.Op); !ok || h.Checksum != prepare.Checksum {
		return
	}
	ok := r.header(CommandPrepareOK)
	ok.Op, ok.Parent, ok.Commit = prepare.Op, prepare.Checksum, r.commitMax
	r.bus.SendToReplica(r.primaryIndex(r.view), Encode(ok, nil))
}

// onPrepare appends the next prepare of the view to a backup's log (VRR 2012 §4.1 step 4),
// or accepts a repaired prepare whose header the log expects.
func (r *Replica) onPrepare(m Message) {
	h := m.Header
	if r.acceptRepair(m) {
		return
	}
	if h.View > r.view && r.status != StatusRecovering {
		r.requestStartView(h.View) // a view change happened without us
		return
	}
	if r.askRunningView(h) {
		return
	}
	if r.status != StatusNormal || r.isPrimary() {
		return
	}
	if h.Op <= r.op {
		// A prepare we hold durably, possibly from an older view that the new primary is
		// committing: acknowledge it again (our first prepare_ok may have been lost).
		if s := r.log.slotOf(h.Op); s.durable && s.header.Op == h.Op && s.header.Checksum == h.Checksum {
			r.sendPrepareOK(h)
		}
		return
	}
	fromPrimary := h.View == r.view && int(h.Replica) == r.primaryIndex(r.view)
	if (!fromPrimary || h.Op != r.op+1) && r.acceptCommittedAbove(m) && r.op >= h.Op {
		return // a committed prepare above our head, fetched by checksum (committedAbove)
	}
	if h.View < r.view || int(h.Replica) != r.primaryIndex(r.view) {
		return
	}
	r.election.reset(r.rand)
	r.advanceCommitMax(h.Commit)
	if h.Op == r.op+1 {
		r.appendPrepare(m)
		r.appendAhead()
	} else {
		r.repair.wantOp = max(r.repair.wantOp, h.Op)
		r.ahead.put(m)
	}
	r.commitExecute()
	r.standbyHeard(h.Commit)
}

// aheadBuffer holds prepares of the current view that arrived before their predecessor (the
// network reorders): appending them as soon as the gap closes saves a repair round trip.
// Entries are only hints: each is appended through appendPrepare, which checks the chain.
type aheadBuffer struct {
	slots [aheadSlotsMax]*Message
}

// aheadSlotsMax bounds the buffer: a pipeline's worth of prepares, twice.
const aheadSlotsMax = 2 * PipelinePrepareMax

func (b *aheadBuffer) put(m Message) {
	// A copy made here, not &m: that moved onPrepare's message to the heap at every call.
	kept := new(Message)
	*kept = m
	b.slots[m.Header.Op%aheadSlotsMax] = kept
}

func (b *aheadBuffer) take(op uint64) (Message, bool) {
	slot := &b.slots[op%aheadSlotsMax]
	if *slot == nil || (*slot).Header.Op != op {
		return Message{}, false
	}
	m := **slot
	*slot = nil
	return m, true
}

// peek returns the message buffered for op, leaving it in place.
func (b *aheadBuffer) peek(op uint64) (Message, bool) {
	m := b.slots[op%aheadSlotsMax]
	if m == nil || m.Header.Op != op {
		return Message{}, false
	}
	return *m, true
}

func (b *aheadBuffer) clear() { b.slots = [aheadSlotsMax]*Message{} }

// appendAhead appends buffered successors of the head while they are of this view.
func (r *Replica) appendAhead() {
	for i := 0; i < aheadSlotsMax; i++ {
		m, ok := r.ahead.take(r.op + 1)
		if !ok || m.Header.View != r.view {
			return
		}
		before := r.op
		r.appendPrepare(m)
		if r.op == before {
			return // refused (the chain did not match)
		}
	}
}

func (r *Replica) appendPrepare(m Message) {
	h := m.Header
	parent, ok := r.log.checksumOf(r.op)
	if ok && parent != h.Parent {
		// Our head is not its parent: our log diverged from the primary's (a stale op
		// survived a restart or a lost start_view). Ask for the view's log again.
		r.requestStartView(r.view)
		return
	}
	if h.Op > r.checkpointOp+LogSlotsMax-CheckpointInterval {
		return // too far ahead of our checkpoint: state sync will catch us up
	}
	if h.Op <= r.repair.wantOp {
		r.metrics.Repairs++ // we asked for it: it was missed, not merely next
		r.emit(EventRepair, h.Op, h.Checksum, "")
	}
	r.op = h.Op
	r.lastTimestamp = max(r.lastTimestamp, h.Timestamp)
	r.log.setPrepare(m)
	if r.mutated(MutationPrepareOKBeforeSync) {
		r.log.slotOf(h.Op).durable = true // lie: acknowledge before the write
		r.sendPrepareOK(h)
		r.log.slotOf(h.Op).durable = false
	}
	r.writePrepare(h.Op)
}

func (r *Replica) onPrepareOK(m Message) {
	h := m.Header
	if r.status != StatusNormal || !r.isPrimary() || h.View != r.view {
		return
	}
	r.learnCommit(h)
	r.countPrepareOK(h.Op, h.Parent, int(h.Replica))
}

// learnCommit takes the commit number of a backup that acknowledges one of our pipeline's
// prepares: holding that prepare, it holds our log up to it (the hash chain), so the ops of
// our log up to its commit number (at most the acknowledged op) are committed, whoever's
// votes committed them. Otherwise a pipeline op that some replica executed and checkpointed
// in an earlier view, while no other replica holds it durably any more, never gathers a
// quorum: that replica acknowledges only ops above its checkpoint, and we refuse its
// checkpoint while the op is above our commit number (swarm seed 20263431).
func (r *Replica) learnCommit(ok Header) {
	commit := min(ok.Commit, ok.Op)
	if commit <= r.commitMax {
		return
	}
	matched := false
	for _, p := range r.pipeline {
		matched = matched || (p.op == ok.Op && p.checksum == ok.Parent)
	}
	if !matched {
		return
	}
	for len(r.pipeline) > 0 && r.pipeline[0].op <= commit {
		r.pipeline = r.pipeline[1:]
	}
	r.advanceCommitMax(commit)
}

// countPrepareOK records a vote and commits the pipeline's head while it has a quorum
// (VRR 2012 §4.1 step 5): commits happen in op order.
func (r *Replica) countPrepareOK(op uint64, sum checksum.Sum, from int) {
	assert.That(from < r.count || r.mutated(MutationStandbyVotes), "primary: a standby's prepare_ok counted")
	assert.That(r.isMember(from) || r.mutated(MutationStandbyVotes), "primary: a prepare_ok from outside the configuration counted")
	for i := range r.pipeline {
		p := &r.pipeline[i]
		if p.op == op && p.checksum == sum {
			p.oks |= 1 << uint(from)
			if from == r.replica {
				r.emit(EventVoteSelf, op, sum, "")
			}
		}
	}
	quorum := r.quorum()
	if r.mutated(MutationCommitWithoutQuorum) {
		quorum = 1
	}
	if r.mutated(MutationReconfigOldQuorum) && r.reconfig.previousActive > 0 {
		quorum = r.reconfig.previousActive/2 + 1
	}
	for len(r.pipeline) > 0 && popcount(r.pipeline[0].oks) >= quorum {
		head := r.pipeline[0]
		// After a view change the primary may commit with a quorum of backups before it has
		// repaired and persisted the prepare itself: a quorum holds it durably.
		assert.Maybe(head.oks&(1<<uint(r.replica)) != 0)
		r.pipeline = r.pipeline[1:]
		r.metrics.CommitLatency.Record(r.clock.Monotonic() - head.preparedNs)
		r.advanceCommitMax(head.op)
	}
	if len(r.pipeline) == 0 {
		r.prepareResend.stop()
	}
	r.commitExecute()
	r.primaryPrepare()
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// advanceCommitMax raises commit_number, never past op_number: a replica cannot know an op
// is committed before it holds the op (the invariant the runbook quotes).
func (r *Replica) advanceCommitMax(commit uint64) {
	if commit > r.op {
		r.repair.wantOp = max(r.repair.wantOp, commit)
		commit = r.op
	}
	if commit > r.commitMax {
		r.commitMax = commit
		r.persistState()
	}
}

// askRunningView asks for the log of the view we are changing to if h comes from its
// primary: that view already runs, and its primary prepares or heartbeats us. A restarted
// primary moves on to the view after its own and finds the others normal in it; they ignore
// its start_view_change, so without this it would time out into yet another election on a
// healthy cluster. On an idle cluster only commit heartbeats come (the h33 review: every
// idle restart of a primary forced an election).
func (r *Replica) askRunningView(h Header) bool {
	if h.View != r.view || r.status != StatusViewChange || int(h.Replica) != r.primaryIndex(h.View) || r.isPrimary() {
		return false
	}
	r.requestStartView(h.View)
	return true
}

func (r *Replica) onCommit(m Message) {
	h := m.Header
	if h.View > r.view && r.status != StatusRecovering {
		r.requestStartView(h.View) // a view change happened without us
		return
	}
	if r.askRunningView(h) {
		return
	}
	if r.status != StatusNormal || r.isPrimary() || h.View < r.view {
		return
	}
	if !r.mutated(MutationHeartbeatKeepsElection) {
		r.election.reset(r.rand)
	}
	// A commit heartbeat carries the primary's checkpoint in Op: a replica whose executed
	// state is behind it cannot repair from logs that peers have compacted away.
	if h.Op > r.commitMin+CheckpointInterval/2 && h.Op > r.checkpointOp {
		r.requestSync(int(h.Replica))
	}
	if local, ok := r.log.checksumOf(h.Commit); ok && local != h.Parent {
		// Our op at the commit point differs from the primary's: our suffix is stale.
		r.requestStartView(h.View)
		return
	}
	if int(h.Replica) == r.primaryIndex(h.View) {
		// Our view's primary names its committed op: see expectedChecksum (at most our head)
		// and committedAbove (above it).
		r.repair.commitOp, r.repair.commitChecksum = h.Commit, h.Parent
		r.repair.commitView, r.repair.commitEpoch = r.view, r.epoch
	}
	r.advanceCommitMax(h.Commit)
	r.commitExecute()
	r.standbyHeard(h.Commit)
}

func (r *Replica) onHeartbeatTimeout() {
	r.heartbeat.start(r.rand)
	if r.status != StatusNormal || !r.isPrimary() {
		return
	}
	// Requests wait in the queue while the clock is unsynchronised or the checkpoint lags:
	// try again on every heartbeat, not only when a message arrives.
	r.primaryPrepare()
	if !r.clockSync.synchronized && len(r.requestQueue) > 0 && r.clockSync.unsyncTicks > r.config.ElectionTimeoutTicks &&
		!r.mutated(MutationUnsyncedPrimaryLeads) {
		// A primary that cannot timestamp abdicates: it stops its heartbeats so that the
		// backups elect a primary whose clock agrees with theirs.
		return
	}
	h := r.header(CommandCommit)
	h.Commit, h.Op = r.commitMax, r.checkpointOp
	h.Parent, _ = r.log.checksumOf(r.commitMax)
	commit := Encode(h, nil)
	r.sendToOthers(commit)
	r.sendToStandbys(commit)
}

func (r *Replica) onPrepareResendTimeout() {
	r.prepareResend.again(r.rand)
	if r.status != StatusNormal || !r.isPrimary() {
		r.prepareResend.stop()
		return
	}
	for _, p := range r.pipeline {
		prepare, ok := r.log.prepare(p.op)
		if !ok {
			continue // after a view change, being repaired
		}
		for i := 0; i < r.count; i++ {
			if i != r.replica && p.oks&(1<<uint(i)) == 0 && r.isMember(i) {
				r.bus.SendToReplica(i, prepare)
			}
		}
		r.flushLog()
	}
}
