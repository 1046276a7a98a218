package main

import (
	"fmt"
	"io"
	"sort"

	"vopr/faults"
	"vopr/internal/coverage"
	"vopr/invariants"
	"vopr/scenarios"
)

func cmdList(args []string, stdout io.Writer) (int, error) {
	what := "scenarios"
	if len(args) > 1 {
		return 0, usagef("list: expected at most one of scenarios, faults, invariants, marks")
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
	case "marks":
		for _, m := range coverage.All() {
			fmt.Fprintf(stdout, "%-52s %s\n", m.Counter(), m.Description())
		}
	default:
		return 0, usagef("list %q: expected scenarios, faults, invariants or marks", what)
	}
	return exitPass, nil
}

func sortStrings(s []string) { sort.Strings(s) }
