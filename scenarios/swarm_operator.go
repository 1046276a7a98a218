package scenarios

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// The operator's storage actions under the swarm's faults: in about half the seeds (drawn
// from the run's "swarm/operator" stream, so no other stream's draws move), the operator runs
// the runbook's `storage compact` or `storage export` (StorageCompact, StorageExport) on a
// member replica every one to three simulated seconds of the fault phase, one action at a
// time, and holds each to its documented contract (vsr/operator.go: operatorAdmit;
// operator_actions.go):
//
//   - the replica's state when the command is issued decides the answer. Its process down or
//     paused: ErrReplicaUnreachable. Recovering (its storage opening, its checkpoint lost and
//     awaiting a state sync, or joining) or stopped: refused with vsr.ErrNotServing. Normal
//     or view change: admitted. An admitted action is never ErrNotServing, nor
//     ErrOperatorBusy (ours is the only one in flight); it may fail with the disk's I/O error,
//     a full disk, or (an export) an entry awaiting repair or found damaged on reading it
//     back, or lose its process
//     (ErrReplicaUnreachable when it fail-stops during the call). An answer that never comes
//     because the replica crashed is forgotten when the checker sees its incarnation change.
//   - an export that succeeds is a backup the engine accepts and a copy of the committed
//     history: it is restored onto a scratch simulated disk (with its own event loop, as
//     storage verify's snapshot: the run's loop, disks and streams are untouched), opened
//     with nothing faulty, and its committed state is held to what the checkers saw
//     executed: the checkpoint at or below the highest op any replica executed, the
//     checkpoint's prepare and every entry at or below the commit number the canonical
//     prepare of its op, and the checkpoint's state machine of the digest the replicas
//     reported at that op (each where the checkers know it). The commit number itself is
//     not bounded by execution: a primary's may run ahead of every replica's execution.
//     It is also complete: it holds every prepare the replica's disk durably held above
//     its checkpoint as the export ran, up to the highest the replica had acknowledged
//     (export_complete.go): a replica restored from it forgets nothing it voted for.
//   - a compaction that succeeds must leave the replica's data intact: nothing exempts the
//     replica from the swarm's checkers (committed prefix, durability of acknowledged copies,
//     digest agreement) afterwards.
//
// The operator is one of the replica's callers like any other; the actions run in the
// fault phase only, and an answer that comes after it is not judged (the failover after the
// heal rewinds the history the export check reads).

const (
	// operatorGapMin and operatorGapSpread space the actions: one every 100 to 300 ticks
	// (1-3 s) of the fault phase.
	operatorGapMin    = 100
	operatorGapSpread = 201
	// operatorRestoreStepsMax bounds the scratch disk's event loop (a restore and an open
	// of a full backup take a few thousand steps).
	operatorRestoreStepsMax = 10_000_000
)

// operatorStanding is what a replica's state promises of an operator's storage action.
type operatorStanding int

const (
	standingUnreachable operatorStanding = iota // its process is down or paused
	standingNotServing                          // recovering or stopped: ErrNotServing
	standingServing                             // normal or view change: admitted
)

// swarmOperator is the run's operator: its draws, its action in flight and its counts.
type swarmOperator struct {
	r       *rand.Rand
	seed    uint64
	next    int             // the fault-phase tick of the next action
	pending *operatorAction // the action awaiting its answer, nil if none
	closed  bool            // the fault phase is over: answers are no longer judged
	scratch int             // scratch disks made, naming each one's stream
	counts  map[string]uint64
}

// operatorAction is one command in flight and, once it came, its answer.
type operatorAction struct {
	command  string
	export   bool
	replica  int
	proc     *vsr.Replica // the incarnation it was issued to (nil if unreachable)
	standing operatorStanding
	state    string // the replica's state when issued, for the report
	tick     int
	answered bool
	err      error
	freed    int64
	backup   []byte
	// held is what the replica's disk held when the export ran (heldCopies): the backup
	// must hold it (export_complete.go).
	held []heldCopy
}

