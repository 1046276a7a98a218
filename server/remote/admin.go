package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"time"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/server/wire"
)

// AskTimeout bounds one operator's question to one server, when the caller's context sets
// no earlier deadline: a process that does not answer within it is unreachable.
const AskTimeout = 2 * time.Second

// Ask sends one operator's command to the server at addr and decodes its result into out.
func Ask(ctx context.Context, cluster uint64, addr string, req wire.Request, out any) error {
	_, err := AskStream(ctx, cluster, addr, req, out)
	return err
}

// StreamTimeout bounds the raw bytes a server streams after its answer (storage export).
const StreamTimeout = time.Minute

// AskStream is Ask for a command whose answer a stream of bytes follows (ops.CommandExport):
// it returns them.
func AskStream(ctx context.Context, cluster uint64, addr string, req wire.Request, out any) ([]byte, error) {
	askCtx, cancel := context.WithTimeout(ctx, AskTimeout)
	defer cancel()
	if req.Command == ops.CommandExport {
		askCtx, cancel = context.WithTimeout(ctx, StreamTimeout)
		defer cancel()
	}
	conn, err := (&net.Dialer{}).DialContext(askCtx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	deadline, _ := askCtx.Deadline()
	_ = conn.SetDeadline(deadline)
	if err := wire.WriteJSON(conn, cluster, wire.Hello{Kind: wire.KindAdmin}); err != nil {
		return nil, err
	}
	if err := wire.WriteJSON(conn, cluster, req); err != nil {
		return nil, err
	}
	var resp wire.Response
	r := bufio.NewReader(conn)
	if err := wire.ReadJSON(r, cluster, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	var data []byte
	if resp.Stream > 0 {
		data = make([]byte, resp.Stream)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, err
		}
	}
	return data, json.Unmarshal(resp.Result, out)
}

// ReplicaStatus is `replica status`: the status replica i reports, or unreachable (with the
// reason) when its server does not answer.
func ReplicaStatus(ctx context.Context, cluster uint64, addrs []string, i int) (ops.ReplicaStatusReport, error) {
	var s ops.ReplicaStatusReport
	if err := Ask(ctx, cluster, addrs[i], wire.Request{Command: ops.CommandStatus}, &s); err != nil {
		return ops.Unreachable(i), err
	}
	return s, nil
}

// eachReplica runs fn for every replica index in parallel and waits for all.
func eachReplica(n int, fn func(i int)) {
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			fn(i)
			done <- struct{}{}
		}()
	}
	for i := 0; i < n; i++ {
		<-done
	}
}

// ClusterStatus is `cluster status`: every replica's status, asked in parallel.
func ClusterStatus(ctx context.Context, cluster uint64, addrs []string) ops.ClusterStatusReport {
	return ClusterStatusWithStandbys(ctx, cluster, addrs, nil)
}

// ClusterStatusWithStandbys is ClusterStatus with the status of every standby at standbys
// (member len(addrs)+k for standby k) too.
func ClusterStatusWithStandbys(ctx context.Context, cluster uint64, addrs, standbys []string) ops.ClusterStatusReport {
	members := append(append([]string(nil), addrs...), standbys...)
	all := make([]ops.ReplicaStatusReport, len(members))
	eachReplica(len(members), func(i int) { all[i], _ = ReplicaStatus(ctx, cluster, members, i) })
	rep := ops.ClusterStatusOf(all[:len(addrs)])
	if len(standbys) > 0 {
		rep.Standbys = all[len(addrs):]
	}
	for _, r := range rep.Replicas {
		if r.Status != ops.StatusUnreachable && !r.Joining {
			rep.Configuration = ops.ConfigurationText(rep.Epoch, rep.Outside, len(addrs), len(standbys))
			break
		}
	}
	return rep
}

// ClusterVersion is `cluster version`: every replica's releases, asked in parallel (an
// unreachable replica counts as release 0).
func ClusterVersion(ctx context.Context, cluster uint64, addrs []string) ops.ClusterVersionReport {
	replicas := make([]ops.ReplicaVersion, len(addrs))
	eachReplica(len(addrs), func(i int) {
		if Ask(ctx, cluster, addrs[i], wire.Request{Command: ops.CommandVersion}, &replicas[i]) != nil {
			replicas[i] = ops.ReplicaVersion{Replica: i}
		}
	})
	return ops.ClusterVersionOf(replicas)
}

// ClockOffset is `replica clock-offset`: replica i's wall clock against this host's, read
// either side of the question (the midpoint; half the round trip is the uncertainty).
func ClockOffset(ctx context.Context, cluster uint64, addrs []string, i int) (ops.ClockOffsetReport, error) {
	var c ops.ReplicaClock
	sent := time.Now()
	if err := Ask(ctx, cluster, addrs[i], wire.Request{Command: ops.CommandClock}, &c); err != nil {
		return ops.ClockOffsetReport{}, err
	}
	rtt := time.Since(sent)
	mid := sent.Add(rtt / 2).UnixNano()
	return ops.ClockOffsetOf(c, mid, int64(rtt/2)), nil
}

// ReplicationLag is `replication lag --all`: every replica's lag, asked in parallel.
func ReplicationLag(ctx context.Context, cluster uint64, addrs []string) ops.ReplicationLagReport {
	replicas := make([]ops.ReplicaLag, len(addrs))
	eachReplica(len(addrs), func(i int) {
		if Ask(ctx, cluster, addrs[i], wire.Request{Command: ops.CommandLag}, &replicas[i]) != nil {
			replicas[i] = ops.ReplicaLag{ReplicaStatusReport: ops.Unreachable(i), LagMs: -1}
		}
	})
	return ops.ReplicationLagOf(replicas)
}

// ViewChanges is `cluster view-changes --since`: every replica's view changes since sinceNs
// (wall time), merged.
func ViewChanges(ctx context.Context, cluster uint64, addrs []string, sinceNs int64) ops.ViewChangesReport {
	logs := make([][]ops.ViewChange, len(addrs))
	failed := make([]bool, len(addrs))
	eachReplica(len(addrs), func(i int) {
		failed[i] = Ask(ctx, cluster, addrs[i], wire.Request{Command: ops.CommandViewChanges, SinceNs: sinceNs}, &logs[i]) != nil
	})
	var unreachable []int
	for i, f := range failed {
		if f {
			unreachable = append(unreachable, i)
		}
	}
	return ops.ViewChangesOf(sinceNs, logs, unreachable)
}

// Configs reaches the servers' configurations (ops.ConfigSet, ConfigGet): a server that does
// not answer counts as down; Set asks the server to apply key=value itself (the same
// ops.ConfigApply that validated cfg here).
func Configs(ctx context.Context, cluster uint64, addrs []string, key, value string) ops.Configs {
	return ops.Configs{Replicas: len(addrs),
		Current: func(i int) (vsr.Config, bool) {
			var cfg vsr.Config
			return cfg, Ask(ctx, cluster, addrs[i], wire.Request{Command: ops.CommandConfig}, &cfg) == nil
		},
		Set: func(i int, _ vsr.Config) error {
			var cfg vsr.Config
			return Ask(ctx, cluster, addrs[i], wire.Request{Command: ops.CommandConfigSet, Key: key, Value: value}, &cfg)
		}}
}
