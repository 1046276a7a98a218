package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// Failed cuts. A file system can fail ftruncate or unlink with EIO, the file left as it was
// (sim.Disk.ArmTruncateError, ArmRemoveError). The engine cuts files in two places where a
// replica does not wait on the outcome: the cut of a failed append's entry (cutFailedAppend;
// the append's failure is reported either way) and a truncation's removal of the segments
// above its op and cut of the segment holding op+1 (truncateAfter; a replica takes a
// truncation as done, failed or not). Both leave, when they fail, bytes past the log the
// engine owes a cut of, and the contract is that the next superblock write pays the debt
// first, or fails: the state it persists (a new log view) is about the log without them
// (payAppendCut, payCut).
//
// So in a sixth of the boots (their own stream, storage_episode/truncate_fail, so that every
// other draw of a seed stays), the boot aims a write error at a fresh append's record write
// (as storage_episode_write_error.go does) and a truncate error at the cut that follows it;
// in a third, it aims a remove error at the lowest segment a truncation drops, or a truncate
// error at the segment it cuts (the nth truncation of the boot, n from 0 to 2), and in half of
// those a second failed truncation below the first follows, or (a quarter) a peer's
// checkpoint installed above the log. When the aimed error struck, the history ends with a
// superblock write (SaveState), then the crash. Until that write is acknowledged, what the
// failed cut left may come back at the next Open (an append that finished, the ops the
// truncation gave up): the episode allows their bodies at their ops (unsettled). Once it is,
// they must be gone, but for ops at or below the checkpoint, which are no longer the log's.

// cutFailAim is a boot's aimed cut failure.
type cutFailAim struct {
	mode cutFailMode
	// nth is the truncations to let pass first; then is what follows the first failed one.
	nth  int
	then cutFailThen
	// armed: an aimed error waits now; failures counts those that struck this boot.
	armed    bool
	failures int
	// payFails: the superblock write's payment of the debt meets the same error again
	// (paying: it is armed now); target and remove name the file and the kind of the last
	// aimed error.
	payFails, paying bool
	target           string
	remove           bool
	// allowed are the bodies allowed back until a superblock write is acknowledged; left are
	// all the bodies failed cuts left, of this boot and earlier ones, each allowed while it
	// is in unsettled (which drops it once its op is written again or cut).
	allowed, left map[uint64][][]byte
}

type cutFailMode int

const (
	cutFailNone cutFailMode = iota
	cutFailAppend
	cutFailTruncation
)

type cutFailThen int

const (
	thenSave cutFailThen = iota
	thenTruncateBelow
	thenInstall
)

// drawCutFailAim draws the boot's cut failure, after its other write errors, whose aims it
// may replace (see above).
func (e *storeEpisode) drawCutFailAim() cutFailAim {
	a := e.drawCutFailMode()
	a.left = e.cutAim.left
	return a
}

func (e *storeEpisode) drawCutFailMode() cutFailAim {
	r := e.truncFail
	switch k := r.IntN(6); {
	case k == 0 && !e.errorAim.noSpace:
		if e.errorAim.nth < 0 {
			e.errorAim = writeErrorAim{nth: r.IntN(4)}
		}
		e.truncateAim = truncateErrorAim{nth: -1}
		return cutFailAim{mode: cutFailAppend}
	case k == 1 || k == 2:
		then := thenSave
		switch r.IntN(4) {
		case 0, 1:
			then = thenTruncateBelow
		case 2:
			then = thenInstall
		}
		return cutFailAim{mode: cutFailTruncation, nth: r.IntN(3), then: then}
	}
	return cutFailAim{}
}

