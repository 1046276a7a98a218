package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// episodeRecovery runs seed's history to the end without a crash or damage and opens the
// disk again: the recovery a correct engine gives, for the check to judge.
func episodeRecovery(t *testing.T, seed uint64) (*storeEpisode, *storage.Recovery) {
	t.Helper()
	e := newStorageEpisode(seed)
	require.NoError(t, e.wait(func(done func(error)) {
		storage.Format(e.disk, storageEpisodeOptions, storeEpisodeState, done)
	}))
	s, _, err := e.open()
	require.NoError(t, err)
	e.s = s
	e.issue()
	for e.loop.Step() {
	}
	require.Empty(t, e.failure)
	require.Equal(t, len(e.steps), e.m.Acked)
	_, rec, err := e.open()
	require.NoError(t, err)
	e.check(rec)
	require.Empty(t, e.failure, "a correct recovery must pass")
	return e, rec
}

// TestStorageEpisodeCheckFires feeds the check recoveries a broken engine would give: an
// acknowledged entry missing, a body changed, an undamaged op reported faulty, a fresh append
// in flight reported faulty, a distrusted entry back intact, a checkpoint fallback with the
// wrong audit head.
func TestStorageEpisodeCheckFires(t *testing.T) {
	seed := uint64(0)
	for s := uint64(1); s < 200 && seed == 0; s++ {
		e := newStorageEpisode(s)
		checkpoints := 0
		for _, step := range e.steps {
			if step.Kind == storagemodel.Checkpoint {
				checkpoints++
			}
		}
		if len(e.steps) > 30 && checkpoints > 0 {
			seed = s
		}
	}
	_, rec := episodeRecovery(t, seed)
	require.NotEmpty(t, rec.Entries)

	e, broken := episodeRecovery(t, seed)
	broken.Entries = broken.Entries[:len(broken.Entries)-1]
	e.check(broken)
	require.Contains(t, e.failure, "lost")

	e, broken = episodeRecovery(t, seed)
	broken.Entries[0].Body = append([]byte("x"), broken.Entries[0].Body...)
	e.check(broken)
	require.Contains(t, e.failure, "never acknowledged")

	e, broken = episodeRecovery(t, seed)
	broken.Faulty = append(broken.Faulty, broken.Entries[0].Op)
	e.check(broken)
	require.Contains(t, e.failure, "nothing damaged it")

	// A fresh append in flight at the crash that comes back faulty: its record was durable
	// before its entry was (the record must follow the entry's sync).
	e, broken = episodeRecovery(t, seed)
	fresh := e.m.Head + 1
	e.m.Pending = &storagemodel.Step{Kind: storagemodel.Append, Op: fresh, Body: []byte("in flight")}
	broken.Faulty = append(broken.Faulty, fresh)
	e.check(broken)
	require.Contains(t, e.failure, "record outlived")

	// An entry an earlier boot's fallback distrusted, back intact without being written again.
	e, broken = episodeRecovery(t, seed)
	e.m.Disowned[broken.Entries[0].Op] = true
	e.check(broken)
	require.Contains(t, e.failure, "distrusted by an earlier boot")

	e, broken = episodeRecovery(t, seed)
	require.NotZero(t, e.m.CP)
	e.checkpointDamaged = e.m.CP
	broken.State.CheckpointOp, broken.CheckpointDamaged, broken.Snapshot = 0, e.m.CP, nil
	broken.State.AuditHead[0] ^= 1
	e.check(broken)
	require.Contains(t, e.failure, "audit head")
}

