package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/server/remote"
)

// `cluster reconfig add-replica|remove-replica|add-standby|remove-standby|replace
// --replica-id ID`: the same steps as the simulator's operator (scenarios Operator.Reconfig)
// against real servers. ops.PlanReconfig turns the command into changes; each is asked of the
// primary (found by cluster status), again while there is none or the last change is still
// on its way, and awaited until its epoch is in force with a primary serving; a replace waits
// between its remove and its add for the operator to replace the disk, format it with
// --join and start the process, until the replica answers as joining.

// reconfigPoll is how often the cluster is polled while a change is on its way.
const reconfigPoll = 100 * time.Millisecond

// reconfigReask is how long a change taken by a primary may stay without effect before it is
// asked again: a primary that lost its view before preparing it dropped it. Asking again is
// safe: a change already in the log or executed is refused as busy, or is seen done.
const reconfigReask = 2 * time.Second

// reconfigRun is one `cluster reconfig` run: the cluster it talks to and its bounds.
type reconfigRun struct {
	cluster  uint64
	addrs    []string // the active slots'
	standbys []string
	line     string        // the command, for messages
	timeout  time.Duration // per change
}

func clusterReconfig(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("%w: cluster reconfig: expected a change, one of %s, then --replica-id ID",
			errUsage, strings.Join(ops.ReconfigCommands, ", "))
	}
	command := args[0]
	fs, t := newFlags("cluster reconfig " + command)
	id := fs.Int("replica-id", -1, "the slot to change: 0..N-1 (add-replica, remove-replica, replace), 100 and up (add-standby, remove-standby)")
	joinWait := fs.Duration("join-timeout", 10*time.Minute, "replace: how long to wait for the new disk's process to answer as joining")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: cluster reconfig %s: unexpected arguments %v: expected only flags", errUsage, command, fs.Args())
	}
	addrs, cluster, err := t.resolve()
	if err != nil {
		return err
	}
	if *id < 0 {
		return fmt.Errorf("%w: cluster reconfig %s: --replica-id: expected the slot's id (0..%d, or 100 and up for a standby)",
			errUsage, command, len(addrs)-1)
	}
	plan, err := ops.PlanReconfig(command, *id, len(addrs), len(t.standbyAddrs()))
	if err != nil {
		return fmt.Errorf("%w: %v: expected one of %s with a slot of --addresses / --standby-addresses",
			errUsage, err, strings.Join(ops.ReconfigCommands, ", "))
	}
	run := &reconfigRun{cluster: cluster, addrs: addrs, standbys: t.standbyAddrs(), timeout: t.timeout,
		line: fmt.Sprintf("cluster reconfig %s --replica-id %d", command, *id)}
	result := ops.ReconfigResult{Command: command, ReplicaID: *id}
	for k, change := range plan.Changes {
		if k > 0 && plan.WipeBetween {
			if err := run.awaitJoining(plan, result.Changes[k-1].Epoch, *joinWait); err != nil {
				return err
			}
		}
		rep, err := run.change(change, fmt.Sprintf("%s %d", change.Kind, *id))
		if err != nil {
			return err
		}
		result.Changes = append(result.Changes, rep)
	}
	result.Configuration = run.status(context.Background()).Configuration
	return printJSON(result)
}

func (r *reconfigRun) status(ctx context.Context) ops.ClusterStatusReport {
	return remote.ClusterStatusWithStandbys(ctx, r.cluster, r.addrs, r.standbys)
}

func (r *reconfigRun) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", r.line, fmt.Sprintf(format, args...))
}

