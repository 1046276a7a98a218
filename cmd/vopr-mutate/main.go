package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vopr/internal/mutants"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 64
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// usageText is what the command prints for help or a missing subcommand.
const usageText = `usage:
  vopr-mutate run [--seeds N] [--jobs J] [--mutants id,id] [--out PREFIX] [--resume] ...
                                 the campaign (long: make mutants)
  vopr-mutate list               the catalog, with each mutant's stale status
  vopr-mutate check [--tree DIR] exit 1 if a mutant's snippet does not match exactly once
  vopr-mutate generate [--count N] [--seed S]   rewrite catalog_generated.yaml
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, usageText)
		return 0
	}
	if len(args) == 0 || !(args[0] == "run" || args[0] == "list" || args[0] == "check" || args[0] == "generate") {
		// The campaign takes tens of minutes: it never starts without being asked by name
		// (a bare invocation, meant to show the usage, used to start it).
		fmt.Fprint(stderr, "vopr-mutate: expected a command: run, list, check or generate\n"+usageText)
		return exitUsage
	}
	command, args := args[0], args[1:]
	var code int
	var err error
	switch command {
	case "run":
		code, err = cmdRun(args, stdout, stderr)
	case "list", "check":
		code, err = cmdList(command, args, stdout)
	case "generate":
		code, err = cmdGenerate(args, stdout)
	}
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "vopr-mutate: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "vopr-mutate: %v\n", err)
		return exitFail
	}
	return code
}

type usageError struct{ error }

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func cmdRun(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfg := mutants.Config{Go: "go", Log: stdout}
	fs.StringVar(&cfg.Root, "root", ".", "repository root")
	fs.IntVar(&cfg.Seeds, "seeds", 300, "seeds per scenario")
	fs.Uint64Var(&cfg.FirstSeed, "first-seed", 1, "first seed")
	fs.IntVar(&cfg.Jobs, "jobs", 2, "vopr swarm --jobs")
	fs.DurationVar(&cfg.Timeout, "timeout", 20*time.Minute, "wall-time limit of one vopr batch (then: hang)")
	fs.BoolVar(&cfg.Baseline, "baseline", true, "run the unmutated tree first; seeds it fails are not kills")
	fs.StringVar(&cfg.WorkDir, "work", "", "scratch directory (default: a temporary one)")
	ids := fs.String("mutants", os.Getenv("MUTANTS"), "comma-separated mutant ids (default $MUTANTS, else all)")
	out := fs.String("out", "bin/mutants", "report prefix: writes PREFIX.md and PREFIX.json")
	only := fs.String("scenarios", "", "comma-separated scenarios every mutant runs instead of its own, then the performance scenario (a study of survivors)")
	resume := fs.Bool("resume", false, "keep the verdicts and baseline of PREFIX.json (an interrupted campaign)")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if cfg.Seeds < 1 || cfg.Jobs < 1 || cfg.FirstSeed == 0 || cfg.Timeout <= 0 {
		return 0, usageError{errors.New("expected --seeds >= 1, --jobs >= 1, --first-seed >= 1, --timeout > 0")}
	}
	all, err := mutants.LoadCatalog(cfg.Root)
	if err != nil {
		return 0, err
	}
	selected, err := mutants.Select(all, *ids)
	if err != nil {
		return 0, usageError{err}
	}
	if *only != "" {
		for i := range selected {
			selected[i].Scenarios = strings.Split(*only, ",")
		}
	}
	if *resume {
		if cfg.Previous, err = readReport(*out + ".json"); err != nil {
			return 0, err
		}
	}
	write := func(r mutants.Report) {
		if err := writeReports(*out, r); err != nil {
			fmt.Fprintf(stderr, "vopr-mutate: %v\n", err)
		}
	}
	cfg.Done = write
	fmt.Fprintf(stdout, "mutation campaign: %d mutants, seeds %d..%d, jobs %d; reports %s.{md,json}\n",
		len(selected), cfg.FirstSeed, cfg.FirstSeed+uint64(cfg.Seeds)-1, cfg.Jobs, *out)
	report, err := mutants.Run(cfg, selected)
	write(report)
	if err != nil {
		return 0, err
	}
	s := report.Summary
	fmt.Fprintf(stdout, "kill rate %d/%d (%.0f%%); seeds to kill: median %.1f, worst %d; survivors: %v\n",
		s.Killed, s.Killed+s.Survived, 100*s.KillRate, s.MedianSeeds, s.WorstSeeds, s.Survivors)
	if s.Stale+s.BuildErrors+s.Errors > 0 {
		fmt.Fprintf(stdout, "CATALOG PROBLEMS: %d stale %v, %d do not compile, %d could not run\n",
			s.Stale, s.StaleIDs, s.BuildErrors, s.Errors)
		return exitFail, nil
	}
	return exitOK, nil
}

func readReport(path string) (*mutants.Report, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // nothing to resume
	}
	if err != nil {
		return nil, err
	}
	var r mutants.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func writeReports(prefix string, r mutants.Report) error {
	if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".md", []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(prefix+".json", r.JSON(), 0o644)
}

// cmdList prints the catalog with each mutant's status against the tree; check prints only
// the stale ones and fails on any.
func cmdList(command string, args []string, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	root := fs.String("root", ".", "repository root")
	tree := fs.String("tree", "", "match the snippets against this tree instead of root (another branch's checkout)")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if *tree == "" {
		tree = root
	}
	all, err := mutants.LoadCatalog(*root)
	if err != nil {
		return 0, err
	}
	stale := 0
	for _, m := range all {
		reason := mutants.StaleReason(*tree, m)
		if reason != "" {
			stale++
			fmt.Fprintf(stdout, "STALE %s (%s): %s\n", m.ID, m.File, reason)
		} else if command == "list" {
			fmt.Fprintf(stdout, "%-52s %-36s %s\n", m.ID, m.File, m.Description)
		}
	}
	fmt.Fprintf(stdout, "%d mutants, %d stale\n", len(all), stale)
	if stale > 0 && command == "check" {
		return exitFail, nil
	}
	return exitOK, nil
}

func cmdGenerate(args []string, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	root := fs.String("root", ".", "repository root")
	count := fs.Int("count", 12, "operator mutants to draw")
	seed := fs.Uint64("seed", 1, "seed of the draw")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	all, err := mutants.LoadCatalog(*root)
	if err != nil {
		return 0, err
	}
	var hand []mutants.Mutant
	for _, m := range all {
		if !m.Generated {
			hand = append(hand, m)
		}
	}
	generated, err := mutants.Generate(*root, *count, *seed, hand)
	if err != nil {
		return 0, err
	}
	data, err := mutants.GeneratedCatalog(generated, *count, *seed)
	if err != nil {
		return 0, err
	}
	path := filepath.Join(*root, mutants.GeneratedCatalogFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return 0, err
	}
	fmt.Fprintf(stdout, "wrote %d operator mutants to %s\n", len(generated), path)
	return exitOK, nil
}
