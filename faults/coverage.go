package faults

import (
	"vopr/cluster/vsr"
	"vopr/internal/assert"
	"vopr/sim"
)

// KindHits counts, for every fault kind, how often it struck in a run of swarm s on cluster
// c with nemesis n (nil if the run had none): from the network's and disks' own counters,
// the nemesis's actions and the clocks the swarm set. Every kind of AllKinds has an entry, so
// a batch summary can list the kinds never reached. Hits are events, whatever the swarm
// switched on (a full path at the default capacity drops packets too), except for
// disk.latency, a setting, which counts the disk operations it slowed when on.
func KindHits(s Swarm, c *sim.Cluster, n *Nemesis) map[Kind]uint64 {
	assert.That(c.ReplicaCount() == s.Replicas, "coverage: cluster of another size")
	ns := c.Network.Stats()
	var ds sim.DiskStats
	for i := 0; i < s.Replicas; i++ {
		st := c.Nodes[i].Disk.Stats()
		ds.Reads += st.Reads
		ds.Writes += st.Writes
		ds.ReadCorruptions += st.ReadCorruptions
		ds.WriteCorruptions += st.WriteCorruptions
		ds.Misdirects += st.Misdirects
		ds.WriteErrors += st.WriteErrors
		ds.SyncErrors += st.SyncErrors
		ds.LatentSectorErrors += st.LatentSectorErrors
		ds.CrashTorn += st.CrashTorn
		ds.CrashLost += st.CrashLost
	}
	var actions map[string]uint64
	if n != nil {
		actions = n.Counts()
	}
	var offsets, drifts, periodics uint64
	for _, clock := range s.Clocks {
		offsets += boolCount(clock.OffsetNs != 0)
		drifts += boolCount(clock.DriftPPM != 0)
		periodics += boolCount(clock.PeriodicErrorNs != 0)
	}
	hits := map[Kind]uint64{
		NetworkLoss:       ns.Lost,
		NetworkReplay:     ns.Replayed,
		NetworkReorder:    ns.Reordered,
		NetworkCorruption: ns.Corrupted,
		NetworkCapacity:   ns.DroppedCapacity,
		NetworkClog:       ns.Clogs - n.divergentClogs(),
		// The aimed moves' partitions are their own kinds' hits (one Partition each).
		NetworkPartition: ns.Partitions - actions[ActionPrimaryIsolate] - actions[ActionPrimaryNext] -
			actions[ActionRing] - actions[ActionBridge] - actions[ActionDivergent] - actions[ActionDivergentClash],
		DiskLatency:             ds.Reads + ds.Writes,
		DiskReadCorruption:      ds.ReadCorruptions,
		DiskWriteCorruption:     ds.WriteCorruptions,
		DiskMisdirect:           ds.Misdirects,
		DiskWriteError:          ds.WriteErrors,
		DiskSyncError:           ds.SyncErrors,
		DiskLatentSectorError:   ds.LatentSectorErrors,
		DiskCrashTorn:           ds.CrashTorn,
		DiskCrashLost:           ds.CrashLost,
		DiskSlow:                actions[ActionDiskSlow],
		DiskCorruption:          actions[ActionDiskCorrupt],
		DiskFull:                actions[ActionDiskFill],
		ClockOffset:             offsets,
		ClockDrift:              drifts + actions[ActionClockDrift],
		ClockStep:               actions[ActionClockStep],
		ClockPeriodic:           periodics + actions[ActionClockPeriodic],
		NodeCrash:               actions[ActionCrash],
		NodePause:               actions[ActionPause] + actions[ActionLongPause],
		NodeUpgrade:             actions[ActionUpgrade],
		NetworkPrimaryIsolation: actions[ActionPrimaryIsolate] + actions[ActionPrimaryBehind] + actions[ActionDivergent],
		NetworkRingBridge:       actions[ActionRing] + actions[ActionBridge],
		NodeCrashAtIO: actions[ActionCrashSuperblock] + actions[ActionCrashStartView] +
			actions[ActionCrashCheckpoint] + actions[ActionCrashAfterCut] +
			actions[ActionCrashInRecovery] + actions[ActionCrashDivergent],
		DiskCorrelated: actions[ActionDiskCorruptTail] + actions[ActionDiskCorruptWhileDown] +
			actions[ActionDiskCorruptIdentity] + actions[ActionDiskCorruptSyncedCheckpoint] +
			actions[ActionDiskCorruptDivergent],
		ClockPrimary: actions[ActionClockPrimaryStep] + actions[ActionClockPrimaryDrift] +
			actions[ActionClockPrimaryOffset],
		// A setting, like disk.latency: the replicas' boots that ran with the drawn knobs.
		NodeKnobs: boolCount(s.Config != vsr.Config{}) * (uint64(s.Replicas+s.Standbys) + c.Restarts()),
	}
	if !s.Enabled(DiskLatency) {
		hits[DiskLatency] = 0 // a setting, not an event: it strikes every operation when on
	}
	assert.That(len(hits) == len(kindDescriptions), "coverage: a kind without a counter")
	return hits
}

func boolCount(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