// change asks the primary for change until one takes it, and waits until its epoch is in
// force with a primary serving, within r.timeout. A refusal that asking again cannot mend
// (the slot is already a member, not one...) ends the command with the cluster's reason.
func (r *reconfigRun) change(change vsr.Change, name string) (ops.ReconfigReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	var taken ops.ReconfigReport
	var asked time.Time
	last := "no answer yet"
	for {
		s := r.status(ctx)
		switch {
		case taken.Epoch > 0 && ops.ReconfigDone(s, taken.Epoch):
			r.progress("%s done: %s", taken.Change, s.Configuration)
			return taken, nil
		case s.Primary < 0:
			last = "no primary (view change or quorum lost)"
		case taken.Epoch > 0 && s.Epoch >= taken.Epoch:
			p := s.Replicas[s.Primary]
			last = fmt.Sprintf("epoch %d in force; primary %d has executed op %d of %d committed", s.Epoch, s.Primary, p.CommitMin, p.Commit)
		case s.Epoch < taken.Epoch && time.Since(asked) < reconfigReask:
			last = fmt.Sprintf("waiting for epoch %d (now %d)", taken.Epoch, s.Epoch)
		case taken.Epoch == 0 || s.Epoch < taken.Epoch:
			var rep ops.ReconfigReport
			err := remote.Ask(ctx, r.cluster, r.addrs[s.Primary], ops.ReconfigRequest(change), &rep)
			switch {
			case err == nil:
				rep.Change = name
				if taken.Epoch == 0 {
					r.progress("primary %d took %s; epoch %d once it commits", rep.Primary, rep.Change, rep.Epoch)
					taken = rep
				}
				asked = time.Now()
			case retriable(err):
				last = err.Error()
			case taken.Epoch == 0:
				return rep, fmt.Errorf("%s: refused by replica %d: %w", r.line, s.Primary, err)
			default:
				// Asked again after a first answer: the change is done or on its way.
				last = err.Error()
			}
		}
		select {
		case <-ctx.Done():
			if taken.Epoch > 0 && s.Epoch >= taken.Epoch {
				return taken, fmt.Errorf("%s: %s is in force (epoch %d) but the cluster does not serve within %v (%s); check cluster status",
					r.line, name, s.Epoch, r.timeout, last)
			}
			return taken, fmt.Errorf("%s: %s did not take effect within %v (last: %s); check cluster status and run it again",
				r.line, name, r.timeout, last)
		case <-time.After(reconfigPoll):
		}
	}
}

// retriable reports whether asking for a change failed in a way that asking again a moment
// later may mend: the primary moved, a change is on its way, or the process did not answer.
func retriable(err error) bool {
	var netErr net.Error
	return ops.ReconfigRetriable(err.Error()) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// awaitJoining is a replace's hardware step: the operator stops the removed replica's
// process, replaces its disk, formats it with --join and starts it; the add follows once the
// replica answers as joining.
func (r *reconfigRun) awaitJoining(plan ops.ReconfigPlan, epoch uint32, wait time.Duration) error {
	members := append(append([]string(nil), r.addrs...), r.standbys...)
	format := fmt.Sprintf("kimberlite format --join --join-epoch %d --cluster %d --replica-id %d --replica-count %d", epoch,
		r.cluster, plan.ReplicaID, len(r.addrs))
	if len(r.standbys) > 0 {
		format += fmt.Sprintf(" --standby-count %d", len(r.standbys))
	}
	if err := r.awaitEpochEverywhere(epoch, plan.Replica); err != nil {
		return err
	}
	r.progress("replica %d is removed. Now stop its process, replace its disk, run `%s DIR` and start it "+
		"(kimberlite start ... --replica-id %d DIR); waiting up to %v for it to answer as joining, then adding it",
		plan.ReplicaID, format, plan.ReplicaID, wait)
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), remote.AskTimeout)
		s, err := remote.ReplicaStatus(ctx, r.cluster, members, plan.Replica)
		cancel()
		if err == nil && s.Joining {
			r.progress("replica %d answers as joining", plan.ReplicaID)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: replica %d did not answer as joining within %v (status %s): format its new disk with `%s DIR`, start it, then run cluster reconfig add-replica --replica-id %d",
				r.line, plan.ReplicaID, wait, s.Status, format, plan.ReplicaID)
		}
		time.Sleep(5 * reconfigPoll)
	}
}

// awaitEpochEverywhere waits, within r.timeout, until every replica that answers but the
// removed one knows epoch (ops.EpochEverywhere): only then may the new disk's process start.
func (r *reconfigRun) awaitEpochEverywhere(epoch uint32, removed int) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	for {
		s := r.status(ctx)
		if ops.EpochEverywhere(s, epoch, removed) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not every running replica reached epoch %d within %v; do not start the replaced replica yet: check cluster status, then run cluster reconfig add-replica",
				r.line, epoch, r.timeout)
		case <-time.After(reconfigPoll):
		}
	}
}
