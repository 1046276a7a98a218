package scenarios

import (
	"fmt"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// checkUpgradeBinaries is the swarm's check of what the simulator knows of the binaries: the
// cluster release may rise to R only when every replica's node has a binary of release R or
// later installed. The upgrade target is the lowest release the replicas reported, and a
// report is never above the binary installed, so this holds for any replica that waits for
// every report, whichever replicas are down or cut off when the primary decides; a primary
// that decides without a silent replica's report upgrades the cluster past that replica's
// binary, which then stops (release too old) when it comes back, long after the decision. The
// swarm's nemesis only upgrades (rolling_upgrade's rollbacks would make an old report stale),
// so it runs in the swarm only. It returns the violation, or "".
func checkUpgradeBinaries(c *sim.Cluster, e vsr.Event) string {
	if e.Kind != vsr.EventUpgrade {
		return ""
	}
	var release uint32
	if _, err := fmt.Sscanf(e.Text, "cluster release %d", &release); err != nil {
		return fmt.Sprintf("upgrade_beyond_binaries: replica %d's upgrade event %q names no release", e.Replica, e.Text)
	}
	for _, i := range c.ActiveNodes() { // the configuration in force (a failover changes it)
		if !c.IsMember(i) {
			continue // outside the configuration: its binary is not the cluster's business
		}
		if binary := max(c.Release(i), kv.ReleaseBase); binary < release { // 0: the base release
			return fmt.Sprintf("upgrade_beyond_binaries: replica %d executed op %d, the upgrade to cluster release %d, while replica %d's node runs release %d",
				e.Replica, e.Op, release, i, binary)
		}
	}
	return ""
}
