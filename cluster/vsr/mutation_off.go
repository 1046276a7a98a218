//go:build !vopr_mutants

package vsr

// mutantsEnabled is false in every ordinary build: planted bugs cannot run.
const mutantsEnabled = false
