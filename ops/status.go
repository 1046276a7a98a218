package ops

import (
	"fmt"

	"vopr/cluster/vsr"
)

// StatusUnreachable is the status of a replica whose process does not answer.
const StatusUnreachable = "unreachable"

// ReplicaStatusReport is `kimberlite-cli replica status --replica-id N`.
type ReplicaStatusReport struct {
	Replica int `json:"replica"`
	// Status is the replica's vsr status (recovering, normal, view_change, stopped) or
	// "unreachable" when its process does not answer (crashed or paused).
	Status       string `json:"status"`
	Role         string `json:"role,omitempty"` // primary, backup, standby; empty when unreachable
	View         uint32 `json:"view"`
	Op           uint64 `json:"op"`         // op_number
	CommitMin    uint64 `json:"commit_min"` // executed
	Commit       uint64 `json:"commit"`     // commit_number
	CheckpointOp uint64 `json:"checkpoint_op"`
	DiskUsagePct int    `json:"disk_usage_pct"`
	DiskFull     bool   `json:"disk_full"`
	// Isolated: an operator cut the replica off (`replica isolate`); it receives, sends and
	// times out nothing until `replica unisolate`.
	Isolated bool `json:"isolated"`
	// Standby is set for a standby replica: its promotion eligibility and read limit.
	Standby *StandbyStatus `json:"standby,omitempty"`
	// Epoch and Outside are the configuration the replica knows (vsr/reconfig.go): Outside
	// has bit i set when slot i is not a member.
	Epoch   uint32 `json:"epoch"`
	Outside uint16 `json:"outside"`
	// Configuration names it ("epoch 2, members 1 2 3; standbys 100"), when the host knows
	// the cluster's slot counts (ConfigurationText).
	Configuration string `json:"configuration,omitempty"`
	// Joining: formatted to join (`kimberlite format --join`), it waits, silent, for a
	// change that adds it. Removed: it stopped because a configuration left it out.
	Joining bool `json:"joining,omitempty"`
	Removed bool `json:"removed,omitempty"`
	// Reason is why a stopped replica stopped, as it said, when its host kept it.
	Reason string `json:"reason,omitempty"`
}

// StandbyStatus is a standby's part of `replica status` (runbook scenario 4: a standby
// lagging more than 1000 ms is ineligible for promotion).
type StandbyStatus struct {
	ID     int    `json:"id"` // the runbook's replica id: 100 and up
	LagMs  int64  `json:"lag_ms"`
	LagOps uint64 `json:"lag_ops"`
	// LagKnown: the standby has heard from a primary since its process started, so LagMs,
	// LagOps and ContactLagMs are a measurement. False after a (re)start until it does: its
	// lag is unknown (the figures are 0 and say nothing) and it is not eligible.
	LagKnown    bool `json:"lag_known"`
	Eligible    bool `json:"eligible"`
	ReadsMaxQPS int  `json:"reads_max_qps"` // standby throttle --max-qps; 0: no limit
	// ContactLagMs is its lag when it last heard from the primary; Executed the op it has
	// executed up to and Commit the commit number it knows.
	ContactLagMs int64  `json:"contact_lag_ms"`
	Executed     uint64 `json:"executed"`
	Commit       uint64 `json:"commit"`
}

// ReplicaStatusOf is the status of a replica that answered: its inspection (InspectState is
// enough; the status shows no compactable bytes) and its disk usage in percent.
func ReplicaStatusOf(in vsr.Inspection, diskUsagePct int) ReplicaStatusReport {
	s := ReplicaStatusReport{Replica: in.Replica, Status: in.Status.String(), Role: in.Role.String(),
		View: in.View, Op: in.Op, CommitMin: in.CommitMin, Commit: in.CommitMax, CheckpointOp: in.CheckpointOp,
		DiskUsagePct: diskUsagePct, DiskFull: in.DiskFull, Isolated: in.Isolated, Epoch: in.Epoch, Outside: in.Outside}
	s.Joining, s.Removed = in.Joining, in.Removed // the replica's own word (vsr/reconfig.go)
	if in.Role == vsr.RoleStandby {
		s.Standby = &StandbyStatus{ID: in.StandbyID, LagMs: in.StandbyLagNs / 1_000_000, LagOps: in.StandbyLagOps,
			LagKnown: in.StandbyLagKnown, Eligible: in.StandbyEligible, ReadsMaxQPS: in.StandbyReadsMaxQPS,
			ContactLagMs: in.StandbyContactLagNs / 1_000_000, Executed: in.CommitMin, Commit: in.CommitMax}
	}
	return s
}

// Unreachable is the status of replica i when its process does not answer.
func Unreachable(i int) ReplicaStatusReport {
	return ReplicaStatusReport{Replica: i, Status: StatusUnreachable}
}

