package scenarios

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
)

// The contract check passes each documented answer and fires on every wrong one: an action
// admitted while the replica recovers (the planted vsr.operator_admits_recovering), a serving
// replica refused or busy, an unreachable replica that answered, an undocumented error.
func TestJudgeOperatorAnswer(t *testing.T) {
	const cmd = "storage export --replica-id 1"
	io := fmt.Errorf("%w: read log-0", storage.ErrIO)
	unreachable := fmt.Errorf("%w: replica 1 is crashed", ErrReplicaUnreachable)
	notServing := fmt.Errorf("replica 1: %w", vsr.ErrNotServing)
	for _, ok := range []struct {
		standing operatorStanding
		err      error
	}{
		{standingUnreachable, unreachable},
		{standingNotServing, notServing},
		{standingServing, nil},
		{standingServing, io},
		{standingServing, fmt.Errorf("%w: entry of op 3", storage.ErrCorrupt)},
		{standingServing, fmt.Errorf("%w: 1 faulty ops, the first 7", storage.ErrFaulty)},
		{standingServing, storage.ErrNoSpace},
		{standingServing, unreachable}, // fail-stopped during the call
	} {
		require.Empty(t, judgeOperatorAnswer(cmd, ok.standing, "x", ok.err), "%v %v", ok.standing, ok.err)
	}

	admitted := judgeOperatorAnswer(cmd, standingNotServing, "recovering", nil)
	require.Contains(t, admitted, cmd+" on a replica in status recovering answered success")
	require.Contains(t, admitted, "want it refused")
	require.NotEmpty(t, judgeOperatorAnswer(cmd, standingNotServing, "stopped", io))
	require.NotEmpty(t, judgeOperatorAnswer(cmd, standingNotServing, "recovering", unreachable))

	refused := judgeOperatorAnswer(cmd, standingServing, "normal", notServing)
	require.Contains(t, refused, "want it admitted")
	require.Contains(t, judgeOperatorAnswer(cmd, standingServing, "view_change", vsr.ErrOperatorBusy), "want it admitted")
	require.Contains(t, judgeOperatorAnswer(cmd, standingServing, "normal", errors.New("something else")),
		"not an error the action documents")

	require.Contains(t, judgeOperatorAnswer(cmd, standingUnreachable, "paused", nil), "whose process was paused answered success")
	require.NotEmpty(t, judgeOperatorAnswer(cmd, standingUnreachable, "crashed", notServing))
}

// lyingHistory is a committed history that lies about one op: its canonical prepare, its
// digest, or the highest op executed.
type lyingHistory struct {
	committedHistory
	op             uint64
	sum, digest    bool
	highestBelowBy uint64
}

func (l lyingHistory) CanonicalAt(op uint64) (checksum.Sum, bool) {
	sum, ok := l.committedHistory.CanonicalAt(op)
	if l.sum && op == l.op {
		sum[0] ^= 1
		ok = true
	}
	return sum, ok
}

func (l lyingHistory) DigestAt(op uint64) (checksum.Sum, bool) {
	d, ok := l.committedHistory.DigestAt(op)
	if l.digest && op == l.op {
		d[0] ^= 1
		ok = true
	}
	return d, ok
}

func (l lyingHistory) HighestExecuted() uint64 {
	return l.committedHistory.HighestExecuted() - l.highestBelowBy
}

