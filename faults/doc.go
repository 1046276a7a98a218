// Package faults is the fault model of a simulation run: what may go wrong, how often, and
// where, all drawn from the seed.
//
//   - Swarm parameters (swarm.go, after TigerBeetle's options_swarm): DrawSwarm draws the
//     cluster size, the client count, the network, disk and clock models and the nemesis
//     rates for one seed. Each seed switches on a random subset of the fault kinds (kind.go)
//     with random rates, so that rare combinations of faults get their turn across a batch.
//     Swarm.String prints every drawn parameter on one line, for the first line of a run.
//   - The fault atlas (atlas.go, after TigerBeetle's ClusterFaultAtlas): random disk faults
//     land, for any piece of replicated data, on at most f = (replicas-1)/2 replicas, so a
//     quorum always keeps a clean copy; the nemesis keeps at most f replicas unavailable
//     (crashed, paused or with a filled disk) at once. A scenario that wants unrecoverable
//     loss says so (Atlas.Unrecoverable, Atlas.UnavailableMax).
//   - The nemesis (nemesis.go): one step per tick of the fault phase, it crashes, restarts,
//     pauses and resumes replicas, partitions and heals the network, clogs paths, steps and
//     drifts clocks, slows, corrupts and fills disks, with the swarm's rates, inside the
//     atlas. When torn or lost writes are on, a crash waits (a bounded number of ticks) for
//     a replica with unsynced log writes, where durability bugs live. Every action is a
//     LevelShort trace record of kind "nemesis" and is counted, for coverage. Heal ends the
//     fault phase.
//   - The aimed moves (nemesis_aimed.go, nemesis_correlated.go): faults placed where protocol
//     bugs live, each a late fault kind drawn after every earlier draw: the primary isolated
//     from the other replicas with its clients kept, then the next primary before the old
//     one is repaired; crashes at I/O points (superblock durable, start_view sent,
//     checkpoint); correlated damage that always leaves an intact copy on a replica the
//     atlas protects, and identity loss (nemesis_identity.go: an entry and its redundant
//     record damaged together, then a reboot; drawn with the correlated kind, last); ring
//     and bridge partitions; clock faults on the primary; the primary left behind
//     (nemesis_behind.go: cut off until the others checkpoint above it; drawn with the
//     primary isolation's kind, after every other draw) and the synced checkpoint loss
//     (nemesis_synced.go: a checkpoint just installed by state sync rots, then a reboot;
//     drawn with the correlated kind, after that).
//   - Standbys (swarm.go addStandbys, nemesis_standby.go): a seed draws 0-2 standbys after
//     every earlier draw, and a quarter of those seeds a failover after the heal; the nemesis
//     crashes and restarts standbys at the replicas' rates, outside the atlas's bound; their
//     disks get no random faults (a standby is the copy a failover keeps).
//   - Coverage (coverage.go, marks.go): KindHits counts, per fault kind, how often it struck
//     in a run, so that a batch summary can list the kinds never reached; the aimed moves
//     mark the shapes they reach (internal/coverage), which the staging gate requires.
//
// Rules: the package is deterministic like sim/ (DESIGN.md section 1). No goroutines,
// channels, wall clock or global PRNG: every random draw comes from a *rand.Rand the caller
// passes (sim.Stream(seed, "swarm"), sim.Stream(seed, "atlas"), sim.Stream(seed, "nemesis")),
// and map iteration order never reaches a decision or the output.
//
// Imports allowed: the standard library (minus the above), vopr/sim, vopr/internal/... and
// vopr/cluster/... for its limits and file names.
package faults
