package scenarios

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
	"vopr/sim"
)

// The storage episode: the storage engine alone on a simulated disk, driven as a replica
// drives it (appends in op order, superblock writes, checkpoints, compactions, truncations,
// appends that replace an op, state syncs installing a peer's checkpoint), crashed after a
// drawn number of completions (unsynced writes lost or torn as the disk draws), then damaged
// on purpose, then opened again. What Open recovers is held to a model of what the engine
// acknowledged:
//
//   - the checkpoint is the newest acknowledged one (or the one in flight), with its snapshot;
//     if the episode damaged its file, Open falls back to an older acknowledged checkpoint,
//     with that checkpoint's snapshot and audit head (op 0 only while the segments of ops 1
//     through the damaged checkpoint are on disk), or reports the newest checkpoint lost;
//   - every recovered entry holds a body that was acknowledged at its op, or the one in flight;
//   - no acknowledged entry above the checkpoint is lost: it comes back intact, or, if the
//     episode damaged it, faulty (never silently absent);
//   - only a damaged op, or the append in flight, is faulty;
//   - a fallback past a peer's checkpoint (installed by state sync) never brings back intact
//     an entry of the log under it that this engine had not audited: it need not be the
//     peer's history (InstallCheckpoint's contract);
//   - every caller-owned field of the state (commit, epochs, membership, release, boots,
//     standby count, joined-empty) comes back as acknowledged (storage_episode_state.go).
//
// Beside the recoveries, on copies or at the end: a backup restored onto a fresh disk gives
// back the same state and log, and stays as repairable as the original
// (storage_episode_restore.go); a restore onto a disk holding another state, crashed at a
// drawn I/O completion, leaves a disk that opens as unformatted, as the old state or as the
// restored one (storage_episode_restore_crash.go); a full scan of the running engine reports
// an op whose acknowledged write the disk lost (storage_episode_lost_write.go).
//
// The damage is PAR's menu, aimed at one acknowledged copy: a flipped bit or an unreadable
// sector in an entry's header or body, the same with its redundant record (identity lost), an
// entry's bytes misdirected to the same offset of another segment file (what only the scan's
// segment check rejects), or the newest checkpoint file corrupted; and beside it, in a third
// of the boots, one copy of the superblock (storage_episode_superblock.go). The engine's own
// unit tests cover each fault alone; the episode draws them against random histories and
// crash points, on every swarm seed (swarm_episode.go), so that a recovery-scan, compaction
// or truncation bug in the engine fails seeds, not only tests.
//
// The model is written here from the engine's contract (Recovery's documentation), never
// from its code.

// storageEpisodeOptions keep segments small, so that a history spans several of them. A
// history never reaches op 64, so a lost checkpoint replays from the format's state whenever
// the log holds every op from 1 (ReplayOpsMax, as a replica's log window allows).
var storageEpisodeOptions = storage.Options{SegmentEntriesMax: 4, EntryBodyMax: 4096, RecordPrefix: 16,
	ReplayOpsMax: 64}

