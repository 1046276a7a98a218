package ops

import (
	"errors"
	"fmt"
	"strings"

	"vopr/cluster/vsr"
)

// `kimberlite-cli cluster reconfig add-replica | remove-replica | add-standby |
// remove-standby | replace --replica-id ID` (the runbook's scenario 1 option C, scenario 5's
// remove-replica step, and the performance quick fix add-standby), decided once here for the
// simulator's operator and the CLI. Each change goes through the log (vsr/reconfig.go);
// replace is two changes, remove then add, because the cluster makes one change at a time:
// between them the operator replaces the hardware and formats the new disk with --join.

// ReconfigRefused wraps every refusal made before the primary is asked.
var ReconfigRefused = errors.New("cluster reconfig refused")

// ReconfigCommands are the subcommands of `cluster reconfig`, in the order of the runbook.
var ReconfigCommands = []string{"add-replica", "remove-replica", "add-standby", "remove-standby", "replace"}

// ReconfigPlan is a `cluster reconfig` request turned into the changes the primary makes, in
// order.
type ReconfigPlan struct {
	Command   string       `json:"command"`
	ReplicaID int          `json:"replica_id"`
	Replica   int          `json:"replica"` // the slot's index
	Changes   []vsr.Change `json:"changes"`
	// WipeBetween: the operator replaces the node's disk (format --join) between the
	// changes: a replace.
	WipeBetween bool `json:"wipe_between"`
}

// PlanReconfig checks a `cluster reconfig COMMAND --replica-id ID` against a cluster of
// replicas active slots and standbys standby slots, and returns its changes. Whether the
// slot is a member now is the primary's to check (Replica.Reconfigure): it alone knows the
// configuration in force.
func PlanReconfig(command string, id, replicas, standbys int) (ReconfigPlan, error) {
	p := ReconfigPlan{Command: command, ReplicaID: id, Replica: id}
	standbyCommand := command == "add-standby" || command == "remove-standby"
	if standbyCommand {
		p.Replica = replicas + id - vsr.StandbyIDBase
		if id < vsr.StandbyIDBase || id >= vsr.StandbyIDBase+standbys {
			return p, fmt.Errorf("%w: %s: --replica-id %d is not a standby of this cluster (standby ids %d..%d)",
				ReconfigRefused, command, id, vsr.StandbyIDBase, vsr.StandbyIDBase+standbys-1)
		}
	} else if id < 0 || id >= replicas {
		return p, fmt.Errorf("%w: %s: --replica-id %d is not an active replica slot of this cluster (0..%d)",
			ReconfigRefused, command, id, replicas-1)
	}
	switch command {
	case "add-replica":
		p.Changes = []vsr.Change{{Kind: vsr.ChangeAddReplica, Replica: p.Replica}}
	case "remove-replica":
		p.Changes = []vsr.Change{{Kind: vsr.ChangeRemoveReplica, Replica: p.Replica}}
	case "add-standby":
		p.Changes = []vsr.Change{{Kind: vsr.ChangeAddStandby, Replica: p.Replica}}
	case "remove-standby":
		p.Changes = []vsr.Change{{Kind: vsr.ChangeRemoveStandby, Replica: p.Replica}}
	case "replace":
		p.Changes = []vsr.Change{{Kind: vsr.ChangeRemoveReplica, Replica: p.Replica}, {Kind: vsr.ChangeAddReplica, Replica: p.Replica}}
		p.WipeBetween = true
	default:
		return p, fmt.Errorf("%w: unknown command %q: want one of %v", ReconfigRefused, command, ReconfigCommands)
	}
	return p, nil
}

// ReconfigReport answers one change: the primary that took it and the epoch it leads to.
type ReconfigReport struct {
	Change  string `json:"change"`
	Primary int    `json:"primary"`
	Epoch   uint32 `json:"epoch"` // the configuration's epoch once the change commits
}

// Reconfigure asks primary r for one change of plan (vsr.Replica.Reconfigure).
func Reconfigure(r *vsr.Replica, replica int, change vsr.Change) (ReconfigReport, error) {
	in := r.InspectState()
	rep := ReconfigReport{Change: fmt.Sprintf("%s %d", change.Kind, change.Replica), Primary: replica, Epoch: in.Epoch + 1}
	if err := r.Reconfigure(change); err != nil {
		return rep, fmt.Errorf("cluster reconfig: replica %d: %w", replica, err)
	}
	return rep, nil
}