// TestStorageEpisodeFaultyBelowATakenRecord: an op above the acknowledged head may come back
// faulty only below an op whose record sector a fault hit and that the recovery holds faulty
// (Open took the sector for a finished append's record, so the log runs through the ops
// between: storage crash seed 811257375158); an acknowledged op there is never excused.
func TestStorageEpisodeFaultyBelowATakenRecord(t *testing.T) {
	const seed = 1
	e, broken := episodeRecovery(t, seed)
	head := e.m.Head
	broken.Faulty = append(broken.Faulty, head+1)
	e.check(broken)
	require.Contains(t, e.failure, fmt.Sprintf("op %d reported faulty, but nothing damaged it", head+1))

	// The hit op above, not held faulty: the log does not reach it.
	e, broken = episodeRecovery(t, seed)
	e.recordHit[head+2], e.damaged[head+2] = true, true
	broken.Faulty = append(broken.Faulty, head+1)
	e.check(broken)
	require.Contains(t, e.failure, fmt.Sprintf("op %d reported faulty, but nothing damaged it", head+1))

	e, broken = episodeRecovery(t, seed)
	e.recordHit[head+2], e.damaged[head+2] = true, true
	broken.Faulty = append(broken.Faulty, head+1, head+2)
	e.check(broken)
	require.Empty(t, e.failure)

	// The acknowledged head below it, reported faulty: still nothing damaged it.
	e, broken = episodeRecovery(t, seed)
	e.recordHit[head+2], e.damaged[head+2] = true, true
	broken.Entries = slices.DeleteFunc(broken.Entries, func(x storage.Entry) bool { return x.Op == head })
	broken.Faulty = append(broken.Faulty, head, head+1, head+2)
	e.check(broken)
	require.Contains(t, e.failure, fmt.Sprintf("op %d reported faulty, but nothing damaged it", head))
}

// TestStorageEpisodeCheckFiresOnAnUnauditedEntry: a fallback past a checkpoint installed from a
// peer (over appends this engine never audited) that brings an op of the log under it
// back intact breaks InstallCheckpoint's contract: that entry need not be the peer's history.
func TestStorageEpisodeCheckFiresOnAnUnauditedEntry(t *testing.T) {
	for seed := uint64(1); seed < 500; seed++ {
		e := newStorageEpisode(seed)
		installed := uint64(0)
		for i, step := range e.steps {
			if step.Kind == storagemodel.Install && i > 0 && e.steps[i-1].Kind == storagemodel.Append &&
				!slices.ContainsFunc(e.steps[:i], func(s storagemodel.Step) bool { return s.Kind == storagemodel.Checkpoint }) {
				installed = step.Op
				break
			}
		}
		if installed == 0 || len(e.steps) < 20 {
			continue
		}
		e, broken := episodeRecovery(t, seed)
		after, upTo := e.m.Unaudited(installed)
		require.Equal(t, installed, upTo)
		// The fallback goes to the newest checkpoint below the installed one (an install
		// over an install keeps the first's audit op, which may lie below it).
		for cp := range e.m.Snapshots {
			if cp < installed {
				after = max(after, cp)
			}
		}
		op := uint64(0)
		for o := after + 1; o <= installed && op == 0; o++ {
			if _, ok := e.m.Log[o]; ok {
				op = o
			}
		}
		require.NotZero(t, op, "seed %d: an append before the install", seed)
		e.checkpointDamaged = installed
		broken.State.CheckpointOp, broken.CheckpointDamaged, broken.CheckpointLost = after, installed, false
		broken.Snapshot, broken.State.AuditHead = e.m.Snapshots[after], e.m.Audits[after]
		broken.Entries = []storage.Entry{{Op: op, Body: e.m.Log[op]}}
		broken.Faulty = nil
		e.check(broken)
		require.Contains(t, e.failure, "never audited", "seed %d", seed)
		return
	}
	t.Fatal("no seed below 500 installs a checkpoint over appends before any checkpoint of its own")
}

// TestStorageEpisodeIsDeterministic: a seed runs the same history, crash and damage twice.
func TestStorageEpisodeIsDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		a, b := runStorageCrash(Options{Seed: seed}), runStorageCrash(Options{Seed: seed})
		require.Equal(t, a.TraceHash, b.TraceHash, "seed %d", seed)
		require.Equal(t, a.Outcome, b.Outcome, "seed %d", seed)
	}
}

