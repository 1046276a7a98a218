package scenarios

import (
	"errors"
	"fmt"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/sim"
)

// The operator-action API: the runbook's kimberlite-cli commands, implemented against the
// real cluster code. Status comes from the replicas' own Inspection (what `replica status`
// asks the process), storage actions run the storage engine (storage.Open, Verify, Backup,
// Restore) on the replica's disk, and configuration goes through Replica.SetConfig. The
// only thing read from the simulator is what an operator learns from the host: whether the
// process answers at all (a crashed or paused node is "unreachable"), and the disk itself.
//
// Storage actions are asynchronous like the engine (their callbacks run from disk
// completions on the event loop); Operator wraps them into synchronous steps that drive the
// world tick by tick until the action completes, so that a scenario keeps its checkers
// running while the operator works.
//
// Replica identity and backups. A backup holds its source's superblock, and the superblock
// names its replica (storage.State.Replica); Restore keeps it, and a replica refuses to open
// a superblock of another index (vsr asserts "superblock belongs to another replica").
// Restoring replica i from replica j's backup would also hand i a log whose acknowledgements
// it never made while dropping those it did (VSR amnesia). So StorageRestore refuses a backup
// of another replica (ErrWrongReplica) and restores only a backup taken from the replica
// itself: the runbook's "s3://backups/latest" is read as the newest backup of that replica.
// It is safe when the replica acknowledged nothing after the backup was taken (it stayed
// down since), which is how replica_crash uses it.

// Errors of the operator actions.
var (
	// ErrReplicaRunning: the storage action needs the replica stopped (crashed) first.
	ErrReplicaRunning = errors.New("operator: replica is running; stop it first")
	// ErrWrongReplica: the backup was taken from another replica.
	ErrWrongReplica = ops.ErrWrongReplica
	// ErrUnknownKey: cluster config set/get of a key the cluster does not have.
	ErrUnknownKey = ops.ErrUnknownKey
	// ErrTimeout: the action did not complete within the operator's budget.
	ErrTimeout = errors.New("operator: action timed out")
)

// StatusUnreachable is the status of a replica whose process does not answer.
const StatusUnreachable = ops.StatusUnreachable

// ReplicaStatusReport is `kimberlite-cli replica status --replica-id N`, written once in
// package ops for the simulator and the CLI.
type ReplicaStatusReport = ops.ReplicaStatusReport

// ClusterStatusReport is `kimberlite-cli cluster status` (package ops).
type ClusterStatusReport = ops.ClusterStatusReport

// ReplicaStatus asks replica i for its status.
func ReplicaStatus(c *sim.Cluster, i int) ReplicaStatusReport {
	s := replicaStatus(c, i)
	logPoll(c, func() (string, string, string) {
		return fmt.Sprintf("replica status --replica-id %d", replicaID(c, i)), s.Gist(), s.String()
	})
	return s
}

// replicaID is the runbook's id of replica i: its index, or 100 and up for a standby.
func replicaID(c *sim.Cluster, i int) int {
	if i >= c.ReplicaCount() {
		return vsr.StandbyIDBase + i - c.ReplicaCount()
	}
	return i
}

// replicaStatus is what the replica's process answers (ops.ReplicaStatusOf), or
// unreachable: the simulator's transport of `replica status`.
func replicaStatus(c *sim.Cluster, i int) ReplicaStatusReport {
	r := c.Replica(i)
	if r == nil || c.Nodes[i].Status() != sim.NodeUp {
		return ops.Unreachable(i)
	}
	return ops.ReplicaStatusOf(r.InspectState(), r.DiskUsagePct())
}

// ClusterStatus asks every replica for its status.
func ClusterStatus(c *sim.Cluster) ClusterStatusReport {
	s := clusterStatus(c)
	logPoll(c, func() (string, string, string) { return "cluster status", s.Gist(), s.Gist() })
	return s
}

