// Command kimberlite is the database server: one replica of cluster/vsr per process, on
// TCP and files (package server).
//
//	kimberlite format --cluster ID --replica-id I --replica-count N [--standby-count S] DIR
//	kimberlite start --addresses A0,A1,A2 [--standby-addresses S0,S1] --replica-id I
//	                 [--client-addr A] [--metrics-addr M] [--max-batch-size B] DIR
//
// format writes the replica's initial durable state into DIR (created if missing; it must
// be empty). start runs the replica whose state DIR holds; the superblock must name
// replica I of len(addresses) replicas and len(standby-addresses) standbys. --replica-id is
// 0..N-1 for an active replica and 100..100+S-1 for a standby (the runbook's ids; standby
// 100+k is the replica's index N+k). A standby journals and executes the log but never
// votes; its port serves stale reads and the operator's commands. SIGTERM or SIGINT stops
// the process cleanly (exit 0).
package main
