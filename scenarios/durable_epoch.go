package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A log entry's configuration is durable before the entry. Every prepare is of a view of one
// configuration epoch (its header's Epoch: vsr/reconfig.go), and a replica's superblock names
// the epoch, with its membership, that the replica recovers into after a crash. A replica
// that made a log entry of epoch E durable while its superblock still held an older epoch
// would, after a crash, recover the older configuration over a log of the newer one: it
// takes part in the ended configuration (its quorums, its views) with ops the new one
// prepared, or replays a change it already went past. So, on the simulated disk's durable
// bytes (never the replica's belief), at every moment the harness looks:
//
//   - every intact log entry above the durable checkpoint of a running replica's disk is of
//     an epoch at most the epoch its newest intact superblock copy holds.
//
// The harness looks whenever a prepare is sent by its creator and whenever a vote is cast
// (durable_votes.go): a replica that writes a new epoch's entries ahead of its superblock
// does so while the cluster is preparing and voting in that epoch, so the rule is held at
// the moment of the act, without waiting for a crash to land in the window.
//
// Exceptions, each a state the replica did not make:
//
//   - a superblock copy the simulator damaged: recovery may read an older copy, of an older
//     epoch, which the replica cannot know of (log_view_durable covers what recovery reads);
//   - a crashed replica's disk: while it is down only an operator writes to it (a restore
//     from backup or a reformat to join, each in its own order, before the replica starts).
//     Unsynced writes a crash lands are not looked at either: they were issued while the
//     replica ran, and were held to the rule only if a sync completed before the crash;
//   - entries the simulator damaged, or that do not read intact (a torn append): recovery
//     cannot take them for a prepare of any epoch.
//
// Standbys are held to it like active replicas: they write the log too, and are what first
// showed the bug (swarm seed 2026205879). A replica that installs a newer epoch by state
// sync writes that epoch in its superblock before any entry of it (the sync installs the
// checkpoint; entries above come through the log, gated like any other). A promoted standby
// (failover) truncates its log above the kept prefix, of older epochs, before writing the
// new epoch.
//
// The check costs a lookup of each disk's superblock stamp per prepare or vote: only a disk
// whose durable superblock holds an epoch below the newest epoch seen in a header is read,
// and again only after its disk has changed.

// epochWatch is what the epoch rule remembers: the newest epoch seen and, per replica, the
// disk state it last found clean.
type epochWatch struct {
	newest uint32
	clean  []epochClean
	checks uint64 // lagging disks read
	// viewChangeAhead counts the do_view_changes and start_views sent before their epoch
	// was durable (durable_votes.go: held to their view alone).
	viewChangeAhead uint64
}

// epochClean marks a disk found clean: the same disk, operation count and superblock
// sequence need no second read.
type epochClean struct {
	disk     *sim.Disk
	writes   uint64
	sequence uint64
	epoch    uint32 // the newest epoch seen when it was found clean
}

// sawEpoch notes an epoch a prepare or vote header carries.
func (d *durableDisks) sawEpoch(epoch uint32) { d.epochs.newest = max(d.epochs.newest, epoch) }

// logReach bounds the ops above the checkpoint where entries are looked for: the log never
// spans more than a few windows above it (as durableDisks.image).
const logReach = 4 * vsr.LogSlotsMax

// entryAhead returns the first of entries (a segment's parse) above the superblock's
// checkpoint that reads intact and is of an epoch above the superblock's. faulty reports the
// entries the simulator damaged or the engine disowned, which recovery reads as no prepare.
func entryAhead(sb durableSuperblock, entries []parsedEntry, faulty func(parsedEntry) bool) (parsedEntry, bool) {
	for _, e := range entries {
		if e.op > sb.checkpointOp && e.intact && e.epoch > sb.epoch && (faulty == nil || !faulty(e)) {
			return e, true
		}
	}
	return parsedEntry{}, false
}

// checkLogEpochs holds every running replica's durable log to its durable superblock's
// epoch; it returns the first violation, "" if none.
func (d *durableDisks) checkLogEpochs() string {
	w := &d.epochs
	if w.newest == 0 {
		return "" // no reconfiguration or failover yet: every entry is of epoch 0
	}
	for len(w.clean) < len(d.superblocks) {
		w.clean = append(w.clean, epochClean{})
	}
	for i := range d.superblocks {
		if msg := d.checkLogEpoch(i); msg != "" {
			return msg
		}
	}
	return ""
}

// checkLogEpoch holds replica's durable log to its durable superblock's epoch.
func (d *durableDisks) checkLogEpoch(replica int) string {
	node := d.c.Nodes[replica]
	disk := node.Disk
	if disk == nil || node.Status() == sim.NodeCrashed {
		return "" // down: only an operator writes to its disk
	}
	sb := d.superblocks[replica].read(disk)
	if !sb.ok || sb.epoch >= d.epochs.newest {
		return "" // no entry can be of a newer epoch than any seen (or nothing recovers)
	}
	w := &d.epochs.clean[replica]
	writes := diskWrites(disk)
	if w.disk == disk && w.writes == writes && w.sequence == sb.sequence && w.epoch == d.epochs.newest {
		return "" // nothing changed since it was found clean
	}
	if len(disk.Altered("superblock", 0, superblockFileSize)) > 0 {
		return "" // the simulator damaged a copy: the epoch read may be an older copy's
	}
	d.epochs.checks++
	damaged := map[string][]int64{}
	for _, f := range disk.Faults() {
		damaged[f.Name] = append(damaged[f.Name], f.Offset)
	}
	cluster := d.c.ClusterID()
	for index := segmentOf(sb.checkpointOp + 1); index <= segmentOf(sb.checkpointOp+logReach); index++ {
		s := d.refresh(replica, index)
		if s == nil {
			continue
		}
		faults := damaged[s.name]
		e, ahead := entryAhead(sb, s.entries, func(e parsedEntry) bool {
			return faultIn(faults, e.offset, e.size) || s.disowned(e.op, cluster)
		})
		if ahead {
			return fmt.Sprintf("replica %d's disk durably holds op %d (prepare %016x) of epoch %d (view %d) at %s, but its superblock durably holds epoch %d (view %d, sequence %d): a crash would recover epoch %d over a log of epoch %d",
				replica, e.op, e.prepare.Low64(), e.epoch, e.view, d.c.Loop.Now(), sb.epoch, sb.view, sb.sequence, sb.epoch, e.epoch)
		}
	}
	*w = epochClean{disk: disk, writes: writes, sequence: sb.sequence, epoch: d.epochs.newest}
	return ""
}
