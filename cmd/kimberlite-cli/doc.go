// Command kimberlite-cli is the runbook's operator and client tool, against running
// kimberlite servers (package server/remote).
//
//	kimberlite-cli cluster status --addresses A0,A1,A2 [--standby-addresses S0] --cluster ID
//	kimberlite-cli replica status --replica-id I --addresses ... --cluster ID
//	kimberlite-cli client put|get|append|cas --addresses ... --cluster ID KEY [VALUE] [EXPECTED]
//	kimberlite-cli client get --stale --replica-id 100 --standby-addresses ... KEY
//	kimberlite-cli standby throttle --replica-id 100 --max-qps N --standby-addresses ...
//
// --addresses, --standby-addresses and --cluster default to $KIMBERLITE_ADDRESSES,
// $KIMBERLITE_STANDBY_ADDRESSES and $KIMBERLITE_CLUSTER. --replica-id is an active
// replica's index (0..N-1) or a standby's id (100 and up: standby 100+k is member N+k).
// Output is JSON (--watch: a JSON line per change). The commands are written once in package
// ops, which the simulator's Operator runs too; `kimberlite-cli` with no arguments lists
// them. Usage errors exit 64; `storage compact --aggressive` and the membership changes not
// built (`cluster reconfig`, `cluster failover`) exit 2.
package main
