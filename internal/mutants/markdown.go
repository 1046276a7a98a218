package mutants

import (
	"fmt"
	"strings"
)

// Markdown renders the report: the figures, a row per mutant, the survivors with their
// descriptions, and anything stale or broken.
func (r Report) Markdown() string {
	var b strings.Builder
	s := r.Summary
	fmt.Fprintf(&b, "# Mutation campaign\n\n")
	fmt.Fprintf(&b, "Tree `%s`, started %s; seeds %d..%d of each scenario, %d jobs; baseline run: %v.\n\n",
		r.Commit, r.Started, r.FirstSeed, r.FirstSeed+uint64(r.Seeds)-1, r.Jobs, r.BaselineRun)
	fmt.Fprintf(&b, "- kill rate: **%d of %d (%.0f%%)** (hand-written %d/%d, generated %d/%d)\n",
		s.Killed, s.Killed+s.Survived, 100*s.KillRate, s.HandKilled, s.HandRun, s.GenKilled, s.GenRun)
	fmt.Fprintf(&b, "- seeds to kill: median %.1f, worst %d\n", s.MedianSeeds, s.WorstSeeds)
	fmt.Fprintf(&b, "- survivors: %d; stale: %d; build errors: %d; hangs: %d; errors: %d\n\n",
		s.Survived, s.Stale, s.BuildErrors, s.Hangs, s.Errors)
	b.WriteString("| mutant | file | result | seeds | scenario | checker / failure class |\n")
	b.WriteString("|---|---|---|---:|---|---|\n")
	for _, o := range r.Outcomes {
		result, seeds, class := string(o.Status), "", o.Class
		switch o.Status {
		case Killed:
			result, seeds = fmt.Sprintf("killed at seed %d", o.KilledAt), fmt.Sprint(o.SeedsToKill)
		case Survived:
			result, seeds = "**survived**", fmt.Sprint(o.SeedsRun)
		case Stale, BuildError, Failed:
			result, class = "**"+string(o.Status)+"**", firstLine(o.Detail)
		}
		scenario := o.Scenario
		if scenario == "" {
			scenario = strings.Join(o.ScenarioList(), "+")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", o.ID, strings.TrimPrefix(o.File, "cluster/"),
			result, seeds, scenario, cell(class))
	}
	r.writeLists(&b)
	return b.String()
}

func (r Report) writeLists(b *strings.Builder) {
	list := func(title string, status Status) {
		first := true
		for _, o := range r.Outcomes {
			if o.Status != status {
				continue
			}
			if first {
				fmt.Fprintf(b, "\n## %s\n\n", title)
				first = false
			}
			detail := o.Description
			if status != Survived {
				detail = firstLine(o.Detail)
			}
			fmt.Fprintf(b, "- `%s` (%s): %s\n", o.ID, o.File, cell(detail))
		}
	}
	list("Survivors", Survived)
	list("Stale mutants (fix or delete them in the catalog)", Stale)
	list("Mutants that do not compile (catalog errors)", BuildError)
	list("Mutants the campaign could not run", Failed)
	if len(r.Baseline) > 0 {
		b.WriteString("\n## Seeds the unmutated tree fails (not counted as kills)\n\n")
		for _, f := range r.Baseline {
			fmt.Fprintf(b, "- %s seed %d: %s (`%s`)\n", f.Scenario, f.Seed, cell(f.Class), f.Replay)
		}
	}
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
