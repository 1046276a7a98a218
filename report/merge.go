package report

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"vopr/scenarios"
	"vopr/sim"
)

// Merge joins the JSON reports of a sharded campaign (vopr swarm --shard I/N --json FILE on
// each machine) into one batch: the union of their seeds, with the counters summed over it.
// The files must come from one campaign: the same scenario, first seed, tick budget,
// planted bug, shard count and binary revision. A seed in two files is an error (the
// shards overlap, or a file was given twice), as is a file that does not parse; both exit 64.
func Merge(paths []string) (Batch, error) {
	if len(paths) == 0 {
		return Batch{}, configErrorf("merge: expected one or more JSON reports (vopr swarm --json FILE)")
	}
	var first BatchJSON
	var b Batch
	seen := map[uint64]string{}
	var shards []string
	for i, path := range paths {
		doc, err := readBatch(path)
		if err != nil {
			return Batch{}, err
		}
		if i == 0 {
			first = doc
			b = Batch{Command: "merge", Scenario: doc.Scenario, FirstSeed: doc.FirstSeed,
				Replay: scenarios.Replay{TicksMax: doc.TicksMax}}
			if doc.Mutation != "" {
				m, ok := scenarios.LookupMutation(doc.Mutation)
				if !ok {
					return Batch{}, configErrorf("merge: %s: mutation %q: not a planted bug of this binary", path, doc.Mutation)
				}
				b.Replay.Mutation = m
			}
		} else if err := sameCampaign(first, doc, paths[0], path); err != nil {
			return Batch{}, err
		}
		shards = append(shards, doc.Shard)
		b.Seeds += doc.Seeds
		b.Interrupted = b.Interrupted || doc.Interrupted
		for _, sj := range doc.Results {
			if other, dup := seen[sj.Seed]; dup {
				return Batch{}, configErrorf("merge: seed %d is in both %s and %s: shards of one campaign never share a seed", sj.Seed, other, path)
			}
			seen[sj.Seed] = path
			r, err := resultOf(sj)
			if err != nil {
				return Batch{}, configErrorf("merge: %s: seed %d: %v", path, sj.Seed, err)
			}
			b.Results = append(b.Results, r)
		}
	}
	sort.Slice(b.Results, func(i, j int) bool { return b.Results[i].Seed < b.Results[j].Seed })
	b.Shards = mergedShards(shards)
	return b, nil
}

func readBatch(path string) (BatchJSON, error) {
	var doc BatchJSON
	data, err := os.ReadFile(path)
	if err != nil {
		return doc, configErrorf("merge: %v", err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return doc, configErrorf("merge: %s: not a vopr JSON report: %v", path, err)
	}
	if doc.Scenario == "" || doc.Shard == "" {
		return doc, configErrorf("merge: %s: not a vopr run/swarm JSON report (no scenario or shard)", path)
	}
	return doc, nil
}

// sameCampaign checks that b belongs to the campaign of a.
func sameCampaign(a, b BatchJSON, pathA, pathB string) error {
	_, countA, _ := strings.Cut(a.Shard, "/")
	_, countB, _ := strings.Cut(b.Shard, "/")
	for _, c := range []struct {
		what   string
		va, vb string
	}{
		{"scenario", a.Scenario, b.Scenario},
		{"first_seed", strconv.FormatUint(a.FirstSeed, 10), strconv.FormatUint(b.FirstSeed, 10)},
		{"ticks_max", strconv.Itoa(a.TicksMax), strconv.Itoa(b.TicksMax)},
		{"mutation", a.Mutation, b.Mutation},
		{"shard count", countA, countB},
		{"build revision", a.Build.Revision, b.Build.Revision},
	} {
		if c.va != c.vb {
			return configErrorf("merge: %s and %s are not shards of one campaign: %s %q vs %q", pathA, pathB, c.what, c.va, c.vb)
		}
	}
	return nil
}

// mergedShards names the shards joined: "0,1,2,3/4".
func mergedShards(shards []string) string {
	var idx []string
	count := ""
	for _, s := range shards {
		i, n, _ := strings.Cut(s, "/")
		idx, count = append(idx, i), n
	}
	sort.Slice(idx, func(i, j int) bool { a, _ := strconv.Atoi(idx[i]); b, _ := strconv.Atoi(idx[j]); return a < b })
	return strings.Join(idx, ",") + "/" + count
}

// resultOf reads a seed back from its JSON form.
func resultOf(sj SeedJSON) (scenarios.Result, error) {
	r := scenarios.Result{Scenario: sj.Scenario, Seed: sj.Seed, Params: sj.Params, Reason: sj.Reason,
		SimTime: sim.Time(sj.SimTimeNs), Counters: sj.Counters}
	switch sj.Outcome {
	case "pass":
		r.Outcome = scenarios.Pass
	case "correctness":
		r.Outcome = scenarios.Correctness
	case "liveness":
		r.Outcome = scenarios.Liveness
	default:
		return r, fmt.Errorf("outcome %q: expected pass, correctness or liveness", sj.Outcome)
	}
	h, err := strconv.ParseUint(sj.TraceHash, 16, 64)
	if err != nil {
		return r, fmt.Errorf("trace_hash %q: %v", sj.TraceHash, err)
	}
	r.TraceHash = h
	return r, nil
}
