package faults

import (
	"fmt"

	"vopr/internal/coverage"
	"vopr/sim"
)

// countdown is a crash armed for one replica's k-th counted I/O completion (the crash after a
// cut, the crash during recovery).
//
// Invariants: replica >= 0 iff armed; then left > 0.
type countdown struct {
	replica int
	left    int
}

// disarmed is a countdown armed for nobody.
var disarmed = countdown{replica: -1}

// tick counts one completion of replica and reports whether it is the one to crash at,
// disarming the countdown then.
func (d *countdown) tick(replica int) bool {
	if d.replica < 0 || d.replica != replica {
		return false
	}
	if d.left--; d.left > 0 {
		return false
	}
	*d = disarmed
	return true
}

// crashAtCompletion crashes replica as io completes (the caller returns true to the
// completion hook), recorded as action with why and marked, unless its node is no longer up.
func (n *Nemesis) crashAtCompletion(c *sim.Cluster, replica int, io sim.IOCompletion, action, why string, mark coverage.Mark) bool {
	if c.Nodes[replica].Status() != sim.NodeUp {
		return false
	}
	n.record(c, replica, action, fmt.Sprintf("as the %s of %s completed, %s", io.Op, io.Name, why))
	n.hits.Hit(mark)
	return true
}
