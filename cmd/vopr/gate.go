package main

// vopr gate --config FILE: the pre-deploy staging gate. The config, the checks, the verdict
// and the reports are package report's; this runs the seeds (report.RunGate calls back into
// runBatch, the same engine as vopr swarm).

import (
	"io"
	"time"

	"vopr/report"
	"vopr/scenarios"
)

func cmdGate(args []string, stdout io.Writer) (int, error) {
	fs := newFlagSet("gate")
	configPath := fs.String("config", "", "the gate's YAML config file")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	if *configPath == "" {
		return 0, usagef("gate: --config FILE is required (see gate/staging.yaml)")
	}
	cfg, err := report.LoadGateConfig(*configPath, lookupScenario)
	if err != nil {
		return 0, err
	}
	if err := cfg.PrepareOutputs(); err != nil {
		return 0, err
	}
	began := time.Now()
	runs, err := report.RunGate(cfg, stdout, runBatch)
	if err != nil {
		return 0, err
	}
	verdict := report.Judge(cfg, runs)
	report.PrintDetails(stdout, runs)
	report.PrintVerdict(stdout, cfg, runs, verdict, time.Since(began))
	if err := report.WriteGateJSON(cfg, runs, verdict, time.Since(began)); err != nil {
		return 0, err
	}
	if err := report.WriteGateJUnit(cfg, runs); err != nil {
		return 0, err
	}
	return verdict.Code, nil
}

// runBatch is report.BatchRunner on the swarm's engine.
func runBatch(s scenarios.Scenario, ticksMax, jobs int, seeds []uint64, abandonAt time.Time) []scenarios.Result {
	i := 0
	b := seedBatch{scenario: s, options: scenarios.Options{TicksMax: ticksMax}, jobs: jobs, abandonAt: abandonAt,
		next: func() (uint64, bool) {
			if i >= len(seeds) {
				return 0, false
			}
			i++
			return seeds[i-1], true
		}}
	return b.run(nil)
}
