// Package assert holds the always-on assertions of the code under test and the harness.
//
// An assertion states an invariant of the code's own design. When one is false the code is in
// a state its authors did not intend, so it fail-stops: it panics with a *Failure. The
// simulator recovers that panic, marks the replica crashed and records the failure; a real
// process would exit. Assertions are never compiled out.
//
// Operating errors (a full disk, a bad checksum on bytes from the network) are not assertion
// failures: they are returned as errors and handled.
//
// Imports allowed: fmt.
package assert
