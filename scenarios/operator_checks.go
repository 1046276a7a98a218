package scenarios

import (
	"fmt"
	"slices"
	"strconv"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// Checks that hold an operator command to its exact, documented effect, the way an operator
// verifies a runbook step before relying on it. A driver that only applies a command and
// goes on cannot tell a command that did what it says from one that did a little more or a
// little less (a throttle that lets one read too many through, a config rule that accepts
// what it must refuse, an action that works a few times and then no more).

// configCommands are `cluster config set|get` as a driver runs them (ConfigSet, ConfigGet
// on the simulated cluster); a test gives its own to show the check is not vacuous.
type configCommands struct {
	set func(key, value string) ([]int, error)
	get func(key string) ([]int, error)
}

func simConfigCommands(c *sim.Cluster) configCommands {
	return configCommands{set: func(key, value string) ([]int, error) { return ConfigSet(c, key, value) },
		get: func(key string) ([]int, error) { return ConfigGet(c, key) }}
}

// checkElectionTimeoutRules tries, on a cluster of replicas that all run, the settings the
// configuration rules forbid (vsr.Config.Validate: the election timeout must exceed two
// heartbeats): an election timeout of one heartbeat and of exactly two, and a heartbeat of
// half the election timeout. Each must be refused with an error, and leave both values as
// they were on every replica. An election timeout one tick above two heartbeats is legal and
// must be accepted by every replica (the caller then sets the value it wants). It returns
// "" or why the cluster's config commands do not hold to the rules.
func checkElectionTimeoutRules(cmd configCommands, replicas int) string {
	read := func() ([]int, []int, string) {
		hb, err := cmd.get(KeyHeartbeatIntervalMs)
		if err != nil {
			return nil, nil, fmt.Sprintf("cluster config get %s: %v", KeyHeartbeatIntervalMs, err)
		}
		el, err := cmd.get(KeyElectionTimeoutMs)
		if err != nil {
			return nil, nil, fmt.Sprintf("cluster config get %s: %v", KeyElectionTimeoutMs, err)
		}
		return hb, el, ""
	}
	hb, el, problem := read()
	if problem != "" {
		return problem
	}
	if len(hb) != replicas || len(el) != replicas || slices.Contains(hb, -1) || slices.Contains(el, -1) {
		return fmt.Sprintf("cluster config get: heartbeat-interval-ms %v, election-timeout-ms %v: want a value from each of %d running replicas",
			hb, el, replicas)
	}
	for i := range hb {
		if hb[i] != hb[0] || el[i] != el[0] {
			return fmt.Sprintf("cluster config get: replicas disagree: heartbeat-interval-ms %v, election-timeout-ms %v", hb, el)
		}
	}
	heartbeat, election := hb[0], el[0]
	forbidden := []struct{ key, value, why string }{
		{KeyElectionTimeoutMs, strconv.Itoa(heartbeat), "an election timeout of one heartbeat"},
		{KeyElectionTimeoutMs, strconv.Itoa(2 * heartbeat), "an election timeout of exactly two heartbeats"},
		{KeyHeartbeatIntervalMs, strconv.Itoa(election / 2), "a heartbeat of half the election timeout"},
	}
	for _, f := range forbidden {
		command := "cluster config set " + f.key + " " + f.value
		changed, err := cmd.set(f.key, f.value)
		if err == nil {
			return fmt.Sprintf("%s (%s; heartbeat-interval-ms %d, election-timeout-ms %d): accepted, changed replicas %v; want it refused: the election timeout must exceed two heartbeats",
				command, f.why, heartbeat, election, changed)
		}
		if len(changed) != 0 {
			return fmt.Sprintf("%s: refused (%v) but changed replicas %v; want none changed", command, err, changed)
		}
		hbNow, elNow, problem := read()
		if problem != "" {
			return problem
		}
		if !slices.Equal(hbNow, hb) || !slices.Equal(elNow, el) {
			return fmt.Sprintf("%s was refused (%v) but the config changed: heartbeat-interval-ms %v -> %v, election-timeout-ms %v -> %v",
				command, err, hb, hbNow, el, elNow)
		}
	}
	legal := 2*heartbeat + ops.TickMs
	command := fmt.Sprintf("cluster config set %s %d", KeyElectionTimeoutMs, legal)
	changed, err := cmd.set(KeyElectionTimeoutMs, strconv.Itoa(legal))
	if err != nil || len(changed) != replicas {
		return fmt.Sprintf("%s (one tick above two heartbeats of %d ms): changed replicas %v, error %v; want it accepted by all %d replicas",
			command, heartbeat, changed, err, replicas)
	}
	if _, elNow, problem := read(); problem != "" {
		return problem
	} else if elNow[0] != legal || slices.ContainsFunc(elNow, func(v int) bool { return v != legal }) {
		return fmt.Sprintf("%s accepted, but cluster config get %s says %v", command, KeyElectionTimeoutMs, elNow)
	}
	return ""
}

// opSlotRepeats is how many times a driver runs a storage action in a row on one replica:
// more than the replica's operator actions in flight (vsr.OperatorPendingMax), so that an
// action that does not give its slot back is refused by the last at the latest.
const opSlotRepeats = vsr.OperatorPendingMax + 1

// judgeRepeatedAction is the check of an operator action run repeatedly on one replica, one
// after the other, each after the previous completed: every run must succeed (errs holds each
// run's error in order). It returns "" or the first run that failed.
func judgeRepeatedAction(command string, errs []error) string {
	for k, err := range errs {
		if err != nil {
			return fmt.Sprintf("%s, run %d of %d in a row (each after the previous completed): %v; want every run to succeed (at most %d operator actions are in flight, and none was)",
				command, k+1, len(errs), err, vsr.OperatorPendingMax)
		}
	}
	return ""
}

// checkBatchSizeRules runs the performance runbook's batch-size commands on a cluster of
// replicas that all run, holding each to its documented effect: `cluster config get
// max-batch-size` answers the same value on every replica; a size below one request, one
// above what a prepare holds (vsr.BatchEntriesMax) and the runbook's own "1000" (above it
// too) are refused with an error and change nothing; the largest size is accepted; then
// `cluster config set max-batch-size want` is accepted by every replica and read back.
func checkBatchSizeRules(cmd configCommands, replicas, want int) string {
	read := func() ([]int, string) {
		values, err := cmd.get(KeyMaxBatchSize)
		switch {
		case err != nil:
			return nil, fmt.Sprintf("cluster config get %s: %v", KeyMaxBatchSize, err)
		case len(values) != replicas || slices.Contains(values, -1):
			return nil, fmt.Sprintf("cluster config get %s: %v: want a value from each of %d running replicas",
				KeyMaxBatchSize, values, replicas)
		case slices.ContainsFunc(values, func(v int) bool { return v != values[0] }):
			return nil, fmt.Sprintf("cluster config get %s: replicas disagree: %v", KeyMaxBatchSize, values)
		}
		return values, ""
	}
	before, problem := read()
	if problem != "" {
		return problem
	}
	for _, value := range []int{0, vsr.BatchEntriesMax + 1, 1000} {
		command := fmt.Sprintf("cluster config set %s %d", KeyMaxBatchSize, value)
		changed, err := cmd.set(KeyMaxBatchSize, strconv.Itoa(value))
		if err == nil {
			return fmt.Sprintf("%s: accepted, changed replicas %v; want it refused: a batch holds 1 to %d requests",
				command, changed, vsr.BatchEntriesMax)
		}
		if len(changed) != 0 {
			return fmt.Sprintf("%s: refused (%v) but changed replicas %v; want none changed", command, err, changed)
		}
		now, problem := read()
		if problem != "" {
			return problem
		}
		if !slices.Equal(now, before) {
			return fmt.Sprintf("%s was refused (%v) but the config changed: %s %v -> %v", command, err,
				KeyMaxBatchSize, before, now)
		}
	}
	for _, value := range []int{vsr.BatchEntriesMax, want} {
		command := fmt.Sprintf("cluster config set %s %d", KeyMaxBatchSize, value)
		if changed, err := cmd.set(KeyMaxBatchSize, strconv.Itoa(value)); err != nil || len(changed) != replicas {
			return fmt.Sprintf("%s: changed replicas %v, error %v; want it accepted by all %d replicas (a batch holds 1 to %d requests)",
				command, changed, err, replicas, vsr.BatchEntriesMax)
		}
		now, problem := read()
		if problem != "" {
			return problem
		}
		if now[0] != value {
			return fmt.Sprintf("%s accepted, but cluster config get %s says %v", command, KeyMaxBatchSize, now)
		}
	}
	return ""
}
