package scenarios

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
	"vopr/ops"
)

// The throttle check passes exactly N served, answered and one drop per client, and names
// the command and the counts when the standby served one read too many (or too few).
func TestJudgeThrottleBurst(t *testing.T) {
	good := throttleBurst{MaxQPS: 3, Clients: 2, Served: 3, Dropped: 2, Answered: 3, Ns: 20_000_000}
	require.Empty(t, judgeThrottleBurst(good))

	over := good
	over.Served, over.Answered = 4, 4 // a throttle that serves N+1
	problem := judgeThrottleBurst(over)
	require.Contains(t, problem, "standby throttle --max-qps 3")
	require.Contains(t, problem, "the standby served 4")
	require.Contains(t, problem, "want exactly 3")

	under := good
	under.Served, under.Answered = 2, 2
	require.Contains(t, judgeThrottleBurst(under), "served 2")

	lostReply := good
	lostReply.Answered = 2
	require.Contains(t, judgeThrottleBurst(lostReply), "answered 2 times")

	drops := good
	drops.Dropped = 3
	require.Contains(t, judgeThrottleBurst(drops), "dropped 3 reads; want 2")

	behind := good
	behind.Behind = 1
	require.Contains(t, judgeThrottleBurst(behind), "as behind")
}

// fakeConfigs are `cluster config set|get` over in-memory replica configs, with a validation
// rule of the test's choosing (nil: none), so the check can be shown a cluster whose rules are
// wrong without planting a bug in it.
type fakeConfigs struct {
	configs  []vsr.Config
	validate func(vsr.Config) error
	// changeOnRefusal: a refused set still changes the first replica.
	changeOnRefusal bool
}

func (f *fakeConfigs) commands() configCommands {
	return configCommands{
		set: func(key, value string) ([]int, error) {
			var changed []int
			for i, cur := range f.configs {
				n, _ := strconv.Atoi(value)
				cfg := cur
				switch key {
				case KeyElectionTimeoutMs:
					cfg.ElectionTimeoutTicks = (n + ops.TickMs - 1) / ops.TickMs
				case KeyMaxBatchSize:
					cfg.BatchMax = n
				default:
					cfg.HeartbeatTicks = (n + ops.TickMs - 1) / ops.TickMs
				}
				if f.validate != nil {
					if err := f.validate(cfg); err != nil {
						if f.changeOnRefusal {
							f.configs[0] = cfg
						}
						return nil, err
					}
				}
				f.configs[i] = cfg
				changed = append(changed, i)
			}
			return changed, nil
		},
		get: func(key string) ([]int, error) {
			var values []int
			for _, cfg := range f.configs {
				v, err := ops.ConfigValue(cfg, key)
				if err != nil {
					return nil, err
				}
				values = append(values, v)
			}
			return values, nil
		},
	}
}

func newFakeConfigs(validate func(vsr.Config) error) *fakeConfigs {
	return &fakeConfigs{configs: []vsr.Config{vsr.DefaultConfig(), vsr.DefaultConfig(), vsr.DefaultConfig()},
		validate: validate}
}

func TestCheckElectionTimeoutRules(t *testing.T) {
	// The real rules: the forbidden settings are refused, the legal one is taken.
	right := newFakeConfigs(vsr.Config.Validate)
	require.Empty(t, checkElectionTimeoutRules(right.commands(), 3))
	require.Equal(t, 2*vsr.DefaultConfig().HeartbeatTicks+1, right.configs[2].ElectionTimeoutTicks)

	// A rule one heartbeat loose accepts an election timeout of exactly two heartbeats.
	loose := newFakeConfigs(func(c vsr.Config) error {
		if c.ElectionTimeoutTicks <= c.HeartbeatTicks {
			return fmt.Errorf("election timeout must exceed a heartbeat")
		}
		return nil
	})
	problem := checkElectionTimeoutRules(loose.commands(), 3)
	require.Contains(t, problem, "cluster config set election-timeout-ms 100")
	require.Contains(t, problem, "accepted")
	require.Contains(t, problem, "want it refused")

	// No rule at all: the first forbidden setting is taken.
	require.Contains(t, checkElectionTimeoutRules(newFakeConfigs(nil).commands(), 3),
		"cluster config set election-timeout-ms 50")

	// A refusal that changes a replica anyway.
	leaky := newFakeConfigs(vsr.Config.Validate)
	leaky.changeOnRefusal = true
	require.Contains(t, checkElectionTimeoutRules(leaky.commands(), 3), "but the config changed")

	// Rules too strict: the legal setting is refused.
	strict := newFakeConfigs(func(vsr.Config) error { return fmt.Errorf("no") })
	require.Contains(t, checkElectionTimeoutRules(strict.commands(), 3),
		"cluster config set election-timeout-ms 110 (one tick above two heartbeats of 50 ms)")

	// A replica that does not answer: the check needs every replica.
	require.Contains(t, checkElectionTimeoutRules(right.commands(), 4), "want a value from each of 4")
}

