package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/server/remote"
)

const usage = `usage:
  kimberlite-cli cluster status [--addresses A0,A1,A2] [--cluster ID]
  kimberlite-cli replica status --replica-id I [--watch | --wait-healthy [--timeout D]] [flags]
  kimberlite-cli client put [flags] KEY VALUE
  kimberlite-cli client get [flags] KEY
  kimberlite-cli client get --stale --replica-id 100 [flags] KEY   (a stale read from a standby)
  kimberlite-cli client append [flags] KEY VALUE
  kimberlite-cli client cas [flags] KEY NEW EXPECTED   (--absent: KEY NEW, only if KEY is absent)
  kimberlite-cli cluster version|features [flags]
  kimberlite-cli replica isolate|unisolate --replica-id I --reason R [flags]
  kimberlite-cli storage compact --replica-id I [flags]
  kimberlite-cli storage export --replica-id I --output FILE [flags]
  kimberlite-cli storage restore --backup-source FILE --dir DIR [--replica-id I] [--cluster ID]
                                  (a stopped replica's data directory)
  kimberlite-cli cluster view-changes [--since 10m] [flags]
  kimberlite-cli cluster config set KEY VALUE | get KEY [flags]
      keys: election-timeout-ms, heartbeat-interval-ms, max-batch-size
  kimberlite-cli replica clock-offset --replica-id I [flags]
  kimberlite-cli replication lag --all [flags]
  kimberlite-cli storage verify --full-scan --dir DIR   (a stopped replica's data directory)
  kimberlite-cli debug dump-state --replica-id I [flags]
  kimberlite-cli test smoke-tests [--critical-only] [flags]
  kimberlite-cli standby throttle --replica-id 100 --max-qps N [flags]   (0: no limit)
  kimberlite-cli cluster failover --promote-standby ID [--approve-data-loss-risk] [--force] [flags]
      (then restart that standby's process: kimberlite start --addresses ITS_ADDRESS --replica-id 0)
  kimberlite-cli cluster reconfig add-replica|remove-replica|add-standby|remove-standby|replace
                 --replica-id ID [--join-timeout 10m] [flags]
      (one change at a time through the primary; --timeout bounds each change. replace removes
      the replica, waits for its new disk formatted with kimberlite format --join and its
      process started, then adds it back)
--addresses, --standby-addresses and --cluster default to $KIMBERLITE_ADDRESSES,
$KIMBERLITE_STANDBY_ADDRESSES and $KIMBERLITE_CLUSTER. --replica-id is 0..N-1 for an active
replica (--addresses) and 100, 101, ... for a standby (--standby-addresses).`

// errNotBuilt exits with status 2: a runbook command or option this tool does not do.
var errNotBuilt = errors.New("not available")

// errUsage exits with status 64 (EX_USAGE): a command this tool does not know.
var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, errNotBuilt):
		fmt.Fprintln(os.Stderr, "kimberlite-cli:", err)
		os.Exit(2)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "kimberlite-cli:", err)
		os.Exit(64)
	case err != nil:
		fmt.Fprintln(os.Stderr, "kimberlite-cli:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("%w: a command takes two words\n%s", errUsage, usage)
	}
	command, rest := args[0]+" "+args[1], args[2:]
	switch command {
	case "cluster status":
		return clusterStatus(rest)
	case "replica status":
		return replicaStatus(rest)
	case "client put", "client get", "client append", "client cas":
		return clientOp(args[1], rest)
	case "cluster version":
		return clusterVersion(rest)
	case "cluster features":
		return clusterFeatures(rest)
	case "replica isolate":
		return replicaIsolate(rest)
	case "replica unisolate":
		return replicaUnisolate(rest)
	case "storage verify":
		return storageVerify(rest)
	case "storage compact":
		return storageCompact(rest)
	case "debug dump-state":
		return debugDumpState(rest)
	case "test smoke-tests":
		return smokeTests(rest)
	case "cluster view-changes":
		return clusterViewChanges(rest)
	case "cluster config":
		return clusterConfig(rest)
	case "replica clock-offset":
		return replicaClockOffset(rest)
	case "replication lag":
		return replicationLag(rest)
	case "storage export":
		return storageExport(rest)
	case "storage restore":
		return storageRestore(rest)
	case "standby throttle":
		return standbyThrottle(rest)
	case "cluster failover":
		return clusterFailover(rest)
	case "cluster reconfig":
		return clusterReconfig(rest)
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, command, usage)
}

