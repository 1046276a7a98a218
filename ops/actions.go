package ops

import (
	"encoding/hex"
	"fmt"
	"strings"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/cluster/vsr"
)

// The runbook's actions on a replica, written once: the simulator's Operator calls them on
// a replica under its node's guard, the server on its event loop (Serve). Asynchronous ones
// call done from a disk completion, never inside the call.

// ReplicaVersion is what one replica reports for `cluster version`.
type ReplicaVersion struct {
	Replica int `json:"replica"`
	// Release is the replica's binary release; 0 when it is unreachable or stopped.
	Release uint32 `json:"release"`
	// ClusterRelease is the release the replica's state machine has executed up to.
	ClusterRelease uint32 `json:"cluster_release"`
}

// VersionOf is replica's answer to `cluster version`: its inspection's releases, or
// nothing from a stopped replica.
func VersionOf(in vsr.Inspection) ReplicaVersion {
	if in.Status == vsr.StatusStopped {
		return ReplicaVersion{Replica: in.Replica}
	}
	return ReplicaVersion{Replica: in.Replica, Release: in.Release, ClusterRelease: in.ClusterRelease}
}

// ClusterVersionReport is `kimberlite-cli cluster version`: each replica's binary release
// and the cluster release (the release whose semantics the state machine runs).
type ClusterVersionReport struct {
	Binaries []uint32 `json:"binaries"` // per replica; 0 while it is unreachable or stopped
	// Cluster is the highest cluster release any running replica has executed to.
	Cluster uint32 `json:"cluster_release"`
}

// ClusterVersionOf summarises the replicas' answers (index order; an unreachable replica's
// is its zero ReplicaVersion).
func ClusterVersionOf(replicas []ReplicaVersion) ClusterVersionReport {
	v := ClusterVersionReport{Binaries: make([]uint32, len(replicas))}
	for i, r := range replicas {
		v.Binaries[i] = r.Release
		v.Cluster = max(v.Cluster, r.ClusterRelease)
	}
	return v
}

// Upgraded counts the replicas whose binary runs at least release.
func (v ClusterVersionReport) Upgraded(release uint32) int {
	n := 0
	for _, b := range v.Binaries {
		if b >= release {
			n++
		}
	}
	return n
}

func (v ClusterVersionReport) String() string {
	parts := make([]string, len(v.Binaries))
	for i, b := range v.Binaries {
		parts[i] = fmt.Sprintf("R%d=%d", i, b)
	}
	return fmt.Sprintf("cluster release %d, binaries %s", v.Cluster, strings.Join(parts, " "))
}

// FeaturesReport is `kimberlite-cli cluster features`.
type FeaturesReport struct {
	ClusterRelease uint32   `json:"cluster_release"`
	Features       []string `json:"features"`
}

// Features lists the features active at a cluster release: a feature of release R is on
// once the cluster runs R, which it does only when every replica's binary knows R.
func Features(clusterRelease uint32) FeaturesReport {
	f := FeaturesReport{ClusterRelease: clusterRelease, Features: []string{}}
	if clusterRelease >= kv.ReleaseDelete {
		f.Features = append(f.Features, "delete")
	}
	return f
}

// IsolationReport answers `replica isolate` and `replica unisolate`.
type IsolationReport struct {
	Replica  int    `json:"replica"`
	Isolated bool   `json:"isolated"`
	Reason   string `json:"reason,omitempty"`
}

// Isolate cuts the replica off (vsr.Replica.Isolate: it drops what it receives, sends
// nothing, and its timers stand still) until Unisolate. Isolation is volatile, like any
// operator state the process holds: a replica that restarts comes back connected.
func Isolate(r *vsr.Replica, replica int, reason string) IsolationReport {
	r.Isolate(reason)
	return isolation(r, replica)
}

// Unisolate reconnects an isolated replica; it then catches up like any lagging one.
func Unisolate(r *vsr.Replica, replica int) IsolationReport {
	r.Unisolate()
	return isolation(r, replica)
}

func isolation(r *vsr.Replica, replica int) IsolationReport {
	reason, isolated := r.Isolation()
	return IsolationReport{Replica: replica, Isolated: isolated, Reason: reason}
}

