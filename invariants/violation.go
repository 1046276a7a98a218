package invariants

import (
	"fmt"

	"vopr/cluster/checksum"
)

// tickNs is the simulator's tick (sim.TickInterval): violations name the tick of their time
// as well as the time, to match trace lines.
const tickNs = 10_000_000

// Violation is a broken invariant.
type Violation struct {
	Checker string
	Replica int // -1 if no single replica is at fault
	Op      uint64
	View    uint32
	AtNs    int64 // virtual time of the observation that broke the invariant
	Message string
}

// Error names the checker, the replica, op, view and time, then says what went wrong.
func (v *Violation) Error() string {
	replica := "no replica"
	if v.Replica >= 0 {
		replica = fmt.Sprintf("replica %d", v.Replica)
	}
	return fmt.Sprintf("invariant %s violated: %s, op %d, view %d, at %s (tick %d): %s",
		v.Checker, replica, v.Op, v.View, formatNs(v.AtNs), v.AtNs/tickNs, v.Message)
}

func violation(checker string, replica int, op uint64, view uint32, atNs int64, format string, args ...any) *Violation {
	return &Violation{Checker: checker, Replica: replica, Op: op, View: view, AtNs: atNs,
		Message: fmt.Sprintf(format, args...)}
}

// formatNs prints virtual time the way sim.Duration does ("1.250s", "3.500ms", "42ns").
func formatNs(ns int64) string {
	const ms, s = 1_000_000, 1_000_000_000
	abs := func(x int64) int64 { return max(x, -x) }
	switch {
	case ns >= s || ns <= -s:
		return fmt.Sprintf("%d.%03ds", ns/s, abs(ns%s)/ms)
	case ns >= ms || ns <= -ms:
		return fmt.Sprintf("%d.%03dms", ns/ms, abs(ns%ms)/1000)
	default:
		return fmt.Sprintf("%dns", ns)
	}
}

// short prints a checksum as its low word, as the trace does.
func short(sum checksum.Sum) string { return fmt.Sprintf("%016x", sum.Low64()) }
