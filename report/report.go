package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"

	"vopr/scenarios"
)

// Exit codes (DESIGN.md section 7), shared by every command.
const (
	ExitPass           = 0
	ExitCorrectness    = 1
	ExitLiveness       = 2
	ExitNondeterminism = 3
	ExitUsage          = 64 // EX_USAGE: bad flags, seeds, configs
	ExitIOError        = 74 // EX_IOERR: a report that cannot be written
	ExitInterrupted    = 130
)

// UsageError is bad input (a config, a report file to merge): exit 64.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

func configErrorf(format string, args ...any) error {
	return UsageError{fmt.Sprintf(format, args...)}
}

// IOError is a report path that cannot be written: exit 74, never 1 (which means a
// correctness failure).
type IOError struct{ Err error }

func (e IOError) Error() string { return e.Err.Error() }
func (e IOError) Unwrap() error { return e.Err }

// CheckWritable finds out, before a run spends anything, whether path can be written: it
// creates the directory and the file, then removes the file again, so that a run that
// stops early never leaves an older run's report behind for CI to read.
func CheckWritable(path string) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return IOError{fmt.Errorf("report %s: %w", path, err)}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return IOError{fmt.Errorf("report %s: %w", path, err)}
	}
	f.Close()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return IOError{fmt.Errorf("report %s: %w", path, err)}
	}
	return nil
}

// writeFile writes a report; a failure is an IOError.
func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return IOError{err}
	}
	return nil
}

// Build is the identity of the binary that ran: a replay needs the same one.
type Build struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Time      string `json:"time,omitempty"`
	Dirty     bool   `json:"dirty"`
	GoVersion string `json:"go_version"`
}

// CurrentBuild reads the running binary's identity from its build information (the VCS
// stamp go build records in a git work tree). Test binaries carry no VCS stamp: their
// revision reads "unknown".
func CurrentBuild() Build {
	b := Build{Module: "vopr", Version: "(devel)", Revision: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Module, b.GoVersion = info.Main.Path, info.GoVersion
	if info.Main.Version != "" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Dirty = s.Value == "true"
		}
	}
	return b
}

// String is the build as `vopr version` prints it.
func (b Build) String() string {
	return fmt.Sprintf("%s %s revision=%s dirty=%t go=%s", b.Module, b.Version, b.Revision, b.Dirty, b.GoVersion)
}

// SeedJSON is one seed's result in a JSON report.
type SeedJSON struct {
	Scenario  string            `json:"scenario"`
	Seed      uint64            `json:"seed"`
	Params    string            `json:"params"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	Replay    string            `json:"replay,omitempty"`
	TraceHash string            `json:"trace_hash"`
	SimTimeNs int64             `json:"sim_time_ns"`
	Counters  map[string]uint64 `json:"counters,omitempty"`
}

// NewSeedJSON is r as a JSON report holds it; a failure carries its replay command.
func NewSeedJSON(r scenarios.Result, p scenarios.Replay) SeedJSON {
	j := SeedJSON{Scenario: r.Scenario, Seed: r.Seed, Params: r.Params, Outcome: r.Outcome.String(), Reason: r.Reason,
		TraceHash: fmt.Sprintf("%016x", r.TraceHash), SimTimeNs: int64(r.SimTime), Counters: r.Counters}
	if r.Outcome != scenarios.Pass {
		j.Replay = p.Command(r)
	}
	return j
}

// JUnitCase is one testcase: a seed (time in simulated seconds) or a gate check.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	TimeSec   float64       `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure,omitempty"`
}

// JUnitFailure is a failed testcase.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// SeedCase is one seed's JUnit testcase; a failure carries the replay command.
func SeedCase(r scenarios.Result, p scenarios.Replay) JUnitCase {
	c := JUnitCase{Name: fmt.Sprintf("seed=%d", r.Seed), ClassName: "vopr." + r.Scenario,
		TimeSec: float64(r.SimTime) / 1e9}
	if r.Outcome != scenarios.Pass {
		c.Failure = &JUnitFailure{Message: r.Reason, Type: r.Outcome.String(), Text: "replay: " + p.Command(r)}
	}
	return c
}

type junitProperties struct {
	Items []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// buildProperties are the build identity and, for a batch, what it ran, as JUnit
// properties.
func buildProperties(b Build, batch *BatchJSON) *junitProperties {
	p := &junitProperties{}
	add := func(name, value string) { p.Items = append(p.Items, junitProperty{name, value}) }
	add("vopr.module", b.Module)
	add("vopr.version", b.Version)
	add("vopr.revision", b.Revision)
	add("vopr.dirty", strconv.FormatBool(b.Dirty))
	if batch != nil {
		add("vopr.scenario", batch.Scenario)
		add("vopr.shard", batch.Shard)
		add("vopr.first_seed", strconv.FormatUint(batch.FirstSeed, 10))
		add("vopr.seeds", strconv.Itoa(batch.Seeds))
		if batch.Mutation != "" {
			add("vopr.mutation", batch.Mutation)
		}
	}
	return p
}
