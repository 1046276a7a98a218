package scenarios

import (
	"fmt"
	"strings"

	"vopr/sim"
)

// Operators retry. A command whose answer timed out is issued again; a runbook step is run
// twice, by two people on call or by a person and the automation. So every command of the
// runbook must be idempotent: the same command twice leaves the outcome of once. In some runs
// the replication_lag operator issues each of its commands a second time (each retried or
// not by its own draw): `storage compact` again while the first is still queued behind the
// slow disk (the CLI gave up waiting, the replica did not), and `standby throttle`, `replica
// isolate` and `replica unisolate` again a few ticks after the first answered. The checks
// that follow each step are the ones a single command must pass, unchanged: a second isolate
// must leave a replica that, once unisolated, sends again and catches up; a second unisolate
// of a connected replica must change nothing. The draws come from their own stream.
type lagRetries struct {
	compact, throttle, isolate, unisolate bool
	gap                                   int // ticks between a command's answer and its retry
}

// rlRetryGapMax bounds the ticks before a retry: an operator who saw no answer, or a second
// operator who did not see the first's.
const rlRetryGapMax = 100

func drawLagRetries(seed uint64) lagRetries {
	r := sim.Stream(seed, "replication_lag/retry")
	return lagRetries{compact: r.IntN(2) == 0, throttle: r.IntN(2) == 0, isolate: r.IntN(2) == 0,
		unisolate: r.IntN(2) == 0, gap: r.IntN(rlRetryGapMax + 1)}
}

func (t lagRetries) String() string {
	var retried []string
	for _, c := range []struct {
		on   bool
		name string
	}{{t.compact, "compact"}, {t.throttle, "throttle"}, {t.isolate, "isolate"}, {t.unisolate, "unisolate"}} {
		if c.on {
			retried = append(retried, c.name)
		}
	}
	if len(retried) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s@%d", strings.Join(retried, "+"), t.gap)
}

// pause lets the retry's gap pass.
func (run *runbookRun) pause(ticks int) { run.until(func() bool { return false }, ticks) }

// lagCompactRetry starts the retried `storage compact` on replica i before the awaited one
// and returns the check of its answer, to call once the awaited one has answered: it must
// answer, without an error, within rlCompactBound.
func lagCompactRetry(run *runbookRun, i int) func() (Outcome, string) {
	answered, start := false, run.ticks
	var err error
	StorageCompact(run.c, i, func(_ int64, e error) { answered, err = true, e })
	return func() (Outcome, string) {
		if !run.until(func() bool { return answered }, rlCompactBound) {
			return run.fail(Liveness, "retried storage compact on replica %d did not complete in %d ticks", i,
				run.ticks-start)
		}
		if err != nil {
			return run.fail(Correctness, "retried storage compact on replica %d: %v", i, err)
		}
		run.counts["retry.compact"]++
		return Pass, ""
	}
}
