package scenarios

import (
	"slices"

	"vopr/faults"
)

// The damage of divergent_matrix and its report: the drawn sectors land on whichever entries
// of the divergent range r0's disk holds after the crash (its stale ones, the repair's
// rewrites, or both), found by scanning the durable image for their headers.

// divergentReached are the counters every run reports, zero when not reached, so that a
// campaign lists the paths it never took.
var divergentReached = []string{"crash_in_repair", "crash_after_converged", "damage", "damage.stale", "damage.new",
	"damage.none_found", "second_crash", "past_checkpoint", "far", "hold", "truncations", "repairs", "state_syncs",
	"checkpoint_crash", "rot", "rot.again", "rot.reinstalled", "rot.stale_on_disk", "rot.not_ready", "rot.installs.sync", "rot.installs.own",
	"rot.lost", "rot.fell_back"}

// placeDamage damages the drawn sectors of r0's disk, which is down.
func (run *divergentRun) placeDamage() {
	var placed []int64 // offsets of the entries damaged, with their segment in the high bits
	for _, d := range run.p.damage {
		op, place, ok := run.findEntry(d)
		if !ok {
			run.counts["divergent_matrix.damage.none_found"]++
			continue
		}
		key := int64(segmentOf(uint64(op)))<<40 | place.offset
		if slices.Contains(placed, key) {
			continue // both draws found the same entry: one damage is enough
		}
		placed = append(placed, key)
		name := segmentName(segmentOf(uint64(op)))
		if _, found := faults.RecordSectorOf(run.c.Nodes[0].Disk.Pristine(name), place.offset); d.identity && !found {
			d.identity = false // a record the repair overwrote or never wrote: the entry alone
		}
		if reason := run.damageEntry(0, op, place, d.copyDamage); reason != "" {
			run.note("damage not placed: %s", reason)
			continue
		}
		version := "new"
		if uint64(op) < uint64(len(run.stale)) && place.prepare == run.stale[op] {
			version = "stale"
		}
		run.counts["divergent_matrix.damage"] = 1
		run.counts["divergent_matrix.damage."+version]++
		run.note("damaged r0's %s entry of op %d (%s@%d): %s", version, op, name, place.offset, d.copyDamage)
	}
}

// findEntry finds the entry d lands on: the intact entry of d.op on r0's durable image (its
// own stale prepare or another, as d prefers), else of the next op above that has one,
// wrapping to a+1.
func (run *divergentRun) findEntry(d divergentDamage) (int, parsedEntry, bool) {
	low, span := run.p.a+1, run.p.top()-run.p.a
	for i := range span {
		op := low + (d.op-low+i)%span
		if e, ok := run.entryOf(op, d.stale); ok {
			return op, e, true
		}
	}
	return 0, parsedEntry{}, false
}

// entryOf returns r0's intact entry of op: with stale, its own prepare if the disk holds it;
// otherwise the last other one in the segment; either if only one is there.
func (run *divergentRun) entryOf(op int, stale bool) (parsedEntry, bool) {
	s := run.disks.refresh(0, segmentOf(uint64(op)))
	if s == nil {
		return parsedEntry{}, false
	}
	var own, other parsedEntry
	var hasOwn, hasOther bool
	for _, e := range s.entries {
		if e.op != uint64(op) || !e.intact {
			continue
		}
		if op < len(run.stale) && e.prepare == run.stale[op] {
			own, hasOwn = e, true
		} else {
			other, hasOther = e, true
		}
	}
	switch {
	case hasOwn && (stale || !hasOther):
		return own, true
	case hasOther:
		return other, true
	}
	return parsedEntry{}, false
}

// result reports the run with the episode's counters: the paths it reached, the damage done
// and the protocol paths taken.
func (run *divergentRun) result(o Options, outcome Outcome, reason string) Result {
	c := run.c
	r := Result{Scenario: "divergent_matrix", Seed: o.Seed, Params: run.p.String(), Outcome: outcome, Reason: reason,
		TraceHash: c.Trace.Hash(), Events: c.Trace.Count(), SimTime: c.Loop.Now(), Trace: c.Trace.Detach()}
	r.Counters = map[string]uint64{"requests_acked": uint64(run.acked), "replica.restarts": c.Restarts(),
		"node.fail_stops": uint64(len(c.Failures())), "divergent_matrix.seeds": 1}
	for _, name := range divergentReached {
		r.Counters["divergent_matrix."+name] = 0
	}
	for k, v := range run.counts {
		r.Counters[k] = v
	}
	for _, path := range []string{"view_change", "recovered", "repair", "truncate", "nack_truncation", "state_sync"} {
		r.Counters["coverage.path."+path] = run.paths[path]
	}
	return r
}