// Healthy reports whether the replica counts as healthy: reachable and in normal status.
// An isolated replica is not: it takes no part in the cluster (`replica isolate`).
func (r ReplicaStatusReport) Healthy() bool {
	return r.Status == vsr.StatusNormal.String() && !r.Isolated
}

func (r ReplicaStatusReport) String() string {
	if r.Status == StatusUnreachable {
		return fmt.Sprintf("replica %d: unreachable", r.Replica)
	}
	s := fmt.Sprintf("replica %d: %s %s view=%d op=%d commit=%d/%d checkpoint=%d disk=%d%%", r.Replica, r.Status,
		r.Role, r.View, r.Op, r.CommitMin, r.Commit, r.CheckpointOp, r.DiskUsagePct)
	if r.Configuration != "" {
		s += " " + r.Configuration
	}
	switch {
	case r.Joining && r.Configuration == "":
		s += " joining (waits for cluster reconfig to add it)"
	case r.Reason != "":
		s += " (" + r.Reason + ")"
	}
	if r.Isolated {
		// Only when set: an isolated replica's frozen numbers read as a stuck one otherwise.
		s += " isolated"
	}
	if sb := r.Standby; sb != nil {
		verdict := "eligible for promotion"
		if !sb.Eligible {
			verdict = "INELIGIBLE for promotion"
		}
		if sb.LagKnown {
			s += fmt.Sprintf(" standby=%d %s (lag %d ms, %d ops)", sb.ID, verdict, sb.LagMs, sb.LagOps)
		} else {
			s += fmt.Sprintf(" standby=%d %s (lag unknown: no primary heard since it started)", sb.ID, verdict)
		}
		if sb.ReadsMaxQPS > 0 {
			s += fmt.Sprintf(" reads<=%d/s", sb.ReadsMaxQPS)
		}
	}
	return s
}

// Gist is the part of a status whose change is worth a line in a log (not op and commit,
// which move with every request).
func (r ReplicaStatusReport) Gist() string {
	gist := fmt.Sprintf("%s %s %d %t %t", r.Status, r.Role, r.View, r.Isolated, r.DiskFull)
	if r.Standby != nil {
		gist += fmt.Sprintf(" eligible=%t", r.Standby.Eligible)
	}
	if r.Configuration != "" {
		gist += " " + r.Configuration
	}
	return gist
}

// ClusterStatusReport is `kimberlite-cli cluster status`.
type ClusterStatusReport struct {
	Replicas        []ReplicaStatusReport `json:"replicas"`
	Healthy         int                   `json:"healthy"`
	Quorum          int                   `json:"quorum"`           // replicas needed for a quorum: active members/2 + 1
	QuorumAvailable bool                  `json:"quorum_available"` // Healthy >= Quorum
	// Primary is the healthy primary of the highest view among healthy replicas, -1 if none.
	Primary int `json:"primary"`
	// Standbys are the standbys' statuses (ids 100 and up), when the caller knows them; they
	// count towards no quorum and none of the numbers above.
	Standbys []ReplicaStatusReport `json:"standbys,omitempty"`
	// Epoch and Outside are the newest configuration a reachable replica reports: only its
	// active members count towards Healthy and Quorum. Configuration names it, when the
	// caller knows the standby slots' count (ConfigurationText).
	Epoch         uint32 `json:"epoch"`
	Outside       uint16 `json:"outside"`
	Configuration string `json:"configuration,omitempty"`
}

// ClusterStatusOf summarises the status of every replica of the cluster (index order). The
// configuration is the newest one a reachable replica reports (a joining replica knows
// none); a replica outside it counts for nothing.
func ClusterStatusOf(replicas []ReplicaStatusReport) ClusterStatusReport {
	s := ClusterStatusReport{Replicas: replicas, Primary: -1}
	for _, r := range replicas {
		if r.Status != StatusUnreachable && !r.Joining && r.Epoch >= s.Epoch {
			s.Epoch, s.Outside = r.Epoch, r.Outside
		}
	}
	members := 0
	for i := range replicas {
		if s.Outside&(1<<uint(i)) == 0 {
			members++
		}
	}
	s.Quorum = members/2 + 1
	var primaryView uint32
	for i, r := range replicas {
		if !r.Healthy() || s.Outside&(1<<uint(i)) != 0 {
			continue
		}
		s.Healthy++
		if r.Role == vsr.RolePrimary.String() && (s.Primary < 0 || r.View > primaryView) {
			s.Primary, primaryView = i, r.View
		}
	}
	s.QuorumAvailable = s.Healthy >= s.Quorum
	return s
}

// Gist is the cluster status in one line.
func (s ClusterStatusReport) Gist() string {
	gist := fmt.Sprintf("healthy=%d/%d quorum=%t primary=%d", s.Healthy, len(s.Replicas), s.QuorumAvailable, s.Primary)
	if s.Configuration != "" {
		gist += " " + s.Configuration
	}
	return gist
}