// On a real cluster the check passes and leaves the legal election timeout set.
func TestCheckElectionTimeoutRulesOnACluster(t *testing.T) {
	tc := newTestCluster(t, testOptions{replicas: 3, clients: 1, seed: 31})
	tc.commitN(5, 2000)
	require.Empty(t, checkElectionTimeoutRules(simConfigCommands(tc.Cluster), 3))
	for i := 0; i < 3; i++ {
		require.Equal(t, 2*vsr.DefaultConfig().HeartbeatTicks+1, tc.Replica(i).Config().ElectionTimeoutTicks)
	}
	tc.commitN(5, 2000)
	tc.requireNoFailures()
}

func TestJudgeRepeatedAction(t *testing.T) {
	ok := make([]error, opSlotRepeats)
	require.Empty(t, judgeRepeatedAction("storage export --replica-id 1", ok))
	busy := append(ok[:opSlotRepeats-1:opSlotRepeats-1], vsr.ErrOperatorBusy)
	problem := judgeRepeatedAction("storage export --replica-id 1", busy)
	require.Contains(t, problem, "storage export --replica-id 1")
	require.Contains(t, problem, fmt.Sprintf("run %d of %d", opSlotRepeats, opSlotRepeats))
	require.Contains(t, problem, vsr.ErrOperatorBusy.Error())
	require.Greater(t, opSlotRepeats, vsr.OperatorPendingMax)
}

// On a real replica, exports in a row all succeed, more of them than the actions it keeps in
// flight: each gives its slot back.
func TestOperatorExportsInARow(t *testing.T) {
	cc := newCheckedCluster(t, testOptions{replicas: 3, clients: 1, seed: 23})
	op := cc.operator()
	cc.commit(80)
	var errs []error
	for k := 0; k < opSlotRepeats; k++ {
		_, err := op.Export(1)
		errs = append(errs, err)
	}
	require.Empty(t, judgeRepeatedAction("storage export --replica-id 1", errs))
	cc.finish()
}

func TestCheckBatchSizeRules(t *testing.T) {
	// The real rules: 0, 65 and 1000 refused, 64 taken, then the size wanted.
	right := newFakeConfigs(vsr.Config.Validate)
	require.Empty(t, checkBatchSizeRules(right.commands(), 3, 16))
	for _, cfg := range right.configs {
		require.Equal(t, 16, cfg.BatchMax)
	}

	withBatchRule := func(ok func(n int) bool) func(vsr.Config) error {
		return func(c vsr.Config) error {
			if !ok(c.BatchMax) {
				return fmt.Errorf("batch size out of range")
			}
			return nil
		}
	}
	// A rule that lets an empty batch through.
	zero := newFakeConfigs(withBatchRule(func(n int) bool { return n >= 0 && n <= vsr.BatchEntriesMax }))
	require.Contains(t, checkBatchSizeRules(zero.commands(), 3, 16), "cluster config set max-batch-size 0: accepted")
	// A rule one request too loose at the top.
	loose := newFakeConfigs(withBatchRule(func(n int) bool { return n >= 1 && n <= vsr.BatchEntriesMax+1 }))
	require.Contains(t, checkBatchSizeRules(loose.commands(), 3, 16), "cluster config set max-batch-size 65: accepted")
	// A rule one request too strict at the top.
	strict := newFakeConfigs(withBatchRule(func(n int) bool { return n >= 1 && n < vsr.BatchEntriesMax }))
	require.Contains(t, checkBatchSizeRules(strict.commands(), 3, 16), "cluster config set max-batch-size 64: changed replicas")
	// A refusal that changes a replica anyway.
	leaky := newFakeConfigs(vsr.Config.Validate)
	leaky.changeOnRefusal = true
	require.Contains(t, checkBatchSizeRules(leaky.commands(), 3, 16), "replicas disagree: [0 64 64]")
	// A replica that does not answer.
	require.Contains(t, checkBatchSizeRules(right.commands(), 4, 16), "want a value from each of 4")
}

// The executed batches are held to the configured size, read from the prepares themselves.
func TestBatchSizesCheck(t *testing.T) {
	prepare := func(count uint16) []byte {
		p := make([]byte, vsr.HeaderSize+2)
		binary.LittleEndian.PutUint16(p[vsr.HeaderSize:], count)
		return p
	}
	var b batchSizes
	b.observe(vsr.Event{Kind: vsr.EventCommit, Replica: 1, Op: 7, Prepare: prepare(16)})
	b.observe(vsr.Event{Kind: vsr.EventRepair, Replica: 1, Op: 8, Prepare: prepare(60)}) // not an execution
	require.Empty(t, b.check(16))
	b.observe(vsr.Event{Kind: vsr.EventCommit, Replica: 2, Op: 9, Prepare: prepare(17)})
	require.Equal(t, "max-batch-size 16: replica 2 executed op 9, a batch of 17 requests", b.check(16))
}