// storeEpisode is one run.
type storeEpisode struct {
	rng     *rand.Rand
	loop    *sim.Loop
	trace   *sim.Trace
	disk    *sim.Disk
	s       *storage.Storage
	steps   []storagemodel.Step
	m       *storagemodel.Model
	failure string
	// damaged are the acknowledged ops whose copy the episode damaged; checkpointDamaged the
	// checkpoint whose file it corrupted (0: none).
	damaged map[uint64]bool
	// bothCopies are the damaged ops whose entry and record faults both destroyed: one
	// misdirected write hit both, or hit the record while the entry was still damaged
	// (entryHit; storage_episode_misdirect.go). Such an op may read as an append that never
	// finished.
	bothCopies map[uint64]bool
	// entryHit are the ops whose entry a lasting fault damaged (damageOp, misdirect,
	// settleMisdirect), until the op is written again, cut, or recovered intact: a later
	// fault on its record then leaves no copy of it (bothCopies).
	entryHit map[uint64]bool
	// recordHit are the ops whose record sector a misdirected write hit: a distrust mark
	// there is gone, and its distrusted entry may come back intact (one copy of the mark, a
	// second fault after the damaged checkpoint: storage crash seed 148628537103).
	recordHit map[uint64]bool
	// written are the bodies every write the episode issued put at each op, whatever became
	// of it: what a mark destroyed by a second fault may let back (recordHit).
	written map[uint64][][]byte
	// unsettled are, for each op that the operation in flight at a crash wrote or was
	// removing and that the recovery after it held faulty, the bodies a later Open may find
	// there intact once the damage was a transient read error: the one in flight, and the
	// one acknowledged before (until the op is written again or cut).
	unsettled         map[uint64][][]byte
	checkpointDamaged uint64
	counters          map[string]uint64
	// boots is how many crash-damage-recovery rounds the history runs (1 to 3): each later
	// one continues on the recovered disk as a replica would (a lost checkpoint installed
	// again, the log cut below its first faulty op), so that what one recovery decided is
	// held to the next.
	boots int
	// openCrashes draws the crashes inside Open (its own stream, so that the history, the
	// crash points and the damage of a seed stay as they were before it).
	openCrashes *rand.Rand
	// repairs draws which recoveries repair their lowest faulty op (its own stream, as
	// openCrashes).
	repairs *rand.Rand
	// writeFaults draws the misdirects armed while the engine works
	// (storage_episode_misdirect.go; its own stream, as openCrashes).
	writeFaults *rand.Rand
	// transient draws the sectors hidden from one Open (storage_episode_transient.go; its
	// own stream, as openCrashes).
	transient *rand.Rand
	// writeErrors draws the write errors aimed at fresh appends, and errorAim is the boot's
	// (storage_episode_write_error.go; its own stream, as openCrashes).
	writeErrors *rand.Rand
	// noSpace draws the ErrNoSpace aimed at fresh appends' record writes in the boots that
	// aim no write error (storage_episode_write_error.go; its own stream, as openCrashes);
	// noSpaceKeepsEntry is a test's knob: the failed append's entry is put back past the
	// head, as an engine that did not cut it left it (storage.record_no_space_keeps_entry).
	noSpace           *rand.Rand
	noSpaceKeepsEntry bool
	// truncateErrors draws the write error aimed at a truncation's marks, and truncateAim is
	// the boot's (storage_episode_truncate_error.go; its own stream, as openCrashes);
	// truncateErrorEscapes is a test's knob: the error fails the truncation
	// (storage.truncate_fails_on_tombstone_write_error).
	truncateErrors       *rand.Rand
	truncateAim          truncateErrorAim
	truncateErrorEscapes bool
	// rotAfterRewrite draws the rot of an op the previous Open returned intact over a record
	// a fault had hit, and afterRewrite are those ops (storage_episode_rewritten.go; its own
	// stream, as openCrashes).
	rotAfterRewrite *rand.Rand
	afterRewrite    []uint64
	// foreignRecordStays is a test's knob: after the Open that follows a mark landing
	// (landMark), the landed sector is put back, as an engine that did not write a record
	// over another op's left it (storage.open_skips_foreign_record_over_intact); landed is
	// the boot's landing.
	foreignRecordStays bool
	landed             *landedMark
	// openRecord draws the misdirect of a record Open writes over a mark, and openAimed is
	// the op an Open returned intact after one landed (storage_episode_open_record.go; its
	// own stream, as openCrashes).
	openRecord *rand.Rand
	openAimed  uint64
	openHit    []uint64
	openLanded bool // the boot's Open met the armed misdirect
	// openMark is the mark under the record sector the misdirect waits at;
	// openRecordNotReadBack is a test's knob: it is put back after the Open, as an engine
	// that did not read back the record it wrote over it left it
	// (storage.open_finished_record_not_read_back).
	openMark              []byte
	openRecordNotReadBack bool
	// tail draws the tail damage (damageTail) of the boots that draw no other damage.
	tail     *rand.Rand
	errorAim writeErrorAim
	// marks draws the faults aimed at the record area's marks, and markAim is the boot's
	// (storage_episode_marks.go; its own stream, as openCrashes).
	marks   *rand.Rand
	markAim markAim
	// hiddenRegions and markRot draw the hidden regions past the head and the rot above a
	// faulty mark (storage_episode_hidden.go; their own streams, as openCrashes).
	hiddenRegions, markRot *rand.Rand
	// runs draws the runs of unknown identity (storage_episode_run.go; its own stream, as
	// openCrashes).
	runs *rand.Rand
	// repairRule draws the identity damage above a corrupted checkpoint
	// (storage_episode_repair_rule.go; its own stream, as openCrashes); recovered are the
	// intact entries the last Open returned, by op, and recoveredCP its checkpoint.
	repairRule  *rand.Rand
	recovered   map[uint64][]byte
	recoveredCP uint64
	// unanchored is the checkpoint op whose anchor an acknowledged install took without
	// knowing what the log above was written on (noteAnchor), 0 if none.
	unanchored uint64
	// bothCheckpoints draws the corruption of the previous checkpoint's file too, and
	// rottenCheckpoints are the older checkpoint files it corrupted (storage_episode_both.go;
	// its own stream, as openCrashes).
	bothCheckpoints   *rand.Rand
	rottenCheckpoints []uint64
	// landing draws the record-area landings above the head (storage_episode_landing.go; its
	// own stream, as openCrashes).
	landing *rand.Rand
	// hiddenAt are the sectors, by file, that the last Open could not read (a transient
	// error, healed since): what that Open decided of their bytes, the engine still believes.
	hiddenAt map[string][]int64
	// openSegments are the segment files on disk when the last Open began.
	openSegments []string
	// stateFields draws the caller-owned fields each SaveState writes
	// (storage_episode_state.go; its own stream, as openCrashes).
	stateFields *rand.Rand
	// restore draws the restore check and its damage (storage_episode_restore.go; its own
	// stream, as openCrashes); restoreDone once the episode had its chance at it.
	restore     *rand.Rand
	restoreDone bool
	seed        uint64 // names the side streams of the restore check's disk copies
	// restoreLosesIdentity is a test's knob: the restore check also damages the record of
	// the entry it damages, as a restore that kept no redundancy would leave it.
	restoreLosesIdentity bool
	// restoreCrash draws the crashed restore after the restore check, and
	// restoreCrashKeepsSuperblock is a test's knob: the crash leaves the old superblock, as
	// a restore that removed it last would (storage_episode_restore_crash.go; its own stream,
	// as openCrashes).
	restoreCrash                *rand.Rand
	restoreCrashKeepsSuperblock bool
	// lostWrite draws the lost-write check at the episode's end
	// (storage_episode_lost_write.go; its own stream, as openCrashes).
	lostWrite *rand.Rand
	// lostWriteReopens is a test's knob: the lost-write check scans a freshly opened engine,
	// whose index is read from the disk, instead of the running one.
	lostWriteReopens bool
	// tailLost draws the lost-tail check after it (storage_episode_tail_lost.go; its own
	// stream, as openCrashes); tailLostReopens is its test's knob, as lostWriteReopens.
	tailLost        *rand.Rand
	tailLostReopens bool
	// superblock draws the damage of a superblock copy, and superblockTorn notes a newest
	// state a torn write may have left in one copy, for Open to store twice
	// (storage_episode_superblock.go; its own stream, as openCrashes). superblockBothCopies
	// is a test's knob: the damage takes both copies of the newest state, as one fault does
	// after a write that kept a single copy. superblockRepair draws the crash inside the Open
	// that stores such a state twice (its own stream, as openCrashes).
	superblock, superblockRepair         *rand.Rand
	superblockTorn, superblockBothCopies bool
	// truncFail draws the failed cuts, and cutAim is the boot's
	// (storage_episode_truncate_fail.go; its own stream, as openCrashes).
	truncFail *rand.Rand
	cutAim    cutFailAim
	// pastHead are the bodies a hidden region kept from an Open past the acknowledged head
	// (an unfinished append, a stale entry), which that Open could not cut
	// (storage_episode_hidden.go): until an append there or a truncation below them cuts
	// them, a failed cut below them leaves them too (cutFailed).
	pastHead map[uint64][][]byte
	// probes draws the probes of the writes a recovery's log invites, and probeLies is a
	// test's knob: the engine the probes ask (storage_episode_probe.go; its own stream, as
	// openCrashes). cutFloor draws a failed truncation's state sync below the ops it left
	// (storage_episode_cut_floor.go; its own stream).
	probes, cutFloor *rand.Rand
	probeLies        func(*storage.Storage) probeTarget
	// superblockLost draws the lost superblock copy, and superblockSeen are the superblock
	// states seen, by sequence (storage_episode_superblock_lost.go; its own stream).
	superblockLost *rand.Rand
	superblockSeen map[uint64][]byte
	// rechain draws the rechain at the episode's end, and rechainForged is a test's knob: the
	// rechain is acknowledged without being written (storage_episode_rechain.go; its own
	// stream, as openCrashes).
	rechain       *rand.Rand
	rechainForged bool
	rechainLies   func(*storage.Storage) probeTarget // a test's: the engine the refusals ask
	// cutDebtForgotten is a test's knob: what a failed cut owed is never cut (forgetCutFS).
	cutDebtForgotten bool
	// lostEntry draws the boots' lost entry writes, and lostAim is the boot's
	// (storage_episode_lost_entry.go; its own stream, made at the first boot).
	lostEntry *rand.Rand
	lostAim   lostEntryAim
	markTwice markTwiceAim // storage_episode_mark_twice.go
	// pastHeadMarks draws the rot of the distrust marks above a rewritten head, and
	// headRewritten says the last acknowledged step that changed the log repaired the head
	// (storage_episode_past_head.go; its own stream).
	pastHeadMarks *rand.Rand
	headRewritten bool
	// pastHeadRot holds the ops whose record sector rotMarksPastHead rotted where the engine
	// may take the rot for the op's evidence (pastHeadEvidence): a faulty report of one is
	// explained, until the op is written again. Kept apart from damaged, whose ops steer the
	// later boots' draws.
	pastHeadRot map[uint64]bool
	// tornLanding draws the torn append over a landing, and tornAim is the boot's
	// (storage_episode_torn_landing.go; its own stream).
	tornLanding *rand.Rand
	tornAim     tornLandingAim
}

