// Package ops holds the runbook's operator commands that both transports share: the
// simulator's Operator (scenarios/operator*.go), which asks replicas in simulated time, and
// kimberlite-cli, which asks real server processes over TCP. Each command is written once
// here as a function of what a replica reports about itself (vsr.Inspection); the
// transports only fetch that report, or learn that the process does not answer.
//
// Commands here: `replica status` (ReplicaStatusOf, Unreachable; --watch and
// --wait-healthy: StatusWatch, Healthy), `cluster status` (ClusterStatusOf), `cluster
// version` (VersionOf, ClusterVersionOf), `cluster features` (Features), `cluster config
// set|get` (ConfigSet, ConfigGet, ConfigApply), `cluster view-changes` (ViewChangeLog, kept
// by each replica's host, and ViewChangesOf), `replica clock-offset` (ClockOf,
// ClockOffsetOf), `replication lag --all` (ReplicationLagOf), `replica isolate|unisolate`
// (Isolate, Unisolate), `storage compact` (Compact), `storage export` (Export), `storage
// restore` and `cluster restore-from-backup` (Restore), `debug dump-state` (DumpState),
// `storage verify --full-scan` on a stopped replica's storage (StorageVerify) and `test
// smoke-tests` (SmokeTests: the operations and what each must answer). Serve is the
// dispatcher a real server runs for the requests a running replica serves, given what its
// host knows (Host: wall clock, measured lag, view-change log). Their JSON is the
// runbook's (`"status": "normal"`).
//
// Imports allowed: the standard library (no time, os, net: it is deterministic, since the
// simulator runs it) and vopr/cluster/...
package ops
