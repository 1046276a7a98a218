package scenarios

import (
	"vopr/ops"
	"vopr/sim"
)

// ClusterVersionReport is `kimberlite-cli cluster version` (package ops): each running
// replica's binary release and the cluster release, as the replicas themselves report them
// (vsr.Inspection.Release, ClusterRelease).
type ClusterVersionReport = ops.ClusterVersionReport

// ClusterVersion asks every replica for its release.
func ClusterVersion(c *sim.Cluster) ClusterVersionReport {
	v := clusterVersion(c)
	logPoll(c, func() (string, string, string) { return "cluster version", v.String(), v.String() })
	return v
}

func clusterVersion(c *sim.Cluster) ClusterVersionReport {
	replicas := make([]ops.ReplicaVersion, c.ReplicaCount())
	for i := range replicas {
		replicas[i].Replica = i
		if r := c.Replica(i); r != nil && c.Nodes[i].Status() == sim.NodeUp {
			replicas[i] = ops.VersionOf(r.Inspect())
		}
	}
	return ops.ClusterVersionOf(replicas)
}

// ClusterFeatures is `kimberlite-cli cluster features`: the features active at the cluster
// release (ops.Features).
func ClusterFeatures(c *sim.Cluster) []string {
	return ops.Features(clusterVersion(c).Cluster).Features
}
