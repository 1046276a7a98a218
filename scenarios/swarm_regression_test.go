package scenarios

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/faults"
)

// swarmRegressionSeeds are swarm seeds that once found a bug in the replica or the storage
// engine, each with the bug it found; they must keep passing. They run without the aimed
// moves, which came after them: so each runs the very schedule that found its bug.
var swarmRegressionSeeds = map[uint64]string{
	261:  "a restarted primary led its old view again and prepared a different op at the same number",
	3008: "a restarted view-0 primary re-prepared op 1",
	1866: "repairing a corrupt entry truncated the log after it, un-persisting acknowledged ops; a crash lost one",
	2142: "the chosen do_view_change lacked the header of its faulty head op while others held it: the new primary could neither repair nor truncate it",
	1526: "a restarted primary that had forgotten its lowest ops' headers asked only for those, never for the one the chain could verify",
	// Issue 11. The storage engine's redundant records changed every trace, so these seeds
	// no longer reach their old schedules; the bug classes have scenario tests of their own
	// (par_recovery_test.go).
	900576: "damaged tail entries were taken for a torn write: a replica with a durable log_view recovered a log ten ops short, its do_view_change won, and an acknowledged op was lost",
	900753: "replicas whose log view was not durable (bodies of its suffix missing everywhere) never voted in a view change again: view changes forever",
	738:    "a normal primary installed a state sync above its commit_number: its pipeline then held committed ops (assertion)",
	399:    "a torn never-acknowledged head op on every replica blocked every view change (no replica could name it, nobody could nack it)",
	2333:   "the same torn-head class as seed 399",
	4825:   "the same torn-head class as seed 399",
}

// aimedRegressionSeeds found bugs with the aimed moves on: they run as drawn. (They failed on
// the nemesis branch before the redundant records, whose I/O changed their schedules too.)
var aimedRegressionSeeds = map[uint64]string{
	215: "replicas whose damaged tails recovered as torn (op 51 came back as 9, 22 and 36) formed a do_view_change quorum on a 22-op log: an acknowledged write lost",
	412: "correlated damage of a replica's tail (ops 46-50) while the other intact holder was down: recovered as torn, op 47 lost in view 6",
	427: "a head op prepared by one replica only, its one copy corrupt, the others holding only its header: view changes forever",
	// The 5,000-seed campaign of issue 11 (first seed 20261203, from the date).
	20261952:   "a start_view truncated a replica's disk at a faulty op of unknown identity, un-persisting its acknowledged ops above it; a crash before they were written back lost an acknowledged write",
	20262476:   "a busy primary's log view never became durable (it waited for the whole log, which kept growing), yet it counted its own vote: restarted with an older log view, its log lost the next view change and an acknowledged write with it",
	20261812:   "a committed copy dropped from a replica's disk while it was the copy acked_durable relied on (same truncation class as 20261952)",
	20262308:   "a durable log view named a log whose disk still held a stale older-view entry (before the two fixes above)",
	20262638:   "an executed op with no intact durable copy on any disk within the atlas's fault budget (before the two fixes above)",
	20262721:   "two replicas executed different prepares at op 39 (before the two fixes above)",
	20262048:   "a new primary whose chosen log starts above its own ops (the sender's checkpoint) cut every op it could not vouch for from its disk: durable copies of acknowledged ops dropped",
	20263043:   "an unsynced append survived a crash, then a latent error hid it inside the damaged region of the faulty head: recovery left it on disk past the head, under a log view persisted without it (a stale op of an older view)",
	20263414:   "the same class as 20263043: a stale older-view entry left past the recovered head under a newer durable log view",
	20265968:   "a primary paused through a view change came back too far behind the new view's log: it asked for a state sync but, still the normal primary of its old view, refused the checkpoint, forever",
	20264457:   "the repair of the first entry above a checkpoint whose own entry was not indexed was placed at the segment's start, did not match, and truncated the whole segment: acknowledged ops lost (fixed and checked at the schedule of commit 761cb7b; later workload draws changed this seed's schedule)",
	20264364:   "a view change whose chosen log lacked the header of a committed head op (faulty past its record there) made a replica forget its intact copy and truncate its disk at it: a committed copy dropped",
	20264464:   "the same class as 20264364; with the copies kept, the header of the committed head ops lived only in do_view_changes of older log views, which the merge ignored: the view started with ops nobody could name (liveness)",
	20264629:   "the same class as 20264364, on a new primary of five replicas",
	20264800:   "the same class as 20264364, plus a truncation at a faulty op of unknown identity that cut the intact ops above it: every disk lost committed op 14, and the emptied replicas' nacks truncated it (an acknowledged write lost)",
	20264093:   "a start_view cut a replica's disk at a faulty op of unknown identity below its commit number, and the intact committed ops above it with it (and a repair rewritten in place had left them 'not durable'); after a crash its log view 4 log of 25 ops won against a commit number of 31",
	20263743:   "a new primary counted its own vote for the ops of its pipeline on entering the view, before its log view was durable: it committed with one backup, restarted with its older log view, and an older log won the next view change (committed ops 189-192 lost)",
	20261568:   "an op below the engine's head was left to its committed checkpoint while an install's truncation was still queued: the op above it was appended past the truncated head (storage: append leaves a gap, a fail-stop)",
	20263215:   "the same class as 20261568, on replica 1 at 31.3 s",
	2026120774: "the fresh-range campaign: offers for op 1 (the registration, identity lost on the log view's only replica) waited forever for a checksum of op 0 that no log holds; op 1's parent is zero",
	2026123454: "the fresh-range campaign: canonical_commit (replica 1 executed another prepare at op 138 than replica 0); fails before finishRecords, passes with it (the unrecorded-append class of 2026121429)",
	2026121429: "the fresh-range campaign: an unsynced append of op 32 survived a crash without its record, the replica acknowledged it, the entry rotted, and recovery took it for an unfinished append and dropped it (an acknowledged write lost); Open now finishes such appends",
	20261959:   "a start_view install truncated a replica's disk at a head op the chosen log lacked, dropping its committed copy of op 1832 (the log-install class of 20264364)",
	20264223:   "a new primary's installLog truncated its own committed copy of op 228 (the log-install class of 20264364)",
	20264077:   "an older log view's op under a persisted commit number after a restart (the class of 20261674)",
	20266166:   "the same class as 20264077, five replicas",
	20261589:   "view changes repeated forever over ops no do_view_change of the chosen log view could name (the offer class of 20262737)",
	20262109:   "the offer class of 20262737",
	20262328:   "the offer class of 20262737",
	20262998:   "the offer class of 20262737",
	20264713:   "the offer class of 20262737",
	20265384:   "the offer class of 20262737",
	20265897:   "the offer class of 20262737",
	20261336:   "an unnamed damaged slot rewritten in place while the ops above were kept unchecked left a stale older-view op under the commit number (found while fixing 20266049)",
	20261593:   "a repair below the head, rewritten in place, never persisted the log view: no vote was ever durable (found while fixing 20266049)",
	240:        "swarm seed 240 stalled in view change under two attempted fixes of the persisted-commit class; kept as a liveness guard for that class",
	1432:       "liveness: a view's chosen log had lost the identity of its committed head op 459 (entry and record damaged) while two replicas held it intact from older log views: the view started, and nobody could execute op 459 or ask for it by checksum (the primary now gathers offers for a committed op it cannot name)",
	2026123189: "liveness: a backup 230 ops behind, past its peers' logs, asked for a state sync every 200 ms, but the 1.3 MB snapshot exceeded a message and was never sent (silently); snapshots now travel in chunks",
	20263522:   "liveness: a log install forgot the header of a replica's faulty entry (its record named it) and dropped another's intact copy awaiting a rewrite: ops 124-126, named by no do_view_change, could be neither offered nor denied, and every view change after the heal stalled",
	20261800:   "liveness: a primary whose next ops lay below its backups' checkpoint (compacted from their logs) never state-synced while new prepares at its head counted as repair progress: commit 298 of 374 for 9 s, a client registered at op 329 unserved",
	20263044:   "acked_survive: a misdirected record write landed on its own entry's last sector; recovery took the damaged, unrecorded entry for an unfinished append and dropped acknowledged op 64, and the replica nacked it (a record found among the entries now proves its op was durable)",
	20266198:   "acked_durable: the checkpoint's own entry and the two above it were damaged, records too; the repair of the lowest could not be placed (the damaged checkpoint entry's region ran up to the next intact entry), so its Append truncated the log and dropped committed, acknowledged ops; such runs are now rewritten in place together, placed from the entry above (storage.RewriteRun)",
	2026130971: "harness: storage verify's completeness check took op 65's old, corrupt copy (last in its segment) for its entry; the engine had written the same entry again at the start of its damaged region, below it (over the checkpoint's damaged entry), and verify rightly held it intact",
	2026131599: "liveness: a replica's first checkpoint (op 64) rotted; it waited in recovering for a peer's checkpoint at or after 64 while both peers, at checkpoint 0, needed committed ops 62-65 that only its intact log held: storage now falls back to op 0 and replays the log",
	20266071:   "harness: log_view_durable held a replica to ops 61-63 that it had executed from memory under its checkpoint 64 (never written); a read fault made recovery fall back to checkpoint 0, the ops came back Faulty, and the damage excuse lapsed after one disk read: ops under a checkpoint the replica made durable are exempt",
	20261668:   "acked_durable: a checkpoint installed while its own entry was damaged anchors the log above at its file's checksum; that file rotted, the fallback found op 65 whole but off the chain, and the re-checkpoint took another anchor, so op 65 could not be rewritten in place and its Append truncated committed, acknowledged ops 66..103 (a checkpoint now anchors at the parent the entry above names)",
	278:        "harness: storage verify ran on a replica whose checkpoint was lost at recovery while the state sync replacing it had truncated the file (clearing the fault that damaged it): the short file was taken for damage the disk did not do",
	20262981:   "harness: a restart rejoining log view 16 from its disk was taken as entering it again, with an unfinished append of op 51 (kept as damaged: a fault had rotted its unwritten record sector) counted in the log it entered with at op 48",
	20262615:   "a checkpoint taken before its own op's entry was written stored the audit seed, the same op checkpointed again after a fallback stored the chain head (harness: the superblock check's audit rule now admits the seed besides the one chain head)",
	20266049:   "a repaired op below the head made the replica write every later (intact, in-place) entry again, one synced entry at a time on a slow disk, holding back its prepare_oks past the liveness budget",
	20263431:   "a pipeline op that one replica had executed and checkpointed in an earlier view, with no other durable copy, never gathered a quorum, and the primary refused the checkpoint above its commit number: the primary now learns the commit number of a backup that acknowledges its pipeline (checked on the schedule of 50e74c4; the repair-rewrite fix changed this seed's schedule)",
	20264316:   "with more clients than sessions, an eviction that arrived late (one per retry of a request of the evicted session) aborted the client's next registration, again and again: nothing committed after the heal; evictions now name the session (checked on the schedule of 50e74c4; the repair-rewrite fix changed this seed's schedule)",
	20262737:   "the primary of log view 5 lost the identity of its uncommitted head ops 195-197 (entries and records damaged); every other replica held them intact from log view 4 and could neither serve them (no checksum) nor deny them: view changes forever (replicas now offer the header they hold)",
	20262805:   "a recovery fell back past a damaged checkpoint: the ops below it that it had covered were never written, and the entries above it left no room for them, so writing the repaired ops truncated the log after them, committed acknowledged op 641 with it; such ops are now left to the checkpoint, executed from memory",
	20261813:   "a read-less, append-heavy key: the linearizability check kept every order of unread appends as a state, minutes and 6 GB (harness: a key is read after at most five writes)",
	20261674:   "a start_view whose headers began above a restarted replica's log forgot its ops of an older log view in memory but not on disk, and the new view's commit number was persisted over them: after a crash, an op the next view had replaced sat at or below the commit number",
	20261560:   "porcupine's search over many concurrent writes to one key ran the machine out of memory (harness: the workload now keeps at most two writes per key in flight). Twenty-first session, with the state-sync chunk drawn at 1 KB: replica 1's 175 KB snapshot restarted with every newer checkpoint's first chunk and never arrived (vsr: a receiver now finishes the snapshot it has, its sender keeps serving it)",
}