func init() {
	register(Scenario{
		Name:    "storage_crash",
		Runbook: "none (storage engine alone)",
		Summary: "the storage engine alone on a simulated disk: a drawn history of appends, view changes, checkpoints, state-sync installs, compactions and truncations over 1-3 boots, each a crash at a drawn completion and one aimed fault (entry, identity, misdirected copy, checkpoint file; a write misdirected or failed while the engine works), then maybe a repair cut short and a crash inside Open; what Open recovers is held to the acknowledged history",
		Run:     runStorageCrash,
	})
}

// runStorageCrash is the storage_crash scenario: the storage episode of o.Seed alone.
func runStorageCrash(o Options) Result {
	e := newStorageEpisode(o.Seed)
	if o.disks != nil {
		o.disks.Adopt(e.disk)
	}
	// An operation takes about four completions (write, sync, record write, sync): crash
	// points up to six per operation crash most runs in mid-history, an operation in flight.
	e.run(e.rng.IntN(6*len(e.steps) + 1))
	r := Result{Scenario: "storage_crash", Seed: o.Seed, Outcome: Pass, Counters: e.counters,
		TraceHash: e.trace.Hash(), Events: e.trace.Count(), SimTime: e.loop.Now()}
	if e.failure != "" {
		r.Outcome, r.Reason = Correctness, e.failure
	}
	return r
}

