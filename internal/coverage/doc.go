// Package coverage names the harness's coverage marks: the "sometimes" assertions of
// Antithesis, FoundationDB's code probes. A mark is a point a run may or may not reach (a
// fault shape the nemesis set out to create and did create, a protocol path a checker
// watched being taken); a batch of seeds that never reaches one tests nothing there, and the
// staging gate fails it (gate/staging.yaml, `coverage:`).
//
// A mark is declared once, at package initialisation, with a one-line description:
//
//	var MarkFoo = coverage.Declare("area.foo", "what reaching it means")
//
// and hit where it is reached, on the run's own Hits. Every declared mark is reported by the
// runs that report marks (Hits.Report), zero included, as the counter "coverage.mark.<name>",
// so that a batch summary lists the marks it never reached; `vopr list marks` prints them.
//
// Rules: declarations happen only during package initialisation (the registry is read-only
// once runs start, which may run in parallel); hits are per run and never shared. The
// package is deterministic: All is sorted, and no map order reaches a caller.
//
// Imports allowed: the standard library and vopr/internal/assert.
package coverage
