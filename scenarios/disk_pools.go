package scenarios

import (
	"sync"

	"vopr/sim"
)

// diskPools are the sim.DiskPools of the swarm seeds that have finished, lent to the seeds
// that start (lendDiskPool): a seed's cluster grows its disks' files into the arrays an
// earlier seed's disks left, instead of allocating and clearing new ones (a tenth of a
// seed's CPU was those arrays, their page faults and their collection). A pool changes no
// byte of any run (sim.DiskPool); seeds running at once each hold their own.
var diskPools struct {
	sync.Mutex
	free []*sim.DiskPool
}

// lendDiskPool returns a pool that no running seed holds.
func lendDiskPool() *sim.DiskPool {
	diskPools.Lock()
	defer diskPools.Unlock()
	if n := len(diskPools.free); n > 0 {
		p := diskPools.free[n-1]
		diskPools.free = diskPools.free[:n-1]
		return p
	}
	return &sim.DiskPool{}
}

// returnDiskPool takes back a pool lendDiskPool lent, once its seed's worlds are done: the
// pool reclaims their disks' arrays (the disks are unusable afterwards).
func returnDiskPool(p *sim.DiskPool) {
	p.Reclaim()
	diskPools.Lock()
	defer diskPools.Unlock()
	diskPools.free = append(diskPools.free, p)
}
