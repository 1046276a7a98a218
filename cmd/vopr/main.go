package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"vopr/report"
)

// Exit codes (DESIGN.md section 7; report holds the list).
const (
	exitPass           = report.ExitPass
	exitCorrectness    = report.ExitCorrectness
	exitLiveness       = report.ExitLiveness
	exitNondeterminism = report.ExitNondeterminism
	exitUsage          = report.ExitUsage
	exitIOError        = report.ExitIOError
)

// usageError marks errors that exit 64.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// helpRequested is -h or --help on a command: usage on stdout, exit 0.
type helpRequested struct{}

func (helpRequested) Error() string { return "help requested" }

const usageText = `usage:
  vopr                                  main job: every scenario x a few seeds; summary
  vopr run [--scenario NAME] [--seed S | --seeds N] [--ticks-max N] [--log none|short|full]
           [--trace FILE] [--json FILE] [--html FILE] [--mutation NAME]
  vopr replay SEED [--scenario NAME] [--ticks-max N] [--log none|short|full] [--html FILE]
                   [--mutation NAME]    one seed, full log
  vopr list [scenarios|faults|invariants|marks|mutations]
  vopr check-determinism [--scenario NAME] [--seed S] [--seeds N] [--ticks-max N]
                                        runs each seed twice, reports the first divergent event
  vopr swarm [--scenario NAME] [--seed S] [--seeds N | --duration D] [--jobs J] [--shard I/N]
             [--ticks-max N] [--json FILE] [--junit FILE] [--mutation NAME]
             [--fail-fast]
  vopr merge FILE... [--json FILE] [--junit FILE]
                                        join the JSON reports of a sharded campaign
  vopr gate --config FILE               staging gate: budgets, scenarios, thresholds; JUnit/JSON
  vopr shrink SEED [--scenario swarm] [--ticks-max N] [--budget D] [--attempts N] [--mutation NAME]
                                        smallest failing configuration; prints its replay command
  vopr version                          module version, VCS revision, dirty flag
  run and replay of the swarm also take the override flags shrink prints:
           [--without KIND,...] [--replicas N] [--clients N] [--fault-ticks N] [--no-standbys]
  --mutation needs a binary built with: go build -tags vopr_mutants -o bin/vopr-mutants ./cmd/vopr
seeds: decimal u64, 0x-prefixed hex, or a 40-hex-digit git commit
exit codes: 0 pass, 1 correctness, 2 liveness, 3 non-determinism, 64 usage, 74 report not
            writable, 130 interrupted
`

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	code, err := dispatch(args, stdout, stderr)
	if err == nil {
		return code
	}
	var (
		ue  usageError
		rue report.UsageError
		ioe report.IOError
	)
	switch {
	case errors.As(err, &helpRequested{}):
		fmt.Fprint(stdout, usageText)
		return exitPass
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "vopr: %s\n", ue.msg)
		return exitUsage
	case errors.As(err, &rue):
		fmt.Fprintf(stderr, "vopr: %s\n", rue.Msg)
		return exitUsage
	case errors.As(err, &ioe):
		fmt.Fprintf(stderr, "vopr: %v\n", ioe)
		return exitIOError
	}
	// Any other error is a file the run could not write or read: an I/O error, never a
	// correctness verdict (exit 1 means a bug the simulation found).
	fmt.Fprintf(stderr, "vopr: %v\n", err)
	return exitIOError
}

func dispatch(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return cmdMain(stdout)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stdout)
	case "replay":
		return cmdReplay(rest, stdout)
	case "list":
		return cmdList(rest, stdout)
	case "check-determinism":
		return cmdCheckDeterminism(rest, stdout)
	case "swarm":
		return cmdSwarm(rest, stdout, stderr)
	case "merge":
		return cmdMerge(rest, stdout)
	case "gate":
		return cmdGate(rest, stdout)
	case "shrink":
		return cmdShrink(rest, stdout)
	case "version":
		return cmdVersion(rest, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return exitPass, nil
	}
	return 0, usagef("unknown command %q: expected one of run, replay, list, check-determinism, swarm, merge, gate, shrink, version\n%s",
		cmd, strings.TrimRight(usageText, "\n"))
}

func cmdVersion(args []string, stdout io.Writer) (int, error) {
	fs := newFlagSet("version")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	fmt.Fprintln(stdout, report.CurrentBuild())
	return exitPass, nil
}

// cmdMerge joins the JSON reports of a sharded campaign and reports the union as vopr swarm
// would: the verdict table, the failures by signature, the counters summed, the coverage
// judged over the union, and the usual exit code.
func cmdMerge(args []string, stdout io.Writer) (int, error) {
	files, jsonOut, junitOut, err := parseMerge(args)
	if err != nil {
		return 0, err
	}
	for _, path := range []string{jsonOut, junitOut} {
		if err := report.CheckWritable(path); err != nil {
			return 0, err
		}
	}
	b, err := report.Merge(files)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(stdout, "merge scenario=%s first_seed=%d shards=%s files=%d seeds=%d\n", b.Scenario, b.FirstSeed, b.Shards, len(files), len(b.Results))
	report.PrintSummary(stdout, b, 0)
	if err := b.WriteJSON(jsonOut); err != nil {
		return 0, err
	}
	if err := b.WriteJUnit(junitOut); err != nil {
		return 0, err
	}
	return report.WorstExit(b.Results), nil
}

// parseMerge parses vopr merge's arguments: report files and flags in any order.
func parseMerge(args []string) (files []string, jsonOut, junitOut string, err error) {
	fs := newFlagSet("merge")
	fs.StringVar(&jsonOut, "json", "", "write the merged results as JSON to FILE")
	fs.StringVar(&junitOut, "junit", "", "write the merged results as JUnit XML to FILE")
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, "", "", helpRequested{}
			}
			return nil, "", "", usagef("merge: %v (accepted flags: %s)", err, flagNames(fs))
		}
		args = fs.Args()
		if len(args) > 0 {
			files, args = append(files, args[0]), args[1:]
		}
	}
	if len(files) == 0 {
		return nil, "", "", usagef("merge: expected one or more JSON reports (vopr swarm --json FILE)")
	}
	return files, jsonOut, junitOut, nil
}

// checkInvocation checks a vopr command line without running it or touching any file: what
// deploy/ runs must parse (TestDeployManifestsRunValidInvocations).
func checkInvocation(args []string) error {
	if len(args) == 0 {
		return nil
	}
	switch args[0] {
	case "swarm":
		_, _, err := parseSwarm(args[1:])
		return err
	case "merge":
		_, _, _, err := parseMerge(args[1:])
		return err
	}
	return usagef("checkInvocation: %q is not a campaign command (swarm, merge)", args[0])
}
