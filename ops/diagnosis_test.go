package ops

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
)

// fakeConfigs is three replicas' configurations in memory, one of them down.
func fakeConfigs(cfgs []vsr.Config, up []bool) Configs {
	return Configs{Replicas: len(cfgs),
		Current: func(i int) (vsr.Config, bool) { return cfgs[i], up[i] },
		Set:     func(i int, cfg vsr.Config) error { cfgs[i] = cfg; return nil }}
}

func TestConfigSetValidatesEverywhereFirst(t *testing.T) {
	cfgs := []vsr.Config{vsr.DefaultConfig(), vsr.DefaultConfig(), vsr.DefaultConfig()}
	c := fakeConfigs(cfgs, []bool{true, false, true})
	changed, err := ConfigSet(c, KeyElectionTimeoutMs, "2001")
	require.NoError(t, err)
	require.Equal(t, []int{0, 2}, changed, "the replica that is down is not changed")
	values, err := ConfigGet(c, KeyElectionTimeoutMs)
	require.NoError(t, err)
	require.Equal(t, []int{2010, -1, 2010}, values, "rounded up to whole ticks; -1 where down")
	require.Equal(t, vsr.DefaultConfig(), cfgs[1])

	// Replica 2 alone would refuse: nothing changes anywhere.
	cfgs[2].ElectionTimeoutTicks = 20
	before := append([]vsr.Config(nil), cfgs...)
	_, err = ConfigSet(c, KeyHeartbeatIntervalMs, "150")
	require.Error(t, err)
	require.Equal(t, before, cfgs)
	_, err = ConfigSet(c, "no-such-key", "1")
	require.ErrorIs(t, err, ErrUnknownKey)
	_, err = ConfigGet(c, "no-such-key")
	require.ErrorIs(t, err, ErrUnknownKey)
	_, err = ConfigSet(c, KeyMaxBatchSize, "x")
	require.Error(t, err)
}

func TestClockOffsetDesyncBeyondTheUncertainty(t *testing.T) {
	const ms = int64(1_000_000)
	c := ReplicaClock{Replica: 1, RealtimeNs: 10_000 * ms, Synchronized: true, ClusterOffsetNs: -2 * ms}
	r := ClockOffsetOf(c, 9_400*ms, 0)
	require.Equal(t, ClockOffsetReport{Replica: 1, OffsetMs: 600, Synchronized: true, ClusterOffsetMs: -2, Desync: true}, r)
	require.False(t, ClockOffsetOf(c, 9_400*ms, 200*ms).Desync, "600 ms within 200 ms: maybe only 400 ms off")
	require.True(t, ClockOffsetOf(c, 10_501*ms, 0).Desync, "behind counts as well")
	require.False(t, ClockOffsetOf(c, 10_000*ms, 0).Desync)
}

func TestViewChangesMergeInTimeOrder(t *testing.T) {
	var a, b ViewChangeLog
	a.Observe(10, vsr.Event{Kind: vsr.EventStatus, Replica: 0, View: 1, Text: "view_change"})
	a.Observe(11, vsr.Event{Kind: vsr.EventCommit, Replica: 0, View: 1})
	a.Observe(30, vsr.Event{Kind: vsr.EventStatus, Replica: 0, View: 1, Text: "normal primary"})
	b.Observe(20, vsr.Event{Kind: vsr.EventStatus, Replica: 1, View: 1, Text: "view_change"})
	b.Observe(25, vsr.Event{Kind: vsr.EventStatus, Replica: 1, View: 1, Text: "stopped: disk"})
	b.Observe(5, vsr.Event{Kind: vsr.EventStatus, Replica: 1, View: 0, Text: "normal backup"})
	require.Len(t, b.Since(6), 1)
	r := ViewChangesOf(6, [][]ViewChange{a.Since(6), b.Since(6), nil}, []int{2})
	require.Equal(t, 2, r.Started)
	require.Equal(t, []uint32{1}, r.Views)
	require.Equal(t, []int{2}, r.Unreachable)
	var at []int64
	for _, c := range r.Changes {
		at = append(at, c.AtNs)
	}
	require.Equal(t, []int64{10, 20, 30}, at)
	for i := 0; i < viewChangeLogMax+5; i++ {
		a.Observe(int64(100+i), vsr.Event{Kind: vsr.EventStatus, Text: "view_change"})
	}
	require.Len(t, a.Since(0), viewChangeLogMax, "bounded: the newest kept")
	require.Equal(t, int64(100+5+viewChangeLogMax-1), a.Since(0)[viewChangeLogMax-1].AtNs)
}

func TestReplicationLagOf(t *testing.T) {
	st := func(i int, role string, commitMin, commit uint64) ReplicaStatusReport {
		return ReplicaStatusReport{Replica: i, Status: "normal", Role: role, CommitMin: commitMin, Commit: commit}
	}
	r := ReplicationLagOf([]ReplicaLag{{st(0, "primary", 100, 100), 0}, {st(1, "backup", 40, 90), 1200},
		{Unreachable(2), -1}, {st(3, "backup", 99, 100), 3}})
	require.Equal(t, uint64(100), r.Frontier)
	require.Equal(t, 1, r.Worst)
	require.Equal(t, ReplicaLagReport{Replica: 1, Status: "normal", Role: "backup", CommitMin: 40, LagOps: 60, LagMs: 1200}, r.Replicas[1])
	require.Equal(t, int64(-1), r.Replicas[0].LagMs)
	require.Equal(t, ReplicaLagReport{Replica: 2, Status: StatusUnreachable, LagMs: -1}, r.Replicas[2])
	caughtUp := ReplicationLagOf([]ReplicaLag{{st(0, "primary", 5, 5), 0}, {st(1, "backup", 5, 5), 0}})
	require.Equal(t, -1, caughtUp.Worst, "nobody is behind")
}

func TestStatusWatchLinesOnChange(t *testing.T) {
	var w StatusWatch
	s := ReplicaStatusReport{Replica: 2, Status: "recovering"}
	require.True(t, w.Changed(s))
	s.Op++
	require.False(t, w.Changed(s), "op moves with every request: no line")
	s.Status, s.Role = "normal", "backup"
	require.True(t, w.Changed(s))
	s.Isolated = true
	require.True(t, w.Changed(s))
}

// A backup of another replica is refused before the storage is touched.
func TestRestoreRefusesAnotherReplicasBackup(t *testing.T) {
	backup := make([]byte, storage.SectorSize+100)
	backup[storage.SectorSize+88] = 2
	from, err := BackupReplica(backup)
	require.NoError(t, err)
	require.Equal(t, 2, from)
	wiped, called := false, false
	Restore(nil, func() error { wiped = true; return nil }, backup, 1, 7, -1, func(_ uint64, err error) {
		called = true
		require.ErrorIs(t, err, ErrWrongReplica)
	})
	require.True(t, called)
	require.False(t, wiped)
	_, err = BackupReplica(backup[:100])
	require.True(t, errors.Is(err, storage.ErrBackup))
}