// aimCutFail arms the boot's cut failure at step if it is the one it waits for.
func (e *storeEpisode) aimCutFail(step storagemodel.Step) {
	a := &e.cutAim
	switch {
	case a.armed:
	case a.mode == cutFailAppend && step.Kind == storagemodel.Append && e.errorAim.armed && !e.errorAim.noSpace:
		a.armed, a.target, a.remove = true, segmentFileName4(step.Op), false
		e.disk.ArmTruncateError(a.target, true)
	case a.payFails && step.Kind == storagemodel.SaveState:
		a.payFails, a.armed, a.paying = false, true, true
		if a.remove {
			e.disk.ArmRemoveError(a.target)
		} else {
			e.disk.ArmTruncateError(a.target, false)
		}
	case a.mode == cutFailTruncation && step.Kind == storagemodel.Truncate:
		if a.nth > 0 {
			a.nth--
			return
		}
		e.aimTruncationCut(step.Op)
	}
}

// aimTruncationCut arms a remove error at the lowest segment the truncation after op drops,
// or a truncate error at the segment it cuts (op+1's, unless op+1 begins it).
func (e *storeEpisode) aimTruncationCut(op uint64) {
	per := uint64(storageEpisodeOptions.SegmentEntriesMax)
	head := e.s.Head()
	if head <= op {
		return // nothing to cut: wait for the next truncation
	}
	whole := (op+1)%per == 0
	onDisk := e.segments()
	lowest := op + 1
	if !whole {
		lowest = (op+1)/per*per + per
	}
	canRemove := lowest <= head && slices.Contains(onDisk, segmentFileName4(lowest))
	canCut := !whole && slices.Contains(onDisk, segmentFileName4(op+1))
	a := &e.cutAim
	a.armed = true
	if canRemove && (!canCut || e.truncFail.IntN(2) == 0) {
		a.target, a.remove = segmentFileName4(lowest), true
		e.disk.ArmRemoveError(a.target)
	} else if canCut {
		a.target, a.remove = segmentFileName4(op+1), false
		e.disk.ArmTruncateError(a.target, false)
	} else {
		a.armed = false
	}
}

// disarmCutFail withdraws the armed errors; it reports whether one struck.
func (e *storeEpisode) disarmCutFail() bool {
	if !e.cutAim.armed {
		return false
	}
	e.cutAim.armed = false
	removed := e.disk.DisarmRemoveError()
	return e.disk.DisarmTruncateError() || removed
}

// appendCutFailed, for a fresh append the armed write error failed (appendFailed), reports
// whether the cut of its entry failed too; if so the failed op's entry is allowed back until
// a superblock write, which ends the history.
func (e *storeEpisode) appendCutFailed(step storagemodel.Step) bool {
	if e.cutAim.mode != cutFailAppend || !e.disarmCutFail() {
		return false
	}
	e.counters["storage_episode.append_cut_fails"]++
	e.cutAim.failures++
	e.allowBack(step.Op, step.Body)
	// The payment is not failed here: with a boot's only superblock the format's, the
	// superblock knob's damage of both its copies leaves no state to open
	// (TestStorageEpisodeSuperblockDamageFires' seed 10).
	e.endWith(storagemodel.Step{Kind: storagemodel.SaveState, View: e.m.View + 1})
	e.issue()
	return true
}