// TestStorageEpisodeFailureNamesItsBoot: a failure names the boot whose check failed, the
// repair boot included (storage crash seed 2200504435's message, a failure at the repair
// boot's own check, once ended "after a crash inside Open", a step that never ran). The
// broken cases come from the superblock knob (TestStorageEpisodeSuperblockDamageFires).
func TestStorageEpisodeFailureNamesItsBoot(t *testing.T) {
	label := regexp.MustCompile(`\((at boot \d+ of \d+|at the repair boot after boot \d+: the repair of op \d+, then a crash)\)$`)
	repairBoot := 0
	for seed := uint64(1); seed <= 100; seed++ {
		e := newStorageEpisode(seed)
		e.superblockBothCopies = true
		e.run(e.rng.IntN(6*len(e.steps) + 1))
		if e.failure == "" {
			continue
		}
		require.Regexp(t, label, e.failure, "seed %d", seed)
		require.NotContains(t, e.failure, "crash inside Open", "seed %d", seed)
		if strings.Contains(e.failure, "at the repair boot") {
			repairBoot++
		}
	}
	require.Positive(t, repairBoot, "no failure at a repair boot")
}

// TestStorageEpisodeRegressionSeeds: storage_crash seeds that found engine bugs pass.
func TestStorageEpisodeRegressionSeeds(t *testing.T) {
	for seed, found := range map[uint64]string{
		147810975307: "storage (make soak, thirty-first session; failed with the first fix of a forgotten failed-append cut, which was reverted): the debt of op 2's failed append outlived the log moving under it (op 1 replaced by a larger entry), and paying it cut op 1's new entry (reported faulty); the debt now stands only while the log ends right below its op, at the same offset",
		265:          "a lost checkpoint's replay from op 0 gave the ops below it empty bodies (the scan had kept only those above the lost checkpoint; b3f2e23, found as seeds 19635 and 19894 before the superblock named the previous checkpoint)",
		341:          "the same as 265",
		2140:         "storage: op 22, appended again after its truncation and cut short by the crash, came back intact over its tombstone without a record; it rotted at the next boot and was dropped as never appended (an acknowledged op lost). Open now writes the record of every intact entry it returns (51415db)",
		6818:         "storage: a checkpoint installed again over a lost one took the lost one's op as its audit point; when it rotted again, the fallback replayed op 1, never audited, as intact (05f4f62; the same bug as swarm seed 2026642591)",
		4075:         "storage: a truncation wrote tombstones over the distrust marks of stale entries (a fallback past an installed checkpoint had distrusted them) and a crash came before the cut: the entries came back intact under the tombstones once a view change had saved the state. A truncation now writes a distrust mark, not a tombstone, over an op held faulty of unknown identity",
		2235:         "storage: the same class with Open's distrust marks left out (71c5b40's fix): caught in 2,235 seeds",
		2026656142:   "storage: a fallback from damaged checkpoint 35 to 24 distrusted ops 25-27 and, finding no records, dropped them as unfinished appends: the damaged region of op 24 below ran over their entries, which the cut left in the file, and op 26 came back intact under its tombstone two boots later. The ops under a damaged checkpoint were committed: the fallback now keeps them faulty, up to the damaged checkpoint",
		170:          "storage: the same class, caught by the episode's own rule (every op under a damaged checkpoint stays after the fallback): the old build dropped op 18 under damaged checkpoint 22 after the fallback to 17",
		2027381379:   "storage: ops 32-34 under a damaged synced checkpoint came back faulty at the fallback with no entry (the log had resumed at op 35); a view change wrote the superblock, and when op 35 above them rotted the next recovery ended the log at op 31: an acknowledged op lost. Open now writes a faulty mark over the record of every op it returns faulty without a record",
		2027639395:   "storage: the same class (ops 1-5 faulty after a fallback to op 0, lost at the next boot)",
		2029122454:   "storage: a repair wrote op 3 again at the start of its damaged region, below its old torn copy; the record named the new entry, but the torn copy above kept the op faulty at the next boot. The one intact copy an intact record names is now the op's entry, wherever the torn ones lie",
		348433:       "storage: op 31, appended first inside the damaged region of the checkpoint op below it and again past that region, came back faulty (its older copy torn) though its newest entry was whole and its record named it; the newest copy an intact record names is now the op's entry",
		2212101403:   "harness (h133): a rotted distrust mark past the head explained op 3's faulty report (pastHeadEvidence), then the lost-tail check took op 2 for lost though its acknowledged prepare lay intact below the cut (compared by body now)",
		2212201617:   "harness (h133): a rotted distrust mark past a head with bytes past its entry; op 3 faulty is the room rule's answer (pastHeadEvidence)",
		234798:       "harness: a lost checkpoint's install again, cut short by the crash, was taken for done, and the next boot's loss for damage nobody did",
		2026911322:   "storage: the same class as 2027081841 (op 15, one of the ops a replacing append had cut, came back behind the region of the op below)",
		2027081841:   "storage: a fallback distrusted op 6 and forgot where its entry lay, so the damaged region of the absent checkpoint op 5 below it ran over it; a truncation after op 5 then cut past op 6's stale entry, which came back intact under its tombstone. A distrusted entry now keeps its extent (slot.placed), which bounds the region below it",
		2027119419:   "harness: a checkpoint installed again at its own op over a lost one may or may not reach the superblock (the rewritten file holds the same snapshot): the model now takes the audit head the recovery shows",
		86058:        "harness: the damage took an earlier boot's misdirected copy of op 6 for its entry (find now looks in the op's own segment)",
		23838:        "harness: a fallback not yet persisted by a superblock write met the damaged checkpoint again at the next boot, reported lost; the model had dropped its snapshot",
		// Sixteenth session: write-time misdirects and transient read errors.
		50611:        "storage: op 2, appended again over a distrust mark, had its record misdirected into the entries below: the mark stayed and the next boot dropped the acknowledged op. A record written over a mark is now read back",
		45580:        "storage: op 8's record misdirected into its own entry (a stray) was no evidence of op 8's append, so op 9 above, its entry and record unreadable, was dropped. A stray record now counts as its op's",
		319:          "storage: op 7's synced entry, hidden by a read error in faulty head op 6's region, was read whole at the next Open and recovered above the log the first Open had ended at op 6. Open now distrusts the record sectors above a faulty head of unknown extent",
		32266:        "storage: the same class with the checkpoint op as the head",
		45826:        "storage: op 4's record sector read as damaged at one Open (a transient error) and zeros at the next; Open had not written the record, and op 4 was dropped when its entry rotted. Open now writes the record of an intact entry whose record is damaged",
		29240:        "storage: op 36, faulty under a damaged checkpoint installed above the log, had no segment file for its faulty mark and was lost once a superblock write forgot the damaged checkpoint. The mark now gets its file",
		2039231175:   "storage: a fallback left a distrusted faulty op known by its record, so a truncation wrote a tombstone, not a distrust mark, over it; after a crash before the cut, its entry (hidden by a read error at the fallback) came back intact from the log this engine never audited",
		2039188665:   "storage: an older entry of op 6 lay hidden in the damaged checkpoint op's region, below where op 6 was appended again; no truncation reached it, and it came back intact under op 6's tombstone. Open now gives up the damaged checkpoint op's entry and cuts where it began",
		2039088826:   "storage: the same class, with checkpoint op 1 first in its segment",
		2041284012:   "storage: op 3's distrust mark, unreadable at one Open, was not noted, so op 3's record written over it later was not read back; misdirected, it left the mark, and op 3, acknowledged, was dropped. A record sector Open cannot read counts as a mark",
		2041488311:   "harness: a misdirected repair landed on the distrust mark over op 30's record (a second fault), and the append that mark had kept from finishing came back: a mark is one copy",
		2040047428:   "storage: Open gave up the damaged checkpoint op's entry and cut there, but left its record, which still claimed those bytes; op 6, appended there and then damaged with its record, found no room as evidence and was dropped. The checkpoint op's record now goes with its entry",
		2039158187:   "storage: a stale misdirected copy of op 9 claimed, as evidence of the log's extent, the bytes of op 10 above the rewritten op 9, and op 10 (entry and record unreadable) was dropped",
		13:           "harness: a faulty op, once its sector read again, came back intact above the head the model had taken from the recovered entries alone",
		414:          "harness: a replacement's torn entry under a hidden record sector, faulty at one Open and dropped at the next",
		1857:         "harness: ops written or removed by the operation in flight, held faulty, may come back whole with either body",
		11731:        "harness: a misdirected copy that outlived its op's truncation kept the log past the head; the engine holds those ops faulty",
		24714:        "harness: two intact copies of op 13 (one an earlier Open could not cut) make it faulty",
		29881:        "harness: a damaged op above a fresh append in flight keeps the log past it",
		148628537103: "harness: a misdirected mark landed on the distrust mark of op 11 (a second fault after the damaged checkpoint), and its distrusted entry came back intact: a mark is one copy",
		// Seventeenth session: write errors aimed at a fresh append's record write.
		54784: "harness: op 4's entry write, misdirected onto the record sectors of ops 4 and 5, then its record write failed: op 5's record sector held bytes of op 4's entry and made op 5 faulty. A misdirect's reach now runs to the failed append's op, above the model's head",
		10977: "harness: the same class (op 17)",
		15840: "harness: the same class (op 13)",
		53225: "harness: the same class (op 5)",
		// Eighteenth session.
		2046420075: "harness: after a fallback from checkpoint 6 to op 0 the history replaced ops 5-8, which checkpoint 6 had committed; the superblock still named checkpoint 6 (its file gone), and the replay from op 0 no longer matched its audit head, so op 7 above the lost checkpoint broke the chain. The history now truncates and replaces only above a damaged checkpoint a fallback passed",
		48412:      "storage: checkpoint op 12's entry unrecognisable (a misdirected tombstone over its header) but its record intact; op 13's repair as the head (an Append, as a replica writes it: the episode's head repairs since this session) went to the segment's record area, inside the extent op 12's record claims, and when op 13's new entry and record were both unreadable recovery dropped it, acknowledged. appendOffset now ends an op below the index at the end its intact record names",
		2052105277: "storage: a stale misdirected copy of op 2 (an older generation's, landed on op 1's entry) claimed by its intended extent the bytes of op 3, so when the tail damage took ops 2 and 3's entries and records, op 3, acknowledged, was dropped. A misplaced copy's extent no longer ends the log once an op above it has a record written",
		2054323958: "harness: after a fallback past damaged checkpoint 4 (installed from a peer over a log missing ops 3 and 4), the episode cut ops 1-4, which that checkpoint had committed, and appended a new op 1; when checkpoint 4 rotted again, the fallback returned that unfinished append. The rejoin now installs the damaged checkpoint again, as a replica's state sync does, and cuts only the faulty ops above it",
		10466:      "harness: the install of the log's own checkpoint 17 again after a fallback past it crashed before its superblock write landed; the old superblock, which audited ops 15-17, was taken for the install's, which could not audit them. The audit head tells which superblock Open read",
		166871:     "harness: as 10466, with own checkpoint 12 and a lost superblock write",
		2056123453: "storage: checkpoint 28 installed again on the head after a fallback past it (op 28 faulty, no entry), and op 29 appended past op 28's damaged region, over op 29's dropped append that a read error had hidden there; once the new entry and its record were unreadable, the dropped append came back as op 29. An append above a damaged checkpoint head now gives its region up first, as a truncation after it does",
		258944:     "storage: op 3's unfinished append, hidden by a read error at the Open above faulty op 2 (checkpoint op 1 damaged), was left by the truncation after the checkpoint op, whose damaged region ran to the end of the file over the ops above it, and came back intact under its tombstone after later appends and truncations. A truncation after a damaged checkpoint op now gives up the damaged entries at and below it, as Open does (checkpointRegionCut)",
		2048358986: "harness: op 2's unfinished append, hidden by a read error from the Open that wrote a distrust mark over its record, came back whole at the next Open, whose read of the mark failed: a mark is one copy, so an unreadable one counts as a hit record (recordHit), as a misdirected write over it does",
		2048487541: "harness: the same class (op 30's mark unreadable at the Open after op 28's repair)",
		2048199845: "storage: op 1's repair wrote its record over op 2's record sector (a misdirect), and op 3's entry and record both became unreadable: the foreign record at op 2 ended the run of written records recovery reads as evidence, and op 3, acknowledged, was dropped. A foreign record is no evidence of its own op but no longer ends the run",
		2047164003: "storage: checkpoint op 2 and op 1 below it both damaged, op 3's older entry hidden in their region by a read error: Open dropped op 3 and cut past the region, so op 3, appended again and truncated, left the old entry under its tombstone, and it came back intact two boots later. Open now gives up the damaged entries under a checkpoint head down to the nearest kept entry, and cuts there",
		2045073453: "storage: op 7's append under the distrust mark above checkpoint op 6 lost its record in a crash; the next Open dropped it, but the checkpoint op's region ran over its whole entry, so the cut left it, and op 7 was appended again past it. When the new entry and its record both rotted, recovery returned the dropped append's body. Open now gives up the damaged or absent checkpoint op's region and cuts at the nearest kept entry (checkpoint_region.go)",
		// A cut repair misdirected over a record sector above the head.
		// A reinstalled lost checkpoint whose anchor an earlier install could not learn.
		2196067393:    "harness: checkpoint 11's file and op 12's entry and record damaged; the fallback to 8, checkpoint 11 installed from a peer over op 12 of unknown identity (anchor: its file's checksum), that file lost at the next boot and installed again with the same anchor. The repair rule took the recovered checkpoint's anchor for the one op 13 was written on and demanded op 12 Rewritable; the engine repairs it by RechainRun, keeping ops 13-14, and over an anchor an install could not learn the rule now accepts that (noteAnchor)",
		811257375158:  "harness: the final repair of head op 17, cut by the crash, was misdirected onto op 19's record sector (over the mark an earlier Open wrote there); Open took it for a finished append's record and held op 19 faulty, and op 18 between, whose unfinished append that Open had distrusted, with it. An op above the acknowledged head may be faulty below such an op (belowTakenRecord)",
		2200504435:    "harness: op 13's entry, covered at rest by a misdirected copy of op 10, came back faulty, known by its record; at the repair boot, op 12's repair record write was misdirected onto op 13's record sector, and Open dropped op 13, both its copies gone (a foreign record is no evidence: 1072540137867). A misdirect that hits the record of an op whose entry an earlier fault damaged now leaves it no copy (noteMisdirectHit)",
		4100155577:    "harness: the same class (op 9's entry covered at rest by a misdirected copy of op 7; op 8's repair record write landed on op 9's record sector)",
		2200748373:    "harness: after a fallback from damaged checkpoint 1 to 0, Open returned op 1 intact, then the distrust mark it wrote over op 2's record (a tombstone of the truncation in flight under it), misdirected by the aimed fault, landed on op 1's entry; the engine read the mark back and wrote it again, and the next Open held op 1 faulty, known by its record. The ops a landing during Open may hit are those above the checkpoint that Open recovered, not the acknowledged one",
		2200735971:    "storage: op 4, under own checkpoint 4, had its record sector covered by a misdirected record of op 5 at one boot and its entry by another a boot later; when checkpoint 4 rotted, the fallback to 2 held op 4 faulty, but Open wrote a faulty mark only over absent record sectors, and once a view change saved the fallen-back state the next Open dropped op 4 under the foreign record. A faulty op under another op's record now gets a faulty mark",
		2200824804:    "harness: at the repair boot, op 11's entry hidden by a read error and a mark of another op landed over its record: Open held it faulty and wrote a faulty mark there (no record of its own), which disowns the entry once it reads again; the crash inside Open after found op 11 faulty, healed. A faulty op stays damaged after the repair boot, as rejoin keeps it after the others",
		2200833341:    "harness: the same class (op 9, the repair of op 10 in flight)",
		2200850685:    "harness: the same class (op 11, the repair of op 12 in flight)",
		959138964691:  "harness: op 10's unfinished append, under the mark an Open wrote over its record, came back intact at the repair boot once the repair's misdirected entry write covered the mark (a mark is one copy); that Open's write of op 10's record, aimed astray over op 10's entry, was read back and written again, and the crash inside Open after held op 10 faulty of that identity, which the model, never rejoined after the repair boot, did not hold. What the repair boot's Open returns intact is in the log, as rejoin takes it after the other boots (swarm seed 2033000876)",
		120465950221:  "harness: the same class (op 15 above head 14; swarm seed 2033000219)",
		1072540137867: "storage: a landing of op 37's record over op 51's empty record sector (above the head) outlived its boot; op 51's append a boot later was torn (header lost, a later sector kept), and Open took the foreign record for evidence that the append finished and held op 51 faulty, of unknown identity. A foreign record now counts as absent when dropping unfinished appends, as it does for damagedRecordEvidence (surfaced when Open's superblock twin writes shifted the disk's draws)",
		2207060280:    "harness: the lost superblock copy put back an older state naming the same checkpoint op and file, but another audit head (a checkpoint installed again at its own op): the fallback past damaged checkpoint 35 read the other pair's older state. The older state now names the same checkpoints byte for byte (storage_episode_superblock_lost.go)",
		2207081596:    "harness: the lost superblock copy under a superblock still naming damaged checkpoint 30 (the model at the fallback's 21): the older state changed the fallback's outcome. The move now runs only under the model's checkpoint",
		2207057381:    "harness: the rechain's damage missed op 36's record, so the disk still named the anchor and the run was a repair in place; RechainableRun is held to refuse nothing only where the anchor was lost",
		831660059819:  "harness (make soak, swarm seed 7428101210762784723): op 9's entry write, misdirected onto the record sectors of ops 10 and 11, then truncate_after(8) and truncate_after(7) failed their cuts, leaving segment 2 above the head; Open took the landing on op 10's record sector for a damaged record (a finished append's) and held op 10 faulty. A misdirect's reach now runs through every segment file on disk (markMisdirectHits)",
		2208428622:    "engine (thirty-seventh session, found by h114 with the model corrected): a peer's checkpoint installed over another installed one took the first install's op for audited, so when it rotted the fallback to op 0 replayed op 1, appended before the first install and never audited, as committed; an install over an unaudited install keeps its audit op (TestCheckpointInstalledOverAnInstallKeepsItsAudit, storage.install_over_install_takes_its_op_as_audited)",
		2208432632:    "engine (the same class as 2208428622)",
		2211559073:    "storage (h126): a failed cut left older entries of ops 25 and 26 below the newest entry of op 25 in their segment; the rechain move damaged the header and the record of op 26's newest entry, and Open returned the stale body of op 26 intact in place of the acknowledged one (reporting op 25 faulty). An intact entry that no intact record names and that lies below a lower op's entry of its segment is now faulty (staleBelow, storage.stale_entry_below_earlier_op_intact)",
		2211037922:    "harness (h126): op 15's unfinished append, past head 14 in a region hidden from that boot's Open, which could not cut it; the next boot's truncate_after(13) and truncate_after(10) failed their cuts and the superblock write's payment failed, so op 15 came back intact, a leftover of the failed cut the model had not allowed back. A failed cut now also allows back what a hidden region kept past the head (pastHead)",
		633389253502:  "harness (swarm seed 9400001178): op 1, disowned at a fallback to op 0 past installed checkpoint 3, its faulty mark (one copy) hidden by a read error at the Open that fell back to op 0 past installed checkpoint 4, came back intact; the hide was not counted as a hit on the mark because op 1 lay below the model's checkpoint (hideMarksBelowCheckpoint)",
	} {
		if r := runStorageCrash(Options{Seed: seed}); r.Outcome != Pass {
			t.Errorf("storage_crash seed %d once found: %s\n%s", seed, found, r.Reason)
		}
	}
}

