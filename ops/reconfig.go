package ops

import (
	"errors"
	"fmt"

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
