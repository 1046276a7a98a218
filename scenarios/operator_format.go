package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// A mistaken format. The runbook formats a disk only when it is new (a replaced disk, a node
// added), but an operator who types the wrong host, or a provisioning script run twice, runs
// `kimberlite format --join` against a disk that already holds a replica: the stopped
// victim's old disk before the hardware swap, or the new disk the format just wrote. The
// format must refuse (storage.ErrFormatted) and leave every file as it was: a format that
// writes over a replica's superblock silently resets its durable view, log view and epoch,
// the promises the protocol counts on. A disk that holds only a superblock (freshly formatted,
// no segment written yet) is a replica's disk as much as one with a log.
//
// ReplaceDisk runs the mistaken format on the old disk in a quarter of its replacements and on
// the new disk in half of them, from its own stream ("operator/mistaken_format/NODE/TIME").

// mistakenFormatOdds: one replacement in oldOneIn formats the old disk by mistake first, one
// in newOneIn the new disk again after its format.
const (
	mistakenFormatOldOneIn = 4
	mistakenFormatNewOneIn = 2
)

// mistakenFormat runs `format --join` for node against disk, which holds a replica, and calls
// done with the violation ("" when the format refused and the disk's files are unchanged).
func mistakenFormat(c *sim.Cluster, node int, disk *sim.Disk, done func(string)) {
	epoch, _ := c.Configuration()
	checkMistakenFormat(disk, func(formatted func(error)) {
		vsr.FormatJoin(disk, c.ClusterID(), node, c.ReplicaCount(), c.StandbyCount(), epoch, c.Release(node), formatted)
	}, done)
}

// checkMistakenFormat runs format against disk and holds it to the refusal: an
// storage.ErrFormatted error, every file's durable bytes as before.
func checkMistakenFormat(disk *sim.Disk, format func(func(error)), done func(string)) {
	names := disk.Names()
	before := make([][]byte, len(names))
	for i, name := range names {
		before[i] = disk.Durable(name)
	}
	format(func(err error) {
		if !errors.Is(err, storage.ErrFormatted) {
			done(fmt.Sprintf("a mistaken format of a disk holding a replica (files %v) was not refused: %v", names, err))
			return
		}
		if now := disk.Names(); !slices.Equal(now, names) {
			done(fmt.Sprintf("a refused format changed the disk's files from %v to %v", names, now))
			return
		}
		for i, name := range names {
			if !bytes.Equal(disk.Durable(name), before[i]) {
				done(fmt.Sprintf("a refused format changed the durable bytes of %s", name))
				return
			}
		}
		done("")
	})
}
