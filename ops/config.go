package ops

import (
	"errors"
	"fmt"
	"strconv"

	"vopr/cluster/vsr"
)

// Config keys of `cluster config set|get`.
const (
	KeyElectionTimeoutMs   = "election-timeout-ms"
	KeyHeartbeatIntervalMs = "heartbeat-interval-ms"
	KeyMaxBatchSize        = "max-batch-size"
)

// TickMs is the replica's tick in milliseconds, as both hosts run it (sim.TickInterval,
// server.TickInterval; their tests hold them equal): timeouts are whole ticks.
const TickMs = 10

// ErrUnknownKey: cluster config set|get of a key the cluster does not have.
var ErrUnknownKey = errors.New("operator: unknown config key")

// ConfigApply returns cfg with key set to value (milliseconds rounded up to whole ticks),
// validated (vsr.Config.Validate).
func ConfigApply(cfg vsr.Config, key, value string) (vsr.Config, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 {
		return cfg, fmt.Errorf("operator: %s: value %q is not a positive integer", key, value)
	}
	switch key {
	case KeyElectionTimeoutMs:
		cfg.ElectionTimeoutTicks = (n + TickMs - 1) / TickMs
	case KeyHeartbeatIntervalMs:
		cfg.HeartbeatTicks = (n + TickMs - 1) / TickMs
	case KeyMaxBatchSize:
		cfg.BatchMax = n
	default:
		return cfg, fmt.Errorf("%w: %q", ErrUnknownKey, key)
	}
	return cfg, cfg.Validate()
}

// ConfigValue reads key from cfg, in the unit ConfigApply takes.
func ConfigValue(cfg vsr.Config, key string) (int, error) {
	switch key {
	case KeyElectionTimeoutMs:
		return cfg.ElectionTimeoutTicks * TickMs, nil
	case KeyHeartbeatIntervalMs:
		return cfg.HeartbeatTicks * TickMs, nil
	case KeyMaxBatchSize:
		return cfg.BatchMax, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownKey, key)
}

// Configs is how a transport reaches the replicas' configurations: Current returns replica
// i's (false when it does not answer), Set installs one on replica i.
type Configs struct {
	Replicas int
	Current  func(i int) (vsr.Config, bool)
	Set      func(i int, cfg vsr.Config) error
}

// ConfigSet is `cluster config set KEY VALUE`, applied to every running replica. The new
// configuration is validated on every running replica before any is changed, so a refused
// value changes nothing. It returns the replicas it changed. A replica that is down is not
// changed: it restarts with its boot configuration (configuration drift, which ConfigGet
// shows).
func ConfigSet(c Configs, key, value string) ([]int, error) {
	var running []int
	var configs []vsr.Config
	for i := 0; i < c.Replicas; i++ {
		cur, ok := c.Current(i)
		if !ok {
			continue
		}
		cfg, err := ConfigApply(cur, key, value)
		if err != nil {
			return nil, fmt.Errorf("operator: replica %d: %w", i, err)
		}
		running, configs = append(running, i), append(configs, cfg)
	}
	for k, i := range running {
		if err := c.Set(i, configs[k]); err != nil {
			return running[:k], fmt.Errorf("operator: replica %d: %w", i, err)
		}
	}
	return running, nil
}

// ConfigGet is `cluster config get KEY`: the value on each replica, -1 for one that does not
// answer, so drift is visible.
func ConfigGet(c Configs, key string) ([]int, error) {
	values := make([]int, c.Replicas)
	if _, err := ConfigValue(vsr.Config{}, key); err != nil {
		return nil, err
	}
	for i := range values {
		values[i] = -1
		if cfg, ok := c.Current(i); ok {
			values[i], _ = ConfigValue(cfg, key)
		}
	}
	return values, nil
}

// ConfigReport is `kimberlite-cli cluster config set|get` as JSON.
type ConfigReport struct {
	Key string `json:"key"`
	// Values is each replica's value after the command, -1 where it does not answer.
	Values []int `json:"values"`
	// Changed lists the replicas `set` changed.
	Changed []int `json:"changed,omitempty"`
}
