//go:build vopr_mutants

package vsr

// mutantsEnabled is true only in test binaries built with -tags vopr_mutants.
const mutantsEnabled = true
