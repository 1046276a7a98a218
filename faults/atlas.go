package faults

import (
	"fmt"
	"math/rand/v2"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/internal/assert"
	"vopr/sim"
)

// The fault atlas (TigerBeetle's ClusterFaultAtlas): random disk faults must leave the
// cluster a clean copy of every piece of data, or the swarm would report as bugs the losses
// no protocol can prevent.
//
// A zone is a piece of data that every replica stores under the same name: a log segment
// file (log-<k> holds ops k*64 .. k*64+63 on every replica, whatever their offsets inside
// it), a checkpoint file (checkpoint-<op>) or the superblock. Per seed, each zone is given a
// set of exactly f = (replicas-1)/2 replicas on which random faults may strike it; on every
// other replica the zone stays clean, so any quorum (f+1 replicas or more) holds a clean
// copy. The set is a pure function of a per-seed key and the zone's name, so zones that
// appear during the run (new segments, new checkpoints) get theirs without any state that a
// different event order could change.
//
// The superblock is the replica's own state, not a copy of the cluster's, so one clean copy
// on the replica itself is what matters: on a replica where the superblock zone is faulty,
// random faults may strike only one of its copies (drawn per replica), so both pairs keep an
// intact copy.
//
// With one or two replicas f = 0: no random disk fault at all. Crash outcomes (torn and lost
// unsynced writes) are the file system's durability contract, not defects, and ignore the
// atlas; so does a scenario's targeted fault, but the nemesis asks the atlas first.
//
// The atlas also bounds availability: the nemesis keeps at most UnavailableMax (f unless a
// scenario asks otherwise) replicas crashed, paused or with a filled disk at once.

// superblockCopies is the number of one-sector superblock copies the storage engine keeps
// (two pairs, written alternately).
const superblockCopies = 4

// superblockZone is the superblock file's name and zone.
const superblockZone = "superblock"

// zonesCachedMax bounds the memo of zone sets; it is only a cache of a pure function, so
// dropping it changes no answer.
const zonesCachedMax = 4096

// Atlas decides where random disk faults may strike and how many replicas the nemesis may
// make unavailable. The zero value is not usable; call NewAtlas.
//
// Invariants: len(FaultyReplicas(zone)) == F for every zone unless Unrecoverable;
// 0 <= F <= UnavailableMax is not required (a scenario may lower it).
type Atlas struct {
	// Replicas is the cluster size and F = (Replicas-1)/2, the faults a quorum tolerates.
	Replicas int
	F        int
	// Unrecoverable lifts the data bound: random disk faults may strike every zone on every
	// replica (a scenario that explicitly wants data loss). Set it before Install.
	Unrecoverable bool
	// UnavailableMax is the most replicas the nemesis keeps crashed, paused or with a filled
	// disk at once. NewAtlas sets it to F; a scenario may raise it (quorum loss).
	UnavailableMax int

	key   uint64
	zones map[string]uint64 // memo: zone -> bit set of its faulty replicas
}

// NewAtlas draws the atlas of one run from r (sim.Stream(seed, "atlas")).
func NewAtlas(r *rand.Rand, replicas int) *Atlas {
	assert.That(r != nil, "atlas: nil rand")
	assert.That(replicas >= 1 && replicas <= vsr.ReplicasMax, "atlas: replica count out of range")
	f := (replicas - 1) / 2
	a := &Atlas{Replicas: replicas, F: f, UnavailableMax: f, key: r.Uint64(),
		zones: map[string]uint64{}}
	assert.That(2*a.F < a.Replicas, "atlas: f replicas would be a quorum")
	return a
}

// Zone returns the zone of a file: its name. Named as a function so that a finer zoning
// (per entry, say) changes one place.
func Zone(name string) string { return name }

// FaultyReplicas returns, sorted, the replicas on which random faults may strike zone.
func (a *Atlas) FaultyReplicas(zone string) []int {
	mask := a.mask(zone)
	var out []int
	for i := 0; i < a.Replicas; i++ {
		if mask&(1<<i) != 0 {
			out = append(out, i)
		}
	}
	assert.That(a.Unrecoverable || len(out) == a.F, "atlas: zone faulty on other than f replicas")
	return out
}