// The export check restores a real backup taken under load and finds it a prefix of the
// committed history the checkers saw; it fires on a backup that does not restore or names
// another replica, on one that opens damaged, and on a history that disagrees with it at the
// checkpoint (prepare or state digest), at an entry under the commit number, or that never
// executed up to its checkpoint.
func TestCheckExport(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 2, seed: 31})
	op := cc.operator()
	cc.commit(150)
	const victim = 1
	cc.load = true // exported while the replica appends
	backup, err := op.Export(victim)
	cc.load = false
	require.NoError(t, err)

	check := func(b []byte, replica int, h committedHistory) (uint64, string) {
		loop, disk := scratchDisk(1, 1)
		return checkExport(loop, disk, b, replica, cc.ClusterID(), h, nil)
	}
	checked, problem := check(backup, victim, cc.suite)
	require.Empty(t, problem)
	require.Positive(t, checked)

	loop, disk := scratchDisk(1, 2)
	rec, problem := restoreBackup(loop, disk, backup)
	require.Empty(t, problem)
	st := rec.State
	require.Positive(t, st.CheckpointOp)
	require.Greater(t, st.Commit, st.CheckpointOp, "the test needs an entry under the commit number")
	_, ok := cc.suite.DigestAt(st.CheckpointOp)
	require.True(t, ok, "the checkers saw the checkpoint's digest")

	judge := func(h committedHistory) string {
		_, problem := judgeRestored(rec, victim, cc.ClusterID(), h)
		return problem
	}
	cp, entry := st.CheckpointOp, st.CheckpointOp+1
	require.Contains(t, judge(lyingHistory{committedHistory: cc.suite, op: cp, sum: true}),
		fmt.Sprintf("holds a checkpoint of op %d after prepare", cp))
	require.Contains(t, judge(lyingHistory{committedHistory: cc.suite, op: cp, digest: true}),
		"whose state has digest")
	require.Contains(t, judge(lyingHistory{committedHistory: cc.suite, op: entry, sum: true}),
		fmt.Sprintf("at op %d, at or below its commit number", entry))
	require.Contains(t, judge(lyingHistory{committedHistory: cc.suite,
		highestBelowBy: cc.suite.HighestExecuted() - cp + 1}), fmt.Sprintf("no replica executed beyond op %d", cp-1))
	require.Empty(t, judge(lyingHistory{committedHistory: cc.suite, highestBelowBy: cc.suite.HighestExecuted() - cp}),
		"a commit number above every replica's execution is a primary's that runs ahead")
	require.Empty(t, judge(lyingHistory{committedHistory: cc.suite, op: st.Commit + 1, sum: true}),
		"an entry above the commit number may be uncommitted")

	damaged := *rec
	damaged.Faulty = []uint64{entry}
	_, problem = judgeRestored(&damaged, victim, cc.ClusterID(), cc.suite)
	require.Contains(t, problem, "restored and opened with damage")
	_, problem = judgeRestored(rec, victim+1, cc.ClusterID(), cc.suite)
	require.Contains(t, problem, "restored names replica 1")

	flipped := append([]byte(nil), backup...)
	flipped[len(flipped)/2] ^= 0x40
	_, problem = check(flipped, victim, cc.suite)
	require.Contains(t, problem, "does not restore")
	_, problem = check(backup, victim+1, cc.suite)
	require.Contains(t, problem, "names replica 1")
	cc.finish()
}

// The swarm's operator acts in the seeds that draw it: compactions, exports restored and
// checked, refusals, each counted; a seed that does not draw it counts nothing.
func TestSwarmOperatorRuns(t *testing.T) {
	with, without := uint64(0), uint64(0)
	for seed := uint64(1); seed <= 20 && (with == 0 || without == 0); seed++ {
		switch drawn := newSwarmOperator(seed) != nil; {
		case drawn && with == 0:
			with = seed
		case !drawn && without == 0:
			without = seed
		}
	}
	require.Positive(t, with)
	require.Positive(t, without)
	r := runSwarm(Options{Seed: with})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["operator.runs"])
	require.Positive(t, r.Counters["coverage.operator.compact"]+r.Counters["coverage.operator.export"])
	require.Equal(t, r.Counters["coverage.operator.export"], r.Counters["coverage.operator.export_restored"])
	r = runSwarm(Options{Seed: without})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Zero(t, r.Counters["operator.runs"]+r.Counters["coverage.operator.compact"]+r.Counters["coverage.operator.export"])
}
