package ops

import (
	"cmp"

	"vopr/cluster/vsr"
)

// ReplicaLag is what a replica's process answers to `replication lag`: its status and
// its replication_lag_ms as its host measures it (how long ago the cluster's commit number
// first passed the first op it has not executed).
type ReplicaLag struct {
	ReplicaStatusReport
	LagMs int64 `json:"lag_ms"`
}

// ReplicaLagReport is one replica's line of `replication lag --all`.
type ReplicaLagReport struct {
	Replica int    `json:"replica"`
	Status  string `json:"status"`
	Role    string `json:"role,omitempty"`
	// CommitMin is the op the replica has executed up to; LagOps how far it is below the
	// highest commit number any replica knows.
	CommitMin uint64 `json:"commit_min"`
	LagOps    uint64 `json:"lag_ops"`
	// LagMs is -1 for the primary (it defines the frontier) and an unreachable replica.
	LagMs int64 `json:"lag_ms"`
	// Standby is set for a standby (listed after the active replicas): its id and promotion
	// eligibility, as in replica status.
	Standby *StandbyStatus `json:"standby,omitempty"`
}

// ReplicationLagReport is `kimberlite-cli replication lag --all`.
type ReplicationLagReport struct {
	// Frontier is the highest commit number any answering replica knows.
	Frontier uint64             `json:"frontier"`
	Replicas []ReplicaLagReport `json:"replicas"`
	// Worst is the replica furthest behind (highest lag_ms, then lag_ops), -1 if none is.
	Worst int `json:"worst"`
}

// ReplicationLagOf summarises every replica's answer (index order; one that does not answer
// is Unreachable with no lag).
func ReplicationLagOf(replicas []ReplicaLag) ReplicationLagReport {
	rep := ReplicationLagReport{Worst: -1}
	for _, r := range replicas {
		if r.Status != StatusUnreachable {
			rep.Frontier = max(rep.Frontier, r.Commit)
		}
	}
	var worst ReplicaLagReport
	for i, r := range replicas {
		l := ReplicaLagReport{Replica: i, Status: r.Status, Role: r.Role, CommitMin: r.CommitMin, LagMs: -1,
			Standby: r.Standby}
		if r.Status != StatusUnreachable {
			l.LagOps = rep.Frontier - min(rep.Frontier, r.CommitMin)
			if r.Role != vsr.RolePrimary.String() {
				l.LagMs = r.LagMs
			}
		}
		if behind := cmp.Or(cmp.Compare(l.LagMs, worst.LagMs), cmp.Compare(l.LagOps, worst.LagOps)); behind > 0 {
			worst, rep.Worst = l, i
		}
		rep.Replicas = append(rep.Replicas, l)
	}
	return rep
}