func newStorageEpisode(seed uint64) *storeEpisode {
	rng := sim.Stream(seed, "storage_episode")
	opts := sim.DiskOptions{ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 50 * sim.Microsecond,
		WriteLatencyMin: 20 * sim.Microsecond, WriteLatencyMean: 200 * sim.Microsecond, Capacity: 16 << 20,
		CrashLostProbability: []float64{0, 0.2, 0.5, 1}[rng.IntN(4)], CrashTornProbability: []float64{0, 0.5, 1}[rng.IntN(3)]}
	loop := sim.NewLoop()
	trace := sim.NewTrace(loop.Now)
	e := &storeEpisode{rng: rng, loop: loop, trace: trace, steps: storagemodel.Draw(rng, 10+rng.IntN(50)),
		disk:    sim.NewDisk(loop, sim.Stream(seed, "storage_episode/disk"), trace, 0, opts),
		damaged: map[uint64]bool{}, bothCopies: map[uint64]bool{}, entryHit: map[uint64]bool{}, recordHit: map[uint64]bool{}, written: map[uint64][][]byte{}, unsettled: map[uint64][][]byte{}, counters: map[string]uint64{"storage_episode.runs": 1},
		m: storagemodel.New(storeEpisodeState.View), boots: 1 + sim.Stream(seed, "storage_episode/boots").IntN(3),
		openCrashes: sim.Stream(seed, "storage_episode/open_crashes"), repairs: sim.Stream(seed, "storage_episode/repairs"),
		writeFaults: sim.Stream(seed, "storage_episode/write_faults"), transient: sim.Stream(seed, "storage_episode/transient"),
		writeErrors: sim.Stream(seed, "storage_episode/write_errors"), errorAim: writeErrorAim{nth: -1},
		noSpace: sim.Stream(seed, "storage_episode/no_space"), rotAfterRewrite: sim.Stream(seed, "storage_episode/rot_rewritten"),
		openRecord:     sim.Stream(seed, "storage_episode/open_record_over_mark"),
		truncateErrors: sim.Stream(seed, "storage_episode/truncate_error"),
		tail:           sim.Stream(seed, "storage_episode/tail"), marks: sim.Stream(seed, "storage_episode/marks"),
		hiddenRegions: sim.Stream(seed, "storage_episode/hidden_region"), markRot: sim.Stream(seed, "storage_episode/mark_rot"),
		runs: sim.Stream(seed, "storage_episode/run"), repairRule: sim.Stream(seed, "storage_episode/repair_rule"),
		bothCheckpoints: sim.Stream(seed, "storage_episode/both_checkpoints"),
		landing:         sim.Stream(seed, "storage_episode/landing"), stateFields: sim.Stream(seed, "storage_episode/state_fields"),
		restore: sim.Stream(seed, "storage_episode/restore"), seed: seed,
		lostWrite: sim.Stream(seed, "storage_episode/lost_write"), superblock: sim.Stream(seed, "storage_episode/superblock"),
		restoreCrash:     sim.Stream(seed, "storage_episode/restore_crash"),
		tailLost:         sim.Stream(seed, "storage_episode/tail_lost"),
		superblockRepair: sim.Stream(seed, "storage_episode/superblock_repair"),
		truncFail:        sim.Stream(seed, "storage_episode/truncate_fail"),
		probes:           sim.Stream(seed, "storage_episode/probe"), cutFloor: sim.Stream(seed, "storage_episode/cut_floor"),
		superblockLost: sim.Stream(seed, "storage_episode/superblock_lost"),
		rechain:        sim.Stream(seed, "storage_episode/rechain"),
		pastHeadMarks:  sim.Stream(seed, "storage_episode/past_head_mark_rot"),
		tornLanding:    sim.Stream(seed, "storage_episode/torn_landing")}
	e.m.Fields = episodeFields(storeEpisodeState)
	return e
}

var storeEpisodeState = storage.State{Cluster: 7, Replica: 1, ReplicaCount: 3, View: 1, LogView: 1, Release: 1}

// run formats the disk and runs the episode's boots, the first crashing after crashAfter
// completions.
func (e *storeEpisode) run(crashAfter int) {
	if err := e.wait(func(done func(error)) { storage.Format(e.disk, storageEpisodeOptions, storeEpisodeState, done) }); err != nil {
		e.fail("format: %v", err)
		return
	}
	if s, _, err := e.open(); err != nil {
		e.fail("open after format: %v", err)
		return
	} else {
		e.s = s
	}
	for boot := 1; ; boot++ {
		rec := e.boot(crashAfter)
		if rec == nil {
			e.failure += fmt.Sprintf(" (at boot %d of %d)", boot, e.boots)
			return
		}
		if boot == e.boots {
			e.finish(rec, boot)
			if e.failure == "" {
				e.scriptedMoves() // each on a fresh disk of its own: no draw of the episode's changes
			}
			if e.failure == "" && e.maybeCheckRechain() { // storage_episode_rechain.go
				return
			}
			if e.failure == "" {
				e.maybeCheckLostWrite() // last: it leaves the model behind
			}
			if e.failure == "" {
				e.maybeCheckTailLost() // after it: it cuts the disk short
			}
			return
		}
		e.counters["storage_episode.reboots"]++
		e.rejoin(rec, boot, false)
		if e.failure != "" {
			return
		}
		crashAfter = e.rng.IntN(6*len(e.steps) + 1)
	}
}

