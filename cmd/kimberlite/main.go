package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/server"
)

const usage = `usage:
  kimberlite format --cluster ID --replica-id I --replica-count N [--standby-count S]
                    [--spare-replicas IDS] [--join] DIR
  kimberlite start --addresses A0,A1,A2 [--standby-addresses S0,S1] --replica-id I
                   [--client-addr A] [--metrics-addr M] [--max-batch-size B] DIR
--replica-id is 0..N-1 for an active replica, 100..100+S-1 for a standby.
--spare-replicas (e.g. 3,100) formats the cluster with those slots outside its configuration,
to be added later by kimberlite-cli cluster reconfig; give every replica the same list.
--join formats this replica outside the configuration: it waits until cluster reconfig adds
it (add-replica, add-standby, the add of a replace), then catches up by state sync.`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kimberlite:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "format":
		return format(args[1:])
	case "start":
		return start(args[1:])
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// dirArg returns the one positional argument left after the flags.
func dirArg(fs *flag.FlagSet) (string, error) {
	if fs.NArg() != 1 {
		return "", fmt.Errorf("%s: expected one DIR argument, got %d\n%s", fs.Name(), fs.NArg(), usage)
	}
	return fs.Arg(0), nil
}

func format(args []string) error {
	fs := flag.NewFlagSet("format", flag.ContinueOnError)
	cluster := fs.Uint64("cluster", 0, "cluster id (every replica of a cluster gets the same)")
	id := fs.Int("replica-id", -1, "this replica's id: 0..N-1 active, 100..100+S-1 standby")
	count := fs.Int("replica-count", 0, "number of active replicas in the cluster")
	standbys := fs.Int("standby-count", 0, "number of standby replicas (ids 100 and up)")
	spares := fs.String("spare-replicas", "", "ids of the slots that start outside the configuration, comma-separated (every replica gets the same)")
	join := fs.Bool("join", false, "format this replica outside the configuration, to be added by cluster reconfig")
	joinEpoch := fs.Int("join-epoch", -1, "with --join: the configuration epoch the cluster is in (cluster status); the replica joins only a later one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := dirArg(fs)
	if err != nil {
		return err
	}
	index, err := replicaIndex("format", *id, *count, *standbys)
	if err != nil {
		return err
	}
	outside, err := spareSlots(*spares, *count, *standbys)
	if err != nil {
		return err
	}
	if *join {
		if *joinEpoch < 0 || *spares != "" {
			return errors.New("format --join needs --join-epoch E, the epoch of the configuration the cluster is in (kimberlite-cli cluster status), and no --spare-replicas")
		}
		outside = 1 << uint(index)
		if err := server.FormatJoin(dir, *cluster, index, *count, *standbys, uint32(*joinEpoch)); err != nil {
			return err
		}
	} else if err := server.FormatOutside(dir, *cluster, index, *count, *standbys, outside); err != nil {
		return err
	}
	fmt.Printf("formatted %s (cluster %d) in %s%s\n", formatted(*id, index, *count, *standbys), *cluster, dir,
		membership(*id, index, outside, *count, *standbys))
	return nil
}

// formatted names the formatted replica: "replica 0 of 3, 1 standbys".
func formatted(id, index, count, standbys int) string {
	what := fmt.Sprintf("replica %d of %d", id, count)
	switch {
	case index >= count:
		what = fmt.Sprintf("standby %d of %d, %d replicas", id, standbys, count)
	case standbys > 0:
		what += fmt.Sprintf(", %d standbys", standbys)
	}
	return what
}

// membership says where a formatted replica stands in the cluster's first configuration:
// nothing for a member of a cluster without spares.
func membership(id, index int, outside uint16, count, standbys int) string {
	switch {
	case outside&(1<<uint(index)) != 0:
		add := "add-replica"
		if index >= count {
			add = "add-standby"
		}
		return fmt.Sprintf(": joining, outside the configuration until kimberlite-cli cluster reconfig %s --replica-id %d adds it", add, id)
	case outside != 0:
		return "; first configuration: " + ops.ConfigurationText(0, outside, count, standbys)
	}
	return ""
}

// spareSlots parses --spare-replicas (operator ids, comma-separated) into the bits of the
// slots outside the first configuration.
func spareSlots(list string, count, standbys int) (uint16, error) {
	var outside uint16
	if list == "" {
		return 0, nil
	}
	for _, field := range strings.Split(list, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			return 0, fmt.Errorf("format: --spare-replicas %q: %q is not a replica id\n%s", list, field, usage)
		}
		index, err := replicaIndex("format: --spare-replicas", id, count, standbys)
		if err != nil {
			return 0, err
		}
		outside |= 1 << uint(index)
	}
	return outside, nil
}

// idRange is "100" for one id, "100..101" for two.
func idRange(first, n int) string {
	if n == 1 {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d..%d", first, first+n-1)
}

// replicaIndex maps an operator's replica id to the replica's index: 0..count-1 is an active
// replica's, vsr.StandbyIDBase+k (100 and up) standby k's, index count+k.
func replicaIndex(command string, id, count, standbys int) (int, error) {
	switch {
	case id >= 0 && id < count:
		return id, nil
	case id >= vsr.StandbyIDBase && id < vsr.StandbyIDBase+standbys:
		return ops.StandbyIndex(id, count), nil
	}
	expected := fmt.Sprintf("0..%d (active)", count-1)
	if standbys > 0 {
		expected += fmt.Sprintf(" or %s (standby)", idRange(vsr.StandbyIDBase, standbys))
	}
	return 0, fmt.Errorf("%s: --replica-id %d: expected %s with %d replicas and %d standbys\n%s",
		command, id, expected, count, standbys, usage)
}

func start(args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	addresses := fs.String("addresses", "", "every active replica's host:port, comma-separated, in index order")
	standbyAddresses := fs.String("standby-addresses", "", "every standby's host:port, comma-separated (ids 100, 101, ...)")
	id := fs.Int("replica-id", -1, "this replica's id: 0..N-1 active, 100..100+S-1 standby")
	clientAddr := fs.String("client-addr", "", "optional extra host:port for clients and operators")
	metricsAddr := fs.String("metrics-addr", "", "host:port to serve Prometheus /metrics on")
	batchMax := fs.Int("max-batch-size", 0, "client requests per prepare (0: the default, vsr.BatchEntriesMax)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := dirArg(fs)
	if err != nil {
		return err
	}
	if *addresses == "" {
		return errors.New("start: --addresses is required")
	}
	actives, standbys := strings.Split(*addresses, ","), []string(nil)
	if *standbyAddresses != "" {
		standbys = strings.Split(*standbyAddresses, ",")
	}
	index, err := replicaIndex("start", *id, len(actives), len(standbys))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return server.Run(ctx, server.Config{Dir: dir, Addresses: actives, StandbyAddresses: standbys, Replica: index,
		ClientAddr: *clientAddr, MetricsAddr: *metricsAddr, BatchMax: *batchMax})
}
