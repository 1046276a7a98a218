package scenarios

import (
	"fmt"

	"vopr/faults"
	"vopr/internal/assert"
)

// Shrinking a failing swarm seed (vopr shrink). The search is greedy over the parameters the
// seed draws, through SwarmOverride: the seed never changes, so every run is the seed's own
// world with less in it, and the result replays with the same seed and override flags. It
// keeps a change when the run still fails with the same FailureSignature. The steps below run
// in rounds, since a change can make another possible (a shorter fault phase or fewer
// replicas can make a kind removable); each step ends where it can make nothing smaller by
// itself, so a later round runs again only the steps that some other step's change has come
// after, and the search ends when a round has none to run:
//
//  1. fault kinds: first all of them at once (a bug that needs no fault is found in one
//     run), then each kind that is on, one at a time, in name order, passes repeated until
//     a pass removes none;
//  2. the fault phase: bisection between the longest length known to lose the failure (0
//     at first) and the shortest known to keep it, down to one tick;
//  3. clients: the same bisection, down to one client;
//  4. replicas: each smaller count, smallest first; the first that keeps the failure wins;
//  5. standbys: the seed's standbys (and their failover) dropped, if it draws any.
//  6. reconfig: the reconfiguring nemesis dropped, if the seed draws it.
//
// Each run is deterministic, so a kept configuration is known to fail: the last kept run is
// the result, and replaying its override reproduces it exactly. The search is bounded by a
// number of runs and by Stop (the caller's wall-time budget: nothing here reads a clock).

// ShrinkLimits bound a shrink.
type ShrinkLimits struct {
	// Attempts is the most runs after the seed's own.
	Attempts int
	// Stop, if set, is asked before each run; true ends the search (a wall-time budget).
	Stop func() bool
}

// ShrinkAttempt is one run of the search.
type ShrinkAttempt struct {
	N        int    // 1-based
	Round    int    // 1-based: a round tries every step once
	Tried    string // what changed, such as "without network.loss" or "fault ticks 750"
	Override SwarmOverride
	Result   Result
	Kept     bool
}

// Shrunk is the outcome of a shrink.
type Shrunk struct {
	// Seed is the seed's own run; if it passed there was nothing to shrink and the rest is
	// its zero value.
	Seed Result
	// Signature is the failure every kept run shares.
	Signature string
	// Override is the smallest failing configuration found; Result its run.
	Override SwarmOverride
	Result   Result
	// Before and After are the configurations of the seed and of the result.
	Before, After ShrinkShape
	Attempts      int
	// Bound says which limit ended the search early ("" if it ran to its end).
	Bound string
}

// ShrinkShape is what the shrinker makes smaller.
type ShrinkShape struct {
	Kinds                                   []faults.Kind
	FaultTicks, Clients, Replicas, Standbys int
}

// shrinker is the state of one search.
type shrinker struct {
	run      func(Options) Result
	base     Options
	limits   ShrinkLimits
	report   func(ShrinkAttempt)
	sig      string
	cur      SwarmOverride
	last     Result
	attempts int
	rounds   int
	kept     int   // changes kept so far
	seen     []int // per step: kept when the step last ran; -1, never ran
	bound    string
}

// Shrink runs the seed of base through run (the swarm scenario's Run, or a test's wrapper of
// it), and if it fails, searches for a smaller configuration that fails the same way,
// calling report after each run. base.SwarmOverride is where the search starts.
func Shrink(run func(Options) Result, base Options, limits ShrinkLimits, report func(ShrinkAttempt)) (Shrunk, error) {
	if _, err := SwarmDraw(base.Seed, base.SwarmOverride); err != nil {
		return Shrunk{}, err
	}
	s := &shrinker{run: run, base: base, limits: limits, report: report, cur: base.SwarmOverride}
	first := run(base)
	out := Shrunk{Seed: first}
	if first.Outcome == Pass {
		return out, nil
	}
	s.sig, s.last = FailureSignature(first), first
	out.Before = s.shape()
	s.seen = []int{-1, -1, -1, -1, -1, -1}
	for s.round() {
	}
	out.Signature, out.Override, out.Result = s.sig, s.cur, s.last
	out.After, out.Attempts, out.Bound = s.shape(), s.attempts, s.bound
	return out, nil
}

