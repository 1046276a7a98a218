package faults

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// offsetsProbed are the offsets the property test asks about: every superblock copy and a
// few sectors further into a file.
var offsetsProbed = []int64{0, 1 * storage.SectorSize, 2 * storage.SectorSize,
	3 * storage.SectorSize, 3*storage.SectorSize + 17, 100 * storage.SectorSize}

func drawZone(rt *rapid.T) string {
	switch rapid.IntRange(0, 3).Draw(rt, "zone_kind") {
	case 0:
		return segmentName(rapid.Uint64Range(0, 1<<20).Draw(rt, "segment"))
	case 1:
		return fmt.Sprintf("checkpoint-%016x", rapid.Uint64Range(0, 1<<30).Draw(rt, "checkpoint"))
	case 2:
		return superblockZone
	}
	return rapid.StringN(0, 24, -1).Draw(rt, "name")
}

// TestAtlasBoundsEveryZone is the atlas's property: for any replica count and seed, every
// zone is faulty on exactly f replicas (none with f = 0), and a clean replica allows no
// sector of it; on a faulty replica the superblock allows exactly one copy. The answers do
// not depend on the order of the questions. Unrecoverable allows everything.
func TestAtlasBoundsEveryZone(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		replicas := rapid.IntRange(1, vsr.ReplicasMax).Draw(rt, "replicas")
		seed := rapid.Uint64().Draw(rt, "seed")
		a := NewAtlas(sim.Stream(seed, "atlas"), replicas)
		f := (replicas - 1) / 2
		require.Equal(rt, f, a.F)
		zones := rapid.SliceOfN(rapid.Custom(drawZone), 1, 20).Draw(rt, "zones")
		answers := map[string][]bool{}
		for _, zone := range zones {
			faulty := a.FaultyReplicas(zone)
			require.Len(rt, faulty, f, "zone %q", zone)
			allowedOn := 0
			var got []bool
			for i := 0; i < replicas; i++ {
				sectors := map[int64]bool{}
				for _, offset := range offsetsProbed {
					ok := a.Allowed(i, zone, offset)
					got = append(got, ok)
					if ok {
						sectors[offset/storage.SectorSize] = true
					}
				}
				copies := len(sectors)
				if copies > 0 {
					allowedOn++
				}
				if zone == superblockZone && copies > 0 {
					require.Equal(rt, 1, copies, "superblock: one copy per faulty replica")
				}
			}
			require.LessOrEqual(rt, allowedOn, f, "zone %q faulty on %d replicas, f=%d",
				zone, allowedOn, f)
			answers[zone] = got
		}
		// A fresh atlas of the same seed, asked in reverse order, answers the same.
		b := NewAtlas(sim.Stream(seed, "atlas"), replicas)
		for k := len(zones) - 1; k >= 0; k-- {
			var got []bool
			for i := 0; i < replicas; i++ {
				for _, offset := range offsetsProbed {
					got = append(got, b.Allowed(i, zones[k], offset))
				}
			}
			require.Equal(rt, answers[zones[k]], got, "zone %q", zones[k])
		}
		b.Unrecoverable = true
		for i := 0; i < replicas; i++ {
			require.True(rt, b.Allowed(i, zones[0], offsetsProbed[0]))
		}
		require.Len(rt, b.FaultyReplicas(zones[0]), replicas)
	})
}

// TestAtlasSpreadsFaults: across zones every replica takes its turn, so no replica is always
// the clean one; and the memo's eviction changes no answer.
func TestAtlasSpreadsFaults(t *testing.T) {
	a := NewAtlas(rand.New(rand.NewPCG(1, 2)), 5)
	first := map[string][]int{}
	seen := make([]int, 5)
	for k := uint64(0); k < zonesCachedMax+100; k++ {
		zone := segmentName(k)
		faulty := a.FaultyReplicas(zone)
		for _, i := range faulty {
			seen[i]++
		}
		if k < 50 {
			first[zone] = faulty
		}
	}
	for i, n := range seen {
		require.Greater(t, n, (zonesCachedMax+100)*2/5/2, "replica %d rarely faulty", i)
	}
	require.LessOrEqual(t, len(a.zones), zonesCachedMax)
	for zone, faulty := range first {
		require.Equal(t, faulty, a.FaultyReplicas(zone), "zone %s after eviction", zone)
	}
	require.Equal(t, 2, a.UnavailableMax)
	require.True(t, a.MayMakeUnavailable(1))
	require.False(t, a.MayMakeUnavailable(2))
}

// TestAtlasInstalledOnCluster runs real replicas under heavy random disk faults and checks,
// from the disks' own fault reports, that every random fault landed where the atlas allows:
// on at most f replicas per file, one superblock copy per replica. With f = 0 no fault lands.
func TestAtlasInstalledOnCluster(t *testing.T) {
	for _, replicas := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			s, seed := swarmWith(t, replicas, 100)
			s.Disk.ReadFaultProbability, s.Disk.ReadCorruptionProbability = 0.3, 0.3
			s.Disk.WriteCorruptionProbability, s.Disk.WriteMisdirectProbability = 0.3, 0.2
			s.Network.OneWayDelayMin, s.Network.OneWayDelayMean = sim.Millisecond, 2*sim.Millisecond
			c, _ := workloadCluster(s, seed)
			a := NewAtlas(sim.Stream(seed, "atlas"), replicas)
			a.Install(c)
			faultyOn := map[string]map[int]bool{}
			total := 0
			for tick := 0; tick < 150; tick++ {
				c.RunFor(sim.TickInterval)
				for i := 0; i < replicas; i++ {
					for _, fault := range c.Nodes[i].Disk.Faults() {
						require.True(t, a.Allowed(i, fault.Name, fault.Offset),
							"replica %d: %s fault on %s sector %d outside the atlas",
							i, fault.Kind, fault.Name, fault.Sector)
						if faultyOn[fault.Name] == nil {
							faultyOn[fault.Name] = map[int]bool{}
						}
						faultyOn[fault.Name][i] = true
						total++
					}
				}
			}
			requireProgress(t, c)
			t.Logf("%d fault overlays seen over %d files", total, len(faultyOn))
			for name, on := range faultyOn {
				require.LessOrEqual(t, len(on), a.F, "%s faulty on %v", name, on)
			}
			if a.F == 0 {
				require.Zero(t, total, "f=0: no random disk fault")
			} else {
				require.Positive(t, total, "the test must see faults to prove anything")
			}
		})
	}
}

// TestSegmentNameMatchesStorage: the nemesis finds log segments by the storage engine's
// naming; a running replica's disk holds segment 0 under that name.
func TestSegmentNameMatchesStorage(t *testing.T) {
	s, seed := swarmWith(t, 3, 0)
	s.Network.OneWayDelayMin, s.Network.OneWayDelayMean = sim.Millisecond, 2*sim.Millisecond
	c, _ := workloadCluster(s, seed)
	c.RunFor(2 * sim.Second)
	size, err := c.Nodes[0].Disk.Size(segmentName(0))
	require.NoError(t, err)
	require.Positive(t, size)
}
