// Command vopr is the command line of the simulation tester (DESIGN.md section 7).
//
//	vopr                                  main job: every scenario x a few seeds; summary
//	vopr run [--scenario NAME] [--seed S | --seeds N] [--ticks-max N] [--log none|short|full]
//	         [--trace FILE] [--json FILE]
//	vopr replay SEED [--scenario NAME] [--ticks-max N] [--log none|short|full]
//	                                      one seed, full log
//	vopr list [scenarios|faults|invariants|marks]
//	vopr check-determinism [--seeds N]    runs each seed twice, reports the first divergent event
//	vopr swarm [--seeds N | --duration D] [--jobs J] [--shard I/N] [--json FILE] [--junit FILE]
//	vopr gate --config FILE               staging gate: budgets, scenarios, thresholds; JUnit/JSON
//	vopr shrink SEED [--scenario swarm]   smallest failing configuration; prints its replay command
//
// Seeds are a decimal u64, 0x hex, or a 40-hex git commit (its first 16 hex digits). Exit
// codes: 0 pass, 1 correctness, 2 liveness, 3 non-determinism, 64 usage.
//
// Imports allowed: anything; this is the edge of the program (wall clock, files, flags).
package main
