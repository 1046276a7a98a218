package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"vopr/ops"
	"vopr/server/remote"
)

// The runbook's diagnosis commands (Scenarios 1, 3 and 4), each computed by package ops from
// what the replicas answer (ops.Serve), as the simulator's Operator computes it.

func clusterViewChanges(args []string) error {
	var since *time.Duration
	ctx, cancel, addrs, cluster, err := parsed("cluster view-changes", args, func(t *target) {
		since = t.fs.Duration("since", 10*time.Minute, "how far back")
	})
	if err != nil {
		return err
	}
	defer cancel()
	rep := remote.ViewChanges(ctx, cluster, addrs, time.Now().Add(-*since).UnixNano())
	for i := range rep.Changes {
		rep.Changes[i].At = time.Unix(0, rep.Changes[i].AtNs).UTC().Format(time.RFC3339Nano)
	}
	return printJSON(rep)
}

// clusterConfig is `cluster config set KEY VALUE` and `cluster config get KEY`.
func clusterConfig(args []string) error {
	if len(args) == 0 || (args[0] != "set" && args[0] != "get") {
		return errors.New("cluster config set KEY VALUE | get KEY")
	}
	verb := args[0]
	pos, flags := splitPositional(args[1:])
	ctx, cancel, addrs, cluster, err := parsed("cluster config "+verb, flags, nil)
	if err != nil {
		return err
	}
	defer cancel()
	if len(pos) == 0 {
		pos = flagArgs("cluster config "+verb, flags)
	}
	want := map[string]int{"set": 2, "get": 1}[verb]
	if len(pos) != want {
		return fmt.Errorf("cluster config %s: expected %d arguments, got %d", verb, want, len(pos))
	}
	value := ""
	if verb == "set" {
		value = pos[1]
	}
	configs := remote.Configs(ctx, cluster, addrs, pos[0], value)
	rep := ops.ConfigReport{Key: pos[0]}
	if verb == "set" {
		if rep.Changed, err = ops.ConfigSet(configs, pos[0], value); err != nil {
			return err
		}
	}
	if rep.Values, err = ops.ConfigGet(configs, pos[0]); err != nil {
		return err
	}
	return printJSON(rep)
}

// splitPositional splits `KEY VALUE --flags...` into the leading positional arguments and
// the flags (Go's flag package stops at the first positional one).
func splitPositional(args []string) (pos, flags []string) {
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			return args[:i], args[i:]
		}
	}
	return args, nil
}

// flagArgs returns the positional arguments left after the common flags.
func flagArgs(name string, args []string) []string {
	fs, _ := newFlags(name)
	_ = fs.Parse(args)
	return fs.Args()
}

func replicaClockOffset(args []string) error {
	r, err := parseReplica("replica clock-offset", args)
	if err != nil {
		return err
	}
	defer r.cancel()
	rep, err := remote.ClockOffset(r.ctx, r.cluster, []string{r.addr}, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	rep.Replica = r.replica
	return printJSON(rep)
}

func replicationLag(args []string) error {
	var flags *target
	ctx, cancel, addrs, cluster, err := parsed("replication lag", args, func(t *target) {
		flags = t
		_ = t.fs.Bool("all", true, "every replica, then every standby (the only mode)")
	})
	if err != nil {
		return err
	}
	defer cancel()
	return printJSON(remote.ReplicationLag(ctx, cluster, append(addrs, flags.standbyAddrs()...)))
}

// watchInterval is how often --watch and --wait-healthy ask.
const watchInterval = 100 * time.Millisecond

// errUnhealthy: --wait-healthy timed out (exit 1).
var errUnhealthy = errors.New("replica did not become healthy")

// replicaWatch is `replica status --watch` (a JSON line per change, until interrupted) and
// `--wait-healthy` (the same lines; exit 0 once the replica is healthy, 1 at --timeout).
// replica is the member index (name says it to a person).
func replicaWatch(addrs []string, cluster uint64, replica int, name string, waitHealthy bool, timeout time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if waitHealthy {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var w ops.StatusWatch
	for {
		s, _ := remote.ReplicaStatus(ctx, cluster, addrs, replica)
		if ctx.Err() != nil {
			break // an answer cut short by the end is no status change
		}
		if w.Changed(s) {
			b, _ := json.Marshal(struct {
				At string `json:"at"`
				ops.ReplicaStatusReport
			}{time.Now().UTC().Format(time.RFC3339Nano), s})
			fmt.Println(string(b))
		}
		if waitHealthy && s.Healthy() {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchInterval):
		}
		if ctx.Err() != nil {
			break
		}
	}
	if waitHealthy {
		return fmt.Errorf("%s: %w within %s", name, errUnhealthy, timeout)
	}
	return nil
}
