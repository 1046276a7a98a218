// Package tidy holds no code: its tests enforce the project's source rules (DESIGN.md
// section 1 and STYLE.md house rules) over the whole tree:
//
//   - Determinism: cluster/ and sim/ (except the real-I/O adapter cluster/storage/osfs) import
//     no wall clock, os, net, sync, math/rand v1, crypto/rand or unsafe, start no goroutine
//     and use no channel or select.
//   - Layering: cluster/ imports nothing of the harness (sim, faults, invariants, scenarios,
//     cmd).
//   - Every package has a doc.go.
//   - Function length: at most FunctionLinesMax lines in cluster/ and sim/.
package tidy