// operatorCounters are reported even at zero.
var operatorCounters = []string{"coverage.operator.compact", "coverage.operator.export",
	"coverage.operator.export_restored", "coverage.operator.refused_recovering", "operator.refused_stopped",
	"operator.unreachable", "operator.failed", "operator.lost_at_crash", "operator.compacted_bytes",
	"operator.export_bytes", "operator.export_checked_ops", "operator.export_held_ops", "operator.unanswered"}

// newSwarmOperator draws whether the seed's operator acts; nil if not.
func newSwarmOperator(seed uint64) *swarmOperator {
	r := sim.Stream(seed, "swarm/operator")
	if r.IntN(2) == 0 {
		return nil
	}
	return &swarmOperator{r: r, seed: seed, next: operatorGapMin + r.IntN(operatorGapSpread),
		counts: map[string]uint64{"operator.runs": 1}}
}

// stepOperator runs one fault-phase tick of the operator (after the tick's inspection):
// judges an answer that came, forgets one its replica's crash lost, or issues the next
// action when its time has come.
func (run *swarmRun) stepOperator(tick int) {
	op := run.operator
	if op == nil {
		return
	}
	if a := op.pending; a != nil {
		switch {
		case a.answered:
			op.pending = nil
			if problem := run.judgeOperator(a); problem != "" && run.checked && run.broken == "" {
				run.broken = problem
			}
		case a.proc != nil && run.c.Replica(a.replica) != a.proc:
			op.pending = nil // its process crashed: the answer went with it
			op.counts["operator.lost_at_crash"]++
		default:
			return
		}
	}
	if tick < op.next {
		return
	}
	op.next = tick + operatorGapMin + op.r.IntN(operatorGapSpread)
	export := op.r.IntN(2) == 0
	focus := op.r.IntN(2) == 0
	replica, ok := run.operatorTarget(focus, op.r)
	if !ok {
		return
	}
	run.issueOperator(replica, export, tick)
}

// operatorTarget draws the replica of the next action among the members the checkers follow
// (not an outsider, nor a node whose disk is being replaced). With focus, it draws among the
// running ones that are recovering or stopped, if any: an operator acts on the replica in
// trouble, and that is where the admission rule has something to refuse.
func (run *swarmRun) operatorTarget(focus bool, r *rand.Rand) (int, bool) {
	c := run.c
	var members, troubled []int
	for i := 0; i < c.MemberCount(); i++ {
		if run.outsider(i) || i == run.storage.replacing {
			continue
		}
		members = append(members, i)
		if standing, _ := operatorStandingOf(c, i); standing == standingNotServing {
			troubled = append(troubled, i)
		}
	}
	if focus && len(troubled) > 0 {
		members = troubled
	}
	if len(members) == 0 {
		return 0, false
	}
	return members[r.IntN(len(members))], true
}

// operatorStandingOf reads what replica i's state promises of an action issued now, and
// says the state.
func operatorStandingOf(c *sim.Cluster, i int) (operatorStanding, string) {
	r := c.Replica(i)
	if r == nil || c.Nodes[i].Status() != sim.NodeUp {
		return standingUnreachable, c.Nodes[i].Status().String()
	}
	switch status := r.InspectState().Status; status {
	case vsr.StatusNormal, vsr.StatusViewChange:
		return standingServing, status.String()
	default:
		return standingNotServing, status.String()
	}
}

// issueOperator issues the action and records what the replica's state promises of it.
func (run *swarmRun) issueOperator(replica int, export bool, tick int) {
	c, op := run.c, run.operator
	standing, state := operatorStandingOf(c, replica)
	a := &operatorAction{export: export, replica: replica, standing: standing, state: state, tick: tick}
	if standing != standingUnreachable {
		a.proc = c.Replica(replica)
	}
	op.pending = a
	if export {
		a.command = fmt.Sprintf("storage export --replica-id %d", replica)
		logOperator(c, a.command, "issued (replica "+state+")")
		StorageExport(c, replica, func(b []byte, err error) {
			a.answered, a.backup, a.err = true, b, err
			if err == nil && !op.closed {
				a.held = run.heldCopies(replica) // the disk as the export read it: nothing ran since
			}
		})
	} else {
		a.command = fmt.Sprintf("storage compact --replica-id %d", replica)
		logOperator(c, a.command, "issued (replica "+state+")")
		StorageCompact(c, replica, func(freed int64, err error) { a.answered, a.freed, a.err = true, freed, err })
	}
}

