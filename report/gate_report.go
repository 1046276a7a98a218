package report

// The staging gate's JSON and JUnit reports.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"time"

	"vopr/scenarios"
)

type GateJSON struct {
	Build       Build              `json:"build"`
	Config      string             `json:"config"`
	Verdict     string             `json:"verdict"` // pass or fail
	ExitCode    int                `json:"exit_code"`
	Reasons     []string           `json:"reasons"`
	Tolerated   []string           `json:"tolerated,omitempty"`
	Budget      string             `json:"budget"`
	WallTimeNs  int64              `json:"wall_time_ns"`
	Jobs        int                `json:"jobs"`
	MaxFailures int                `json:"max_failures"`
	Scenarios   []gateScenarioJSON `json:"scenarios"`
}

type gateScenarioJSON struct {
	Scenario   string              `json:"scenario"`
	FirstSeed  uint64              `json:"first_seed"`
	Seeds      int                 `json:"seeds"`
	TicksMax   int                 `json:"ticks_max"`
	Passed     int                 `json:"passed"`
	Failed     int                 `json:"failed"`
	NotRun     []uint64            `json:"not_run,omitempty"`
	WallTimeNs int64               `json:"wall_time_ns"`
	Thresholds []gateThresholdJSON `json:"thresholds,omitempty"`
	Results    []SeedJSON          `json:"results"`
}

type gateThresholdJSON struct {
	Check     string  `json:"check"` // as printed: "batch_1.p99_us <= 10000"
	Counter   string  `json:"counter"`
	Aggregate string  `json:"aggregate"`
	Min       *uint64 `json:"min,omitempty"`
	Max       *uint64 `json:"max,omitempty"`
	Status    string  `json:"status"`
	Detail    string  `json:"detail"`
}

// WriteGateJSON writes the gate's JSON report, if its config names one.
func WriteGateJSON(cfg GateConfig, runs []GateRun, v Verdict, wall time.Duration) error {
	if cfg.json == "" {
		return nil
	}
	out := GateJSON{Build: CurrentBuild(), Config: cfg.path, Verdict: "pass", ExitCode: v.Code, Reasons: append([]string{}, v.reasons...),
		Tolerated: v.tolerated, Budget: cfg.budget.String(), WallTimeNs: int64(wall), Jobs: cfg.jobs, MaxFailures: cfg.maxFailures}
	if v.Code != ExitPass {
		out.Verdict = "fail"
	}
	for _, run := range runs {
		passed, correctness, liveness := run.tally()
		s := gateScenarioJSON{Scenario: run.scenario.Name, FirstSeed: run.firstSeed, Seeds: run.seeds, TicksMax: run.ticksMax,
			Passed: len(passed), Failed: len(correctness) + len(liveness), NotRun: run.notRun, WallTimeNs: int64(run.wall),
			Results: []SeedJSON{}}
		for _, c := range run.checks {
			s.Thresholds = append(s.Thresholds, c.json())
		}
		for _, r := range run.results {
			s.Results = append(s.Results, NewSeedJSON(r, scenarios.Replay{TicksMax: run.ticksMax}))
		}
		out.Scenarios = append(out.Scenarios, s)
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false) // the checks read "p99_us <= 10000", not "\u003c="
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	return writeFile(cfg.json, data.Bytes())
}

func (c thresholdCheck) json() gateThresholdJSON {
	j := gateThresholdJSON{Check: c.String(), Counter: c.counter, Aggregate: "per_seed", Status: c.status, Detail: c.detail}
	if c.sum {
		j.Aggregate = "sum"
	}
	if c.hasMin {
		j.Min = &c.min
	}
	if c.hasMax {
		j.Max = &c.max
	}
	return j
}

// GateJUnit holds one testsuite per scenario (a testcase per seed, then one per threshold) and
// a last one for what belongs to the whole gate (the budget and max_failures).
type GateJUnit struct {
	XMLName    xml.Name         `xml:"testsuites"`
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Suites     []gateJUnitSuite `xml:"testsuite"`
}

type gateJUnitSuite struct {
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Skipped  int             `xml:"skipped,attr"`
	Cases    []gateJUnitCase `xml:"testcase"`
}

// gateJUnitCase is the swarm's testcase plus <skipped>, for seeds the budget left unrun.
type gateJUnitCase struct {
	JUnitCase
	Skipped *junitSkipped `xml:"skipped,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func (s *gateJUnitSuite) add(c gateJUnitCase) {
	s.Tests++
	if c.Failure != nil {
		s.Failures++
	}
	if c.Skipped != nil {
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

// WriteGateJUnit writes the gate's JUnit report, if its config names one.
func WriteGateJUnit(cfg GateConfig, runs []GateRun) error {
	if cfg.junit == "" {
		return nil
	}
	doc := GateJUnit{Name: "vopr gate " + cfg.path, Properties: buildProperties(CurrentBuild(), nil)}
	for _, run := range runs {
		doc.Suites = append(doc.Suites, run.junitSuite())
	}
	doc.Suites = append(doc.Suites, gateLimitsSuite(cfg, runs))
	for _, s := range doc.Suites {
		doc.Tests, doc.Failures, doc.Skipped = doc.Tests+s.Tests, doc.Failures+s.Failures, doc.Skipped+s.Skipped
	}
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(cfg.junit, append([]byte(xml.Header), append(data, '\n')...))
}

func (run GateRun) junitSuite() gateJUnitSuite {
	suite := gateJUnitSuite{Name: "vopr.gate." + run.scenario.Name}
	for _, r := range run.results {
		suite.add(gateJUnitCase{JUnitCase: SeedCase(r, scenarios.Replay{TicksMax: run.ticksMax})})
	}
	for _, seed := range run.notRun {
		suite.add(gateJUnitCase{JUnitCase: JUnitCase{Name: fmt.Sprintf("seed=%d", seed), ClassName: "vopr." + run.scenario.Name},
			Skipped: &junitSkipped{Message: "the gate's budget ran out before this seed finished"}})
	}
	for _, c := range run.checks {
		tc := gateJUnitCase{JUnitCase: JUnitCase{Name: c.label() + " " + c.String(), ClassName: "vopr.gate." + run.scenario.Name}}
		if c.status != checkHeld {
			tc.Failure = &JUnitFailure{Message: c.detail, Type: c.status}
		}
		suite.add(tc)
	}
	return suite
}

// gateLimitsSuite holds the verdicts that belong to no single seed or threshold.
func gateLimitsSuite(cfg GateConfig, runs []GateRun) gateJUnitSuite {
	suite := gateJUnitSuite{Name: "vopr.gate"}
	budget := gateJUnitCase{JUnitCase: JUnitCase{Name: "budget " + cfg.budget.String(), ClassName: "vopr.gate"}}
	notRun, liveness := 0, 0
	for _, run := range runs {
		_, _, live := run.tally()
		notRun, liveness = notRun+len(run.notRun), liveness+len(live)
	}
	if notRun > 0 {
		budget.Failure = &JUnitFailure{Message: fmt.Sprintf("%d seed(s) did not finish within the budget", notRun), Type: "budget"}
	}
	suite.add(budget)
	failures := gateJUnitCase{JUnitCase: JUnitCase{Name: fmt.Sprintf("max_failures %d", cfg.maxFailures), ClassName: "vopr.gate"}}
	if liveness > cfg.maxFailures {
		failures.Failure = &JUnitFailure{Message: fmt.Sprintf("%d liveness failure(s), %d tolerated", liveness, cfg.maxFailures),
			Type: "liveness"}
	}
	suite.add(failures)
	return suite
}