// round runs, in order, every step that has not run since the last change another step
// kept, and reports whether any ran: a step that ran since then is where it stopped.
func (s *shrinker) round() bool {
	s.rounds++
	ran := false
	for i, step := range []func() bool{s.kinds, s.faultTicks, s.clients, s.replicas, s.standbys, s.reconfig} {
		if s.seen[i] == s.kept || s.bound != "" {
			continue
		}
		ran = true
		step()
		s.seen[i] = s.kept
	}
	return ran && s.bound == ""
}

func (s *shrinker) swarm() faults.Swarm {
	sw, err := SwarmDraw(s.base.Seed, s.cur)
	assert.Thatf(err == nil, "shrink: a kept override no longer draws: %v", err) // it has run
	return sw
}

func (s *shrinker) shape() ShrinkShape {
	sw := s.swarm()
	o := s.base
	o.SwarmOverride = s.cur
	return ShrinkShape{Kinds: sw.Kinds, FaultTicks: SwarmFaultTicks(o), Clients: sw.Clients, Replicas: sw.Replicas,
		Standbys: sw.Standbys}
}

// try runs the seed under v and keeps v if the run fails the same way. Once a bound is hit,
// it runs nothing and keeps nothing.
func (s *shrinker) try(tried string, v SwarmOverride) bool {
	switch {
	case s.bound != "":
		return false
	case s.attempts >= s.limits.Attempts:
		s.bound = fmt.Sprintf("attempt limit (%d runs) reached", s.limits.Attempts)
		return false
	case s.limits.Stop != nil && s.limits.Stop():
		s.bound = "wall-time budget spent"
		return false
	}
	s.attempts++
	o := s.base
	o.SwarmOverride = v
	r := s.run(o)
	kept := r.Outcome != Pass && FailureSignature(r) == s.sig
	if kept {
		s.cur, s.last = v, r
		s.kept++
	}
	if s.report != nil {
		s.report(ShrinkAttempt{N: s.attempts, Round: s.rounds, Tried: tried, Override: v, Result: r, Kept: kept})
	}
	return kept
}

// kinds switches fault kinds off: all at once, then one at a time until none can go.
func (s *shrinker) kinds() bool {
	on := s.swarm().Kinds
	if len(on) > 1 && s.try(fmt.Sprintf("without all %d kinds", len(on)), s.cur.without(on...)) {
		return true
	}
	changed := false
	for removed := true; removed && s.bound == ""; {
		removed = false
		for _, k := range s.swarm().Kinds {
			// A kind already gone (switched off with the kind it needs) is not run again.
			if s.swarm().Enabled(k) && s.try("without "+string(k), s.cur.without(k)) {
				removed, changed = true, true
			}
		}
	}
	return changed
}

func (s *shrinker) faultTicks() bool {
	return s.bisect("fault ticks", s.shape().FaultTicks, func(n int) SwarmOverride {
		v := s.cur
		v.FaultTicks = n
		return v
	})
}

func (s *shrinker) clients() bool {
	return s.bisect("clients", s.shape().Clients, func(n int) SwarmOverride {
		v := s.cur
		v.Clients = n
		return v
	})
}

// bisect looks for the smallest value of a parameter, from hi (which fails) down to 1, that
// still fails the same way: between lo, the largest value known to lose the failure (0, none
// yet), and hi, the smallest known to keep it. The failure need not be monotonic in the
// value, so this finds a value whose next smaller one (as bisected) loses it, not
// necessarily the least.
func (s *shrinker) bisect(name string, hi int, with func(int) SwarmOverride) bool {
	lo, changed := 0, false
	for hi-lo > 1 && s.bound == "" {
		mid := lo + (hi-lo)/2
		if s.try(fmt.Sprintf("%s %d", name, mid), with(mid)) {
			hi, changed = mid, true
		} else {
			lo = mid
		}
	}
	return changed
}

// replicas tries each smaller replica count, smallest first.
func (s *shrinker) replicas() bool {
	current := s.swarm().Replicas
	for n := 1; n < current; n++ {
		v := s.cur
		v.Replicas = n
		if s.try(fmt.Sprintf("replicas %d", n), v) {
			return true
		}
	}
	return false
}

// standbys drops the standbys the seed draws (and with them a failover), when the failure
// does not need them.
func (s *shrinker) standbys() bool {
	if s.swarm().Standbys == 0 {
		return false
	}
	v := s.cur
	v.NoStandbys = true
	return s.try("without standbys", v)
}

// reconfig drops the reconfiguring nemesis, when the failure does not need it.
func (s *shrinker) reconfig() bool {
	if !s.swarm().Reconfig {
		return false
	}
	v := s.cur
	v.NoReconfig = true
	return s.try("without reconfiguration", v)
}