// A faulty op's identity (its record's prefix of the body) must be the start of the body
// acknowledged there, or of the write in flight: an older generation's is a stale record.
func TestStorageEpisodeFaultyIdentity(t *testing.T) {
	e := newStorageEpisode(1)
	e.m.Log[5] = []byte("2 op 5 generation xxxxxxxx")
	pending := storagemodel.Step{Kind: storagemodel.Append, Op: 6, Body: []byte("3 op 6 generation yyyyyyyy")}
	e.m.Pending = &pending
	for _, c := range []struct {
		op     uint64
		prefix string
		want   bool
	}{
		{5, "2 op 5 generatio", true},
		{5, "1 op 5 generatio", false}, // an older generation's record
		{6, "3 op 6 generatio", true},  // the append in flight
		{6, "2 op 6 generatio", false},
		{7, "3 op 7 generatio", false}, // nothing acknowledged there
	} {
		if got := e.acknowledgedPrefix(c.op, []byte(c.prefix)); got != c.want {
			t.Errorf("acknowledgedPrefix(%d, %q) = %t, want %t", c.op, c.prefix, got, c.want)
		}
	}
}

// The write-time misdirects and the transient read errors reach the engine: a few thousand
// seeds land misdirected writes (some on both copies of an op), hide sectors from an Open,
// and pass.
func TestStorageEpisodeWriteFaultsAndTransientReads(t *testing.T) {
	totals := map[string]uint64{}
	for seed := uint64(1); seed <= 3000; seed++ {
		r := runStorageCrash(Options{Seed: seed})
		require.Equal(t, Pass, r.Outcome, "storage_crash seed %d: %s", seed, r.Reason)
		for k, v := range r.Counters {
			totals[k] += v
		}
	}
	for _, k := range []string{"storage_episode.damage.misdirected_write", "storage_episode.damage.misdirected_write_ops",
		"storage_episode.damage.misdirected_both_copies", "storage_episode.damage.transient_read",
		"storage_episode.append_write_errors"} {
		require.Positive(t, totals[k], k)
	}
}

