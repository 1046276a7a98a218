// Command basecompare measures this tree against an older commit of vopr, in one invocation
// on one machine, so that noise from other jobs hits both sides alike:
//
//	go run ./internal/basecompare bench  -base COMMIT [-rounds N] [-swarm-seeds N] ...
//	go run ./internal/basecompare hashes -base COMMIT [-swarm-seeds 200] [-seeds 20]
//
// It builds COMMIT (git archive into a temporary directory) and the working tree, and drives
// both binaries through the command-line subset every version has: `vopr run --scenario S
// --seed N --seeds K --log none`, reading each seed's result line (outcome, sim_time=,
// events=, trace_hash=). Newer flags (run --json, swarm's reports) are never used, so any
// commit since the command line took that shape can be the base.
//
// bench runs each workload (the swarm, the performance scenario, every runbook scenario both
// binaries list) on the same seeds with both binaries, alternating which goes first, for
// several rounds, and prints per workload the ratio HEAD/BASE of simulated seconds per CPU
// second and per wall second: min, median and max over the rounds. CPU time (user + system of
// the child) is the primary figure on a shared machine; wall time is printed beside it.
//
// hashes runs the swarm's first seeds and a number of seeds of every scenario with both
// binaries and compares each seed's outcome, event count and trace hash: the check that a
// speed-up meant to preserve behaviour did. It exits 1 on any difference.
package main
