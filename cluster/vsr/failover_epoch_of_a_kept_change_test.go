package vsr

// Regression tests from a code review of the replica's less-travelled paths (the h42 helper):
// a DR failover after a reconfiguration. The swarm draws a failover or a reconfiguring
// nemesis, never both (faults.Swarm), so these paths only meet here.

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/internal/assert"
)

// failoverChain returns prepares 1..n of view 1 (led by replica 1), epoch 0, hash-chained:
// registrations, but op change, which is a reconfiguration of epoch 0 to epoch 1 with
// membership outside (its header marked, as primaryPrepareBatch marks it).
func failoverChain(t *testing.T, n, change uint64, outside uint16) []Message {
	t.Helper()
	chain := []Message{{}}
	parent := checksum.Sum{}
	for op := uint64(1); op <= n; op++ {
		h := Header{Command: CommandPrepare, Cluster: reviewCluster, Op: op, Parent: parent, View: 1, Replica: 1,
			Release: kv.ReleaseBase, Timestamp: int64(op)}
		body := reviewBatch(op)
		if op == change {
			payload := binary.LittleEndian.AppendUint32(nil, 1)
			payload = binary.LittleEndian.AppendUint16(payload, outside)
			body = appendBatch(nil, []batchEntry{{Operation: OperationReconfigure, Payload: payload}})
			h.Operation = OperationReconfigure
		}
		m, err := Decode(Encode(h, body), reviewCluster)
		require.NoError(t, err)
		chain = append(chain, m)
		parent = m.Header.Checksum
	}
	return chain
}

// failoverStandby formats standby 100 (index 3 of 3 active replicas and 1 standby) with
// superblock state and prepares[1..] in its log, and opens it as a restart does.
func failoverStandby(t *testing.T, state storage.State, prepares []Message) (*Replica, *testFS) {
	t.Helper()
	fs := newTestFS()
	opts := StorageOptions(fs)
	require.NoError(t, fs.do(func(done func(error)) { storage.Format(fs, opts, state, done) }))
	s, _ := fs.open(t, opts)
	for o := uint64(1); o < uint64(len(prepares)); o++ {
		require.NoError(t, fs.do(func(done func(error)) { s.Append(storage.Entry{Op: o, Body: prepares[o].Bytes}, done) }))
	}
	r := Open(Options{Cluster: reviewCluster, ReplicaCount: 3, StandbyCount: 1, Replica: 3, Release: kv.ReleaseBase,
		FS: fs, Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(1, 2))})
	fs.drain()
	return r, fs
}

// promoteAndRestart promotes standby r (vsr.Replica.Promote) and opens its disk as replica 0
// of 1, as the operator restarts its process after a failover; it returns the report, the
// new replica and the assertion that stopped it, if one did.
func promoteAndRestart(t *testing.T, r *Replica, fs *testFS) (PromoteReport, *Replica, string) {
	t.Helper()
	var report PromoteReport
	var err error
	fired := false
	r.Promote(func(rep PromoteReport, e error) { report, err, fired = rep, e, true })
	fs.drain()
	require.True(t, fired, "the promotion never completed")
	require.NoError(t, err, "cluster failover --promote-standby 100 refused")
	var promoted *Replica
	failure := func() (failure string) {
		defer func() {
			if p := recover(); p != nil {
				f, ok := assert.AsFailure(p)
				if !ok {
					panic(p)
				}
				failure = f.Message
			}
		}()
		promoted = Open(Options{Cluster: reviewCluster, ReplicaCount: 1, Replica: 0, Release: kv.ReleaseBase, FS: fs,
			Bus: &reviewBus{t: t}, Clock: reviewClock{}, Rand: rand.New(rand.NewPCG(3, 4))})
		fs.drain()
		return ""
	}()
	return report, promoted, failure
}

// TestFailoverEpochIsAboveAKeptChange: Promote gave the new configuration the standby's
// durable epoch plus one, whatever its log held. A committed change of that epoch which the
// standby had not entered durably (it executes it on replay, in order, after the promotion)
// names the failover's epoch with another membership: replaying it, the promoted replica hits
// "executed a change that disagrees with its epoch" and fail-stops, at every restart. The DR
// region's only replica never starts; the operator has nothing left but a backup.
//
// How the standby's disk got there, with no fault but crashes: the operator removed replica
// 2 (op 40, epoch 0 -> 1). Standby 100 heard commit 40 and wrote it to its superblock (the
// commit moved past persistState's slack), executed op 40, and switched to epoch 1 on its
// next tick; the crash came before the superblock write of epoch 1 landed. Restarted, it is a
// normal backup of view 1, epoch 0, with commit 40 known and nothing executed past its
// checkpoint (a standby executes only when it hears from a primary), and the active region is
// lost before it hears from it. The failover promotes it: op 40 is in its committed prefix.
//
// The failover's epoch must be above every epoch the kept log names, the target of a kept
// change included: replayed, that change is then one of an older configuration, as it is for
// any replica that heard of the new epoch before executing the change.
func TestFailoverEpochIsAboveAKeptChange(t *testing.T) {
	const change = 40
	chain := failoverChain(t, change, change, 1<<2)
	r, fs := failoverStandby(t, storage.State{Cluster: reviewCluster, Replica: 3, ReplicaCount: 3, StandbyCount: 1,
		View: 1, LogView: 1, Commit: change, Boots: 1}, chain)
	require.Equal(t, StatusNormal, r.status, "a restarted standby resumes as a follower of its view")
	require.Equal(t, uint32(0), r.epoch)
	require.Equal(t, uint64(0), r.commitMin, "nothing executed: no primary was heard from")
	require.Equal(t, uint64(change), r.commitMax)

	report, promoted, failure := promoteAndRestart(t, r, fs)
	require.Equal(t, uint64(change), report.Op, "the committed prefix the standby held")
	require.Empty(t, failure, "the promoted replica fail-stopped replaying the committed change (failover epoch %d)", report.Epoch)
	require.Greater(t, report.Epoch, uint32(1), "the failover's epoch is the kept change's")
	in := promoted.InspectState()
	require.Equal(t, StatusNormal, in.Status)
	require.Equal(t, RolePrimary, in.Role)
	require.Equal(t, report.Epoch, in.Epoch)
	require.Equal(t, uint64(change), in.CommitMin, "the promoted replica executed its committed prefix")
	require.Equal(t, 1, activeCountOf(1, in.Outside), "the new configuration is the promoted replica alone: %s",
		fmt.Sprintf("%016b", in.Outside))
}
