package main

import (
	"fmt"
	"io"
	"sort"

	"vopr/scenarios"
)

// faultKinds are the faults the simulated world can inject today, by component.
var faultKinds = [][2]string{
	{"network.loss", "a packet is dropped"},
	{"network.replay", "a packet is delivered twice"},
	{"network.reorder", "a packet is delayed past later ones"},
	{"network.corruption", "one bit of a packet is flipped (checksums must catch it)"},
	{"network.capacity", "a full path drops a random queued packet"},
	{"network.clog", "a path holds its packets for a while"},
	{"network.partition", "isolate one node, split in two, or cut one direction"},
	{"disk.latent_sector_error", "a read of a sector fails with EIO until rewritten"},
	{"disk.read_corruption", "a sector reads back with a flipped bit, sticky"},
	{"disk.write_corruption", "a written sector is stored with a flipped bit"},
	{"disk.misdirected_write", "a write lands at another offset"},
	{"disk.torn_write", "at crash, an unsynced write keeps only some sectors"},
	{"disk.lost_write", "at crash, an unsynced write is lost"},
	{"disk.slow", "every operation takes a multiple of its latency"},
	{"disk.full", "writes fail with ENOSPC at capacity"},
	{"clock.offset", "realtime is off by a constant"},
	{"clock.drift", "both clocks run fast or slow by some ppm; ticks follow"},
	{"clock.step", "realtime jumps"},
	{"clock.periodic", "realtime wanders in a triangle wave"},
	{"node.crash", "volatile state lost, unsynced writes torn or lost"},
	{"node.restart", "a fresh process recovers from its disk"},
	{"node.pause", "no ticks, messages or I/O; the clock runs on"},
}

func cmdList(args []string, stdout io.Writer) (int, error) {
	what := "scenarios"
	if len(args) > 1 {
		return 0, usagef("list: expected at most one of scenarios, faults, invariants")
	}
	if len(args) == 1 {
		what = args[0]
	}
	switch what {
	case "scenarios":
		for _, s := range scenarios.All() {
			fmt.Fprintf(stdout, "%-20s %-28s %s\n", s.Name, s.Runbook, s.Summary)
		}
	case "faults":
		for _, f := range faultKinds {
			fmt.Fprintf(stdout, "%-26s %s\n", f[0], f[1])
		}
	case "invariants":
		return 0, usagef("list invariants: not built yet: no invariant checkers exist (see the open issue on checkers)")
	default:
		return 0, usagef("list %q: expected scenarios, faults or invariants", what)
	}
	return exitPass, nil
}

func sortStrings(s []string) { sort.Strings(s) }