// standbyRegressionSeeds found bugs in topologies with standbys (issue 13): they run as drawn,
// standbys included.
var standbyRegressionSeeds = map[uint64]string{
	20261302: "a new primary repaired op 73 (its disk held view 1's, the engine's head) and executed it from memory, the entry left to its committed checkpoint (the class of 20262805), while the persisted commit number skipped executed ops (the class of 20261674): commit 101 over the stale entry after a crash (committed_prefix); a latent replica bug, the standbys only changed the schedule",
	20261952: "harness: random disk faults on a standby's disk were unbounded (no atlas) and destroyed every superblock copy; the standby could not open and never converged (standby disks now get no random faults)",
	20263818: "harness: as 20261952 (a standby's superblock destroyed by unbounded random faults)",
	20262791: "harness: a standby's checkpoint damaged beyond any bound made it restart below its durable checkpoint (checkpoint_monotonic); standby disks now get no random faults",
	20263703: "harness: as 20262791",
	20265869: "harness: as 20262791",
	20263380: "harness: unbounded random faults on a standby's disk left a stale entry under a durable log_view (log_view_durable)",
	20265254: "harness: unbounded random faults on a standby's superblock sent its durable view back (view_monotonic)",
	20262660: "harness: the superblock audit check held a checkpoint op to its old chain head after a seed below it (fallback to 128, 128 lost and installed from a peer with its seed, 192 checkpointed again from that chain); a seed now starts another chain",
	20264893: "harness: a stale read served by the old configuration's standby arrived after the failover rewound the executors (standby_reads); reads after a rewind go unchecked",

	// From the 10,000-seed campaign at 2026140300 on 0f794b3.
	2026150170: "storage recovery read a state-synced replica's first append after the checkpoint (op 65 after a sync to 64), entry and record rotted, as unfinished: the absent record of op 64, never appended there, ended the scan; the replica claimed log view 13 with a log ending at 64 and the new primary truncated committed op 65; a latent storage bug, the standby only changed the schedule",
}