// cutFailed reports whether err is the armed error failing step, a truncation or the
// superblock write after a failed cut (paymentFailed); if so a truncation is taken as done, as
// a replica takes it, the ops it gave up allowed back until a superblock write, and the
// history ends as drawn (see above).
func (e *storeEpisode) cutFailed(step storagemodel.Step, err error) bool {
	if step.Kind == storagemodel.SaveState && e.cutAim.paying {
		return e.paymentFailed(err)
	}
	if e.cutAim.mode != cutFailTruncation || step.Kind != storagemodel.Truncate || !e.disarmCutFail() {
		return false
	}
	if !errors.Is(err, storage.ErrIO) {
		return false // the truncation's own outcome: held as any other
	}
	e.counters["storage_episode.truncation_cut_fails"]++
	a := &e.cutAim
	a.failures++
	m := e.m
	// What may come back above step.Op may still, the truncation undone: the acknowledged
	// ops it gave up, and what could come back there before (unsettled: an earlier boot's
	// failed cut, an op in flight at a crash; storage crash seed 2205007427's op 12).
	var ops []uint64
	for op := range m.Log {
		if op > step.Op {
			ops = append(ops, op)
		}
	}
	for op := range e.unsettled {
		if op > step.Op && !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	// And what a hidden region kept an Open from seeing past the head, which only this cut
	// would have removed (storage crash seed 2211037922's op 15).
	for op := range e.pastHead {
		if op > step.Op && !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	back := make([][][]byte, len(ops))
	for i, op := range ops {
		if body, ok := m.Log[op]; ok {
			back[i] = append(back[i], body)
		}
		back[i] = append(back[i], e.unsettled[op]...)
		back[i] = append(back[i], e.pastHead[op]...)
	}
	e.acknowledged(step) // it drops what unsettled held above step.Op
	for i, op := range ops {
		for _, b := range back[i] {
			e.allowBack(op, b)
		}
	}
	save := storagemodel.Step{Kind: storagemodel.SaveState, View: m.View + 1}
	a.payFails = e.truncFail.IntN(3) == 0
	floor := max(m.CP, m.Audited)
	under, installs := e.installUnderLeft(step, save)
	switch {
	case installs:
		e.endWith(under...) // storage_episode_cut_floor.go
	case a.failures == 1 && a.then == thenTruncateBelow && step.Op > floor:
		below := floor + e.truncFail.Uint64N(step.Op-floor)
		e.endWith(storagemodel.Step{Kind: storagemodel.Truncate, Op: below}, save)
	case a.failures == 1 && a.then == thenInstall:
		cp := max(e.s.Head(), step.Op) + 1 + e.truncFail.Uint64N(4)
		e.endWith(storagemodel.Step{Kind: storagemodel.Install, Op: cp,
			Snapshot: fmt.Appendf(nil, "a peer's snapshot at %d over a failed truncation", cp)}, save)
	default:
		e.endWith(save)
	}
	e.issue()
	return true
}

// paymentFailed, for the superblock write whose payment of a failed cut met the error aimed
// again (payFails), reports whether it failed on it: then the superblock must not have been
// written (SaveState's contract: a state about the log without what the cut owed is not
// persisted over it), the write is not acknowledged, and the history ends. A write that
// reports success though its payment failed fails the episode.
func (e *storeEpisode) paymentFailed(err error) bool {
	e.cutAim.paying = false
	if !e.disarmCutFail() {
		return false
	}
	if err == nil {
		e.fail("a superblock write reported success though paying the failed cut before it met an I/O error")
		return true
	}
	if !errors.Is(err, storage.ErrIO) {
		return false
	}
	e.counters["storage_episode.cut_payment_fails"]++
	e.m.Pending = nil
	e.endWith()
	return true
}

// endWith replaces the rest of the boot's history with steps.
func (e *storeEpisode) endWith(steps ...storagemodel.Step) {
	e.steps = append(e.steps[:e.m.Acked:e.m.Acked], steps...)
}

// allowBack lets body come back at op until a superblock write is acknowledged.
func (e *storeEpisode) allowBack(op uint64, body []byte) {
	if e.cutAim.allowed == nil {
		e.cutAim.allowed = map[uint64][][]byte{}
	}
	if e.cutAim.left == nil {
		e.cutAim.left = map[uint64][][]byte{}
	}
	same := func(b []byte) bool { return bytes.Equal(b, body) }
	if !slices.ContainsFunc(e.cutAim.allowed[op], same) {
		e.cutAim.allowed[op] = append(e.cutAim.allowed[op], body)
	}
	if !slices.ContainsFunc(e.cutAim.left[op], same) {
		e.cutAim.left[op] = append(e.cutAim.left[op], body)
	}
	if !slices.ContainsFunc(e.unsettled[op], same) {
		e.unsettled[op] = append(e.unsettled[op], body)
	}
}

// cutFailAcknowledged, after step was acknowledged: a superblock write paid what the failed
// cuts owed, so what they left above the checkpoint may no longer come back.
func (e *storeEpisode) cutFailAcknowledged(step storagemodel.Step) {
	if step.Kind != storagemodel.SaveState || len(e.cutAim.allowed) == 0 {
		return
	}
	for op, bodies := range e.cutAim.allowed {
		if op <= e.m.CP {
			continue // no longer the log's: payCut does not cut it
		}
		for _, b := range bodies {
			if i := slices.IndexFunc(e.unsettled[op], func(u []byte) bool { return bytes.Equal(u, b) }); i >= 0 {
				e.unsettled[op] = slices.Delete(e.unsettled[op], i, i+1)
			}
		}
		if len(e.unsettled[op]) == 0 {
			delete(e.unsettled, op)
		}
	}
	e.cutAim.allowed = nil
	e.counters["coverage.storage_episode.cut_debt_paid"]++
}

// settleCutFail withdraws an armed cut failure no operation took before the crash.
func (e *storeEpisode) settleCutFail() {
	e.disarmCutFail()
	e.cutAim.allowed = nil // what is allowed back stays allowed (unsettled): the debt died with the crash
}

// vouchCutLeft counts as damaged the faulty ops whose copy a failed cut left (allowed back),
// and returns rec with the identities of faulty ops that a failed cut's leftovers
// explain dropped from FaultyPrefix, for the check: an op the failed cut left on disk, its
// entry damaged since, comes back faulty under the identity of the body it held (one allowed
// back, unsettled), which the check otherwise holds to the acknowledged history.
func (e *storeEpisode) vouchCutLeft(rec *storage.Recovery) *storage.Recovery {
	if rec == nil || len(e.cutAim.left) == 0 {
		return rec
	}
	for _, op := range rec.Faulty {
		left := e.cutAim.left[op]
		if !e.damaged[op] && slices.ContainsFunc(e.unsettled[op], func(b []byte) bool {
			return slices.ContainsFunc(left, func(l []byte) bool { return bytes.Equal(l, b) })
		}) {
			// A fault that hit it after the model gave it up (a misdirected write's landing:
			// storage crash seed 2205002006's op 8) is a fault the model did not count.
			e.damaged[op] = true
			e.counters["coverage.storage_episode.cut_left_damaged"]++
		}
	}
	if len(rec.FaultyPrefix) == 0 {
		return rec
	}
	var vouched []uint64
	for op, prefix := range rec.FaultyPrefix {
		leftHere := slices.ContainsFunc(e.cutAim.left[op], func(b []byte) bool { return bytes.HasPrefix(b, prefix) })
		stillAllowed := slices.ContainsFunc(e.unsettled[op], func(b []byte) bool { return bytes.HasPrefix(b, prefix) })
		if leftHere && stillAllowed && !e.acknowledgedPrefix(op, prefix) {
			vouched = append(vouched, op)
		}
	}
	if len(vouched) == 0 {
		return rec
	}
	out := *rec
	out.FaultyPrefix = maps.Clone(rec.FaultyPrefix)
	for _, op := range vouched {
		delete(out.FaultyPrefix, op)
	}
	e.counters["coverage.storage_episode.cut_left_faulty"]++
	return &out
}

// forgetCutFS is the engine's file system under the cutDebtForgotten knob: once a failed cut
// left something allowed back, and while no aimed error waits, a Truncate or Remove does
// nothing and reports success, so that the disk is left as an engine that forgot what the
// failed cut owed, and wrote the superblock over it, left it
// (storage.superblock_over_failed_truncation, storage.failed_append_cut_forgotten).
type forgetCutFS struct {
	storage.FS
	e *storeEpisode
}

func (f forgetCutFS) forgets() bool { return len(f.e.cutAim.allowed) > 0 && !f.e.cutAim.armed }

func (f forgetCutFS) Truncate(name string, size int64, done func(error)) {
	if f.forgets() {
		done(nil)
		return
	}
	f.FS.Truncate(name, size, done)
}

func (f forgetCutFS) Remove(name string, done func(error)) {
	if f.forgets() {
		done(nil)
		return
	}
	f.FS.Remove(name, done)
}