// CompactReport answers `storage compact`.
type CompactReport struct {
	Replica    int   `json:"replica"`
	FreedBytes int64 `json:"freed_bytes"`
}

// Compact is `storage compact` on a running replica: its engine removes the log segments
// wholly at or below its durable checkpoint (vsr.Replica.Compact); done runs from a disk
// completion with the bytes freed or the error that refused it.
func Compact(r *vsr.Replica, done func(freed int64, err error)) { r.Compact(done) }

// StateDump is `kimberlite-cli debug dump-state --replica-id i`: what the replica's
// process reports about itself, or, when it does not answer, what the host shows.
type StateDump struct {
	Replica int `json:"replica"`
	// Node is the host's view of the process: up, paused or crashed (the simulator's), or
	// up and unreachable (a real server that answered, or did not).
	Node string `json:"node"`
	// Status is the replica's vsr status, or "unreachable" (then nothing below is set).
	Status          string `json:"status"`
	Role            string `json:"role,omitempty"`
	Isolated        bool   `json:"isolated,omitempty"`
	IsolationReason string `json:"isolation_reason,omitempty"`
	// LogHead and Digest are Inspection's checksums in hex (JSON would print their bytes as
	// numbers).
	LogHead    string          `json:"log_head,omitempty"`
	Digest     string          `json:"digest,omitempty"`
	Inspection *vsr.Inspection `json:"inspection,omitempty"`
	Config     *vsr.Config     `json:"config,omitempty"`
}

// DumpState is the dump of a replica that answers; node is the host's view of it.
func DumpState(r *vsr.Replica, replica int, node string) StateDump {
	in, cfg := r.Inspect(), r.Config()
	dump := StateDump{Replica: replica, Node: node, Inspection: &in, Config: &cfg, Status: in.Status.String(),
		Role: in.Role.String(), LogHead: hex.EncodeToString(in.LogHead[:]), Digest: hex.EncodeToString(in.Digest[:])}
	dump.IsolationReason, dump.Isolated = r.Isolation()
	return dump
}

// UnreachableDump is the dump of a replica whose process does not answer.
func UnreachableDump(replica int, node string) StateDump {
	return StateDump{Replica: replica, Node: node, Status: StatusUnreachable}
}

// StorageVerify is `storage verify --full-scan` on a stopped replica's storage: it opens it
// as a restart would (storage.Open) and runs the engine's full scan (Storage.VerifyOpened:
// what Open repaired on its way is reported too). done
// runs from a disk completion with the report, or with the error that kept the engine from
// opening (the report, not OK, then says why).
func StorageVerify(fs storage.FS, done func(storage.VerifyReport, error)) {
	storage.Open(fs, vsr.StorageOptions(fs), func(s *storage.Storage, rec *storage.Recovery, err error) {
		if err != nil {
			done(storage.VerifyReport{Problems: []storage.Problem{{Offset: -1, Reason: "open: " + err.Error()}}}, err)
			return
		}
		s.VerifyOpened(rec, func(r storage.VerifyReport) { done(r, nil) })
	})
}

// ThrottleReport is `kimberlite-cli standby throttle --replica-id ID --max-qps N`.
type ThrottleReport struct {
	Replica int `json:"replica"`
	ID      int `json:"id"`
	MaxQPS  int `json:"max_qps"`
}

// StandbyThrottle limits the stale reads standby r serves to maxQPS per second (0: no
// limit); an active replica refuses.
func StandbyThrottle(r *vsr.Replica, replica, maxQPS int) (ThrottleReport, error) {
	if err := r.ThrottleReads(maxQPS); err != nil {
		return ThrottleReport{}, fmt.Errorf("standby throttle: replica %d: %w", replica, err)
	}
	return ThrottleReport{Replica: replica, ID: r.InspectState().StandbyID, MaxQPS: r.ReadsMaxQPS()}, nil
}

// StandbyIndex is the replica index of the runbook's standby id (100 and up) in a cluster of
// active replicas, or the id itself for an active replica's id.
func StandbyIndex(id, active int) int {
	if id >= vsr.StandbyIDBase {
		return active + id - vsr.StandbyIDBase
	}
	return id
}