func clusterStatus(c *sim.Cluster) ClusterStatusReport {
	// Sized once: the monitors ask at every sample, and append's growth from nil allocated
	// three arrays of these large reports for a cluster of five.
	replicas := make([]ReplicaStatusReport, 0, c.ReplicaCount())
	for i := 0; i < c.ReplicaCount(); i++ {
		replicas = append(replicas, replicaStatus(c, i))
	}
	return ops.ClusterStatusOf(replicas)
}

func stoppedDisk(c *sim.Cluster, i int) (*sim.Disk, error) {
	if i < 0 || i >= c.ReplicaCount() {
		return nil, fmt.Errorf("operator: no replica %d", i)
	}
	if c.Nodes[i].Status() != sim.NodeCrashed {
		return nil, fmt.Errorf("%w: replica %d is %s", ErrReplicaRunning, i, c.Nodes[i].Status())
	}
	return c.Nodes[i].Disk, nil
}

// StorageVerify is `kimberlite-cli storage verify --replica-id i --full-scan`: it opens
// the stopped replica's storage (storage.Open, as a restart would) and runs the engine's
// full scan (Storage.Verify). done runs from a disk completion with the report, or with the
// error that kept the engine from opening (a report with OK false then says why).
func StorageVerify(c *sim.Cluster, i int, done func(storage.VerifyReport, error)) {
	disk, err := stoppedDisk(c, i)
	if err != nil {
		c.Loop.After(0, func() { done(storage.VerifyReport{}, err) })
		return
	}
	verifyDisk(disk, done)
}

// verifyDisk is the work of StorageVerify on a disk (ops.StorageVerify, which the CLI runs
// on a stopped server's directory).
func verifyDisk(disk storage.FS, done func(storage.VerifyReport, error)) {
	ops.StorageVerify(disk, done)
}

// StorageBackup takes a backup of the stopped replica i (Storage.Backup: the superblock,
// the checkpoint and every entry above it, read back and verified). It fails with
// storage.ErrFaulty when an entry above the checkpoint is damaged.
func StorageBackup(c *sim.Cluster, i int, done func([]byte, error)) {
	disk, err := stoppedDisk(c, i)
	if err != nil {
		c.Loop.After(0, func() { done(nil, err) })
		return
	}
	storage.Open(disk, vsr.StorageOptions(disk), func(s *storage.Storage, _ *storage.Recovery, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		s.Backup(done)
	})
}

// BackupReplica returns the replica index a backup's superblock names (ops.BackupReplica).
func BackupReplica(backup []byte) (int, error) { return ops.BackupReplica(backup) }

// StorageRestore is `kimberlite-cli storage restore --replica-id i --backup-source ...`
// (ops.Restore): a backup of replica i itself is verified and restored onto its stopped
// disk, wiped first (Disk.Reformat: the node's disk replaced), then opened and checked to
// name replica i. A backup of another replica is refused before anything is wiped (see the
// note on replica identity above).
func StorageRestore(c *sim.Cluster, i int, backup []byte, done func(error)) {
	disk, err := stoppedDisk(c, i)
	if err != nil {
		c.Loop.After(0, func() { done(err) })
		return
	}
	reformat := func() error { disk.Reformat(); return nil }
	fromLoop(c, func(done func(uint64, error)) { ops.Restore(disk, reformat, backup, i, c.ClusterID(), -1, done) },
		func(_ uint64, err error) { done(err) })
}

// fromLoop starts an action whose done must never run inside the call that starts it: an
// answer the action gives at once (a refused backup) is delivered from the loop, as every
// simulated answer is, so the Operator's first step comes before it.
func fromLoop[T any](c *sim.Cluster, start func(done func(T, error)), done func(T, error)) {
	inCall := true
	start(func(v T, err error) {
		if inCall {
			c.Loop.After(0, func() { done(v, err) })
			return
		}
		done(v, err)
	})
	inCall = false
}

// Config keys of `cluster config set/get` (package ops).
const (
	KeyElectionTimeoutMs   = ops.KeyElectionTimeoutMs
	KeyHeartbeatIntervalMs = ops.KeyHeartbeatIntervalMs
	KeyMaxBatchSize        = ops.KeyMaxBatchSize
)