// reconfigRegressionSeeds were found by the reconfiguring nemesis (faults.Swarm.Reconfig):
// they run as drawn.
var reconfigRegressionSeeds = map[uint64]string{
	2031100831:         "checker (the contact-lag hold, first version): a standby stuck at op 64 behind a slow checkpoint write, having heard of commit 71, executed ops 65-71 it already held 1.15 s after the active region was lost, and its contact lag fell from 760 ms to 710 ms, as its op lag fell; the hold now lets the lag fall with ops executed below an unchanged commit number, never grow or move otherwise",
	2029100348:         "replica (failing on main): replica 2 state-synced to 256 over ops 256-257 of unknown identity, so the checkpoint's anchor was its file's checksum and op 257's repair could go back only by RechainRun, which needs every prepare up to the engine's head; four were still being repaired, and flushLog's fallback appended op 257 by truncating ops 258-314, durable, committed and acknowledged in log view 8, which the superblock still named. The reboot that followed recovered log view 8 with op 256, and the do_view_change of view 15 offered it with op 289 (view_change_keeps_acks). flushLog now waits for the prepares the rechain needs (rechainWants)",
	2028800067:         "checker (audit_chain, first version): it reused a chain computed before a failover, whose configuration replaced the history it was computed over",
	2028800639:         "checker (audit_chain, first version): the same as 2028800067",
	2028301644:         "replica (found by a helper's range, failing on main too): replica 4, would-be primary of view 4, installed view 5's start_view while its view-change state was still view 4's; the suffix the start_view cut (ops 788-789) was labelled a truncation on nacks, which commit_quorum's nack rule then held to view 5's nacks delivered to it (1 of 3); only a new primary's truncation is now labelled so",
	2028800586:         "storage (found by audit_chain): a peer's checkpoint installed over a log audited below it (vsr installs one when its log is not written through) audited whatever entries the log held, view 0's stale ops 8-14 among them, and stored the head chained over them as checkpoint 64's audit head; such a checkpoint now starts a new chain from a seed, as a state sync does",
	2028800727:         "storage (found by audit_chain): the same as 2028800586, after a divergent partition",
	5022:               "standby (found by standby_lag_truth): a prepare fetched by repair carries the commit number of when it was prepared, and a standby took any commit number it had executed as making it current; stuck at op 18 having heard of a newer commit, it reported a lag of 1.3 ms after 29 ms behind (the under-report a DR failover judges eligibility by); it is now current only once it has executed the newest commit number heard",
	2028080632:         "replica: a restarted primary moved on to the next view (it never leads its old one again), where the others already ran normally; they ignored its start_view_change for their own view and it ignored their heartbeats, so its view change timed out into a whole-cluster election, and on slow disks a client's request outlived its give-up by 15 ms (a replica changing to a view now asks that view's primary for start_view when the primary heartbeats it)",
	2028051673:         "harness (the lossy round, first version): the round ended as the cluster converged, and the end-of-run standby check, which judges lags after an idle hold, found a standby's lag still counting the heartbeats the loss took; the round now ends with that idle time, as the vote_cut round does",
	2028032094:         "checker (clock_sync, first version): a fresh-range failure of the same class as 2028021600 (a sweep over a membership replaced before the last one), gone with its fix",
	2028032603:         "checker (clock_sync, first version): the same as 2028032094",
	2028020859:         "checker (the vote_cut round's bound, first version): the voter's second resend of its do_view_change came two resend periods after its first, as the resend backs off, past a bound that allowed one; the bound now waits for the next resend the backoff allows",
	2028021119:         "checker (the vote_cut round's bound, first version): the same as 2028020859",
	2028022320:         "checker (the vote_cut round's bound, first version): the same as 2028020859",
	2028001004:         "harness (the vote_cut round, first version): a client's request left in flight by the upgrade_cut round (which prepares nothing but the upgrade op) waited out the round's election and was given up on, taken for a starved client; the round now judges the clients on what they send after its election, and serves them then (2027733892 met it too)",
	2027962544:         "checker (the blip round's bound, first version): seven ops prepared in the outage committed about 45 ms apart on slow disks, past a slack that counted one op's writes; the slack now counts every op's",
	2028021600:         "checker (clock_sync, first version): replica 0, unpaused with a backlog, took replica 2's pong, then heard epoch 2 remove replica 2 (5 active members to 4: its quorum stayed 3, so no tick swept again) and, 1 ms before its next tick, epoch 3 remove replica 4; its offset (-69.0 ms) was its sweep over epoch 1, but the model kept only the membership just replaced (epoch 2's) as a candidate and wanted -34.3 ms. Every membership replaced since the replica's last sample is now a candidate",
	754605522279698020: "checker (clock_sync, first version): replica 2, resumed with a backlog, took two pongs of replica 1 in one instant around an epoch change; the model rebuilt its sample from the newer one, and the replica held the other. Two different pongs of a peer at the sample's instant now leave it unchecked",
	2027942608:         "harness (disk.correlated): a move damaged replica 1's op 23 while counting replica 0's copy as its guarantor, but that copy was an append that never finished (landed at a crash, its record sector holding a distrust mark), which recovery drops by design; a random fault then struck replica 2's copy and every replica asked for op 23 forever. A guarantor's copy must have an undamaged record naming it",
	2026780588:         "checker (client_sessions, first version): client 7's register was retried after its session (op 6217) was evicted and opened a new one at 6368; the delayed reply of 6217 then named the old session, which the first version took for a wrong one (a register reply may name any session the history opened for the client)",
	2026781688:         "checker (client_sessions, first version): the same as 2026780588 (client 2, session 123, reopened at 156)",
	2026781847:         "checker (client_sessions, first version): the same as 2026780588 (client 2, session 2295, reopened at 2321)",
	2026782629:         "checker (client_sessions, first version): the same as 2026780588 (client 2, session 6, reopened at 14)",
	2026952061:         "replica: a torn last append over rotted unwritten records made recovery invent a head op of unknown identity (op 44) that was never prepared; the replicas that installed logs reaching it could no longer deny it (denies counted the log's reach, not a prepare held), so no nack quorum formed and views 11-28 never completed (a zero-checksum op is now denied by a replica holding no prepare of it)",
	2026908257:         "harness: replica 0's checkpoint 64 rotted (the late checkpoint loss); its Open fell back to op 0 and removed the damaged file before its superblock write, which a crash then lost, so the durable superblock named a checkpoint the node had removed; checkpoint_monotonic took the restart at op 0 for one below a durable checkpoint (the disk image now counts a named checkpoint removed while damaged as damage)",
	20261289:           "replica: a primary that removed itself stopped at once; the backup that had not learnt the change committed waited for it forever (a removed replica now tells older epochs where the cluster went, and an operator wipes it only once the new configuration has a primary)",
	20261290:           "replica: a joiner formatted after its slot's removal took part in an older epoch that counted its slot, with an empty disk (a joiner now joins only an epoch after the one it was formatted at)",
	20261384:           "replica: a lone primary restarted in its own view and prepared other ops at numbers its standby held from before the crash (it now moves to the next view)",
	20261262:           "replica: a new primary of epoch 5 judged a committed op of epoch 4 by epoch 5's nack threshold and truncated it (ops of older epochs are now committed)",
	20261366:           "replica: prepares name their creator, which may have left the configuration; they were dropped as from a non-member, and a new member could never repair them",
	20262172:           "harness: the nemesis shrank the cluster to one replica where the atlas let disk faults strike a replica per zone (removals now keep 2f+1 active members)",
	20261953:           "harness: a cluster shrunk to two members on slow disks gated every op on its slower member past the clients' patience (the heal now restores the membership)",
	20261237:           "harness: storage verify read a disk while it was being replaced",
	20261383:           "harness: a lone primary's prepare first sent as a repair was taken as created then (commit_timestamp)",
	20261369:           "harness: upgrade_beyond_binaries held a replica outside the configuration to the cluster release",
	20263332:           "checker: acked_survive held a primary of an ended epoch (completing a view change to commit that epoch's change) to ops the new epoch acknowledged in a view of the same number",
	20265476:           "harness: the heal's restore let the liveness phase start before a replica added on a new disk had written the log it joined (a two-member cluster on slow disks commits nothing meanwhile)",
	20265097:           "checker: commit_timestamp did not know a lone primary's prepares (never sent) when the next one carried their timestamp",

	// From the fresh 10,000-seed range at 2026150300 on b51a352.
	2026150975: "replica: a replica that lost its checkpoint asked for a state sync in its old epoch after the cluster had moved on, and waited forever (it now follows the configuration while it waits)",
	2026152337: "replica: a lagging member of a two-member epoch, primary of its view change, named a committed op of an older configuration by its own offer of a stale prepare (a reconfigured cluster now state-syncs from the chosen replica instead)",
	2026153811: "replica: as 2026152337, two lagging members of a four-member epoch agreeing on a stale prepare of a view their old configuration replaced",
	20261354:   "replica: a primary crashed right after checkpointing the change op it had just executed came back in the old epoch and prepared after the change (a checkpoint now waits for the switch and a durable epoch, and a change executed last still blocks preparing)",
	20263288:   "replica: as 20261354 with the switch's superblock write queued behind a commit number's, so the checkpoint still named the old epoch (a checkpoint now waits until the epoch is durable)",
	2026170937: "harness: the reconfiguring nemesis replaced a second disk before the first replaced one held the ops again, leaving an op only on two damaged copies (the next action now waits until every member has caught up)",
	2026171698: "checker: log_view_durable held a standby, restarted on a log view whose op a newer view's entry had superseded on its disk, to the older view's prepare (newer entries are not stale; found on a failover seed, also failing before this session)",
	// Failures of the first runs of the reconfiguring nemesis (seeds 20261203-20262202 and the
	// 5,000-seed range), fixed by the changes above and kept as found: liveness of clusters the
	// nemesis left shrunk (the heal now restores the membership: 20261445, 20261677, 20261689,
	// 20261693, 20261828, 20261868, 20261986, 20262004, 20262065, 20265821; as 20265476: 20262367,
	// 20264526), commit_timestamp on lone primaries' prepares (as 20261383 and 20265097: 20261315,
	// 20261343, 20261345, 20261353, 20261401), and safety failures of the first version's epoch
	// handling (20261205 acked_durable, 20261257 acked_survive, 20261269 committed_prefix), each
	// gone with the replica fixes of that round and not examined one by one.
	20261445:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20261677:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20261689:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20261693:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20261828:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20261868:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20261986:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20262004:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20262065:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20265821:            "reconfiguration, first runs: liveness of a shrunk cluster",
	20262367:            "reconfiguration, first runs: as 20265476",
	20264526:            "reconfiguration, first runs: as 20265476",
	20261315:            "reconfiguration, first runs: commit_timestamp on a lone primary's prepare",
	20261343:            "reconfiguration, first runs: commit_timestamp on a lone primary's prepare",
	20261345:            "reconfiguration, first runs: commit_timestamp on a lone primary's prepare",
	20261353:            "reconfiguration, first runs: commit_timestamp on a lone primary's prepare",
	20261401:            "reconfiguration, first runs: commit_timestamp on a lone primary's prepare",
	20261205:            "reconfiguration, first runs: acked_durable (a replaced disk beyond the atlas's bound)",
	20261257:            "reconfiguration, first runs: acked_survive (epoch handling of the first version)",
	20261269:            "reconfiguration, first runs: committed_prefix (epoch handling of the first version)",
	20261212:            "reconfiguration, first runs: as 20261369 (upgrade_beyond_binaries on a replica outside the configuration)",
	20261268:            "reconfiguration, first runs: as 20261369 (upgrade_beyond_binaries on a replica outside the configuration)",
	59:                  "client: clients that knew the spare slot 2 as outside skipped it on retries; after the changes left it the only member, no request reached the cluster (a retry now tries every slot in turn)",
	2026155682:          "harness: the heal re-added two replaced disks at once to a four-member configuration on slow disks, which had no quorum until one of them had written the log it joined (the heal now adds one at a time, each caught up first)",
	2026205879:          "replica: a standby that heard epoch 1 wrote that epoch's ops before its superblock held the epoch; a crash lost the superblock write, and it recovered epoch 0 over a log of epoch 1 (an op of a newer epoch now waits for the durable epoch)",
	20263182:            "harness: storage verify took a superblock naming a checkpoint the engine had removed (a latent error made a removed replica's recovery fall back past it; stopped, it never wrote its state) for damage the disk did not do; a removed damaged checkpoint now explains it",
	2026259503:          "replica: a state sync to 256 into a log that reached 256 kept its ops at or below 256 until the checkpoint was durable, view 7's stale op 253 among them, executed as though committed (committed_prefix) under a broken hash chain (assertion); ops the snapshot's chain does not vouch for are now forgotten",
	2026260153:          "storage: a misdirected append landed in the next op's record sector; recovery read that sector, and the entry's own unwritten place, as a finished append of the next op, so the primary of the new configuration held an op nobody knew and could not deny, and view changes cycled to view 82 (liveness); the damaged bytes are now read from the end of the entries the intact records place",
	2026282304:          "harness: the correlated-damage moves counted a removed replica's copy as the guarantor of an entry, and damaged both members' copies of the removal's own change op 35 (committed), so every member asked for op 35 forever (liveness); holders are now active members only",
	2026283005:          "storage: ops 10 and 11 lost entry and record (identity) on one replica, op 12 intact; RewritableRun left the run to an Append of op 10 alone, which writes in place unchecked, so the replica wrote its 38 committed ops above it again, one synced entry at a time on a 95 ms disk, before acknowledging a new op (liveness); the run is now placed from op 12 and checked against its parent",
	2026299955:          "storage: a state sync to 64 left view 3's op 47 on the disk (the log never had view 8's); checkpoint 64 rotted, recovery fell back to op 0 and replayed the stale op as committed (committed_prefix); an installed checkpoint now records the ops it did not audit, and a fallback reports them faulty",
	2026305952:          "harness: the reconfiguring nemesis replaced the disk of the one replica whose copy of op 731 was intact while corrupt_tail had damaged it on two others, which counted on that copy as guarantor (acked_durable); a sole holder is now neither removed nor replaced, and a replica being taken out guarantees nothing to the correlated moves",
	2026249483:          "replica: op 1069 was left to its committed checkpoint 1088 though it was the engine's head, whose entry there was view 12's; view 14's 1070 and 1071 were then written above that stale entry, and a crash before the checkpoint recovered a log whose hash chain broke (assertion); at the head the replica now writes the op, replacing the stale entry",
	2026235521:          "replica: a queued truncation above op 109 (a start_view's cut after 142) made the replica refuse to leave op 109 to its committed checkpoint 128; it wrote op 109 by truncating the engine's log after 108, dropping committed, acknowledged op 129 (acked_durable); only a queued cut below an op refuses the skip now",
	2026220385:          "storage: recovery dropped a new log's first append (entry torn by a crash, then hidden by a read fault; no record) but did not cut it from the disk, as it cuts one above a kept op: a later boot would read op 1 of view 1 back under log view 3 (log_view_durable); the cut now stops short only for kept ops above the checkpoint",
	2026222904:          "harness: log_view_durable took a replica that started a view change, crashed before its superblock held the new view and rejoined the old view from its disk for one entering that view again, with its unfinished append (kept as damaged) counted in the log it entered with",
	2026229459:          "harness: the swarm failover waited 10 s for the standby's answer while the standby, on a disk of 85 ms writes, still wrote a 24-op backlog; the operator now waits while the standby's storage makes progress",
	2026213444:          "harness: storage verify took log-0's missing ops 57..63 for damage the disk did not do; the replica had installed checkpoint 64 from a peer (never writing 57..63), a latent sector error on that checkpoint made recovery fall back to op 0 and remove the file, and the removed file's damage no longer counted (the disk now remembers damaged files the node removed, until created again)",
	2026720855:          "storage: replica 0, primary of view 6, acknowledged op 149 (committed); its entry and record rotted, and as view 7 began the repair of the faulty head op truncated first, tombstoning its record; a crash before the new entry was durable lost the op, and the replica offered log view 6 with op 148 (view_change_keeps_acks). The faulty head is now written in place",
	2026721118:          "storage: the same class (replica 3, primary-elect of view 18, repairing its head op 243 of view 17)",
	2026722808:          "storage: the same class (replica 2, op 47 of log view 12)",
	2026723629:          "storage: the same class (replica 2, op 345 of log view 14)",
	2026753315:          "vsr/storage: replica 1, primary-elect of view 17, state-synced to 64 over ops 64-65 of unknown identity; the installed checkpoint's anchor was its file's checksum (nothing on the disk named the old one), so op 65's repair no longer chained to op 66, and its Append truncated view 14's ops 66-69 to write them again; a crash after start_view, before op 69 was back, left it offering log view 14 with op 68 (view_change_keeps_acks: a real loss of an acknowledged, committed op from the log view it claimed). The replica now has the engine write such a run again in place, linked anew (RechainRun), when the ops above are its own durable ones",
	2026754803:          "storage: replica 1's checkpoint 64 rotted just after a crash tore its append of op 65; the fallback to op 0 distrusted op 64, the head, whose damaged region then ran to the end of the file over op 65's torn copy, so Open did not cut it, and after a state sync to 64 op 65 was written after it; Verify reported the torn copy, and then the link from the distrusted op 64 to op 65 below checkpoint 192, as damage the disk had not done. Open now ends a distrusted entry's region at its own end, and Verify checks the hash chain from the checkpoint's anchor up",
	2026761680:          "storage: replica 2's record write of op 490 was misdirected into op 452's entry (sector 71 of log-7); the next Open found op 490 intact with its record only as that stray copy, took it for recorded and never wrote it in place; op 452's repair overwrote the stray, op 490's entry rotted, and the next recovery dropped op 490, acknowledged and committed, as an append that never finished (view_change_keeps_acks). Open now writes a record found only out of its place over its own record sector, read back",
	2026754867:          "storage: replica 0's checkpoint 128 (a state sync's, op 128 never in its log) rotted and ops 129-131 lost their identity; installed again from a peer, the checkpoint took the new file's checksum as its anchor instead of the one the log above was written on, so the repair of op 131 no longer chained to op 132 and truncated ops 132-144, acknowledged in view 5; a crash came before they were written again and the replica offered log view 5 with op 131 (view_change_keeps_acks). A lost checkpoint installed again keeps its anchor, and an install over a faulty op of known identity anchors at its chain sum",
	2026919031:          "vsr/storage: replica 4, primary of view 9, restarted past its rotted checkpoint 128 (fallback to 64) with ops 128-131 and 134-136 of unknown identity; checkpoint 128, taken again once op 128 was repaired, anchored at its file's checksum, so op 129's repair no longer chained to op 132, and RechainRun refused the run (the replica required every op above to be durable, and the engine refused ops 134-136, unknown between known ones): the Append of op 129 truncated view 9's ops 132-161 and a crash before op 132 was back left it offering log view 9 with op 131 (view_change_keeps_acks). The engine now places unknown ops between known ones in a rechain, and the replica leaves the check of each known op to the engine",
	2026717369:          "checker (view_change_keeps_acks, first version): replica 0, the old primary of view 0 left behind with ops to 9, became primary-elect of view 3, adopted view 1's log (cutting its ops 5-9 on disk) and crashed before the view started: it offered log view 0 with op 5. Those ops never committed; only a committed prepare left out is a violation",
	2026714356:          "checker (view_change_keeps_acks, first version): the same as 2026717369, replica 1 truncating its view-1 op 13 as primary-elect of view 6",
	2027056525:          "replica (divergence): replica 0, primary of view 3 left behind with ops 498-505, rejoined under view 7's log (ops 512-517), its own ops kept unverified; replica 1 was added with an empty disk (epoch 2, nack threshold 2 of 4), and replica 0, primary-elect of view 8, named op 503 from its own kept offer (view 3's prepare) and replica 1's nack, though op 503 had committed in epoch 1 by replicas 2 and 3 (canonical_commit). A replica added with an empty disk now denies nothing before it holds state",
	247:                 "storage (disk.write_error): a truncation's tombstone write failed, the truncation failed, and the replica, which takes truncations as done, persisted log view 12 over view 10's op 413. A failed mark or tombstone write is now read back and written again",
	2027100302:          "storage (disk.write_error): a failed rewrite in place left op 8's slot known with no identity, so it was no longer rewritable, and the replica's retry replaced op 8, truncating op 9, durable and acknowledged. A failed rewrite now keeps the entry's identity and place",
	2027101309:          "storage (disk.write_error): the same class (op 192 of log view 15)",
	2027105554:          "storage (disk.write_error): the same class (op 20 of log view 1)",
	2027108498:          "storage (disk.write_error): the same class (op 31 of log view 2)",
	2027131668:          "storage (disk.write_error): view 8's op 242, its entry synced and its record write failed, stayed in the file past the head (no truncation reaches past the head), under log view 9; a failed append now cuts its file back, durably, before it reports the failure",
	2027134685:          "storage (disk.write_error): the same class (op 264 under log view 1)",
	7853388945494936942: "storage (make soak's random range): replica 0 state-synced checkpoint 64 over view 0's ops 12-15 (ops 16-61 never in its log), checkpointed 128 and 192 itself, and when 192 and 128 were lost, Open replayed the log from op 0: view 0's op 13 came back under commit number 233 (committed_prefix). Checkpoint 192 was its own (Audited), but its audit chain began at the install's seed. A replay from op 0 now needs every op through the lost checkpoint intact and their audit chain from the zero head equal to the one the superblock kept (replaysAudited)",
	6373194600773404913: "harness (make soak's random range, eighteenth session): the first primary's crash (a new move) struck at the first prepare after the heal, 30 s in, and nothing restarted the replica. The move now stops at the heal",
	2027291743:          "harness (nineteenth session): as 20261369, a replica kept down on the slow disks the heal keeps; served late, not stuck (three times the serve budget since)",
	2027292026:          "harness (nineteenth session): the same as 2027291743",
	109:                 "vsr (twenty-first session, found by the state-sync chunk drawn small, in the draw of c9bd3c1, since moved to its own stream): replica 3, far behind, received the peer's 1 KB chunks of checkpoint 3328 while its periodic sync request kept fetching the first chunk again, and each first chunk started the assembly over: a transfer longer than the request period never finished, and the replica never caught up (liveness). A first chunk of the snapshot being received now resumes from the chunk it lacks",
	2027720658:          "harness (twenty-first session): the reply cut's new primary crash struck 80 ms after the healed cluster had converged, inside the idle alert hold, and the restarted replica's replication lag fired ReplicationLagHigh there; the crash now never strikes once the hold has begun",
	2027721728:          "harness (twenty-first session): the same crash in a swarm drawn without faults, where any alert fails the seed; it is no longer drawn there",
	2027733892:          "harness (twenty-first session): the reply cut's primary crash struck while the lasting fault waited for the converged cluster's logs to be written, the lasting fault then took the crashed replica down, the cut's end restarted it, and the lasting fault's end started it again (harness panic: start while running); the crash now never strikes once the healed cluster has converged, and the cut's end leaves a replica the lasting fault keeps down",
	2027745852:          "harness (twenty-first session): with 1-2 KB sync chunks a lone primary's two standbys, whose snapshots of 100 KB and more took a hundred round trips of tens of milliseconds, fell behind for good under load; the swarm now draws 4-16 KB",
	2027700213:          "harness (twenty-first session): the lasting fault took replica 2 down once the healed cluster had converged by commit numbers, while replica 1 was still writing a backlog of about twenty committed ops at up to 65 ms a disk operation; the quorum left waited on that backlog and a client gave up after 6 s. The fault now waits (within a bound) for every member's log to be written",
	2027941114:          "checker (clock_sync, first version): replica 0 took replica 2's pong (a 100 ms round trip) and, at the same instant, a second pong from it echoing -1, the answer to an epoch notice (a ping of no clock request), which it refused; the model kept both and rebuilt the sample from the later, whose 29 s round trip made an interval holding every other (it wanted offset 0, the replica reported -107.3 ms). A pong the replica refuses (echo below 0, round trip below 0 or past the sample age limit) is no longer kept",
	2027821837:          "harness (the divergent move, faults/nemesis_divergent.go): a heal reached the old primary during its cut and it committed ops 22-24 with the others in view 5; the clash then damaged them as its divergent suffix, and op 23 lost its last copies: stuck at commit 22. The clash now ends the episode when the old primary committed past its cut",
	2027800839:          "harness (the swarm's operator, swarm_operator.go): an export of replica 2 held checkpoint 128 above its persisted commit number 120 (a state sync installs a checkpoint before the next superblock write raises the commit number); the export check no longer asks the commit number to reach the checkpoint",
	2027791946:          "harness (the swarm's operator, swarm_operator.go): an export of replica 0, the primary of view 9, held commit number 44 while every replica had executed only up to op 43: the primary had a quorum for op 44 but was still executing the ops it repaired (commit_min 24), and a partition kept the others from hearing the commit. The export check bounded the commit number by execution; it now bounds the checkpoint",
	2027754434:          "harness (the lasting behind fault, as 2027700213): replica 1, the next view's primary, went down once the healed cluster had converged by commit numbers, while replica 2, repaired ops 70-105 at the heal, was still writing a backlog of about forty ops at ~150 ms an op (four disk operations each); the primary's quorum (0 and 2) waited on it, no op committed for 6 s and client 2 gave up. The behind fault now waits (within a bound) for every member's log to be written, as the down fault does",
	2027664865:          "vsr (twenty-first session): replica 1, the old primary of view 1 left behind with ops to 9, its checkpoint 0 held back by a full disk, executed view 7's log to 52 with view 1's op 3 left to the checkpoint on its disk (view 2's op 3 had committed), then installed view 8's log up to op 301: op 259 took op 3's slot and the mark that its entry was stale, and the replica persisted commit number 53 over it (committed_prefix). An op whose slot a higher op has taken now counts as unknown for the persisted commit number",
	2027665936:          "vsr (twenty-first session): replica 0, the old primary of view 0 left behind with ops to 28, repaired view 3's log: ops 24-27, their view-0 entries not rewritable in place, were left to the checkpoint, and op 28, the engine's head, was replaced; a crash then, and a damaged op 27 at the restart, hid the break under view 3's op 28, so view 0's ops 1-26 were trusted and the repair of 27 along the chain broke it at 26 (the chain assertion). A damaged op's redundant record that does not chain with a neighbour now counts as the break for the walk that forgets the ops below it",
	2027620019:          "harness (twentieth session): the stable-view check of the idle hold failed the lasting clock fault, whose unsynchronised primary must abdicate once a client's retry waits for it (eight more in 1,000 seeds); that fault is now left out of the check",
	2027329168:          "harness (nineteenth session): the lasting fault took a replica down at the heal while it held the only intact copy of committed op 10 (the fault phase had damaged the other), and the two left could not execute it. The replica now goes down once the healed cluster has converged",
	3018271252851913429: "storage (make soak's random range, eighteenth session; failing before it): replica 1 checkpointed 64 over ops it had repaired from memory (InstallCheckpoint: the engine's log held an older view's entries there), the superblock write failed, and the engine's audit stayed advanced over those entries; the replica's write of the ops the checkpoint was to cover fail-stopped it (append replaces a committed op). A failed checkpoint now leaves the audit as it was",
	2027192864:          "harness: storage verify reported op 193's torn entry, and the judge took it for damage the disk never did: the crash that tore the append kept its first sector, recovery held the op faulty under a damaged checkpoint, its repair went in after the torn head, and the lost sectors, written over, were no longer counted. A torn write's kept sectors now count until written over (sim.Disk.TornRemnants)",
	2027194529:          "liveness: op 14, committed, was damaged on two active replicas and never reached the third; the standby held it intact, but the actives asked only one another for it by checksum, and the cluster stopped at commit 13. An active replica now asks standbys too (randomRepairPeer)",
	2027090870:          "harness (disk.write_error): the storage verify opened a snapshot of replica 1's disk that still drew write errors, and its Open failed; snapshots draw none now",
	862:                 "replica (disk.write_error, liveness): one failed write inside Open stopped R3 for good. Open is now run again after an I/O error",
	2027054619:          "replica (liveness, the divergence fix's first version): original members still empty in epoch 1 (a removal at op 12, before anything executed) withheld their nacks, and views 4 to 20 never truncated what they had to: the exemption is for replicas formatted to join alone",
	2027025513:          "storage: replica 1's head op 104 lost its identity at a restart (read faults on its entry and record), so its damaged region ran to the end of the file and Open could not cut past it; an unsynced append of view 17's op 105 that had survived the crash, hidden by a latent read error, lay there. The repair rewrote op 104 in place and the replica persisted log view 18 over it: a later boot reading the sector again would have brought op 105 back above that log view (log_view_durable). A rewrite of the head now cuts what lies past it",
	2027005456:          "checker (commit_timestamp's offset side, first version): replica 0, paused for 2.2 s, stamped op 38 as its node resumed, before its first tick: its offset came from its last sweep before the pause, over samples the checker's 11 s window had dropped. Stamps within 50 ms of a pause (or an operator's isolation) are not side-checked",
	2027006076:          "checker (view_change_keeps_acks): replica 0's op 130, committed in view 9, lost its identity (entry and record), was cut and rewritten by the repair, and the rewritten entry rotted during the restart after a crash after the cut: it offered log view 9 with op 129. A copy the simulator damaged after the acknowledgement excuses the loss (the atlas keeps another)",
	2026971068:          "checker (view_change_keeps_acks, second version): replica 0 acknowledged op 4 in view 0, adopted view 3's log as its primary-elect (cutting op 4) and crashed before its superblock named log view 3, offering log view 0 with op 3; op 4 was not committed then, but replica 2 had offered it to view 2's change and it was first executed in view 5. A prepare left out is a violation only if its first execution is in the log view offered or an earlier one",
	2026972059:          "checker (view_change_keeps_acks, second version): the same as 2026971068, replica 0 cutting its view-6 ops 601-608 for view 7's log as primary-elect of view 9; op 601 was first executed in view 14",
	2026712689:          "checker (view_change_keeps_acks, first version): replica 2, primary of view 2 left behind with ops to 129, entered view 3 as a backup (cutting 127-129) and crashed before its superblock named log view 3",
	319:                 "checker (view_change_keeps_acks, first version): the same as 2026712689, replica 3 in view 19",
	2026690511:          "storage (this session's own regression, never on main's tip long): a cut at recovery clamped into the head's faulty region (op 128, unknown, the first of its segment) where an older entry of a higher op lay; the replica then truncated below its commit number and failed commit_number <= op_number. The clamp (2314635) was taken out again",
	2026642591:          "storage: replica 2, left behind in view 2 with ops 10-15 above its audited op 9, state-synced to checkpoint 64, which rotted before segment 1 existed (lost, no replay from op 0); the sync that installed it again recorded it as audited to 64, since Open had set the audit op to the lost checkpoint's. When it rotted again the replay from op 0 took view 2's op 11 for committed under commit number 92 (committed_prefix). A checkpoint installed over a lost one now keeps the lost one's audit point; the harness's disk reader learned the distrust mark the fallback then writes (log_view_durable read the disowned entry as stale)",
	2026631882:          "checker: storage verify's soundness check took a damaged checkpoint that the node had removed and then fetched again (a state sync a crash cut short before the superblock named it) for no damage at all, while the replica's checkpoint was still below it: the distrust marks of 71c5b40 (op 1) and the missing ops (op 60) it left were reported as damage the disk did not do",
	2026602066:          "storage: replica 1, left behind in view 1 holding ops 65..74, state-synced to checkpoint 128, which rotted; the fallback to 64 distrusted ops 65..128 in memory only, and once a view change had written the superblock with checkpoint 64 the next boot trusted view 1's op 67 under commit number 128 (committed_prefix). Open now writes a distrust mark over the record of each such op, which lasts until the op is written again",
	2026613677:          "storage: the same as 2026612123 (the tombstones' read-back of 30d04bf failed whole on a latent error between two of them, and Open stopped the replica: liveness)",
	2026612123:          "storage: the first read-back of tombstones (30d04bf) read the tombstones' whole span at once, so a latent sector error on a record between them failed every round and Open stopped the replica (liveness); each tombstone is now read on its own",
	2026605648:          "storage: replica 0, left behind in view 0 with op 5 (the primary left behind), repaired op 5 in view 4: the truncation's tombstone of op 5 was misdirected to sector 52, the cut removed the entry, and a crash came before the new one was written; view 0's record of op 5, intact in place, brought it back under commit number 21 (committed_prefix). A truncation now reads its tombstones back and writes again those that are not there before it cuts",
	2026568758:          "storage: replica 3 state-synced from checkpoint 64 to 128 over a log of view 6 up to op 99; checkpoint 128 rotted (the synced checkpoint loss) and the fallback to 64 made ops 65..99 faulty as unaudited, but op 98, already unreadable, kept its record's header (view 6's; view 7's had committed) below the commit number (committed_prefix). The fallback now drops the records of every unaudited op, not only of the intact ones",
	2026567333:          "vsr: replica 2, the primary of view 11 left behind with op 147 of its own, installed view 17's log, whose headers began above 147: the install forgot 147 in memory and kept it on disk, and repairs wrote view 12's ops 148-153 above it. It crashed before 147 was repaired (persisted log view 11), and recovery read the two as one log: the chain assertion at once. Recovery now forgets, as unverified, the ops below the first break of the chain under the head, down to the persisted commit number",
	2026552870:          "storage: replica 2, the primary of view 12 left behind (the new aimed move) with ops up to 248, state-synced to 256; that checkpoint rotted (the synced checkpoint loss), and the fallback to 192 gave ops 193..248 up, cutting their entries but not their records. Two boots later, with entries up to 209 again and identity loss among them, the stale records brought view 12's op 248 back below the commit number (committed_prefix). Open now tombstones the records of the ops above the recovered head in its segment before it cuts them",
	2026496656:          "storage: op 20's record write on replica 2 was misdirected onto op 11's record sector, and its entry later met latent errors; recovery took op 20 for an append that never finished and dropped it, and view 3 truncated the acknowledged op (acked_survive). A record of one of the segment's ops found over another op's record sector now counts like one found among the entries",
	2026495629:          "storage: replica 2's checkpoint 128, installed by a state sync, rotted, and so did 64; the replay from op 0 (b609825) kept view 8's op 123, which the synced history had replaced, below the commit number (committed_prefix). Open now falls back past a checkpoint (to the previous one, or to op 0) only if this log executed up to it",
	2026495735:          "storage: the same class as 2026495629 (a lost synced checkpoint replayed from op 0 left ops of the log view the replica was normal in missing: log_view_durable)",
	2026486275:          "storage: a state sync jumped replica 0 from checkpoint 64 to 384, which rotted; the fallback to 64, now always named as the previous checkpoint, left ops up to 387 above it, past the log window (assertion). A fallback whose log runs further above it than Options.ReplayOpsMax is now a lost checkpoint (state sync)",
	2026467162:          "storage: one latent sector on replica 1's checkpoint 256 lost its state: view changes had written both superblock pairs since, so neither named checkpoint 192 any more and Open had removed its file; its peers, at 192, needed ops only its log held (liveness). Every superblock write now names the previous checkpoint, whose file stays until the next checkpoint",
	2026460322:          "storage: read faults corrupted both of replica 0's checkpoint files (128 and 64) at one restart, so it waited for a peer's checkpoint of at least 127, while its peers, at checkpoint 64, needed ops 121 and 122 that only its log held intact (liveness); a lost checkpoint now falls back to the format's state when the log holds every op from 1 within the replica's log window (Options.ReplayOpsMax), as a lost first checkpoint already did",
	2026447374:          "storage: view 5 truncated op 68 (view 3) and appended its own, but the tombstone and the new record of op 68 were both misdirected, so recovery found view 3's record over view 5's intact entry, made op 68 faulty with view 3's identity, and the replica held view 3's prepare below its commit number (committed_prefix); an intact entry the next op chains onto now outranks a record naming another one, which is written again",
	2026442563:          "harness: the configuration the simulator reported was read from the running replicas only, so while both members of epoch 7 (replicas 1 and 2) were down it went back to epoch 6, whose only member was replica 2; the reconfiguring nemesis then added slot 1 back, wiping replica 1's disk, and the new disk was formatted to join at epoch 6, took epoch 7 as its addition, and its nack truncated acknowledged op 193 (Cluster.Configuration now keeps the newest configuration any replica took)",
	2026416581:          "harness: linearizable's power-set model doubled one key's set of possible values at each of 35 bounded indeterminate appends (deletes kept them from being pruned) and a campaign went to 24 GB before the OOM killer; past kvStatesMax values the key is now left unchecked and counted (invariants.linearizable_keys_unchecked)",
	2026414333:          "replica: a state sync to 512 during a view change replaced the replica's op 512 with the snapshot's (view 3) but kept its view-2 ops 513 to 516, which chained onto its own old 512 (chain assertion); ops above the sync point that do not chain onto it are now forgotten, kept unverified",
	2026410952:          "replica: the same class as 2026414333 (a sync to 128 of view 11 under view 7's ops 129 to 131)",
	2026389787:          "harness: replica 2's restart met a latent error on checkpoint 832, fell back to 768 and removed the file, then crashed 1 ms later, before any running inspection judged that restart; the next restart at 768 was held to 832 (checkpoint_monotonic); a fault injected during an unjudged incarnation now excuses its fallback",
	2026386628:          "harness: a crash tore replica 2's first append of op 65 (its header sector survived, claiming an extent past the file's end); the engine wrote op 65 again at the end of the file, inside that extent, and the durability check's walk stepped over it and found op 65 not durable (acknowledged); an intact copy at any sector now counts when the walk misses it",
	2026375596:          "replica: a standby's append of op 21 (view 1) was in flight when view 2's start_view cut its log after 19; view 3 brought the same prepare back, so the write's completion marked op 21 durable though the queued cut then dropped it, and op 22 was appended past the gap (assertion); a write a queued cut drops is now written again",
	2026155256:          "replica: the epoch assertion took a stale entry a recovery kept as faulty above the change for an op prepared after it (it now looks for an op that chains to the change)",
	2031901162:          "storage (found by disk.sync_error, twenty-ninth session): a start_view cut R1's log after op 81; the sync of op 82's tombstone failed and lost it, the truncation failed with it, and the replica, which takes a truncation as done, persisted log view 12 over view 11's op 82 (log_view_durable); a failed sync now writes again and syncs again (syncRewriting)",
	2031901458:          "storage (found by disk.sync_error): the same class as 2031901162 (view 4's op 259 under log view 6)",
	2031950487:          "harness (the rejoin round): backup R3, down while remove-replica 1 made epoch 7, restarted and spent 1.6 s in Open reading 54 log segments back, past the whole bound counted from its restart; the bound now counts from the end of Open, as the restart round's does (2030900032)",
	2031800181:          "harness (the repair_peer round): the round took R2 down 15 ms after view 26 converged, and the crash lost its superblock write of view 26; it came back a normal backup of view 25 with its link to R1, view 26's primary, cut one way, so its requests for view 26's start_view never reached the one replica that sends it, and the round timed it as a repair; it now times only a replica that is in the running view or can reach its primary",
	2031800300:          "harness (the catch-up round): R4 created a log segment on its x212 slow disk in the last 10 ms of the laps; the disk turned fast, but the creation kept its slow latency, drawn at issue (11.5 s), and R4's checkpoint at 704 waited on it, so 3.4 s of the convergence's 1500 ticks were left for a state sync of 276 KB in 4 KB chunks; the convergence now counts from when the slow disk's I/O in flight has completed",
	2032600852:          "harness (the clients' service after the heal): three replicas on disks at 91 ms a write, every one up; the new primary wrote a 23-op backlog one append (four writes and syncs) at a time, then served six clients at two ops a second, and client c2, which gave up after 20 retries and sent its next request to the back of the queue, was not served in the 15 s the heal gave; the heal now gives three times that on slow disks, as it did with a replica kept down",
	2038000422:          "harness (the clients' service after the heal): the reply cut's primary crash lost c6's append, queued behind a full pipeline, with R0's volatile request queue; its retries reached view 7's primary R1 after c1's request, sent later, and then waited behind R1's eight view-change ops and six other clients' requests on disks at up to 96 ms a write (one append, four writes and syncs, at a time); c6 gave up 6 s after sending it while c1 had been answered, and R1 answered it as op 58 1.8 s later. The starvation check now counts a served request only if it was sent once the latest primary had been in office for a rotation of the client's retries (every retry had reached it)",
	2039000371:          "harness (the upgrade_cut round, found at 7632773; later commits moved the trace off it): c1's put, sent in the blip round at 49.6 s, ran out of its 20 retries at 55.6 s while the round cut off the primaries of views 21 to 25 one after another as each took office; every retry met a cut-off primary, a backup forwarding to one, or a deposed primary of an older view, while c7's request, whose retry reached view 21's primary in the 200 ms before its cut, was served; the round now judges the clients on what they send after each cut (90fb873's settling rotation covers it too)",
	2031951259:          "harness (the repair_peer round): the same class as 2031800181, found in a campaign with disk.sync_error (R0 in view change for view 22, its link to view 22's primary cut)",
	2031300182:          "harness (the repair_peer round): a read corruption of R1's checkpoint 64 while its disk's faults were on for its recovery made it fall back to checkpoint 0, below the others' checkpoints; it then needed a state sync from the primary it could not reach, and the round timed it as a repair",
	2031000849:          "harness (the slow catch-up variant): the backup's disk turned slow (x41) before its restart, so Open's scan of 4076 ops outlasted both laps' bounds; the disk now turns slow once Open is done, and the laps count from then",
	2030900032:          "harness (the restart round): R1's Open read 50 log segments back at a 12.5 ms mean read (1.4 s) and the round's bound, counted from the restart, allowed only a few disk operations; it now counts from the end of Open",
	2030701830:          "harness (the repair_peer round): R1 repaired op 1750 from a peer and then checkpointed at 1792; compaction dropped its entry, and the round, which then asks the disk to hold the op's prepare again, took that for a repair with another prepare",
	2030600404:          "harness (the lost_sync round): R2 crashed, both its checkpoints (128, 192) rotted and it restarted in one tick; it fell back to the format's state and replayed its whole log (by design), but the checkers saw the crash only after recovery had removed the rotten files, so checkpoint_monotonic found no damage to excuse the restart at 0 below its durable 192; the round now inspects right after the crash",
	2030701232:          "replica invariant (twenty-eighth session, in a campaign of the session's own code): the log-window invariant made strict (no op at commit_min+LogSlotsMax) fail-stopped a replica whose newest checkpoint rotted: it fell back to checkpoint 192 and kept its durable ops up to 448; only a log installed from a peer must end below that slot, or commit_min's checkpoint be taken",
	29:                  "replica (found by the restart round): a restarted primary, in view change for the view the others had elected, ignored that view's commit heartbeats on the idle cluster and timed out into an election of its own (view 22 became 23); it now asks the primary of the view it is changing to for its log on a heartbeat as on a prepare",
	1:                   "replica (found by checkpoint_agreement, as nearly every seed): replica 3's checkpoint of op 64 differed from replica 0's in its client table, each reply stamped with its executing replica's index and view; a replica state-syncing from one peer or another held different tables (a sync in progress also restarted on a first chunk of the same op with another checksum). The table now keeps each reply as the op's prepare names it, and a sender stamps its own fields as it sends",
}

