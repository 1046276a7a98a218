// Command kimberlite-cli is the runbook's operator and client tool, against running
// kimberlite servers (package server/remote).
//
//	kimberlite-cli cluster status --addresses A0,A1,A2 --cluster ID
//	kimberlite-cli replica status --replica-id I --addresses ... --cluster ID
//	kimberlite-cli client put|get|append|cas --addresses ... --cluster ID KEY [VALUE] [EXPECTED]
//
// --addresses and --cluster default to $KIMBERLITE_ADDRESSES and $KIMBERLITE_CLUSTER.
// Output is JSON (--watch: a JSON line per change). The commands are written once in package
// ops, which the simulator's Operator runs too; `kimberlite-cli` with no arguments lists
// them. `storage compact --aggressive` exits 2: the replica has no compaction beyond the one
// `storage compact` runs.
package main