// simConfigs reaches the running replicas' configurations (Replica.Config, SetConfig): the
// simulator's transport of ops.ConfigSet and ops.ConfigGet.
func simConfigs(c *sim.Cluster) ops.Configs {
	return ops.Configs{Replicas: c.ReplicaCount(),
		Current: func(i int) (vsr.Config, bool) {
			if r := c.Replica(i); r != nil {
				return r.Config(), true
			}
			return vsr.Config{}, false
		},
		Set: func(i int, cfg vsr.Config) error { return c.Replica(i).SetConfig(cfg) }}
}

// ConfigSet is `kimberlite-cli cluster config set KEY VALUE` (ops.ConfigSet) on every
// running replica; it returns the replicas it changed.
func ConfigSet(c *sim.Cluster, key, value string) ([]int, error) {
	changed, err := ops.ConfigSet(simConfigs(c), key, value)
	logOperator(c, "cluster config set "+key+" "+value, answer(fmt.Sprintf("changed replicas %v", changed), err))
	return changed, err
}

// ConfigGet is `kimberlite-cli cluster config get KEY` (ops.ConfigGet): the value on each
// running replica, -1 for a replica that is down.
func ConfigGet(c *sim.Cluster, key string) ([]int, error) {
	values, err := ops.ConfigGet(simConfigs(c), key)
	logOperator(c, "cluster config get "+key, answer(fmt.Sprintf("%v", values), err))
	return values, err
}

// Operator runs the asynchronous storage actions to completion, advancing the world with
// Step (one tick; the scenario's own step, so that its checkers and metrics keep running)
// for at most TicksMax ticks.
type Operator struct {
	C        *sim.Cluster
	Step     func() // nil: C.RunFor(sim.TickInterval)
	TicksMax int    // 0: 1000 (10 s of simulated time)
	// views are the replicas' hosts' view-change logs (observeEvent), for ViewChanges.
	views []ops.ViewChangeLog
	// changes holds Reconfig's accepted changes to what it was told (reconfig_ledger.go).
	changes changeLedger
}

func (o *Operator) await(done *bool) error {
	ticksMax := o.TicksMax
	if ticksMax == 0 {
		ticksMax = 1000
	}
	for t := 0; !*done && t < ticksMax; t++ {
		if o.Step != nil {
			o.Step()
		} else {
			o.C.RunFor(sim.TickInterval)
		}
	}
	if !*done {
		return ErrTimeout
	}
	return nil
}

// awaitAction starts an asynchronous operator action and drives the world until its
// callback runs (ErrTimeout, with the zero value, if it does not within the budget).
func awaitAction[T any](o *Operator, command string, start func(done func(T, error))) (T, error) {
	var result T
	var err error
	finished := false
	logOperator(o.C, command, "started")
	start(func(v T, e error) { result, err, finished = v, e, true })
	if e := o.await(&finished); e != nil {
		var zero T
		logOperator(o.C, command, answer("", e))
		return zero, e
	}
	logOperator(o.C, command, answer(describeAnswer(result), err))
	return result, err
}

// Verify runs StorageVerify on replica i to completion.
func (o *Operator) Verify(i int) (storage.VerifyReport, error) {
	return awaitAction(o, fmt.Sprintf("storage verify --replica-id %d --full-scan", i),
		func(done func(storage.VerifyReport, error)) { StorageVerify(o.C, i, done) })
}

// Backup runs StorageBackup on replica i to completion.
func (o *Operator) Backup(i int) ([]byte, error) {
	return awaitAction(o, fmt.Sprintf("storage backup --replica-id %d", i),
		func(done func([]byte, error)) { StorageBackup(o.C, i, done) })
}

// Restore runs StorageRestore on replica i to completion.
func (o *Operator) Restore(i int, backup []byte) error {
	_, err := awaitAction(o, fmt.Sprintf("storage restore --replica-id %d", i), func(done func(struct{}, error)) {
		StorageRestore(o.C, i, backup, func(err error) { done(struct{}{}, err) })
	})
	return err
}
