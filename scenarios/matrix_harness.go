package scenarios

import (
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// matrixHarness is the shape of a targeted-damage run's cluster: storage_matrix's (one
// client), or divergent_matrix's (more clients, the superblock checks on every completion).
type matrixHarness struct {
	replicas, clients int
	// prefix names the run's own counters (prefix+".damage.corrupt", ...).
	prefix string
	// budget is the run's tick budget when Options.TicksMax is 0.
	budget int
	// completions wires the superblock checks to every I/O completion (swarm's
	// onCompletion): divergent_matrix crashes a replica at one, so its superblock writes are
	// where a crash lands.
	completions bool
}

// newMatrixHarness builds a matrix run's cluster with the Suite's checkers wired in (every
// replica event, the prepare_ok durability check, the disks' durable images); the scenario
// adds its own event hook (onReplicaEvent) and client ticks.
func newMatrixHarness(o Options, h matrixHarness) *matrixRun {
	run := &matrixRun{budget: o.TicksMax, counts: map[string]uint64{}, prefix: h.prefix,
		swarmRun: &swarmRun{paths: map[string]uint64{}, checked: !o.Unchecked}}
	if run.budget == 0 {
		run.budget = h.budget
	}
	world := runbookWorld(sim.Millisecond, sim.DiskOptions{})
	world.Seed, world.DiskPool = o.Seed, o.disks
	opts := sim.ClusterOptions{World: world, Replicas: h.replicas, Clients: h.clients, ClusterID: o.Seed | 1,
		Mutation: o.Mutation, OnEvent: run.onEvent}
	if run.checked {
		opts.OnReplicaSend = run.onReplicaSend
		if h.completions {
			opts.OnCompletion = run.onCompletion
		}
	}
	run.suite = invariants.NewSuite(h.replicas)
	run.c = sim.NewCluster(opts)
	run.wireDisks()
	run.attachTrace(o)
	run.incarnations = make([]*vsr.Replica, h.replicas)
	return run
}