// judgeOperator counts an answer and holds it to the contract; it returns the violation,
// if any.
func (run *swarmRun) judgeOperator(a *operatorAction) string {
	op := run.operator
	if op.closed {
		return ""
	}
	logOperator(run.c, a.command, answer(describeOperatorAnswer(a), a.err))
	switch {
	case a.standing == standingUnreachable:
		op.counts["operator.unreachable"]++
	case a.standing == standingNotServing && a.state == vsr.StatusRecovering.String():
		op.counts["coverage.operator.refused_recovering"]++
	case a.standing == standingNotServing:
		op.counts["operator.refused_stopped"]++
	case a.err != nil:
		op.counts["operator.failed"]++
	case a.export:
		op.counts["coverage.operator.export"]++
		op.counts["operator.export_bytes"] += uint64(len(a.backup))
	default:
		op.counts["coverage.operator.compact"]++
		op.counts["operator.compacted_bytes"] += uint64(a.freed)
	}
	if !run.checked {
		return ""
	}
	if problem := judgeOperatorAnswer(a.command, a.standing, a.state, a.err); problem != "" {
		return fmt.Sprintf("operator at tick %d: %s", a.tick, problem)
	}
	if !a.export || a.err != nil {
		return ""
	}
	op.scratch++
	loop, disk := scratchDisk(op.seed, op.scratch)
	checked, problem := checkExport(loop, disk, a.backup, a.replica, run.c.ClusterID(), run.suite, a.held)
	if problem != "" {
		return fmt.Sprintf("operator at tick %d: %s (issued to replica %s): the backup %s", a.tick, a.command,
			a.state, problem)
	}
	op.counts["coverage.operator.export_restored"]++
	op.counts["operator.export_checked_ops"] += checked
	op.counts["operator.export_held_ops"] += uint64(len(a.held))
	return ""
}

func describeOperatorAnswer(a *operatorAction) string {
	if a.export {
		return describeAnswer(a.backup)
	}
	return describeAnswer(a.freed)
}

// judgeOperatorAnswer holds a storage action's answer to what the replica's state when it
// was issued promised (standing; state says that state). It returns "" or the violation.
func judgeOperatorAnswer(command string, standing operatorStanding, state string, err error) string {
	switch standing {
	case standingUnreachable:
		if !errors.Is(err, ErrReplicaUnreachable) {
			return fmt.Sprintf("%s on a replica whose process was %s answered %v; want %v", command, state,
				errText(err), ErrReplicaUnreachable)
		}
	case standingNotServing:
		if !errors.Is(err, vsr.ErrNotServing) {
			return fmt.Sprintf("%s on a replica in status %s answered %v; want it refused with %q (a replica "+
				"that is recovering or stopped takes no storage action: its checkpoint may be lost, its log "+
				"not recovered yet, or it is outside the configuration)", command, state, errText(err), vsr.ErrNotServing)
		}
	case standingServing:
		switch {
		case err == nil:
		case errors.Is(err, vsr.ErrNotServing), errors.Is(err, vsr.ErrOperatorBusy):
			return fmt.Sprintf("%s on a replica in status %s answered %q; want it admitted (it is serving, "+
				"and no other operator action was in flight)", command, state, err)
		case errors.Is(err, ErrReplicaUnreachable), errors.Is(err, storage.ErrIO),
			errors.Is(err, storage.ErrNoSpace), errors.Is(err, storage.ErrFaulty),
			errors.Is(err, storage.ErrCorrupt), errors.Is(err, storage.ErrTooLarge):
			// The process fail-stopped during the call, or the faulty disk failed the action
			// (an export reads every entry back: one the disk no longer holds intact fails it).
		default:
			return fmt.Sprintf("%s on a replica in status %s failed with %q: not an error the action "+
				"documents (an I/O error, a full disk, an entry the disk damaged or awaiting repair)", command, state, err)
		}
	}
	return ""
}

// sumText prints a checksum as the checkers do (its low 64 bits in hex).
func sumText(sum checksum.Sum) string { return fmt.Sprintf("%016x", sum.Low64()) }

func errText(err error) string {
	if err == nil {
		return "success"
	}
	return strconv.Quote(err.Error())
}

