package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// seedResult is one seed's result line(s) as vopr run prints them.
type seedResult struct {
	seed    uint64
	outcome string // "pass", or the FAIL line's class ("liveness", "correctness", ...)
	simNs   int64
	events  string // as printed; empty when the version does not print it for this outcome
	hash    string
}

// batch is one vopr run over consecutive seeds.
type batch struct {
	results []seedResult
	wall    time.Duration
	cpu     time.Duration // user + system time of the process
}

func (b batch) simSeconds() float64 {
	total := int64(0)
	for _, r := range b.results {
		total += r.simNs
	}
	return float64(total) / 1e9
}

// runBatch runs `bin run --scenario scenario --seed first --seeds count --log none`.
func runBatch(bin, scenario string, first uint64, count int) (batch, error) {
	cmd := exec.Command(bin, "run", "--scenario", scenario, "--seed", strconv.FormatUint(first, 10),
		"--seeds", strconv.Itoa(count), "--log", "none")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		return batch{}, fmt.Errorf("%s: %v", bin, err)
	}
	b := batch{wall: wall}
	if usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		b.cpu = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	}
	b.results = parseResults(out.String())
	if len(b.results) != count {
		return b, fmt.Errorf("%s run --scenario %s --seed %d --seeds %d: %d result(s), want %d; stderr: %s",
			bin, scenario, first, count, len(b.results), count, firstLine(errOut.String()))
	}
	return b, nil
}

var (
	outcomeLine = regexp.MustCompile(`^seed=(\d+) (pass|FAIL (\w+))`)
	simTimeRe   = regexp.MustCompile(`sim_time=(\S+)`)
	eventsRe    = regexp.MustCompile(`events=(\d+)`)
	hashRe      = regexp.MustCompile(`trace_hash=([0-9a-f]+)`)
)

// parseResults reads the outcome line of each seed and the sim_time=/events=/trace_hash=
// fields on it or on the lines that follow it (a failure prints them on the next line).
func parseResults(out string) []seedResult {
	var results []seedResult
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Text()
		if m := outcomeLine.FindStringSubmatch(line); m != nil {
			seed, _ := strconv.ParseUint(m[1], 10, 64)
			outcome := "pass"
			if m[3] != "" {
				outcome = m[3]
			}
			results = append(results, seedResult{seed: seed, outcome: outcome})
		}
		if len(results) == 0 || !strings.HasPrefix(line, "seed=") && !strings.HasPrefix(line, "  ") {
			continue
		}
		r := &results[len(results)-1]
		if m := simTimeRe.FindStringSubmatch(line); m != nil && r.simNs == 0 {
			r.simNs = parseSimTime(m[1])
		}
		if m := eventsRe.FindStringSubmatch(line); m != nil && r.events == "" {
			r.events = m[1]
		}
		if m := hashRe.FindStringSubmatch(line); m != nil && r.hash == "" {
			r.hash = m[1]
		}
	}
	return results
}

// parseSimTime reads sim.Duration's printed form: "33.140s", "12.500ms" or "20ns".
func parseSimTime(s string) int64 {
	unit := int64(1)
	switch {
	case strings.HasSuffix(s, "ms"):
		s, unit = strings.TrimSuffix(s, "ms"), 1e6
	case strings.HasSuffix(s, "ns"):
		s = strings.TrimSuffix(s, "ns")
	case strings.HasSuffix(s, "s"):
		s, unit = strings.TrimSuffix(s, "s"), 1e9
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return int64(v * float64(unit))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
