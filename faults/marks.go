package faults

import "vopr/internal/coverage"

// The nemesis's coverage marks: each aimed move marks the shape it set out to create when it
// did create it (the action counts say only that the move was tried). A swarm reports every
// mark, zero included (coverage.mark.<name>), and the staging gate requires them over its
// batch. Adding a mark is one line here and a hit where the shape is reached.
var (
	MarkPrimaryIsolationSuffix = coverage.Declare("primary_isolation.suffix",
		"an isolated primary prepared ops while cut off from the other replicas: an uncommitted suffix")
	MarkPrimaryIsolationViewChange = coverage.Declare("primary_isolation.view_change",
		"the replicas without the isolated primary elected a new one in a later view")
	MarkPrimaryIsolationSecondViewChange = coverage.Declare("primary_isolation.second_view_change",
		"with the new primary cut off in turn, a later view started before the old primary had installed the new log")
	MarkCrashAtSuperblock = coverage.Declare("crash_at_io.superblock",
		"a replica crashed as a superblock write became durable, before it could issue the next log write")
	MarkCrashAfterStartView = coverage.Declare("crash_at_io.start_view",
		"a new primary crashed just after sending start_view")
	MarkCrashAfterCut = coverage.Declare("crash_at_io.after_cut",
		"a replica crashed a few I/O completions after cutting its log, before the cut and the new log view were all durable")
	MarkCrashInRecovery = coverage.Declare("crash_at_io.in_recovery",
		"a restarting replica crashed as one of its recovery's writes landed, before it had recovered")
	MarkCrashAfterCheckpoint = coverage.Declare("crash_at_io.checkpoint",
		"a replica crashed just after its checkpoint became durable")
	MarkCrashFirstPrepare = coverage.Declare("crash_at_io.first_prepare",
		"the primary of view 0 crashed just after sending the cluster's first prepare")
	MarkDiskCorrelatedTail = coverage.Declare("disk_correlated.tail",
		"several of the newest log entries of one replica were damaged at once")
	MarkDiskCorrelatedWhileDown = coverage.Declare("disk_correlated.while_down",
		"log entries of a replica were damaged while a replica holding a good copy of them was down")
	MarkDiskCorrelatedOnlyDownCopies = coverage.Declare("disk_correlated.only_down_copies",
		"an entry was damaged while every other replica holding a good copy of it was down")
	MarkDiskIdentityLoss = coverage.Declare("disk_identity_loss.damaged",
		"log entries of one replica were damaged together with their redundant records: their identity is lost")
	MarkDiskIdentityLossReboot = coverage.Declare("disk_identity_loss.reboot",
		"a replica was rebooted right after losing the identity of entries, so that its recovery met them")
	MarkPartitionRing = coverage.Declare("partition.ring",
		"the replicas were partitioned into a ring: each reached only its two neighbours")
	MarkPartitionBridge = coverage.Declare("partition.bridge",
		"the replicas were partitioned into two halves joined by one replica that reached both")
	MarkPrimaryIsolationIdentityLoss = coverage.Declare("primary_isolation.identity_loss",
		"a replica holding the new primary's log lost entries' identity as the old primary, with its divergent suffix, rejoined")
	MarkPrimaryIsolationMisdirectedRecord = coverage.Declare("primary_isolation.misdirected_record",
		"the old primary, rejoining with its divergent suffix, had a record write of the new log land elsewhere")
	MarkPrimaryIsolationMisdirectReboot = coverage.Declare("primary_isolation.misdirect_reboot",
		"the old primary rebooted just after a record write of the new log landed elsewhere")
	MarkCrashAfterCheckpointRot = coverage.Declare("crash_at_io.checkpoint_rot",
		"a replica crashed just after a checkpoint, and that checkpoint's file rotted before its restart")
	MarkUpgradeStraggler = coverage.Declare("upgrade.straggler",
		"the primary rebooted on the newest binary while the one replica left on an older binary was cut off")
	MarkPrimaryBehindPassed = coverage.Declare("primary_behind.passed",
		"the replicas without an isolated primary checkpointed above its op_number before it rejoined")
	MarkPrimaryBehindSuffix = coverage.Declare("primary_behind.suffix",
		"a primary left behind that way still held an uncommitted suffix of its own view as it rejoined")
	MarkPrimaryBehindStateSync = coverage.Declare("primary_behind.state_sync",
		"a primary left behind state-synced from the others after it rejoined")
	MarkSyncedCheckpointLost = coverage.Declare("synced_checkpoint.lost",
		"a checkpoint a replica had just installed by state sync was damaged on its disk")
	MarkSyncedCheckpointLostReboot = coverage.Declare("synced_checkpoint.reboot",
		"a replica was rebooted right after its synced checkpoint was damaged, so that its recovery met it")
	MarkLateCheckpointLost = coverage.Declare("late_checkpoint.lost",
		"shortly before the heal, every checkpoint file of a replica holding the newest checkpoint rotted, and it rebooted")
	MarkClockPrimaryStep   = coverage.Declare("clock_primary.step", "the current primary's clock was stepped")
	MarkClockPrimaryDrift  = coverage.Declare("clock_primary.drift", "the current primary's clock drift was changed")
	MarkClockPrimaryOffset = coverage.Declare("clock_primary.offset", "the current primary's clock was set off true time")
)
