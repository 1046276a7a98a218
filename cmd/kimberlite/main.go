package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"vopr/server"
)

const usage = `usage:
  kimberlite format --cluster ID --replica-id I --replica-count N DIR
  kimberlite start --addresses A0,A1,A2 --replica-id I [--client-addr A] [--metrics-addr M] [--max-batch-size B] DIR`

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
	replica := fs.Int("replica-id", -1, "this replica's index, 0-based")
	count := fs.Int("replica-count", 0, "number of replicas in the cluster")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := dirArg(fs)
	if err != nil {
		return err
	}
	if err := server.Format(dir, *cluster, *replica, *count); err != nil {
		return err
	}
	fmt.Printf("formatted replica %d of %d (cluster %d) in %s\n", *replica, *count, *cluster, dir)
	return nil
}

func start(args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	addresses := fs.String("addresses", "", "every replica's host:port, comma-separated, in index order")
	replica := fs.Int("replica-id", -1, "this replica's index, 0-based")
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return server.Run(ctx, server.Config{Dir: dir, Addresses: strings.Split(*addresses, ","), Replica: *replica,
		ClientAddr: *clientAddr, MetricsAddr: *metricsAddr, BatchMax: *batchMax})
}
