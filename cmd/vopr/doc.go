// Command vopr is the command line of the simulation tester (DESIGN.md section 7).
//
//	vopr                                  main job: every scenario x a few seeds; summary
//	vopr run [--scenario NAME] [--seed S | --seeds N] [--ticks-max N] [--log none|short|full]
//	         [--trace FILE] [--json FILE] [--html FILE] [--mutation NAME]
//	vopr replay SEED [--scenario NAME] [--log none|short|full] [--html FILE] [--mutation NAME]
//	vopr list [scenarios|faults|invariants|marks|mutations]
//	vopr check-determinism [--seeds N]    runs each seed twice, reports the first divergent event
//	vopr swarm [--seeds N | --duration D] [--jobs J] [--shard I/N] [--json FILE] [--junit FILE]
//	vopr merge FILE... [--json FILE] [--junit FILE]
//	vopr gate --config FILE               staging gate: budgets, scenarios, thresholds; JUnit/JSON
//	vopr shrink SEED [--scenario swarm]   smallest failing configuration; prints its replay command
//	vopr version                          module version, VCS revision, dirty flag
//
// Seeds are a decimal u64, 0x hex, or a 40-hex git commit (its first 16 hex digits). Exit
// codes: 0 pass, 1 correctness, 2 liveness, 3 non-determinism, 64 usage, 74 a report that
// cannot be written, 130 a campaign stopped by a signal. Reports and the gate's judgement
// are package report's; this package runs the seeds.
//
// Imports allowed: anything; this is the edge of the program (wall clock, files, flags,
// goroutines and signals for campaigns).
package main