// Allowed reports whether a random fault may strike the sector at offset of file name on
// replica.
func (a *Atlas) Allowed(replica int, name string, offset int64) bool {
	assert.That(replica >= 0 && replica < a.Replicas, "atlas: replica out of range")
	assert.That(offset >= 0, "atlas: negative offset")
	if a.Unrecoverable {
		return true
	}
	zone := Zone(name)
	if a.mask(zone)&(1<<replica) == 0 {
		return false
	}
	if zone == superblockZone {
		return offset/storage.SectorSize == int64(a.SuperblockCopy(replica))
	}
	return true
}

// SuperblockCopy is the one superblock copy random faults may strike on replica, when the
// superblock zone is faulty there.
func (a *Atlas) SuperblockCopy(replica int) int {
	r := sim.Stream(a.key, fmt.Sprintf("atlas/superblock/%d", replica))
	c := r.IntN(superblockCopies)
	assert.That(c >= 0 && c < superblockCopies, "atlas: superblock copy out of range")
	return c
}

// Filter returns replica's disk fault filter (sim.Disk.SetFaultFilter).
func (a *Atlas) Filter(replica int) func(name string, offset int64) bool {
	assert.That(replica >= 0 && replica < a.Replicas, "atlas: replica out of range")
	return func(name string, offset int64) bool { return a.Allowed(replica, name, offset) }
}

// Install sets every replica's disk fault filter from the atlas. Standbys' disks get no
// random faults: a standby is the copy a failover keeps when the active replicas are gone,
// and alone it has no peer to repair a damaged entry from (a one-replica configuration with
// an unreadable entry stops). Their crashes still tear and lose unsynced writes.
func (a *Atlas) Install(c *sim.Cluster) {
	assert.That(c.ReplicaCount() == a.Replicas, "atlas: cluster size differs from the atlas")
	for i := 0; i < a.Replicas; i++ {
		disk := c.Nodes[i].Disk
		assert.That(disk != nil, "atlas: replica without a disk")
		disk.SetFaultFilter(a.Filter(i))
	}
	for i := a.Replicas; i < c.MemberCount(); i++ {
		c.Nodes[i].Disk.SetFaultFilter(func(string, int64) bool { return false })
	}
	c.Trace.Emitf(sim.LevelShort, -1, "nemesis", "atlas %s", a)
}

// MayMakeUnavailable reports whether one more replica may become unavailable while
// unavailable replicas already are.
func (a *Atlas) MayMakeUnavailable(unavailable int) bool {
	assert.That(unavailable >= 0, "atlas: negative unavailable count")
	return unavailable < a.UnavailableMax
}

// String prints the atlas's parameters.
func (a *Atlas) String() string {
	return fmt.Sprintf("f=%d unavailable_max=%d unrecoverable=%t", a.F, a.UnavailableMax,
		a.Unrecoverable)
}

// mask returns the bit set of replicas on which zone is faulty: F replicas drawn by a partial
// shuffle from a stream keyed by the atlas key and the zone, so that the answer depends on
// nothing else.
func (a *Atlas) mask(zone string) uint64 {
	if a.Unrecoverable {
		return 1<<a.Replicas - 1
	}
	if m, ok := a.zones[zone]; ok {
		return m
	}
	replicas := make([]int, a.Replicas)
	for i := range replicas {
		replicas[i] = i
	}
	r := sim.Stream(a.key, "atlas/zone/"+zone)
	var m uint64
	for i := 0; i < a.F; i++ {
		j := i + r.IntN(a.Replicas-i)
		replicas[i], replicas[j] = replicas[j], replicas[i]
		m |= 1 << replicas[i]
	}
	if len(a.zones) >= zonesCachedMax {
		clear(a.zones)
	}
	a.zones[zone] = m
	return m
}

// segmentName is the storage engine's name of log segment k (cluster/storage: "log-" and 16
// hex digits), which the nemesis targets.
func segmentName(k uint64) string { return fmt.Sprintf("log-%016x", k) }