// ReconfigRequest is the admin request for one change (CommandReconfig): Key is the change's
// kind (vsr.ChangeKind's name), Value the slot's index.
func ReconfigRequest(change vsr.Change) Request {
	return Request{Command: CommandReconfig, Key: change.Kind.String(), Value: fmt.Sprint(change.Replica)}
}

// changeOf decodes a ReconfigRequest.
func changeOf(req Request) (vsr.Change, error) {
	for k := vsr.ChangeAddReplica; k <= vsr.ChangeRemoveStandby; k++ {
		if k.String() != req.Key {
			continue
		}
		var index int
		if _, err := fmt.Sscan(req.Value, &index); err != nil {
			return vsr.Change{}, fmt.Errorf("%w: %s: replica index %q", ReconfigRefused, req.Key, req.Value)
		}
		return vsr.Change{Kind: k, Replica: index}, nil
	}
	return vsr.Change{}, fmt.Errorf("%w: unknown change %q", ReconfigRefused, req.Key)
}

// ReconfigRetriable reports whether a refusal's text (it crosses the admin port as text) says
// the change may be asked again a moment later: the replica asked is not (or no longer) the
// primary of a normal view, or the previous change is still on its way.
func ReconfigRetriable(refusal string) bool {
	return strings.Contains(refusal, vsr.ErrReconfigBusy.Error()) || strings.Contains(refusal, vsr.ErrReconfigNotPrimary.Error())
}

// ReconfigDone reports whether the change that leads to epoch has taken effect and the
// cluster serves again: a healthy primary of that epoch (or a later one) answers, having
// executed every op it knows committed (a primary executes as it commits: one that cannot,
// a joiner still without the state, does not serve).
func ReconfigDone(s ClusterStatusReport, epoch uint32) bool {
	if s.Epoch < epoch || s.Primary < 0 {
		return false
	}
	p := s.Replicas[s.Primary]
	return p.Epoch >= epoch && p.CommitMin >= p.Commit
}

// ConfigurationText names a configuration for an operator, with the cluster's slot counts
// (replicas active slots, standbys standby slots): "epoch 2, members 1 2 3; standbys 100;
// outside 0 101". Slots are named by their operator's ids.
func ConfigurationText(epoch uint32, outside uint16, replicas, standbys int) string {
	var members, standbyMembers, out []string
	for i := 0; i < replicas+standbys; i++ {
		id := fmt.Sprint(i)
		if i >= replicas {
			id = fmt.Sprint(vsr.StandbyIDBase + i - replicas)
		}
		switch {
		case outside&(1<<uint(i)) != 0:
			out = append(out, id)
		case i >= replicas:
			standbyMembers = append(standbyMembers, id)
		default:
			members = append(members, id)
		}
	}
	text := fmt.Sprintf("epoch %d, members %s", epoch, strings.Join(members, " "))
	if len(standbyMembers) > 0 {
		text += "; standbys " + strings.Join(standbyMembers, " ")
	}
	if len(out) > 0 {
		text += "; outside " + strings.Join(out, " ")
	}
	return text
}

// ReconfigResult is what `cluster reconfig` prints once done: the command, each change as a
// primary took it (named with the operator's id: "add-standby 100"), and the configuration
// in force at the end.
type ReconfigResult struct {
	Command       string           `json:"command"`
	ReplicaID     int              `json:"replica_id"`
	Changes       []ReconfigReport `json:"changes"`
	Configuration string           `json:"configuration"`
}

// EpochEverywhere reports whether every replica and standby of s that answers, but the one
// at index except, knows epoch or a later one. A replace waits for it before the removed
// replica's new disk starts: a joining replica joins any epoch that includes its slot, so
// one that first heard from a member still in the epoch before the remove would join that
// epoch as its slot's old self, then learn of the remove and stop for good.
func EpochEverywhere(s ClusterStatusReport, epoch uint32, except int) bool {
	for i, r := range append(append([]ReplicaStatusReport(nil), s.Replicas...), s.Standbys...) {
		if i != except && r.Status != StatusUnreachable && !r.Joining && !r.Removed && r.Epoch < epoch {
			return false
		}
	}
	return true
}
