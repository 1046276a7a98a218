// Package gctune sets the garbage collector for the simulator's processes: the vopr binary
// and the speed benchmark, which must measure what the binary runs.
//
// The collector's CPU cost is about proportional to allocation divided by GOGC, whatever the
// live heap. The heap's peak is the live heap times 1 + GOGC/100, and every byte of that peak
// is a fresh page the kernel must fault in and zero the first time the process touches it.
// A swarm seed's live heap is a few MB and it allocates fast: GOGC=400 costs about 15% less
// CPU than the default 100, for a few tens of MB more. A performance seed's live heap is
// about 50 MB (its simulated disks hold a second and a half of log written at full speed):
// there GOGC=400 peaks near 270 MB, and the page faults cost more system time than the
// collections saved. So the percentage follows the live heap: after each collection it is
// set to let the heap grow by Headroom bytes before the next, between PercentMin and
// PercentMax.
//
// Nothing here touches the simulation: when a collection runs never changes what a seed
// does (trace hashes are the same under any GOGC).
package gctune