// boot runs the history until crashAfter completions, crashes the disk, damages it, opens it
// again and checks the recovery, which it returns (nil after a failure).
func (e *storeEpisode) boot(crashAfter int) *storage.Recovery {
	e.errorAim = e.drawWriteErrorAim()
	e.truncateAim = e.drawTruncateErrorAim()
	e.cutAim = e.drawCutFailAim()
	e.lostAim = e.drawLostEntryAim()
	aim := e.drawMisdirectAim(crashAfter)
	e.markAim = markAim{bootMisdirect: aim.at >= 0}
	kept, keptCP := e.fallbackEntries(), e.m.CP
	if e.tornAim = e.armTornLanding(); e.failure != "" {
		return nil
	}
	e.issue()
	torn := false
	for i := 0; i < crashAfter && e.failure == ""; i++ {
		if i == aim.at {
			e.armMisdirect(aim)
		}
		if !e.loop.Step() {
			break
		}
		if torn = e.tornLandingDue(); torn {
			break
		}
	}
	if e.failure != "" {
		return nil
	}
	if e.m.Pending != nil {
		e.counters["storage_episode.crash_in_flight"]++
	}
	e.disk.Crash()
	e.tearTornLanding(torn)
	if aim.at < 0 && e.markAim.op == 0 && !e.issuedInstall() {
		e.checkFallbackEntries(kept, keptCP, "by the engine's history before the crash")
	}
	e.settleWriteError()
	e.settleLostEntry()
	e.settleCutFail()
	rot := e.settleRecordOverMark()
	e.settleMisdirect()
	rot()
	e.rotRewritten()
	e.damageSuperblock()
	e.crashInSuperblockRepair()
	e.damage()
	if e.failure == "" {
		e.landMark()
	}
	if e.failure != "" {
		return nil
	}
	hidden := e.hideSector()
	region := e.hideRegion(hidden)
	e.hiddenAt = map[string][]int64{}
	if hidden != nil {
		e.hiddenAt[hidden.name] = append(e.hiddenAt[hidden.name], hidden.offset)
	}
	if region != nil {
		e.hiddenAt[region.name] = append(e.hiddenAt[region.name], region.offsets...)
	}
	e.landingAbove()
	if e.failure != "" {
		return nil
	}
	e.rotMarksPastHead()
	lostSB := e.loseSuperblockCopy()
	if e.failure != "" {
		return nil
	}
	kept, keptCP = e.fallbackEntries(), e.m.CP
	aimed := e.aimOpenRecordOverMark()
	s, rec, err := e.open()
	e.healLostCopy(lostSB)
	if err != nil {
		e.fail("open after the crash: %v", err)
		return nil
	}
	e.s = s
	e.settleOpenRecordOverMark(aimed, rec)
	e.check(rec)
	e.putBackLanding()
	if e.failure == "" && rec.State.CheckpointOp == keptCP && !rec.CheckpointLost && rec.CheckpointDamaged == 0 &&
		!e.openLanded {
		e.checkFallbackEntries(kept, keptCP, "by an Open that recovered that checkpoint")
	}
	if e.failure == "" {
		e.checkRewritableRun(rec)
	}
	if e.failure == "" {
		e.checkRepairRule()
	}
	if e.failure == "" {
		e.probeNeighbours(rec)
	}
	e.healHidden(hidden)
	e.healRegion(region)
	for _, op := range e.openHit {
		e.damaged[op] = true // hit by a landing while Open ran, healed of nothing (storage crash seed 644)
	}
	if e.failure == "" {
		e.maybeCheckRestore(rec) // on the disk as it reads now, with no sector hidden
	}
	if e.failure != "" {
		return nil
	}
	return rec
}

// finish follows the last boot's recovery, which passed its check: in half the seeds whose
// recovery left a faulty op the engine can rewrite in place, a repair of it that the next
// crash may cut short (one more boot, its damage included); then, in half the seeds, a crash
// inside Open (reopen).
func (e *storeEpisode) finish(rec *storage.Recovery, boot int) {
	e.rejoin(rec, boot, true)
	if e.failure != "" {
		return
	}
	repaired := len(e.steps) > 0
	if repaired {
		e.counters["storage_episode.reboots"]++
		after := e.boot(1 + e.repairs.IntN(8))
		if after == nil {
			// Named here, not by reopen's note, which a failed boot never reaches (storage
			// crash seed 2200504435's message once blamed a crash inside Open).
			e.failure += fmt.Sprintf(" (at the repair boot after boot %d: the repair of op %d, then a crash)", boot, e.steps[0].Op)
			return
		}
		// As rejoin does after the other boots: a faulty op's copy stays bad until written
		// again, though the fault was a read error healed since. Open may have written a
		// faulty mark over its record sector (one with no record of the op's own), which
		// disowns the entry once it reads again (storage crash seed 2200824804: op 11's entry
		// hidden, a landed mark over its record; the reopen held it faulty).
		for _, op := range after.Faulty {
			e.damaged[op] = true
		}
		// And what it returned intact is in the log, as rejoin takes it: an entry the check
		// let back (a mark destroyed by a second fault: the unfinished append under it) may
		// come back faulty of its identity after the reopen (storage crash seed 959138964691:
		// op 10's, above the head, once Open's write of its record went astray over its entry).
		for _, entry := range after.Entries {
			e.m.Log[entry.Op], e.m.Head = entry.Body, max(e.m.Head, entry.Op)
			delete(e.m.Disowned, entry.Op)
		}
	}
	e.reopen()
	if !repaired && e.failure == "" {
		e.rotAboveFaultyMark(rec.CheckpointLost)
	}
}

// repairable returns, in half the recoveries, the repair of the lowest faulty op (ascending
// faulty) when the model knows its acknowledged body and the engine can rewrite it in place
// now, as a replica repairing it from a peer would (Rewrite), or when it is the head, which a
// replica repairs with an Append that the engine writes in place (storagemodel.Issue). An op
// a fallback distrusted is never repaired: its committed body is a peer's history, which the
// episode does not model.
func (e *storeEpisode) repairable(faulty []uint64) (storagemodel.Step, bool) {
	if len(faulty) == 0 || e.repairs.IntN(2) != 0 {
		return storagemodel.Step{}, false
	}
	op := faulty[0]
	body, ok := e.m.Log[op]
	if !ok || e.m.Disowned[op] || (op != e.s.Head() && !e.s.Rewritable(storage.Entry{Op: op, Body: body})) {
		return storagemodel.Step{}, false
	}
	e.counters["storage_episode.repairs"]++
	return storagemodel.Step{Kind: storagemodel.Repair, Op: op, Body: body}, true
}

