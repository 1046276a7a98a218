// Package scenarios turns the operational runbook into code: one driver per runbook
// scenario, plus the swarm, each a function of a seed that builds a simulated world, runs
// the workload and the faults its name promises, performs the runbook's procedure through
// operator actions, and reports an outcome with the exit-code classes of DESIGN.md section 7.
//
// Imports allowed: the standard library, vopr/sim, vopr/faults, vopr/invariants,
// vopr/cluster/... (through their public APIs), vopr/internal/...
package scenarios