// TestStorageEpisodeAuditChainFires: the audit head of a checkpoint of the log's own is held to
// the chain of the acknowledged bodies. A head with one bit changed fails, and so does the
// right head over a log whose body at one op differs (a chain that left a repaired body out).
// (That heads real engines store pass is what every storage_crash seed checks.)
func TestStorageEpisodeAuditChainFires(t *testing.T) {
	for seed := uint64(1); seed < 500; seed++ {
		e := newStorageEpisode(seed)
		e.m = storagemodel.New(0)
		for _, step := range e.steps {
			if step.Kind == storagemodel.Install || step.Kind == storagemodel.Truncate {
				break
			}
			if step.Kind == storagemodel.Checkpoint && step.Op > 1 {
				right, ok := e.expectedAuditHead(step.Op)
				require.True(t, ok, "seed %d", seed)
				require.Empty(t, e.checkAuditHead(step, right))
				wrong := right
				wrong[3] ^= 1
				require.Contains(t, e.checkAuditHead(step, wrong), "audit head")
				e.m.Log[1] = append([]byte("x"), e.m.Log[1]...)
				require.Contains(t, e.checkAuditHead(step, right), "chain of the bodies")
				return
			}
			if step.Kind == storagemodel.Append || step.Kind == storagemodel.Replace {
				e.m.Log[step.Op] = step.Body
			}
		}
	}
	t.Fatal("no seed below 500 checkpoints above op 1 before any install or truncation")
}
