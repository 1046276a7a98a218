package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"vopr/report"
)

func readBatch(t *testing.T, path string) report.BatchJSON {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc report.BatchJSON
	require.NoError(t, json.Unmarshal(data, &doc))
	return doc
}

// The shards of a campaign (--shard i/4), merged, are the unsharded run of the same seeds:
// the same seeds, outcomes and trace hashes, and the same summed counters. The reports carry
// the build, the scenario, the shard and the seed range.
func TestShardsMergeIntoTheUnshardedRun(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.json")
	common := []string{"--scenario", "swarm", "--seed", "7", "--ticks-max", "300", "--jobs", "2"}
	code, out, stderr := vopr(append([]string{"swarm", "--seeds", "8", "--json", whole}, common...)...)
	require.Contains(t, []int{exitPass, exitLiveness, exitCorrectness}, code, stderr+out)
	var shards []string
	for i := 0; i < 4; i++ {
		path := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		args := append([]string{"swarm", "--seeds", "2", "--shard", fmt.Sprintf("%d/4", i), "--json", path}, common...)
		_, _, stderr := vopr(args...)
		require.NotContains(t, stderr, "vopr:", "no error")
		doc := readBatch(t, path)
		require.Equal(t, fmt.Sprintf("%d/4", i), doc.Shard)
		require.Equal(t, "swarm", doc.Scenario)
		require.Equal(t, uint64(7), doc.FirstSeed)
		require.Equal(t, 2, doc.Seeds)
		require.NotEmpty(t, doc.Build.GoVersion)
		shards = append(shards, path)
	}
	merged := filepath.Join(dir, "merged.json")
	junit := filepath.Join(dir, "merged.xml")
	mergeCode, mergeOut, stderr := vopr(append([]string{"merge", "--json", merged, "--junit", junit}, shards...)...)
	require.Equal(t, code, mergeCode, "the usual exit code: %s", stderr+mergeOut)
	require.Contains(t, mergeOut, "merge scenario=swarm first_seed=7 shards=0,1,2,3/4 files=4 seeds=8")
	a, b := readBatch(t, whole), readBatch(t, merged)
	require.Len(t, b.Results, 8)
	require.Equal(t, a.Results, b.Results, "same seeds, outcomes, hashes and counters")
	require.Equal(t, a.Counters, b.Counters, "summed counters")
	require.Equal(t, a.Passed, b.Passed)
	require.Equal(t, "0,1,2,3/4", b.Shard)
	xmlData, err := os.ReadFile(junit)
	require.NoError(t, err)
	require.Contains(t, string(xmlData), `<property name="vopr.shard" value="0,1,2,3/4"></property>`)
	coverage := regexp.MustCompile(`(?m)^coverage: .*$`)
	_, wholeOut, _ := vopr(append([]string{"merge"}, whole)...)
	require.Equal(t, coverage.FindString(wholeOut), coverage.FindString(mergeOut), "coverage judged over the union")

	code, _, stderr = vopr("merge", shards[0], shards[1], shards[0])
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "seed 7 is in both")
	other := filepath.Join(dir, "other.json")
	vopr("swarm", "--scenario", "echo", "--seed", "7", "--seeds", "1", "--shard", "1/4", "--json", other)
	code, _, stderr = vopr("merge", shards[0], other)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `not shards of one campaign: scenario "swarm" vs "echo"`)
	require.NoError(t, os.WriteFile(other, []byte("[]"), 0o644))
	code, _, stderr = vopr("merge", other)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "not a vopr")
	code, _, _ = vopr("merge")
	require.Equal(t, exitUsage, code)
}

func TestVersionNamesTheBuild(t *testing.T) {
	code, out, _ := vopr("version")
	require.Equal(t, exitPass, code)
	require.Regexp(t, `^vopr\S* \S+ revision=\S+ dirty=(true|false) go=go1\.\d+`, out)
}

// The deploy/ recipes run valid vopr invocations: the Indexed Job's pods, for every
// completion index, and its merge step, which reads exactly the files the shards write; the
// same for the CI matrix.
func TestDeployManifestsRunValidInvocations(t *testing.T) {
	root := filepath.Join("..", "..", "deploy")
	jobs := kubernetesJobs(t, filepath.Join(root, "kubernetes", "vopr-swarm-job.yaml"))
	require.Len(t, jobs, 1)
	swarm := jobs[0]
	require.Equal(t, "Indexed", swarm.Spec.CompletionMode)
	n := swarm.Spec.Completions
	require.Equal(t, n, swarm.Spec.Parallelism)
	var written []string
	for i := 0; i < n; i++ {
		args := swarm.invocation(strconv.Itoa(i))
		require.NoError(t, checkInvocation(args), "pod %d: %q", i, args)
		require.Contains(t, strings.Join(args, " "), fmt.Sprintf("--shard %d/%d", i, n))
		written = append(written, argAfter(args, "--json"))
	}
	merges := kubernetesJobs(t, filepath.Join(root, "kubernetes", "vopr-merge-job.yaml"))
	require.Len(t, merges, 1)
	merge := merges[0].invocation("")
	require.NoError(t, checkInvocation(merge), "%q", merge)
	files, _, _, err := parseMerge(merge[1:])
	require.NoError(t, err)
	require.ElementsMatch(t, written, files, "the merge step reads every shard's report")

	var workflow struct {
		Jobs map[string]struct {
			Strategy struct{ Matrix struct{ Shard []int } }
			Steps    []struct{ Run string }
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "ci", "github-actions-matrix.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &workflow))
	shardJob := workflow.Jobs["shard"]
	require.Len(t, shardJob.Strategy.Matrix.Shard, n)
	checked := 0
	for name, job := range workflow.Jobs {
		for _, step := range job.Steps {
			line, _, _ := strings.Cut(step.Run, " || ")
			if !strings.HasPrefix(line, "bin/vopr ") {
				continue
			}
			for _, shard := range job.Strategy.Matrix.Shard {
				expanded := strings.ReplaceAll(line, "${{ matrix.shard }}", strconv.Itoa(shard))
				require.NoError(t, checkInvocation(strings.Fields(expanded)[1:]), "%s: %s", name, expanded)
				checked++
			}
			if len(job.Strategy.Matrix.Shard) == 0 {
				require.NoError(t, checkInvocation(strings.Fields(line)[1:]), "%s: %s", name, line)
				checked++
			}
		}
	}
	require.Equal(t, n+1, checked, "every shard's invocation and the merge")
}

type kubernetesJob struct {
	Kind string
	Spec struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int
		Parallelism    int
		Template       struct {
			Spec struct {
				Containers []struct {
					Command []string
					Args    []string
				}
			}
		}
	}
}

// invocation is the job's container command line, with $(JOB_COMPLETION_INDEX) expanded as
// Kubernetes expands it for the pod of that index.
func (j kubernetesJob) invocation(index string) []string {
	c := j.Spec.Template.Spec.Containers[0]
	var args []string
	for _, a := range c.Args {
		args = append(args, strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", index))
	}
	return args
}

func kubernetesJobs(t *testing.T, path string) []kubernetesJob {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var jobs []kubernetesJob
	for {
		var doc kubernetesJob
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "Job" {
			require.Len(t, doc.Spec.Template.Spec.Containers, 1)
			require.Equal(t, []string{"vopr"}, doc.Spec.Template.Spec.Containers[0].Command)
			jobs = append(jobs, doc)
		}
	}
	return jobs
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
