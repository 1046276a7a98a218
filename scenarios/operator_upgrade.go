package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// ClusterVersionReport is `kimberlite-cli cluster version`: each running replica's binary
// release and the cluster release (the release whose semantics the state machine runs), as
// the replicas themselves report them (vsr.Inspection.Release, ClusterRelease).
type ClusterVersionReport struct {
	Binaries []uint32 // per replica; 0 while it is unreachable or stopped
	// Cluster is the highest cluster release any running replica has executed to.
	Cluster uint32
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

// ClusterVersion asks every replica for its release.
func ClusterVersion(c *sim.Cluster) ClusterVersionReport {
	v := clusterVersion(c)
	logPoll(c, "cluster version", v.String(), v.String())
	return v
}

func clusterVersion(c *sim.Cluster) ClusterVersionReport {
	v := ClusterVersionReport{Binaries: make([]uint32, c.ReplicaCount())}
	for i := range v.Binaries {
		r := c.Replica(i)
		if r == nil || c.Nodes[i].Status() != sim.NodeUp {
			continue
		}
		in := r.Inspect()
		if in.Status == vsr.StatusStopped {
			continue
		}
		v.Binaries[i] = in.Release
		v.Cluster = max(v.Cluster, in.ClusterRelease)
	}
	return v
}

// ClusterFeatures is `kimberlite-cli cluster features`: the features active at the cluster
// release (a feature of release R is on once the cluster runs R, which it does only when
// every replica's binary knows R).
func ClusterFeatures(c *sim.Cluster) []string {
	var features []string
	if clusterVersion(c).Cluster >= kv.ReleaseDelete {
		features = append(features, "delete")
	}
	return features
}
