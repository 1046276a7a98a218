package ops

import (
	"fmt"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

// SmokeStep is one operation of `test smoke-tests` and the result it must get.
type SmokeStep struct {
	Name     string
	Op       kv.Op
	Want     kv.Result
	Critical bool // run by --critical-only: writes, reads them back, compare-and-swap
}

// SmokeTests returns the smoke test's steps, in order, on keys under prefix (a fresh prefix
// per run, so that runs do not see each other's keys). Each step's expected result follows
// from the ones before it: the test writes, reads back and checks.
func SmokeTests(prefix string, criticalOnly bool) []SmokeStep {
	k, absent := prefix+"/key", prefix+"/absent"
	steps := []SmokeStep{
		{"put", kv.Op{Kind: kv.KindPut, Key: k, Value: "v1"}, kv.Result{Status: kv.StatusOK}, true},
		{"get after put", kv.Op{Kind: kv.KindGet, Key: k}, kv.Result{Status: kv.StatusOK, Value: "v1"}, true},
		{"append", kv.Op{Kind: kv.KindAppend, Key: k, Value: "+a"}, kv.Result{Status: kv.StatusOK}, true},
		{"get after append", kv.Op{Kind: kv.KindGet, Key: k}, kv.Result{Status: kv.StatusOK, Value: "v1+a"}, true},
		{"cas", kv.Op{Kind: kv.KindCAS, Key: k, Expected: "v1+a", Value: "v2"}, kv.Result{Status: kv.StatusOK}, true},
		{"get after cas", kv.Op{Kind: kv.KindGet, Key: k}, kv.Result{Status: kv.StatusOK, Value: "v2"}, true},
		{"get of an absent key", kv.Op{Kind: kv.KindGet, Key: absent}, kv.Result{Status: kv.StatusNotFound}, true},
		{"cas with a stale expectation", kv.Op{Kind: kv.KindCAS, Key: k, Expected: "v1", Value: "v3"},
			kv.Result{Status: kv.StatusMismatch, Value: "v2"}, false},
		{"cas on an absent key", kv.Op{Kind: kv.KindCAS, Key: absent, Expected: "x", Value: "y"},
			kv.Result{Status: kv.StatusNotFound}, false},
		{"cas expecting absence", kv.Op{Kind: kv.KindCAS, Key: absent, Value: "new", ExpectedAbsent: true},
			kv.Result{Status: kv.StatusOK}, false},
		{"get after cas expecting absence", kv.Op{Kind: kv.KindGet, Key: absent}, kv.Result{Status: kv.StatusOK, Value: "new"}, false},
	}
	if !criticalOnly {
		return steps
	}
	var critical []SmokeStep
	for _, s := range steps {
		if s.Critical {
			critical = append(critical, s)
		}
	}
	return critical
}

// SmokeStepResult is one step's outcome in the report.
type SmokeStepResult struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Got    string `json:"got"`
	Want   string `json:"want"`
}

// SmokeReport is `kimberlite-cli test smoke-tests`.
type SmokeReport struct {
	Status string            `json:"status"` // passed or failed
	Steps  []SmokeStepResult `json:"steps"`
}

// Check compares a step's result; err is the transport's (the operation's outcome is
// unknown), which fails the step.
func (s SmokeStep) Check(got kv.Result, err error) SmokeStepResult {
	r := SmokeStepResult{Name: s.Name, Want: describeResult(s.Want)}
	if err != nil {
		r.Got = "error: " + err.Error()
		return r
	}
	r.Got, r.Passed = describeResult(got), got == s.Want
	return r
}

// SmokeReportOf summarises the steps run (a failed step ends the run: later ones depend
// on it).
func SmokeReportOf(steps []SmokeStepResult) SmokeReport {
	rep := SmokeReport{Status: "passed", Steps: steps}
	for _, s := range steps {
		if !s.Passed {
			rep.Status = "failed"
		}
	}
	return rep
}

var resultNames = map[kv.Status]string{kv.StatusOK: "ok", kv.StatusNotFound: "not_found",
	kv.StatusMismatch: "mismatch", kv.StatusTooLarge: "too_large", kv.StatusFull: "full",
	kv.StatusInvalid: "invalid", kv.StatusUnsupported: "unsupported"}

func describeResult(r kv.Result) string {
	name, ok := resultNames[r.Status]
	if !ok {
		name = fmt.Sprintf("status %d", r.Status)
	}
	if r.Value != "" {
		return fmt.Sprintf("%s %q", name, r.Value)
	}
	return name
}

// VerifyResult is `storage verify --full-scan` as JSON (storage.VerifyReport's fields).
type VerifyResult struct {
	Status                 string          `json:"status"` // ok or damaged
	Problems               []VerifyProblem `json:"problems"`
	Faulty                 []uint64        `json:"faulty_ops"`
	SuperblockCopiesIntact int             `json:"superblock_copies_intact"`
	CheckpointOp           uint64          `json:"checkpoint_op"`
	Segments               int             `json:"segments"`
	Entries                int             `json:"entries"`
	Head                   uint64          `json:"head"`
}

// VerifyProblem is a storage.Problem as JSON.
type VerifyProblem struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Op     uint64 `json:"op"`
	Reason string `json:"reason"`
}

// VerifyResultOf presents a full scan's report.
func VerifyResultOf(r storage.VerifyReport) VerifyResult {
	v := VerifyResult{Status: "ok", Problems: []VerifyProblem{}, Faulty: r.Faulty,
		SuperblockCopiesIntact: r.SuperblockCopiesIntact, CheckpointOp: r.CheckpointOp, Segments: r.Segments,
		Entries: r.Entries, Head: r.Head}
	if !r.OK {
		v.Status = "damaged"
	}
	if v.Faulty == nil {
		v.Faulty = []uint64{}
	}
	for _, p := range r.Problems {
		v.Problems = append(v.Problems, VerifyProblem{File: p.File, Offset: p.Offset, Op: p.Op, Reason: p.Reason})
	}
	return v
}