// reopen, after the last boot's recovery passed its check (in half the seeds), crashes again
// inside a second Open, after a drawn number of its completions, and opens the disk once
// more: recovery writes too (distrust marks, tombstones, the cut, the records of entries that
// lacked one, the removal of stale files), and what it leaves half done must recover as the
// whole would have, held to the same acknowledged history. Only after the last boot's check,
// so that every earlier recovery of a seed stays as it was.
func (e *storeEpisode) reopen() {
	if e.openCrashes.IntN(2) != 0 {
		return
	}
	limit := 1 + e.openCrashes.IntN(60)
	storage.Open(e.disk, storageEpisodeOptions, func(*storage.Storage, *storage.Recovery, error) {})
	for i := 0; i < limit && e.loop.Step(); i++ {
	}
	e.disk.Crash()
	e.counters["storage_episode.crash_in_open"]++
	s, rec, err := e.open()
	if err != nil {
		e.fail("open after a crash inside Open: %v", err)
		return
	}
	e.s = s
	e.check(rec)
	if e.failure != "" {
		e.failure += fmt.Sprintf(" (after a crash inside Open, %d completions in)", limit)
	}
}

func (e *storeEpisode) fail(format string, args ...any) {
	if e.failure == "" {
		failed := ""
		if op := e.errorAim.failedOp; op != 0 {
			failed = fmt.Sprintf(", append of op %d failed on a write error", op)
			if e.errorAim.noSpace {
				failed = fmt.Sprintf(", append of op %d failed on ErrNoSpace", op)
			}
		}
		e.failure = fmt.Sprintf("storage episode (%d of %d operations acknowledged, in flight %v%s, damaged ops %v, damaged checkpoint %d): ",
			e.m.Acked, len(e.steps), e.m.Pending, failed, slices.Sorted(maps.Keys(e.damaged)), e.checkpointDamaged) + fmt.Sprintf(format, args...)
	}
}

// wait issues an operation and runs the loop until it completes.
func (e *storeEpisode) wait(issue func(done func(error))) error {
	var got error
	fired := false
	issue(func(err error) { got, fired = err, true })
	for steps := 0; !fired; steps++ {
		if steps > 10_000_000 || !e.loop.Step() {
			return fmt.Errorf("the loop stopped before the operation completed")
		}
	}
	return got
}

func (e *storeEpisode) open() (*storage.Storage, *storage.Recovery, error) {
	e.openSegments = e.segments()
	superblockBefore := e.disk.Durable("superblock")
	var s *storage.Storage
	var rec *storage.Recovery
	err := e.wait(func(done func(error)) {
		var fs storage.FS = e.disk
		if e.noSpaceKeepsEntry {
			fs = keepCutFS{Disk: e.disk, e: e}
		}
		if e.truncateErrorEscapes {
			fs = escapeFS{Disk: e.disk, e: e}
		}
		if e.cutDebtForgotten {
			fs = forgetCutFS{FS: fs, e: e}
		}
		fs = e.withSyncCache(fs) // storage_episode_sync_cache.go
		storage.Open(fs, storageEpisodeOptions, func(got *storage.Storage, r *storage.Recovery, err error) {
			s, rec = got, e.vouchCutLeft(r)
			if err == nil {
				e.noteRecovered(r)
				e.checkSuperblockKept(superblockBefore) // storage_episode_superblock_lost.go
			}
			done(err)
		})
	})
	return s, rec, err
}

// issue starts the next operation; its completion updates the model and issues the next.
func (e *storeEpisode) issue() {
	if e.m.Acked == len(e.steps) || e.failure != "" {
		return
	}
	step := e.steps[e.m.Acked]
	if step.Kind == storagemodel.SaveState {
		step.Fields = drawFields(e.stateFields, e.m.Fields)
	}
	e.m.Pending = &step
	if step.Body != nil && step.Op > 0 {
		e.written[step.Op] = append(e.written[step.Op], step.Body)
	}
	done := func(err error) {
		e.settleTruncateError()
		if failed, goOn := e.appendFailed(step, err); failed {
			if e.appendCutFailed(step) {
				return
			}
			if goOn {
				e.issue()
			}
			return
		}
		if e.repairFailed(step, err) {
			return
		}
		if e.cutFailed(step, err) {
			return
		}
		if err != nil {
			e.fail("%v failed: %v", step, err)
			return
		}
		e.acknowledged(step)
		e.lostEntryAcknowledged(step)
		e.cutFailAcknowledged(step)
		e.superblockWritten(step)
		if step.Kind == storagemodel.Install {
			e.checkRepairRule()
		}
		e.issue()
	}
	e.aimWriteError(step)
	e.aimLostEntry(step)
	e.aimTruncateError(step)
	e.aimCutFail(step)
	e.aimRecordOverMark(step)
	e.aimMarkTwice(step)
	storagemodel.Issue(e.s, step, done)
}