// currentRegressionSeeds were found by the swarm as it runs today, every fault kind and round
// drawn as the seed draws them, and run so (no override).
var currentRegressionSeeds = map[uint64]string{
	2041500756:          "storage (found by the refused truncation marks, thirty-second session): R4's tombstone of op 440 was refused for space, the truncation failed and left a debt; R4 state-synced to checkpoint 448 and appended 449-453; the next superblock write paid the debt by cutting after the checkpoint, removing log-7 with them, and the next append left a gap (fail-stop). A failed truncation's debt now covers only the ops it left, void once they lie at or below a checkpoint",
	2041500985:          "storage (the same class as 2041500756): R1's mark over op 60 was refused; after checkpoint 64 it appended 65-72, and the superblock write's cut removed log-1 with op 65, acknowledged and committed (acked_durable)",
	2041504450:          "replica (found by the refused truncation marks): R0's cut after op 7 (a start_view's) failed for space, leaving the engine's head at 9; op 8 was skipped as left to checkpoint 64 (below the engine's head, not rewritable), the owed cut then ran with the superblock write and lowered the head to 7, and op 9's append left a gap. leftToCheckpoint now treats an owed cut like a queued one",
	2041601878:          "harness (the lost_sync round, thirty-second session): the round sized R1's checkpoint files before the crash that reboots it, and the crash cut one to less than a sector; drawing a sector of it panicked. It sizes them after the crash now",
	2044200178:          "harness (thirty-third session, on main): the checkpoint_crash round crashed R2 and restarted it in the same tick; its recovery replayed ops 705-768 before the next inspection told the checkers of the crash, so canonical_commit read execution going back. The swarm now tells the checkers of a crash when it sees the first event of the next incarnation",
	2044400509:          "harness (thirty-third session, on main): R1's superblock write naming checkpoint 64 failed its sync with one copy of the pair landed; the engine, told it failed, rewrote checkpoint 64's file and crashed (crash.after_sync_error) before syncing it. Recovery stored the landed copy again and fell back to the format's state: checkpoint_monotonic took 64 for durable, the superblock checks held the re-stored copy to its torn file. Now a checkpoint whose file does not hold what the copy records is durable only if the replica reported it so, and a sync that stores a state again is not held to its checkpoint",
	2044400571:          "harness (the same class as 2044400509): checkpoint 384's superblock sync failed with one copy landed, the retry's rewrite of the file was torn by the crash, recovery fell back to 320",
	7590380379739322507: "harness (make soak, thirty-third session, on main): the malformed round's shots waited for their client, busy retrying until after the heal, and then took it for two requests' whole retry budgets: the only client was never served in the liveness window. A shot not sent by the latest moment whose retries end before the heal is dropped",
	2046200529:          "harness (the failover zombies' first draft, thirty-fourth session): a zombie of the lost region reported its old configuration's audit head to the Suite, which took it for the new configuration's and failed audit_chain. Zombies' audit heads are kept from the Suite",
	2046200582:          "harness (the same class as 2046200529)",
	2046200897:          "replica (found by clock_truth on main, thirty-fourth session): R1, alone in its configuration, was paused 39 s and resumed with its clock 26 s off; it added replica 2 and reported its clock synchronised until its next tick, a verdict of the lone membership. Adopting a configuration now sweeps the clock samples again",
	2047000373:          "harness (found by h88 on main, thirty-fifth session): a swarm that drew no fault kind took the nemesis's long pause (r0, primary, 31 s); resumed 29.8 s behind, it fired the replication-lag alert at once, and the fault-free check (no P1 alert in the whole run) failed it. A run with the long pause is not fault-free: only the post-heal alert check applies",
	3567225002287448255: "harness (make soak, thirty-fifth session, on main and on the session's start): the lasting_behind move crashed and restarted every replica and stepped their clocks 3 s after the heal; their 11 view changes fell in the storm rule's window, which the post-heal check clipped at the heal only, and ViewChangeStorm was still firing after the cluster converged. The move now starts the post-heal alert window again, as the pause round does",
	2042000048:          "replica (found by the stale-requests nemesis, thirty-second session): stale registers in one batch opened, evicted and reopened client 1's session in op 39, and the eviction, sent midway, named the session the client then held: it gave up a live session (client_sessions). Evictions are now told once the whole batch has run, and only of sessions the table no longer holds",
}