// scratchDisk is a fresh simulated disk with its own event loop, for an export's restore.
func scratchDisk(seed uint64, n int) (*sim.Loop, *sim.Disk) {
	loop := sim.NewLoop()
	return loop, sim.NewDisk(loop, sim.Stream(seed, "swarm/operator/restore/"+strconv.Itoa(n)), sim.NewTrace(loop.Now), 0,
		sim.DiskOptions{ReadLatencyMin: sim.Microsecond, ReadLatencyMean: 2 * sim.Microsecond,
			WriteLatencyMin: sim.Microsecond, WriteLatencyMean: 2 * sim.Microsecond, Capacity: 1 << 30})
}

// committedHistory is what the checkers saw executed (invariants.Suite).
type committedHistory interface {
	CanonicalAt(op uint64) (checksum.Sum, bool)
	DigestAt(op uint64) (checksum.Sum, bool)
	HighestExecuted() uint64
}

// checkExport restores a backup of replica (of cluster) onto disk, an empty scratch disk
// whose event loop (loop) nobody else runs, opens it, and holds what it holds to the
// committed history, and to the copies the replica's disk held when the export ran (held:
// the backup is complete, export_complete.go). It returns how many ops it compared with the
// history, and "" or what is wrong.
func checkExport(loop *sim.Loop, disk *sim.Disk, backup []byte, replica int, cluster uint64, h committedHistory,
	held []heldCopy) (uint64, string) {
	if from, err := ops.BackupReplica(backup); err != nil || from != replica {
		return 0, fmt.Sprintf("names replica %d (%v), not the replica exported", from, err)
	}
	rec, problem := restoreBackup(loop, disk, backup)
	if problem != "" {
		return 0, problem
	}
	checked, problem := judgeRestored(rec, replica, cluster, h)
	if problem == "" {
		problem = backupMissing(held, rec.State.CheckpointOp, recoveredPrepares(rec, cluster))
	}
	return checked, problem
}

// restoreBackup restores a backup onto disk (storage.Restore: it verifies the backup whole
// first) and opens it, running loop; it returns the recovery or what went wrong.
func restoreBackup(loop *sim.Loop, disk *sim.Disk, backup []byte) (*storage.Recovery, string) {
	opts := vsr.StorageOptions(disk)
	var rec *storage.Recovery
	var err error
	finished := false
	storage.Restore(disk, opts, backup, func(e error) {
		if e != nil {
			err, finished = fmt.Errorf("does not restore: %w", e), true
			return
		}
		storage.Open(disk, opts, func(_ *storage.Storage, r *storage.Recovery, e error) {
			rec, finished = r, true
			if e != nil {
				err = fmt.Errorf("restored, does not open: %w", e)
			}
		})
	})
	for steps := 0; !finished && steps < operatorRestoreStepsMax && loop.Step(); steps++ {
	}
	switch {
	case !finished:
		return nil, "did not finish restoring and opening on a scratch disk"
	case err != nil:
		return nil, err.Error()
	}
	return rec, ""
}

