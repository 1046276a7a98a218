package main

import (
	"fmt"
	"io"
	"sort"

	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/internal/coverage"
	"vopr/invariants"
	"vopr/scenarios"
)

func cmdList(args []string, stdout io.Writer) (int, error) {
	what := "scenarios"
	if len(args) > 1 {
		return 0, usagef("list: expected at most one of scenarios, faults, invariants, marks, mutations")
	}
	if len(args) == 1 {
		what = args[0]
	}
	switch what {
	case "scenarios":
		for _, s := range scenarios.All() {
			fmt.Fprintf(stdout, "%-20s %-28s %s\n", s.Name, s.Runbook, s.Summary)
		}
	case "faults":
		for _, k := range faults.AllKinds() {
			fmt.Fprintf(stdout, "%-28s %s\n", k, k.Description())
		}
	case "invariants":
		for _, d := range invariants.Describe() {
			fmt.Fprintf(stdout, "%-18s %s\n", d[0], d[1])
		}
	case "mutations":
		return listMutations(stdout)
	case "marks":
		for _, m := range coverage.All() {
			fmt.Fprintf(stdout, "%-52s %s\n", m.Counter(), m.Description())
		}
	default:
		return 0, usagef("list %q: expected scenarios, faults, invariants, marks or mutations", what)
	}
	return exitPass, nil
}

func sortStrings(s []string) { sort.Strings(s) }

// mutationDescriptions say what each planted bug breaks (cluster/vsr/mutation.go).
var mutationDescriptions = map[string]string{
	"commit_without_quorum":         "commits an op on the primary's own prepare_ok alone",
	"prepare_ok_before_sync":        "acknowledges a prepare before it is durable",
	"do_view_change_lowest_op":      "the new primary picks the do_view_change with the lowest op",
	"forget_client_table":           "forgets the client table when recovering from disk",
	"commit_past_op_after_sync":     "sets commit_number past op_number after a state sync",
	"upgrade_at_highest_release":    "upgrades to the highest release any replica runs, not the lowest",
	"standby_votes":                 "standbys send prepare_ok and the primary counts them towards the quorum",
	"standby_read_at_commit_number": "a standby names its commit_number, not the op it executed, as a stale read's op",
	"standby_lag_stuck":             "a standby that hears a commit number it already executed does not count itself current",
	"unsynced_primary_leads":        "a primary whose clock is unsynchronised never abdicates",
	"do_view_change_from_all":       "the new primary waits for a do_view_change from every active replica, not a quorum",
	"reconfig_old_quorum":           "after a membership change the primary sizes its quorum by the configuration before it",
	"prepare_after_reconfig":        "a primary goes on preparing after the change that ends its epoch",
	"retry_unanswered":              "a replica drops the retry of a request it executed instead of answering from its client table",
	"heartbeat_keeps_election":      "a backup's election timeout keeps running through the primary's commit heartbeats",
	"reconfig_refuses_first_slot":   "a primary refuses every change of active slot 0 as not an active slot",
}

// listMutations lists the planted bugs; a binary without them says how to build one.
func listMutations(stdout io.Writer) (int, error) {
	for _, name := range scenarios.MutationNames() {
		fmt.Fprintf(stdout, "%-28s %s\n", name, mutationDescriptions[name])
	}
	if !vsr.MutantsEnabled() {
		fmt.Fprintln(stdout, "(this binary cannot run them: build one with `go build -tags vopr_mutants -o bin/vopr-mutants ./cmd/vopr`)")
	}
	return exitPass, nil
}
