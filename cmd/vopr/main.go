package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes (DESIGN.md section 7).
const (
	exitPass           = 0
	exitCorrectness    = 1
	exitLiveness       = 2
	exitNondeterminism = 3
	exitUsage          = 64
)

// usageError marks errors that exit 64.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usageText = `usage:
  vopr                                  main job: every scenario x a few seeds; summary
  vopr run [--scenario NAME] [--seed S | --seeds N] [--ticks-max N] [--log none|short|full]
           [--trace FILE] [--json FILE]
  vopr replay SEED [--scenario NAME] [--ticks-max N] [--log none|short|full]
                                        one seed, full log
  vopr list [scenarios|faults|invariants]
  vopr check-determinism [--scenario NAME] [--seed S] [--seeds N] [--ticks-max N]
                                        runs each seed twice, reports the first divergent event
  vopr swarm [--scenario NAME] [--seed S] [--seeds N | --duration D] [--jobs J] [--shard I/N]
             [--ticks-max N] [--json FILE] [--junit FILE] [--fail-fast]
  vopr gate --config FILE               staging gate: budgets, scenarios, thresholds; JUnit/JSON
  vopr shrink SEED [--scenario swarm] [--ticks-max N] [--budget D] [--attempts N]
                                        smallest failing configuration; prints its replay command
  run and replay of the swarm also take the override flags shrink prints:
           [--without KIND,...] [--replicas N] [--clients N] [--fault-ticks N]
seeds: decimal u64, 0x-prefixed hex, or a 40-hex-digit git commit
exit codes: 0 pass, 1 correctness, 2 liveness, 3 non-determinism, 64 usage
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	code, err := dispatch(args, stdout, stderr)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "vopr: %s\n", ue.msg)
			return exitUsage
		}
		fmt.Fprintf(stderr, "vopr: %v\n", err)
		return exitCorrectness
	}
	return code
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
		return cmdSwarm(rest, stdout)
	case "gate":
		return cmdGate(rest, stdout)
	case "shrink":
		return cmdShrink(rest, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return exitPass, nil
	}
	return 0, usagef("unknown command %q: expected one of run, replay, list, check-determinism, swarm, gate, shrink\n%s",
		cmd, strings.TrimRight(usageText, "\n"))
}
