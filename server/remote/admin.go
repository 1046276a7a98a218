package remote

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"time"

	"vopr/ops"
	"vopr/server/wire"
)

// AskTimeout bounds one operator's question to one server, when the caller's context sets
// no earlier deadline: a process that does not answer within it is unreachable.
const AskTimeout = 2 * time.Second

// Ask sends one operator's command to the server at addr and decodes its result into out.
func Ask(ctx context.Context, cluster uint64, addr string, req wire.Request, out any) error {
	ctx, cancel := context.WithTimeout(ctx, AskTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if err := wire.WriteJSON(conn, cluster, wire.Hello{Kind: wire.KindAdmin}); err != nil {
		return err
	}
	if err := wire.WriteJSON(conn, cluster, req); err != nil {
		return err
	}
	var resp wire.Response
	if err := wire.ReadJSON(bufio.NewReader(conn), cluster, &resp); err != nil {
		return err
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return json.Unmarshal(resp.Result, out)
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
	replicas := make([]ops.ReplicaStatusReport, len(addrs))
	eachReplica(len(addrs), func(i int) { replicas[i], _ = ReplicaStatus(ctx, cluster, addrs, i) })
	return ops.ClusterStatusOf(replicas)
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
