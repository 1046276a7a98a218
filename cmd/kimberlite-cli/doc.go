// Command kimberlite-cli is the runbook's operator and client tool, against running
// kimberlite servers (package server/remote).
//
//	kimberlite-cli cluster status --addresses A0,A1,A2 --cluster ID
//	kimberlite-cli replica status --replica-id I --addresses ... --cluster ID
//	kimberlite-cli client put|get|append|cas --addresses ... --cluster ID KEY [VALUE] [EXPECTED]
//
// --addresses and --cluster default to $KIMBERLITE_ADDRESSES and $KIMBERLITE_CLUSTER.
// Output is JSON. The runbook's other commands are recognised and exit 2 saying they are
// not built yet.
package main
