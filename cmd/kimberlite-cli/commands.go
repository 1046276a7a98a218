package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"vopr/cluster/storage"
	"vopr/cluster/storage/osfs"
	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/server"
	"vopr/server/remote"
	"vopr/server/wire"
)

// The runbook's commands beyond status and the client, each written once in package ops
// (the simulator's Operator runs the same functions) and served by the server's admin port.

// parsed parses a command's flags and resolves its target, with a context bounded by the
// timeout.
func parsed(name string, args []string, setup func(*target)) (context.Context, context.CancelFunc, []string, uint64, error) {
	fs, t := newFlags(name)
	t.fs = fs
	if setup != nil {
		setup(t)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, 0, err
	}
	addrs, cluster, err := t.resolve()
	if err != nil {
		return nil, nil, nil, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	return ctx, cancel, addrs, cluster, nil
}

func clusterVersion(args []string) error {
	ctx, cancel, addrs, cluster, err := parsed("cluster version", args, nil)
	if err != nil {
		return err
	}
	defer cancel()
	return printJSON(remote.ClusterVersion(ctx, cluster, addrs))
}

func clusterFeatures(args []string) error {
	ctx, cancel, addrs, cluster, err := parsed("cluster features", args, nil)
	if err != nil {
		return err
	}
	defer cancel()
	return printJSON(ops.Features(remote.ClusterVersion(ctx, cluster, addrs).Cluster))
}

// replicaTarget is a command's replica: --replica-id, and --reason where it takes one.
type replicaTarget struct {
	ctx     context.Context
	cancel  context.CancelFunc
	addr    string
	cluster uint64
	replica int    // member index: an active replica's id, or N+k for standby 100+k
	name    string // "replica 1", "standby 100"
	reason  string
}

func parseReplica(name string, args []string) (*replicaTarget, error) {
	return parseReplicaWith(name, args, nil)
}

// parseReplicaWith is parseReplica with the command's own flags, which setup defines.
func parseReplicaWith(name string, args []string, setup func(*target)) (*replicaTarget, error) {
	var replica *int
	var reason *string
	var flags *target
	ctx, cancel, addrs, cluster, err := parsed(name, args, func(t *target) {
		flags = t
		replica = t.fs.Int("replica-id", -1, "the replica's id: 0..N-1, or 100 and up for a standby")
		reason = t.fs.String("reason", "", "why (isolate: required; the replica logs it)")
		if setup != nil {
			setup(t)
		}
	})
	if err != nil {
		return nil, err
	}
	index, members, err := member(*replica, addrs, flags.standbyAddrs())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &replicaTarget{ctx: ctx, cancel: cancel, addr: members[index], cluster: cluster, replica: index,
		name: memberName(index, len(addrs)), reason: *reason}, nil
}

func (r *replicaTarget) ask(command string, out any) error {
	return r.askRequest(wire.Request{Command: command, Reason: r.reason}, out)
}

func (r *replicaTarget) askRequest(req wire.Request, out any) error {
	if err := remote.Ask(r.ctx, r.cluster, r.addr, req, out); err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	return nil
}

// replicaCommand sends one of the requests a running replica serves (ops.Serve) to
// --replica-id and prints its report; out is the report's type.
func replicaCommand(name, command string, args []string, out any) error {
	r, err := parseReplica(name, args)
	if err != nil {
		return err
	}
	defer r.cancel()
	if err := r.ask(command, out); err != nil {
		return err
	}
	return printJSON(out)
}

func replicaIsolate(args []string) error {
	return replicaCommand("replica isolate", ops.CommandIsolate, args, &ops.IsolationReport{})
}

func replicaUnisolate(args []string) error {
	return replicaCommand("replica unisolate", ops.CommandUnisolate, args, &ops.IsolationReport{})
}

// errNoAggressive explains why `storage compact --aggressive` exits 2.
var errNoAggressive = fmt.Errorf(`%w: the replica has one compaction, and it is already the most it may do:
it removes every log segment wholly at or below its durable checkpoint (vsr.Replica.Compact).
Going further would mean removing ops above the checkpoint, which a restart replays and a
lagging peer repairs from, or forcing a checkpoint first (the replica checkpoints every
%d ops on its own and exposes no way to ask for one). Run storage compact without
--aggressive`, errNotBuilt, vsr.CheckpointInterval)

func storageCompact(args []string) error {
	for _, a := range args {
		if a == "--aggressive" || a == "-aggressive" {
			return fmt.Errorf("storage compact --aggressive: %w", errNoAggressive)
		}
	}
	return replicaCommand("storage compact", ops.CommandCompact, args, &ops.CompactReport{})
}

// debugDumpState prints the replica's dump; one that does not answer is dumped as
// unreachable (the diagnosis, not an error), with the reason on stderr.
func debugDumpState(args []string) error {
	r, err := parseReplica("debug dump-state", args)
	if err != nil {
		return err
	}
	defer r.cancel()
	var dump ops.StateDump
	if err := r.ask(ops.CommandDumpState, &dump); err != nil {
		fmt.Fprintln(os.Stderr, "kimberlite-cli: debug dump-state:", err)
		dump = ops.UnreachableDump(r.replica, ops.StatusUnreachable)
	}
	return printJSON(dump)
}

// storageVerify runs the engine's full scan on a stopped replica's directory, here (the
// runbook's --replica-id names the replica whose directory --dir is). It exits 1 when the
// scan finds damage.
func storageVerify(args []string) error {
	fs, _ := newFlags("storage verify")
	dir := fs.String("dir", "", "the stopped replica's data directory")
	_ = fs.Bool("full-scan", true, "scan every superblock copy, the checkpoint and every log entry (the only mode)")
	_ = fs.Int("replica-id", -1, "the replica whose directory --dir is (informational)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("storage verify: --dir (the stopped replica's data directory) is required")
	}
	unlock, err := server.LockDir(*dir)
	if err != nil {
		return fmt.Errorf("storage verify: %w", err)
	}
	defer unlock()
	disk, err := osfs.New(*dir, osfs.Options{})
	if err != nil {
		return err
	}
	defer disk.Close()
	var report storage.VerifyReport
	var verifyErr error
	finished := false
	ops.StorageVerify(disk, func(r storage.VerifyReport, err error) { report, verifyErr, finished = r, err, true })
	disk.RunUntilIdle()
	if !finished {
		return errors.New("storage verify: the scan did not complete")
	}
	if err := printJSON(ops.VerifyResultOf(report)); err != nil {
		return err
	}
	if verifyErr != nil || !report.OK {
		return fmt.Errorf("storage verify: %s is damaged (%v)", *dir, verifyErr)
	}
	return nil
}

// smokeTests writes, reads back and checks through a client (ops.SmokeTests), stopping at
// the first failed step; it exits 1 if one failed.
func smokeTests(args []string) error {
	var critical *bool
	ctx, cancel, addrs, cluster, err := parsed("test smoke-tests", args, func(t *target) {
		critical = t.fs.Bool("critical-only", false, "only the critical steps: write, read back, compare-and-swap")
	})
	if err != nil {
		return err
	}
	defer cancel()
	c := remote.NewClient(cluster, addrs)
	defer c.Close()
	var results []ops.SmokeStepResult
	for _, step := range ops.SmokeTests(fmt.Sprintf("smoke/%d", time.Now().UnixNano()), *critical) {
		got, _, err := c.Do(ctx, step.Op)
		r := step.Check(got, err)
		results = append(results, r)
		if !r.Passed {
			break
		}
	}
	rep := ops.SmokeReportOf(results)
	if err := printJSON(rep); err != nil {
		return err
	}
	if rep.Status != "passed" {
		return errors.New("smoke tests failed")
	}
	return nil
}

// standbyThrottle is `standby throttle --replica-id 100 --max-qps N`: the standby serves at
// most N stale reads per second (0: no limit); ops.StandbyThrottle on its loop. An active
// replica refuses (it serves no stale reads to limit).
func standbyThrottle(args []string) error {
	var maxQPS *int
	r, err := parseReplicaWith("standby throttle", args, func(t *target) {
		maxQPS = t.fs.Int("max-qps", -1, "stale reads per second the standby serves at most; 0: no limit")
	})
	if err != nil {
		return err
	}
	defer r.cancel()
	if *maxQPS < 0 {
		return fmt.Errorf("%w: standby throttle: --max-qps: expected a count of reads per second (0: no limit)", errUsage)
	}
	var rep ops.ThrottleReport
	if err := r.askRequest(wire.Request{Command: ops.CommandThrottle, Value: strconv.Itoa(*maxQPS)}, &rep); err != nil {
		return err
	}
	return printJSON(rep)
}

// clusterFailover is `cluster failover --promote-standby ID [--approve-data-loss-risk]
// [--force]`: the standby's process decides (ops.PlanFailover: refused without the approval,
// saying what would be lost, or for an ineligible standby, lagging or with its lag unknown
// since its restart, unless forced) and promotes itself
// (ops.Failover). A refusal exits 1 with the reason.
func clusterFailover(args []string) error {
	var id *int
	var approve, force *bool
	var tgt *target
	ctx, cancel, _, cluster, err := parsed("cluster failover", args, func(t *target) {
		tgt = t
		id = t.fs.Int("promote-standby", -1, "the standby's replica id (100 and up)")
		approve = t.fs.Bool("approve-data-loss-risk", false, "accept losing what the lost replicas committed above the standby's commit")
		force = t.fs.Bool("force", false, "promote a standby that is ineligible (lagging, or its lag unknown: no primary heard since it started)")
	})
	if err != nil {
		return err
	}
	defer cancel()
	standbys := tgt.standbyAddrs()
	if *id < vsr.StandbyIDBase || *id-vsr.StandbyIDBase >= len(standbys) {
		return fmt.Errorf("%w: cluster failover: --promote-standby %d: expected a standby id, 100..%d", errUsage, *id,
			vsr.StandbyIDBase+len(standbys)-1)
	}
	value := ""
	if *approve {
		value = "approve"
		if *force {
			value += ",force"
		}
	}
	var rep ops.FailoverReport
	addr := standbys[*id-vsr.StandbyIDBase]
	if err := remote.Ask(ctx, cluster, addr, wire.Request{Command: ops.CommandFailover, Value: value}, &rep); err != nil {
		return fmt.Errorf("standby %d: %w", *id, err)
	}
	return printJSON(rep)
}