// judgeRestored holds the recovery of a restored backup to the committed history.
func judgeRestored(rec *storage.Recovery, replica int, cluster uint64, h committedHistory) (uint64, string) {
	st := rec.State
	switch {
	case int(st.Replica) != replica || st.Cluster != cluster:
		return 0, fmt.Sprintf("restored names replica %d of cluster %x, want replica %d of cluster %x",
			st.Replica, st.Cluster, replica, cluster)
	case len(rec.Faulty) > 0 || rec.CheckpointLost || rec.CheckpointDamaged > 0:
		return 0, fmt.Sprintf("restored and opened with damage: faulty ops %v, checkpoint lost %t, damaged checkpoint %d",
			rec.Faulty, rec.CheckpointLost, rec.CheckpointDamaged)
	case st.CheckpointOp > h.HighestExecuted():
		// The checkpoint may lie above the persisted commit number: a state sync installs a
		// peer's checkpoint before the replica's next superblock write raises its commit
		// (swarm seed 2027800839: checkpoint 128, commit 120), and the checkpoint itself
		// proves its ops committed; only the entries above it are judged by the commit number.
		// Not the commit number: a primary commits an op once a quorum holds it, and its
		// execution may lag (catching up on ops it repairs) while no other replica has
		// heard of the commit yet (swarm seed 2027791946: commit 44, every replica
		// executed up to 43). A checkpoint is executed state.
		return 0, fmt.Sprintf("has a checkpoint of op %d, but no replica executed beyond op %d", st.CheckpointOp,
			h.HighestExecuted())
	}
	checked := uint64(0)
	if cp := st.CheckpointOp; cp > 0 {
		sum, digest, problem := decodeCheckpoint(rec.Snapshot, cp, cluster)
		if problem != "" {
			return 0, fmt.Sprintf("holds a checkpoint of op %d that %s", cp, problem)
		}
		if want, ok := h.CanonicalAt(cp); ok {
			checked++
			if sum != want {
				return 0, fmt.Sprintf("holds a checkpoint of op %d after prepare %s, but the canonical prepare of op %d is %s",
					cp, sumText(sum), cp, sumText(want))
			}
		}
		if want, ok := h.DigestAt(cp); ok && digest != want {
			return 0, fmt.Sprintf("holds a checkpoint of op %d whose state has digest %s, but the replicas reported digest %s there",
				cp, sumText(digest), sumText(want))
		}
	}
	for _, e := range rec.Entries {
		if e.Op <= st.CheckpointOp || e.Op > st.Commit {
			continue
		}
		head, err := vsr.DecodeHeader(e.Body[:min(len(e.Body), vsr.HeaderSize)], cluster)
		if err != nil || head.Op != e.Op || head.Command != vsr.CommandPrepare {
			return 0, fmt.Sprintf("holds at op %d (at or below its commit number %d) an entry that is not a prepare of that op (%v)",
				e.Op, st.Commit, err)
		}
		if want, ok := h.CanonicalAt(e.Op); ok {
			checked++
			if head.Checksum != want {
				return 0, fmt.Sprintf("holds prepare %s at op %d, at or below its commit number %d, but the canonical prepare of op %d is %s",
					sumText(head.Checksum), e.Op, st.Commit, e.Op, sumText(want))
			}
		}
	}
	return checked, ""
}

// decodeCheckpoint reads a checkpoint snapshot independently of the replica (replica_open.go
// snapshot; checkpoint_sessions.go): the header of the checkpoint's prepare, then the state
// machine's snapshot (u32 size, bytes). It returns the prepare's checksum and the state's
// digest, or what is wrong.
func decodeCheckpoint(snapshot []byte, op uint64, cluster uint64) (checksum.Sum, checksum.Sum, string) {
	if len(snapshot) < vsr.HeaderSize+4 {
		return checksum.Sum{}, checksum.Sum{}, "is too short to hold a snapshot"
	}
	head, err := vsr.DecodeHeader(snapshot[:vsr.HeaderSize], cluster)
	if err != nil || head.Op != op || head.Command != vsr.CommandPrepare {
		return checksum.Sum{}, checksum.Sum{}, fmt.Sprintf("does not begin with the header of its prepare (%v)", err)
	}
	b := snapshot[vsr.HeaderSize:]
	size := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	if size > uint64(len(b)-4) {
		return checksum.Sum{}, checksum.Sum{}, "holds a state machine snapshot longer than itself"
	}
	machine := kv.New()
	if err := machine.Restore(b[4 : 4+size]); err != nil {
		return checksum.Sum{}, checksum.Sum{}, fmt.Sprintf("holds a state machine snapshot that does not restore: %v", err)
	}
	return head.Checksum, machine.Digest(), ""
}

// closeOperator ends the operator's fault phase: an answer still to come is not judged.
func (run *swarmRun) closeOperator() {
	if op := run.operator; op != nil {
		op.closed = true
		if op.pending != nil {
			op.counts["operator.unanswered"]++
		}
	}
}

// counters adds the operator's counts to a result's counters (zero for a seed without one,
// so a batch shows what it never reached).
func (op *swarmOperator) counters(counters map[string]uint64) {
	for _, name := range operatorCounters {
		counters[name] = 0
	}
	if op == nil {
		return
	}
	for name, n := range op.counts {
		counters[name] = n
	}
}
