// Command kimberlite is the database server: one replica of cluster/vsr per process, on
// TCP and files (package server).
//
//	kimberlite format --cluster ID --replica-id I --replica-count N DIR
//	kimberlite start --addresses A0,A1,A2 --replica-id I [--client-addr A] [--metrics-addr M] [--max-batch-size B] DIR
//
// format writes the replica's initial durable state into DIR (created if missing; it must
// be empty). start runs the replica whose state DIR holds; the superblock must name
// replica I of len(addresses) replicas. SIGTERM or SIGINT stops it cleanly (exit 0).
package main