// target is where a command goes: the flags every command takes.
type target struct {
	fs        *flag.FlagSet
	addresses string
	standbys  string
	cluster   string
	timeout   time.Duration
}

func newFlags(name string) (*flag.FlagSet, *target) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	t := &target{}
	fs.StringVar(&t.addresses, "addresses", os.Getenv("KIMBERLITE_ADDRESSES"), "every replica's host:port, in index order")
	fs.StringVar(&t.standbys, "standby-addresses", os.Getenv("KIMBERLITE_STANDBY_ADDRESSES"),
		"every standby's host:port, in id order (100, 101, ...)")
	fs.StringVar(&t.cluster, "cluster", os.Getenv("KIMBERLITE_CLUSTER"), "cluster id")
	fs.DurationVar(&t.timeout, "timeout", 30*time.Second, "give up after this long")
	return fs, t
}

func (t *target) resolve() ([]string, uint64, error) {
	if t.addresses == "" {
		return nil, 0, errors.New("--addresses (or $KIMBERLITE_ADDRESSES) is required")
	}
	cluster, err := strconv.ParseUint(t.cluster, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("--cluster (or $KIMBERLITE_CLUSTER): %q is not a cluster id", t.cluster)
	}
	return strings.Split(t.addresses, ","), cluster, nil
}

// standbyAddrs returns the standbys' addresses (--standby-addresses), in id order.
func (t *target) standbyAddrs() []string {
	if t.standbys == "" {
		return nil
	}
	return strings.Split(t.standbys, ",")
}

// member maps an operator's --replica-id to the replica's member index among actives then
// standbys (0..N-1 is an active replica, vsr.StandbyIDBase+k standby k, member N+k) and
// returns every member's address; an id that names no member is a usage error.
func member(id int, actives, standbys []string) (int, []string, error) {
	members := append(append([]string(nil), actives...), standbys...)
	if id >= 0 && id < len(actives) || id >= vsr.StandbyIDBase && id < vsr.StandbyIDBase+len(standbys) {
		return ops.StandbyIndex(id, len(actives)), members, nil
	}
	expected := fmt.Sprintf("0..%d (--addresses)", len(actives)-1)
	switch len(standbys) {
	case 0:
		expected += " (no --standby-addresses: no standby ids)"
	case 1:
		expected += fmt.Sprintf(" or %d (--standby-addresses)", vsr.StandbyIDBase)
	default:
		expected += fmt.Sprintf(" or %d..%d (--standby-addresses)", vsr.StandbyIDBase, vsr.StandbyIDBase+len(standbys)-1)
	}
	return 0, nil, fmt.Errorf("%w: --replica-id %d: expected %s", errUsage, id, expected)
}

// memberName is how messages name member index i: "replica 1" or "standby 100".
func memberName(i, actives int) string {
	if i >= actives {
		return fmt.Sprintf("standby %d", vsr.StandbyIDBase+i-actives)
	}
	return fmt.Sprintf("replica %d", i)
}

func printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}

func clusterStatus(args []string) error {
	fs, t := newFlags("cluster status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addrs, cluster, err := t.resolve()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	return printJSON(remote.ClusterStatusWithStandbys(ctx, cluster, addrs, t.standbyAddrs()))
}

func replicaStatus(args []string) error {
	fs, t := newFlags("replica status")
	replica := fs.Int("replica-id", -1, "the replica's id: 0..N-1, or 100 and up for a standby")
	watch := fs.Bool("watch", false, "print a line per status change until interrupted")
	waitHealthy := fs.Bool("wait-healthy", false, "print a line per change; exit 0 once healthy, 1 at --timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addrs, cluster, err := t.resolve()
	if err != nil {
		return err
	}
	index, members, err := member(*replica, addrs, t.standbyAddrs())
	if err != nil {
		return err
	}
	if *watch || *waitHealthy {
		return replicaWatch(members, cluster, index, memberName(index, len(addrs)), *waitHealthy, t.timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
	defer cancel()
	s, err := remote.ReplicaStatus(ctx, cluster, members, index)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s does not answer: %v\n", memberName(index, len(addrs)), err)
	}
	return printJSON(s)
}
