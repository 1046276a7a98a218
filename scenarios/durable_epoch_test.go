package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// The decision on its own: an intact entry above the durable checkpoint of an epoch newer
// than the superblock's is found; entries of the superblock's epoch or older, at or below
// its checkpoint, damaged or not intact are not.
func TestEntryAheadOfTheSuperblocksEpoch(t *testing.T) {
	sb := durableSuperblock{ok: true, epoch: 1, checkpointOp: 64}
	entry := func(op uint64, epoch uint32, intact bool) parsedEntry {
		return parsedEntry{op: op, epoch: epoch, view: 3, intact: intact, offset: int64(op) * 512, size: 512}
	}
	clean := []parsedEntry{entry(60, 2, true), entry(64, 2, true), entry(65, 0, true), entry(66, 1, true), entry(67, 2, false)}
	_, ahead := entryAhead(sb, clean, nil)
	require.False(t, ahead, "older or equal epochs, entries under the checkpoint and a torn entry pass")

	broken := append(clean, entry(68, 2, true))
	e, ahead := entryAhead(sb, broken, nil)
	require.True(t, ahead, "an intact entry of epoch 2 over a superblock of epoch 1")
	require.Equal(t, uint64(68), e.op)
	_, ahead = entryAhead(sb, broken, func(e parsedEntry) bool { return e.op == 68 })
	require.False(t, ahead, "an entry the simulator damaged reads as no prepare")
}

// On real disks: a cluster changes its configuration twice (a replica added, another
// removed) under load, with a standby, and every running replica's durable log is held to
// its durable superblock's epoch at every event; the check runs in the windows where a
// superblock lags the newest epoch, and never fires. Then a running replica's superblock is
// rolled back to its bytes of epoch 0, as if the superblock writes of the new epochs had
// been lost while its log of them was not: the log rule and the vote rule both fire, and a
// crash of that replica (its disk then only an operator's) silences the log rule.
func TestLogEntriesAreHeldToTheDurableEpoch(t *testing.T) {
	var disks *durableDisks
	var violations []string
	events := 0
	cc := newCheckedCluster(t, testOptions{replicas: 4, standbys: 1, clients: 2, seed: 5, mutate: func(o *sim.ClusterOptions) {
		o.Outside = 1 << 3
		inner := o.OnEvent
		o.OnEvent = func(e vsr.Event) {
			inner(e)
			if disks == nil {
				return
			}
			events++
			disks.sawEpoch(e.Epoch)
			if msg := disks.checkLogEpochs(); msg != "" {
				violations = append(violations, msg)
			}
		}
	}})
	disks = newDurableDisks(cc.Cluster)
	cc.commit(30)
	backup := 1
	before := cc.Nodes[backup].Disk.Durable("superblock")
	require.Equal(t, uint32(0), readSuperblock(before).epoch)

	cc.reconfigure(vsr.Change{Kind: vsr.ChangeAddReplica, Replica: 3}, 1)
	cc.reconfigure(vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: 0}, 2)
	cc.until(false, cc.quiet, ticks, "quiet")
	require.Positive(t, events)
	require.Empty(t, violations)
	require.Positive(t, disks.epochs.checks, "no superblock ever lagged the newest epoch when looked at")
	require.Empty(t, disks.checkLogEpochs())
	in := cc.inspect(backup)
	require.Equal(t, uint32(2), in.Epoch)
	vote := vsr.Header{Command: vsr.CommandPrepareOK, View: in.View, Epoch: in.Epoch, Outside: in.Outside}
	require.Empty(t, disks.checkVoteSent(backup, vote), "a vote in its durable configuration")

	// The broken history: the superblock of epoch 0 back on disk under a log of epochs 1 and 2.
	disk := cc.Nodes[backup].Disk
	written := false
	disk.WriteAt("superblock", before, 0, func(err error) {
		require.NoError(t, err)
		disk.Sync("superblock", func(err error) { require.NoError(t, err); written = true })
	})
	require.True(t, cc.RunUntil(func() bool { return written }, 1000))
	require.Equal(t, uint32(0), readSuperblock(disk.Durable("superblock")).epoch)
	msg := disks.checkLogEpochs()
	require.Contains(t, msg, "replica 1's disk durably holds op")
	require.Regexp(t, `of epoch [12] `, msg)
	require.Contains(t, msg, "but its superblock durably holds epoch 0")
	require.Contains(t, disks.checkVoteSent(backup, vote), "its superblock durably holds epoch 0")

	cc.CrashReplica(backup)
	require.Empty(t, disks.checkLogEpochs(), "a crashed replica's disk is an operator's")
}

