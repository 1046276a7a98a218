package vsr

import (
	"math/rand/v2"

	"vopr/internal/assert"
)

// timeout counts ticks towards an action. It is started, stopped and reset by the handlers
// that own it and fired from Replica.Tick, never from elsewhere.
//
// Invariant: ticking only counts while running; fired() is true at most once per start.
type timeout struct {
	name     string
	after    int // ticks until it fires, before jitter
	jitter   int // extra random ticks in [0, jitter] drawn at each (re)start
	running  bool
	ticks    int
	deadline int
	attempts int // consecutive firings without a reset, for backoff
}

func (t *timeout) start(r *rand.Rand) {
	assert.That(t.after > 0, "timeout: no period")
	t.running = true
	t.ticks = 0
	t.attempts = 0
	t.deadline = t.after + jitterTicks(r, t.jitter)
}

func (t *timeout) stop() {
	t.running = false
	t.ticks = 0
	t.attempts = 0
}

// reset restarts the countdown without forgetting that the timeout is running: a heartbeat
// resets the election timeout.
func (t *timeout) reset(r *rand.Rand) {
	if !t.running {
		return
	}
	t.start(r)
}

// tick advances the countdown and reports whether it fired.
func (t *timeout) tick() bool {
	if !t.running {
		return false
	}
	t.ticks++
	if t.ticks < t.deadline {
		return false
	}
	assert.That(t.ticks == t.deadline, "timeout: overshot its deadline")
	return true
}

// again schedules the next firing after a fired timeout, backing off exponentially (up to 8x
// the period) so that a replica that keeps retrying against a dead peer does not flood it.
func (t *timeout) again(r *rand.Rand) {
	assert.That(t.running, "timeout: again while stopped")
	t.attempts++
	backoff := t.after << min(t.attempts, 3)
	t.ticks = 0
	t.deadline = backoff + jitterTicks(r, t.jitter)
}

func jitterTicks(r *rand.Rand, jitter int) int {
	if jitter <= 0 {
		return 0
	}
	return r.IntN(jitter + 1)
}

// runTimeouts makes exactly the given timeouts run (restarted from zero) and stops every
// other: each status and role has its own set (see the transitionTo functions).
func (r *Replica) runTimeouts(running ...*timeout) {
	for _, t := range r.timeouts() {
		t.stop()
	}
	for _, t := range running {
		t.start(r.rand)
	}
}

// timeouts lists every timeout of the replica, in the order Tick fires them.
func (r *Replica) timeouts() []*timeout {
	return []*timeout{&r.ping, &r.heartbeat, &r.election, &r.prepareResend, &r.repairTimeout,
		&r.viewChangeSend, &r.viewChangeLimit, &r.recoverTimeout}
}
