// Command vopr-mutate runs the mutation campaign of internal/mutants (`make mutants`): each
// mutant of the catalog alone, against swarm batches, with a report of what killed it.
//
//	vopr-mutate run [--seeds N] [--jobs J] [--mutants id,id] [--out PREFIX] [--resume] ...
//	vopr-mutate list                 the catalog, with each mutant's stale status
//	vopr-mutate check [--tree DIR]   exit 1 if a mutant's snippet does not match exactly once
//	vopr-mutate generate [--count N] [--seed S]   rewrite catalog_generated.yaml
//
// Exit codes: 0 the campaign ran (survivors are a measurement, not an error); 1 a mutant is
// stale, does not compile or could not run; 64 a usage error (a missing command included:
// the campaign never starts unasked).
package main