// acknowledged applies an acknowledged step to the model. A superblock write persists the
// state a fallback recovered, so the damaged checkpoint no longer shapes recovery; an entry
// written again is no longer the damaged copy.
func (e *storeEpisode) acknowledged(step storagemodel.Step) {
	if msg := e.checkAuditHead(step, e.s.State().AuditHead); msg != "" && e.failure == "" {
		e.failure = msg
	}
	e.noteHeadRewrite(step) // before the model takes the step: a repair of the head as it was
	e.m.Acknowledged(step, e.s.State().AuditHead)
	e.noteAnchor(step)
	switch step.Kind {
	case storagemodel.SaveState, storagemodel.Checkpoint, storagemodel.Install:
		e.checkpointDamaged = 0
	case storagemodel.Append, storagemodel.Replace, storagemodel.Repair:
		delete(e.damaged, step.Op)
		delete(e.pastHeadRot, step.Op)
		delete(e.bothCopies, step.Op)
		delete(e.recordHit, step.Op)
		delete(e.entryHit, step.Op)
		delete(e.unsettled, step.Op)
	case storagemodel.Truncate:
		for op := range e.unsettled {
			if op > step.Op {
				delete(e.unsettled, op)
			}
		}
	}
	switch step.Kind {
	case storagemodel.Append, storagemodel.Replace, storagemodel.Repair:
		// Written at op, the segment is cut past its entry (the head's rewrite, an append).
		for op := range e.pastHead {
			if op >= step.Op {
				delete(e.pastHead, op)
			}
		}
	case storagemodel.Truncate:
		for op := range e.pastHead {
			if op > step.Op {
				delete(e.pastHead, op) // cut (cutFailed gathers them before it acknowledges)
			}
		}
	}
	if step.Kind == storagemodel.Truncate || step.Kind == storagemodel.Replace {
		for op := range e.entryHit {
			if op > step.Op {
				delete(e.entryHit, op) // cut: a later entry of op is a new one
			}
		}
	}
}

// unsettle notes the bodies that faulty op, written or removed by the operation in flight at
// the crash, may hold (unsettled).
func (e *storeEpisode) unsettle(op uint64) {
	m := e.m
	if m.PendingWrites(op) {
		e.unsettled[op] = append(e.unsettled[op], m.Pending.Body) // storage crash seed 1857
	}
	if body, ok := m.Log[op]; ok && op <= m.Head {
		e.unsettled[op] = append(e.unsettled[op], body) // seed 1857: a replacement's truncation cut short
	}
}

// rejoin continues after a recovery the check passed, as a replica would, and draws the next
// boot's history: first a lost checkpoint installed again from a peer (the snapshot
// acknowledged at its op), maybe a view change that saves the state (the superblock then no
// longer names a checkpoint the recovery fell back from), and the log cut below its first
// faulty op (the replica repairs from there); then a drawn history. These steps are the next
// boot's, so its crash may cut them short too. The model takes what the engine now holds:
// the recovered entries, the checkpoint, the view; the entries a fallback past an installed
// checkpoint distrusted stay disowned until written again.
func (e *storeEpisode) rejoin(rec *storage.Recovery, boot int, final bool) {
	m, cp := e.m, rec.State.CheckpointOp
	if m.PendingCheckpoint() && m.Pending.Op == cp && cp != m.CP && !rec.CheckpointLost && !e.ownCheckpointKept(rec) {
		e.acknowledged(*m.Pending) // it took effect before the crash
	}
	if rec.CheckpointLost {
		// Lost until a state sync installs it again: the next boot may meet it lost too
		// (storage crash seed 234798: a lost checkpoint's install again cut short by the
		// crash was taken for done, and the next boot's loss for damage nobody did).
		e.checkpointDamaged = cp
	}
	if m.PendingCheckpoint() && m.Pending.Op == cp {
		// A checkpoint installed again at its own op (over a lost one) may or may not have
		// reached the superblock: the file it rewrote holds the same snapshot, which the old
		// superblock reads as well. The audit head tells which (storage crash seed
		// 2027119419: the own checkpoint 3's, or the installed one's seed).
		m.Audits[cp] = rec.State.AuditHead
	}
	if rec.CheckpointDamaged != 0 && !rec.CheckpointLost {
		after, upTo := m.Unaudited(rec.CheckpointDamaged)
		for op := max(after, cp) + 1; op <= upTo; op++ {
			m.Disowned[op] = true
		}
	}
	// The snapshots of checkpoints above cp stay: until a superblock write persists this
	// recovery, the next boot meets the damaged one again, and may report it lost.
	openHit := e.openHit // forgetRepaired forgets them
	e.forgetRepaired(rec)
	for _, op := range rec.Faulty {
		e.damaged[op] = true // its copy stays bad until written again (or cut)
	}
	finished := uint64(0)
	if p := m.Pending; p != nil && m.PendingWrites(p.Op) && rec.FaultyPrefix[p.Op] != nil &&
		bytes.HasPrefix(p.Body, rec.FaultyPrefix[p.Op]) {
		m.Log[p.Op] = p.Body // the append in flight finished: its record was written
		finished = p.Op
	}
	snapshot, acked := m.Snapshots[cp]
	// An acknowledged op that is faulty is still in the log: once its sector reads again (a
	// transient error), it comes back intact, unless the log is cut below it. So is the
	// append in flight that finished (storage crash seed 13). Another op that the operation
	// in flight was removing or writing may go (seed 414: a replacement's torn entry under a
	// hidden record sector, faulty at one Open and dropped at the next).
	var keptFaulty []uint64
	for _, op := range rec.Faulty {
		if op != finished && (m.PendingWrites(op) || m.PendingMayDrop(op)) {
			e.unsettle(op)
		}
		if op == finished || (op <= m.Head && !m.PendingMayDrop(op) && !m.PendingWrites(op)) {
			keptFaulty = append(keptFaulty, op)
		}
	}
	m.CP, m.View, m.Pending, m.Audited, m.Acked = cp, rec.State.View, nil, cp, 0
	m.Fields = episodeFields(rec.State) // check held it to the model
	m.Head = cp
	for _, entry := range rec.Entries {
		m.Log[entry.Op], m.Head = entry.Body, max(m.Head, entry.Op)
		delete(m.Disowned, entry.Op) // the write in flight (check let nothing else through)
		if !slices.Contains(openHit, entry.Op) {
			delete(e.entryHit, entry.Op) // an intact copy read back, not hit after (openHit)
		}
	}
	for _, op := range keptFaulty {
		m.Head = max(m.Head, op)
	}
	if final {
		// After the last boot: only the repair of the lowest faulty op, if any (repairable),
		// so that every boot before stays as it was.
		e.steps = nil
		if repair, ok := e.repairable(rec.Faulty); ok && !rec.CheckpointLost {
			e.steps = []storagemodel.Step{repair}
		}
		return
	}
	var steps []storagemodel.Step
	head, view := m.Head, m.View
	if rec.CheckpointLost {
		if !acked {
			e.fail("checkpoint %d lost, but no snapshot was acknowledged there", cp)
			return
		}
		e.counters["storage_episode.reinstalls"]++
		if over, ok := m.InstalledOver[cp]; ok {
			m.Audited = over // the lost checkpoint's own audit point: the log is no better known
		}
		steps = append(steps, storagemodel.Step{Kind: storagemodel.Install, Op: cp, Snapshot: snapshot})
	}
	damaged := uint64(0)
	if rec.CheckpointDamaged != 0 && !rec.CheckpointLost {
		damaged = rec.CheckpointDamaged
		steps = append(steps, e.restoreDamaged(rec, damaged)...)
	}
	if e.rng.IntN(2) == 0 {
		view++
		steps = append(steps, storagemodel.Step{Kind: storagemodel.SaveState, View: view})
	}
	if above := faultyAbove(rec.Faulty, damaged); len(above) > 0 {
		head = slices.Min(above) - 1
		steps = append(steps, storagemodel.Step{Kind: storagemodel.Truncate, Op: head})
	}
	// The ops up to a damaged checkpoint a fallback passed were committed: a replica executes
	// them again and never replaces them, so the history drawn truncates and replaces only
	// above it (storage crash seed 2046420075: after a fallback from checkpoint 6 to op 0,
	// ops 5-8 replaced; the superblock still named checkpoint 6, whose file was gone, and at
	// the next boot the replay from op 0 no longer matched its audit head). The faulty ops a
	// fallback distrusted are cut first (above), as they were.
	floor := cp
	if damaged != 0 {
		floor, head = damaged, max(head, damaged)
	}
	e.steps = append(steps, storagemodel.DrawFrom(e.rng, head, floor, view, 1000*boot, 5+e.rng.IntN(20))...)
}

