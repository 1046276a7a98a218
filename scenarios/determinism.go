package scenarios

import (
	"fmt"

	"vopr/sim"
)

// DeterminismTraceKeep is how many trace records a determinism check keeps per run to name
// the first divergent event. Runs longer than that are still compared by their final hash.
const DeterminismTraceKeep = 1 << 20

// Divergence describes two runs of one seed that did not produce the same trace.
type Divergence struct {
	Seed   uint64
	Index  int        // index of the first differing record, or -1 if only the final hashes differ
	First  sim.Record // the record of the first run at Index
	Second sim.Record // the record of the second run at Index
	HashA  uint64
	HashB  uint64
}

func (d *Divergence) String() string {
	if d.Index < 0 {
		return fmt.Sprintf("seed %d: final trace hashes differ (%016x vs %016x) beyond the first %d records",
			d.Seed, d.HashA, d.HashB, DeterminismTraceKeep)
	}
	return fmt.Sprintf("seed %d: first divergent event #%d\n  run 1: %s\n  run 2: %s", d.Seed, d.Index, d.First, d.Second)
}

// CheckDeterminism runs one seed twice and compares the traces record by record. It
// returns nil when both runs produced the same trace.
func CheckDeterminism(run func(Options) Result, o Options) *Divergence {
	o.TraceKeep, o.Out = DeterminismTraceKeep, nil
	a, b := run(o), run(o)
	if a.TraceHash == b.TraceHash && a.Events == b.Events {
		return nil
	}
	d := &Divergence{Seed: o.Seed, Index: sim.FirstDivergence(a.Trace, b.Trace), HashA: a.TraceHash, HashB: b.TraceHash}
	if d.Index >= 0 {
		d.First, d.Second = recordAt(a.Trace, d.Index), recordAt(b.Trace, d.Index)
	}
	return d
}

func recordAt(t *sim.Trace, i int) sim.Record {
	if i < len(t.Kept) {
		return t.Kept[i]
	}
	return sim.Record{Node: -1, Kind: "end", Text: "(trace ended)"}
}
