package main

import (
	"context"
	"fmt"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/server/remote"
)

// clientResult is what `client` prints.
type clientResult struct {
	Status string `json:"status"`
	Value  string `json:"value,omitempty"`
	Op     uint64 `json:"op"`
	View   uint32 `json:"view"`
	// Stale: read from standby ReplicaID's executed state (get --stale), outside the log; Op
	// is the op whose state it read, at most the standby's commit number.
	Stale     bool `json:"stale,omitempty"`
	ReplicaID int  `json:"replica_id,omitempty"`
}

var statusNames = map[kv.Status]string{kv.StatusOK: "ok", kv.StatusNotFound: "not_found",
	kv.StatusMismatch: "mismatch", kv.StatusTooLarge: "too_large", kv.StatusFull: "full",
	kv.StatusInvalid: "invalid", kv.StatusUnsupported: "unsupported"}

// parseOp builds the kv operation of `client VERB` from its positional arguments.
func parseOp(verb string, args []string, absent bool) (kv.Op, error) {
	want := map[string]int{"put": 2, "get": 1, "append": 2, "cas": 3}[verb]
	if verb == "cas" && absent {
		want = 2
	}
	if len(args) != want {
		return kv.Op{}, fmt.Errorf("client %s: expected %d arguments, got %d", verb, want, len(args))
	}
	op := kv.Op{Key: args[0]}
	switch verb {
	case "put":
		op.Kind, op.Value = kv.KindPut, args[1]
	case "get":
		op.Kind = kv.KindGet
	case "append":
		op.Kind, op.Value = kv.KindAppend, args[1]
	case "cas":
		op.Kind, op.Value, op.ExpectedAbsent = kv.KindCAS, args[1], absent
		if !absent {
			op.Expected = args[2]
		}
	}
	return op, nil
}

func clientOp(verb string, args []string) error {
	fs, t := newFlags("client " + verb)
	absent := fs.Bool("absent", false, "cas: succeed only if the key is absent")
	stale := fs.Bool("stale", false, "get: read from the standby --replica-id, outside the log (may be behind)")
	replica := fs.Int("replica-id", -1, "get --stale: the standby's id (100 and up)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stale || *replica >= 0 {
		return staleGet(verb, fs.Args(), t, *stale, *replica)
	}
	addrs, cluster, err := t.resolve()
	if err != nil {
		return err
	}
	op, err := parseOp(verb, fs.Args(), *absent)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	c := remote.NewClient(cluster, addrs)
	defer c.Close()
	res, r, err := c.Do(ctx, op)
	if err != nil {
		return err
	}
	return printJSON(clientResult{Status: statusNames[res.Status], Value: res.Value, Op: r.Op, View: r.View})
}

// staleGet is `client get --stale --replica-id 100 KEY`: a read served by a standby from the
// state it has executed (remote.Client.ReadStale), which may be behind the cluster's.
func staleGet(verb string, args []string, t *target, stale bool, id int) error {
	if verb != "get" || !stale || id < vsr.StandbyIDBase {
		return fmt.Errorf("%w: client %s: expected client get --stale --replica-id ID KEY, with a standby's id (100 and up)",
			errUsage, verb)
	}
	addrs, cluster, err := t.resolve()
	if err != nil {
		return err
	}
	index, _, err := member(id, addrs, t.standbyAddrs())
	if err != nil {
		return fmt.Errorf("client get --stale: %w", err)
	}
	if len(args) != 1 {
		return fmt.Errorf("%w: client get --stale: expected 1 argument (KEY), got %d", errUsage, len(args))
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	c := remote.NewClientWithStandbys(cluster, addrs, t.standbyAddrs())
	defer c.Close()
	res, r, err := c.ReadStale(ctx, index, args[0])
	if err != nil {
		return fmt.Errorf("standby %d: %w", id, err)
	}
	return printJSON(clientResult{Status: statusNames[res.Status], Value: res.Value, Op: r.Op, View: r.View,
		Stale: true, ReplicaID: id})
}