func TestSwarmCurrentRegressionSeeds(t *testing.T) {
	swarm, ok := Lookup("swarm")
	require.True(t, ok)
	for _, seed := range sortedKeysOf(currentRegressionSeeds) {
		if CheckSeed(t, swarm, Options{Seed: seed}).Outcome != Pass {
			t.Errorf("seed %d once found: %s", seed, currentRegressionSeeds[seed])
		}
	}
}

func TestSwarmRegressionSeeds(t *testing.T) {
	swarm, ok := Lookup("swarm")
	require.True(t, ok)
	// Every seed here was found before node.knobs, which it runs without.
	beforeKnobs := []faults.Kind{faults.NodeKnobs}
	for _, seed := range sortedKeysOf(swarmRegressionSeeds) {
		old := SwarmOverride{Without: append(faults.AimedKinds(), beforeKnobs...), NoStandbys: true, NoReconfig: true} // as the seed ran when found
		if CheckSeed(t, swarm, Options{Seed: seed, SwarmOverride: old}).Outcome != Pass {
			t.Errorf("seed %d once found: %s", seed, swarmRegressionSeeds[seed])
		}
	}
	for _, seed := range sortedKeysOf(aimedRegressionSeeds) {
		if CheckSeed(t, swarm, Options{Seed: seed, SwarmOverride: SwarmOverride{Without: beforeKnobs, NoStandbys: true, NoReconfig: true}}).Outcome != Pass {
			t.Errorf("seed %d once found: %s", seed, aimedRegressionSeeds[seed])
		}
	}
	for _, seed := range sortedKeysOf(reconfigRegressionSeeds) {
		if CheckSeed(t, swarm, Options{Seed: seed, SwarmOverride: SwarmOverride{Without: beforeKnobs}}).Outcome != Pass {
			t.Errorf("seed %d once found: %s", seed, reconfigRegressionSeeds[seed])
		}
	}
	for _, seed := range sortedKeysOf(standbyRegressionSeeds) {
		if CheckSeed(t, swarm, Options{Seed: seed, SwarmOverride: SwarmOverride{Without: beforeKnobs, NoReconfig: true}}).Outcome != Pass {
			t.Errorf("seed %d once found: %s", seed, standbyRegressionSeeds[seed])
		}
	}
}

func sortedKeysOf(m map[uint64]string) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// uncheckedRegressionSeeds failed only with the checkers off (vopr run --unchecked, the
// benchmark's checkers_off row).
var uncheckedRegressionSeeds = map[uint64]string{
	6: "harness: a DR failover compared the acknowledged ops the clients saw above the promotion point with the checkers' count, which an unchecked run never fed (make bench failed)",
}

func TestSwarmUncheckedRegressionSeeds(t *testing.T) {
	swarm, ok := Lookup("swarm")
	require.True(t, ok)
	for _, seed := range sortedKeysOf(uncheckedRegressionSeeds) {
		if r := swarm.Run(Options{Seed: seed, Unchecked: true}); r.Outcome != Pass {
			t.Errorf("seed %d unchecked: %s: %s (once found: %s)", seed, r.Outcome, r.Reason, uncheckedRegressionSeeds[seed])
		}
	}
}