// restoreDamaged puts back damaged checkpoint op after a fallback past it, as a replica
// would. The ops up to it were committed, so they are never appended anew (storage crash
// seed 2054323958: after a fallback from checkpoint 4 to op 0 the episode cut ops 1-4 and
// appended a new op 1, whose unfinished copy the next fallback returned). A checkpoint of the
// log's own is taken again after the faulty ops under it are repaired with their committed
// bodies (the replica repairs from its peers and executes again), in half the boots where
// that is possible; otherwise the checkpoint is installed again (a state sync), as it must
// be for one installed from a peer, which stands for ops this log may never have held.
func (e *storeEpisode) restoreDamaged(rec *storage.Recovery, op uint64) []storagemodel.Step {
	if steps, ok := e.retakeOwn(rec.Faulty, op); ok && e.rng.IntN(2) == 0 {
		e.counters["storage_episode.retakes_damaged"]++
		return steps
	}
	e.counters["storage_episode.reinstalls_damaged"]++
	return []storagemodel.Step{{Kind: storagemodel.Install, Op: op, Snapshot: e.m.Snapshots[op]}}
}

// retakeOwn is the repair of every faulty op up to the log's own checkpoint op, then the
// checkpoint taken again; false if the checkpoint was installed, or a faulty op under it
// cannot be repaired in place.
func (e *storeEpisode) retakeOwn(faulty []uint64, cp uint64) ([]storagemodel.Step, bool) {
	m := e.m
	if _, installed := m.InstalledOver[cp]; installed {
		return nil, false
	}
	var steps []storagemodel.Step
	for _, op := range faulty {
		if op > cp {
			break
		}
		body, ok := m.Log[op]
		if !ok || m.Disowned[op] || (op != e.s.Head() && !e.s.Rewritable(storage.Entry{Op: op, Body: body})) {
			return nil, false
		}
		steps = append(steps, storagemodel.Step{Kind: storagemodel.Repair, Op: op, Body: body})
	}
	return append(steps, storagemodel.Step{Kind: storagemodel.Checkpoint, Op: cp, Snapshot: m.Snapshots[cp]}), true
}

// ownCheckpointKept reports whether the superblock still names the log's own checkpoint that
// the install in flight was putting back after a fallback past it: the install's superblock
// write did not land, and the old one reads the same file again (storage crash seeds 10466
// and 166871). The own checkpoint audited its ops; the install, over faulty ones, could not,
// and so begins a new audit chain: the audit head tells which superblock Open read.
func (e *storeEpisode) ownCheckpointKept(rec *storage.Recovery) bool {
	m, cp := e.m, rec.State.CheckpointOp
	_, installed := m.InstalledOver[cp]
	own, known := m.Audits[cp]
	return m.PendingIs(storagemodel.Install) && !installed && known && own == rec.State.AuditHead
}

// faultyAbove is the faulty ops above op, which the replica repairs: those at or below a
// checkpoint installed again are its state's.
func faultyAbove(faulty []uint64, op uint64) []uint64 {
	var above []uint64
	for _, f := range faulty {
		if f > op {
			above = append(above, f)
		}
	}
	return above
}