// The harness's decoder reads the configuration the engine writes: the epoch, its
// membership and the log view's epoch (TestDurableSuperblockDecoder covers the rest).
func TestDurableSuperblockDecoderReadsTheConfiguration(t *testing.T) {
	d := newSuperblockDisk(t)
	state := d.s.State()
	state.View, state.LogView, state.Epoch, state.Outside, state.LogEpoch = 9, 8, 3, 1<<2|1<<5, 2
	d.do(func(done func(error)) { d.s.SaveState(state, done) })
	sb := readSuperblock(d.durableFile())
	require.True(t, sb.ok)
	require.Equal(t, uint32(3), sb.epoch)
	require.Equal(t, uint16(1<<2|1<<5), sb.outside)
	require.Equal(t, uint32(2), sb.logEpoch)
}

// The state the log rule is for, reached on purpose: a backup's superblock writes fail for a
// while from the moment it enters a new configuration (each sync of its superblock loses
// its writes), so that the new epoch's prepares reach it while its superblock still holds
// the old epoch. The DB holds those entries back until the epoch is durable (flushLog's
// epoch gate; the planted bug vsr.log_write_epoch_gate_on_wrong_field writes them, and this
// test then fails on the log rule); the rule, checked at every event, stays silent. Each
// failed superblock write costs the engine two failed syncs (it writes the current state
// back over the pair it failed on, and that sync fails too), hence 80 failures for the
// backup's 40 attempts.
func TestEntriesOfANewEpochWaitForAFailedSuperblockWrite(t *testing.T) {
	const backup, failures = 2, 80
	var disks *durableDisks
	var violations []string
	armed, failed := false, 0
	reached := false // the backup held a prepare of epoch 1 while its disk held epoch 0
	cc := newCheckedCluster(t, testOptions{replicas: 4, clients: 2, seed: 7, mutate: func(o *sim.ClusterOptions) {
		o.Outside = 1 << 3
		inner := o.OnEvent
		o.OnEvent = func(e vsr.Event) {
			inner(e)
			if disks == nil {
				return
			}
			if e.Replica == backup && e.Kind == vsr.EventStatus && e.Epoch == 1 && !armed {
				armed = true
				disks.c.Nodes[backup].Disk.ArmSyncError("superblock")
			}
			disks.sawEpoch(e.Epoch)
			if msg := disks.checkLogEpochs(); msg != "" {
				violations = append(violations, msg)
			}
		}
		o.OnCompletion = func(replica int, io sim.IOCompletion) {
			if replica != backup || io.Name != "superblock" || io.Op != sim.IOSync || io.Err == nil {
				return
			}
			if failed++; failed < failures {
				disks.c.Nodes[backup].Disk.ArmSyncError("superblock")
			}
		}
	}})
	disks = newDurableDisks(cc.Cluster)
	cc.commit(20)
	var err error
	for i := 0; i < ticks; i++ {
		if _, err = ClusterReconfigChange(cc.Cluster, vsr.Change{Kind: vsr.ChangeAddReplica, Replica: 3}); err == nil {
			break
		}
		cc.step()
	}
	require.NoError(t, err)
	cc.until(true, func() bool {
		if r := cc.Replica(backup); r != nil && !reached {
			in := r.TraceState()
			sb := readSuperblock(cc.Nodes[backup].Disk.Durable("superblock"))
			reached = in.Epoch == 1 && in.Status == vsr.StatusNormal && sb.ok && sb.epoch == 0 &&
				cc.holdsEpoch(backup, 1)
		}
		return failed >= failures
	}, ticks, "the backup's superblock syncs failed")
	cc.commit(30)
	cc.until(false, cc.quiet, ticks, "quiet")
	require.True(t, reached, "the backup never held a prepare of epoch 1 over a superblock of epoch 0")
	require.Empty(t, violations)
	require.Equal(t, uint32(1), readSuperblock(cc.Nodes[backup].Disk.Durable("superblock")).epoch)
}

// holdsEpoch reports whether replica's log holds a prepare of epoch above its checkpoint.
func (cc *checkedCluster) holdsEpoch(replica int, epoch uint32) bool {
	r := cc.Replica(replica)
	in := r.TraceState()
	for op := in.Checkpoint + 1; op <= in.Op; op++ {
		if h, ok := r.Header(op); ok && h.Epoch == epoch {
			return true
		}
	}
	return false
}
