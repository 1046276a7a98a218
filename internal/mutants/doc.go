// Package mutants measures the simulator's detection power with a mutation campaign against
// cluster/, the database under test (`make mutants`).
//
// A mutant is one realistic bug written as a search and replace on a source file: a quorum off
// by one, a durability order swapped, a missing check, a field an encoder forgets. The
// hand-written ones are in catalog.yaml; catalog_generated.yaml holds operator mutants (a
// comparison's boundary or sense flipped, && for ||, + for -) that Generate draws from the
// source. A snippet must occur exactly once in its file: one that no longer does (the code
// moved on) is reported as stale by its id, never skipped in silence, and the package's test
// fails on it.
//
// The campaign (Run) takes each mutant alone: it copies the repository's files (git ls-files)
// to a work directory, applies the edit, checks that everything compiles (a mutant that does
// not is a catalog error), builds the vopr binary there and runs `vopr swarm --fail-fast` over
// seeds 1..N of the swarm, or of the scenarios the mutant names. The mutant is killed at the
// lowest failing seed; the failure's class (scenarios.FailureSignature: the invariant that
// fired, "durability", a fail-stop's assertion, a liveness failure) says which checker caught
// it. Only the simulator's verdict counts, never unit tests: the campaign measures the
// simulator. The unmutated tree runs first (the baseline): a seed that fails there the same
// way is not a kill, and the batch goes on after it.
//
// The reports (Report.Markdown, Report.JSON) give a row per mutant, the kill rate, the seeds to
// kill (median and worst) and the survivors.
package mutants
