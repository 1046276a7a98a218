// Package report writes and judges what campaigns produce: the JSON and JUnit reports of
// vopr run, swarm, gate and merge, the build identity they carry, the merge of sharded
// campaigns, the campaign summary, and the staging gate's config and judgement (gate.go).
// The command line runs the seeds; everything it reports goes through here, so that every
// command writes one format.
//
// Imports allowed: scenarios (for Result and Replay), the standard library, yaml. It reads
// and writes files (reports, configs), so it is not part of the deterministic core.
package report
