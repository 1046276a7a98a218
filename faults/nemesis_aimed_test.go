package faults

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/storage"
	"vopr/cluster/vsr"
	"vopr/sim"
)

// quiet returns s without any random fault and with only the nemesis options o, on a fast
// network and disks, so that a test sees exactly what one move does.
func quiet(s Swarm, o NemesisOptions) Swarm {
	exempt := s.Network.PartitionExempt
	s.Network = sim.NetworkOptions{NodeCount: s.Replicas + s.Standbys + s.Clients, OneWayDelayMin: sim.Millisecond,
		OneWayDelayMean: 2 * sim.Millisecond, PathMaximumCapacity: sim.DefaultPathMaximumCapacity,
		PartitionExempt: exempt}
	s.Disk = sim.DiskOptions{ReadLatencyMin: 50 * sim.Microsecond, ReadLatencyMean: 300 * sim.Microsecond,
		WriteLatencyMin: 50 * sim.Microsecond, WriteLatencyMean: 800 * sim.Microsecond, Capacity: DiskCapacity}
	for i := range s.Clocks {
		s.Clocks[i] = sim.ClockOptions{}
	}
	s.Nemesis = o
	return s
}

// aimedRun is a quiet cluster with a workload, its atlas and a nemesis, not yet stepped.
type aimedRun struct {
	s     Swarm
	c     *sim.Cluster
	atlas *Atlas
	n     *Nemesis
	out   *bytes.Buffer
}

func newAimedRun(t *testing.T, replicas int, seed uint64, o NemesisOptions) *aimedRun {
	t.Helper()
	s, seed := swarmWith(t, replicas, seed)
	s = quiet(s, o)
	require.NoError(t, s.Validate())
	c, out := workloadCluster(s, seed)
	a := &aimedRun{s: s, c: c, out: out, atlas: NewAtlas(sim.Stream(seed, "atlas"), s.Replicas)}
	a.atlas.Install(c)
	a.n = NewNemesis(sim.Stream(seed, "nemesis"), s, a.atlas)
	a.n.Install(c)
	return a
}

// testPrimary is the harness's own view of the current primary: the up replica in normal
// status whose role is primary, in the highest view.
func testPrimary(c *sim.Cluster) (int, uint32) {
	best, view := -1, uint32(0)
	for i := 0; i < c.ReplicaCount(); i++ {
		if r := c.Replica(i); r != nil && c.Nodes[i].Status() == sim.NodeUp {
			in := r.Inspect()
			if in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && (best < 0 || in.View > view) {
				best, view = i, in.View
			}
		}
	}
	return best, view
}

// requireShapeEnds cuts a ring, bridge or straggler cut short (the test need not wait it out)
// and requires it to end within ticks with every path back.
func requireShapeEnds(t *testing.T, c *sim.Cluster, n *Nemesis, ticks int) {
	t.Helper()
	n.shapeUntil = n.tick + uint64(ticks)
	for tick := 0; n.shape != nil; tick++ {
		require.LessOrEqual(t, tick, ticks)
		c.RunFor(sim.TickInterval)
		n.Step(c)
	}
	requireAllConnected(t, c)
}

// requireAllConnected requires every path between two nodes to be up.
func requireAllConnected(t *testing.T, c *sim.Cluster) {
	t.Helper()
	for a := range c.Nodes {
		for b := range c.Nodes {
			require.True(t, a == b || c.Network.Connected(a, b), "%d->%d still cut", a, b)
		}
	}
}

// requireCutFromReplicas checks that exactly the paths between p and the other replicas are
// cut, both ways: p's clients reach it, and every other path is up.
func requireCutFromReplicas(t *testing.T, c *sim.Cluster, p int) {
	t.Helper()
	for a := range c.Nodes {
		for b := range c.Nodes {
			if a == b {
				continue
			}
			replicaPath := a < c.ReplicaCount() && b < c.ReplicaCount()
			cut := replicaPath && (a == p || b == p)
			require.Equal(t, !cut, c.Network.Connected(a, b), "path %d->%d with primary %d cut off", a, b, p)
		}
	}
}

// The primary isolation cuts exactly the replica paths of the current primary; once the
// others have elected a new primary, it reconnects the old one and cuts the new one off the
// same way; a later view ends the move with every path back. The old primary's clients kept
// it busy: it prepared an uncommitted suffix.
func TestNemesisPrimaryIsolation(t *testing.T) {
	for _, replicas := range []int{3, 5} {
		run := newAimedRun(t, replicas, 40, NemesisOptions{PrimaryIsolationProbability: 1})
		c, n := run.c, run.n
		c.RunFor(sim.Second)
		old, oldView := testPrimary(c)
		require.GreaterOrEqual(t, old, 0, "no primary")
		n.Step(c)
		n.o.PrimaryIsolationProbability = 0 // one move, from here to its end
		require.Equal(t, isolationFirst, n.isolation.phase)
		requireCutFromReplicas(t, c, old)
		var next int
		for tick := 0; n.isolation.phase == isolationFirst; tick++ {
			require.Less(t, tick, isolationTicksMax, "replicas=%d: no view change without the primary", replicas)
			c.RunFor(sim.TickInterval)
			n.Step(c)
		}
		require.Equal(t, isolationSecond, n.isolation.phase, "replicas=%d", replicas)
		next = n.isolation.next
		require.NotEqual(t, old, next)
		require.Greater(t, n.isolation.nextView, oldView)
		requireCutFromReplicas(t, c, next)
		for tick := 0; n.isolation.phase == isolationSecond; tick++ {
			require.Less(t, tick, isolationTicksMax+1)
			c.RunFor(sim.TickInterval)
			n.Step(c)
		}
		requireAllConnected(t, c)
		hits := n.Marks()
		require.Equal(t, uint64(1), hits.Count(MarkPrimaryIsolationViewChange), "replicas=%d", replicas)
		require.Equal(t, uint64(1), hits.Count(MarkPrimaryIsolationSuffix), "replicas=%d: no suffix", replicas)
		counts := n.Counts()
		require.Equal(t, uint64(1), counts[ActionPrimaryIsolate])
		require.Equal(t, uint64(1), counts[ActionPrimaryNext])
		require.Equal(t, uint64(1), counts[ActionReconnect])
		require.Equal(t, uint64(1), hits.Count(MarkPrimaryIsolationSecondViewChange),
			"replicas=%d: the second view change ran while the old primary held its old log", replicas)
	}
}

// crashAtIOProbe wraps the nemesis's hooks to see what struck, and when.
type crashAtIOProbe struct {
	completion *sim.IOCompletion // the completion a crash struck at
	crashed    int               // the replica the hook decided to crash, -1 before
	// startViews are the destinations of the start_view messages the crashed replica sent in
	// the call that crashed it (from the triggering one on).
	startViews map[int]bool
	checkpoint uint64
}

func probeCrashAtIO(run *aimedRun, point string) *crashAtIOProbe {
	c, n := run.c, run.n
	p := &crashAtIOProbe{crashed: -1, startViews: map[int]bool{}}
	n.ioCrash = ioCrash{point: point, until: 1 << 40}
	c.SetFaultHooks(sim.FaultHooks{
		Completion: func(i int, io sim.IOCompletion) bool {
			crash := n.onCompletion(c, i, io)
			if crash {
				p.completion, p.crashed = &io, i
			}
			return crash
		},
		Sent: func(from, to int, msg []byte) {
			n.onSent(c, from, msg)
			if p.crashed < 0 && n.ioCrash.until == 0 {
				p.crashed = from
			}
			if command, _ := vsr.PeekCommand(msg); from == p.crashed && command == vsr.CommandStartView &&
				c.Nodes[from].Status() == sim.NodeUp {
				p.startViews[to] = true
			}
		},
		Event: func(e vsr.Event) {
			n.onEvent(c, e)
			if p.crashed < 0 && n.ioCrash.until == 0 {
				p.crashed, p.checkpoint = e.Replica, e.Op
			}
		},
	})
	return p
}

// Each crash at an I/O point fires at that point: as a superblock sync completes (the
// superblock is durable, and the replica never learned it), just after start_view went to
// every other replica, just after a checkpoint became durable.
func TestNemesisCrashAtIOPoints(t *testing.T) {
	t.Run("superblock", func(t *testing.T) {
		run := newAimedRun(t, 3, 60, NemesisOptions{})
		p := probeCrashAtIO(run, ActionCrashSuperblock)
		require.True(t, run.c.RunUntil(func() bool { return p.crashed >= 0 }, 1000))
		require.Equal(t, sim.IOSync, p.completion.Op)
		require.Equal(t, "superblock", p.completion.Name)
		disk := run.c.Nodes[p.crashed].Disk
		require.Equal(t, sim.NodeCrashed, run.c.Nodes[p.crashed].Status())
		require.Equal(t, disk.Pristine("superblock"), disk.Durable("superblock"), "the superblock was synced")
		requireCrashRecorded(t, run, p.crashed, ActionCrashSuperblock)
	})
	t.Run("start_view", func(t *testing.T) {
		run := newAimedRun(t, 3, 60, NemesisOptions{})
		run.c.RunFor(sim.Second)
		old, _ := testPrimary(run.c)
		run.c.Network.Isolate(old) // the others elect a new primary, which sends start_view
		p := probeCrashAtIO(run, ActionCrashStartView)
		require.True(t, run.c.RunUntil(func() bool { return p.crashed >= 0 }, 1000))
		require.NotEqual(t, old, p.crashed)
		require.Equal(t, sim.NodeCrashed, run.c.Nodes[p.crashed].Status(), "crashed when the call returned")
		require.Len(t, p.startViews, run.s.Replicas-1, "start_view went to every other replica first")
		requireCrashRecorded(t, run, p.crashed, ActionCrashStartView)
	})
	t.Run("checkpoint", func(t *testing.T) {
		run := newAimedRun(t, 3, 60, NemesisOptions{})
		p := probeCrashAtIO(run, ActionCrashCheckpoint)
		require.True(t, run.c.RunUntil(func() bool { return p.crashed >= 0 }, 3000))
		require.Equal(t, sim.NodeCrashed, run.c.Nodes[p.crashed].Status())
		require.NotZero(t, p.checkpoint)
		run.c.StartReplica(p.crashed)
		run.c.RunFor(200 * sim.Millisecond)
		r := run.c.Replica(p.crashed)
		require.NotNil(t, r, "the replica failed to recover: %v", run.c.Failures())
		require.GreaterOrEqual(t, r.Inspect().CheckpointOp, p.checkpoint, "the checkpoint was durable")
		requireCrashRecorded(t, run, p.crashed, ActionCrashCheckpoint)
	})
	t.Run("checkpoint_rot", func(t *testing.T) {
		// With disk corruption on, half the crashes after a checkpoint rot that checkpoint's
		// file: the restart falls back below it.
		for seed := uint64(60); ; seed++ {
			require.Less(t, seed, uint64(70), "no rotted checkpoint in 10 seeds")
			run := newAimedRun(t, 3, seed, NemesisOptions{})
			run.n.o.DiskCorruptProbability = 1e-12 // the kind on; random corruption all but never
			p := probeCrashAtIO(run, ActionCrashCheckpoint)
			require.True(t, run.c.RunUntil(func() bool { return p.crashed >= 0 }, 3000))
			if run.n.Marks().Count(MarkCrashAfterCheckpointRot) == 0 {
				continue
			}
			require.Contains(t, run.out.String(), "(the checkpoint it crashed after)")
			faults := run.c.Nodes[p.crashed].Disk.Faults()
			require.NotEmpty(t, faults)
			require.Equal(t, checkpointFileNameOf(p.checkpoint), faults[len(faults)-1].Name)
			return
		}
	})
}

// checkpointFileNameOf is the engine's name of checkpoint op's file, as the disk shows it.
func checkpointFileNameOf(op uint64) string { return fmt.Sprintf("checkpoint-%016x", op) }

// requireCrashRecorded checks the move's record, its count and mark, and that the node's
// crash is the next thing its node did in the trace.
func requireCrashRecorded(t *testing.T, run *aimedRun, replica int, action string) {
	t.Helper()
	require.Equal(t, uint64(1), run.n.Counts()[action])
	lines := strings.Split(run.out.String(), "\n")
	at := -1
	for i, l := range lines {
		if strings.Contains(l, " nemesis ") && strings.Contains(l, action+fmt.Sprintf(" r%d ", replica)) {
			at = i
		}
	}
	require.GreaterOrEqual(t, at, 0, "no %s record", action)
	node := fmt.Sprintf(" n%d ", replica)
	for _, l := range lines[at+1:] {
		if strings.Contains(l, node) && strings.Contains(l, " node ") {
			require.True(t, strings.HasSuffix(l, " crash"), "after %s: %q", action, l)
			return
		}
	}
	t.Fatalf("no crash after %s", action)
}

// A ring leaves each replica its two neighbours; a bridge leaves one replica both halves,
// which do not reach each other; clients keep every path; the move ends with every path up.
func TestNemesisRingAndBridge(t *testing.T) {
	shapes := map[string]int{}
	for seed, runs := uint64(70), 0; shapes["ring"] == 0 || shapes["bridge"] == 0; seed, runs = seed+1, runs+1 {
		require.Less(t, runs, 20, "20 runs without both shapes: %v", shapes)
		run := newAimedRun(t, 5, seed, NemesisOptions{RingBridgeProbability: 1})
		c, n := run.c, run.n
		c.RunFor(200 * sim.Millisecond)
		n.Step(c)
		n.o.RingBridgeProbability = 0
		require.NotNil(t, n.shape)
		shapes[n.shape.Name]++
		seen := make([]int, run.s.Replicas) // replicas each replica reaches, both ways
		for a := range c.Nodes {
			for b := range c.Nodes {
				if a == b {
					continue
				}
				require.Equal(t, c.Network.Connected(a, b), c.Network.Connected(b, a), "symmetric")
				if a >= run.s.Replicas || b >= run.s.Replicas {
					require.True(t, c.Network.Connected(a, b), "client path %d->%d cut", a, b)
				} else if c.Network.Connected(a, b) {
					seen[a]++
				}
			}
		}
		switch n.shape.Name {
		case "ring":
			require.Equal(t, []int{2, 2, 2, 2, 2}, seen, "ring %s", n.shape.Text)
		case "bridge":
			bridged := 0
			for i, k := range seen {
				if k == run.s.Replicas-1 {
					bridged++
					require.Contains(t, n.shape.Text, fmt.Sprintf("|%d|", i))
				} else {
					require.Equal(t, 2, k, "a 2|1|2 bridge: each half's replica reaches its mate and the bridge")
				}
			}
			require.Equal(t, 1, bridged, "bridge %s", n.shape.Text)
		}
		require.GreaterOrEqual(t, n.shapeUntil, n.tick+shapeTicksMin)
		require.LessOrEqual(t, n.shapeUntil, n.tick+shapeTicksMax)
		requireShapeEnds(t, c, n, 3)
	}
}

// Clock faults strike the current primary, as the harness itself sees it before the step.
func TestNemesisClockFaultsHitThePrimary(t *testing.T) {
	run := newAimedRun(t, 3, 80, NemesisOptions{ClockPrimaryProbability: 0.2,
		ClockPrimaryNsMax: int64(300 * sim.Millisecond), ClockPrimaryPPMMax: 500})
	c, n := run.c, run.n
	c.RunFor(500 * sim.Millisecond)
	struck := 0
	for tick := 0; tick < 300; tick++ {
		c.RunFor(sim.TickInterval)
		primary, _ := testPrimary(c)
		before := n.Counts()
		n.Step(c)
		for _, a := range []string{ActionClockPrimaryStep, ActionClockPrimaryDrift, ActionClockPrimaryOffset} {
			if n.Counts()[a] == before[a] {
				continue
			}
			struck++
			lines := traceLines(run.out)
			last := lines[len(lines)-1]
			require.Equal(t, "nemesis", last.kind)
			require.True(t, strings.HasPrefix(last.text, fmt.Sprintf("%s r%d ", a, primary)),
				"%s struck another replica than the primary r%d: %s", a, primary, last.text)
		}
	}
	require.Greater(t, struck, 20)
	hits := n.Marks()
	require.Positive(t, hits.Count(MarkClockPrimaryStep))
	require.Positive(t, hits.Count(MarkClockPrimaryDrift))
	require.Positive(t, hits.Count(MarkClockPrimaryOffset))
}

// copyOf is the test's own look for an intact copy of an entry on a disk: a sector-aligned
// place of the durable image where a whole entry with this op and body decodes, on no
// damaged sector.
func copyOf(disk *sim.Disk, name string, op uint64, body []byte) bool {
	image := disk.Durable(name)
	damaged := map[int64]bool{}
	for _, f := range disk.Faults() {
		if f.Name == name {
			damaged[f.Offset] = true
		}
	}
	for offset := int64(0); offset+storage.HeaderSize <= int64(len(image)); offset += storage.SectorSize {
		h, err := storage.DecodeHeader(image[offset:])
		if err != nil || h.Op != op || offset+h.Size() > int64(len(image)) {
			continue
		}
		_, b, err := storage.DecodeEntry(image[offset : offset+h.Size()])
		clean := true
		for s := offset; s < offset+h.Size(); s += storage.SectorSize {
			clean = clean && !damaged[s]
		}
		if err == nil && clean && bytes.Equal(b, body) {
			return true
		}
	}
	return false
}

// entryAt returns the op and body of the entry of image that holds offset.
func entryAt(t *testing.T, image []byte, offset int64) (uint64, []byte) {
	t.Helper()
	for start := offset - offset%storage.SectorSize; start >= 0; start -= storage.SectorSize {
		h, err := storage.DecodeHeader(image[start:])
		if err == nil && start+h.Size() > offset {
			_, body, err := storage.DecodeEntry(image[start : start+h.Size()])
			require.NoError(t, err)
			return h.Op, body
		}
	}
	t.Fatalf("no entry holds offset %d", offset)
	return 0, nil
}

type sectorKey struct {
	replica int
	name    string
	offset  int64
}

func allFaults(c *sim.Cluster) map[sectorKey]bool {
	out := map[sectorKey]bool{}
	for i := 0; i < c.ReplicaCount(); i++ {
		for _, f := range c.Nodes[i].Disk.Faults() {
			out[sectorKey{i, f.Name, f.Offset}] = true
		}
	}
	return out
}

// Correlated damage strikes several entries of one replica at once (the tail move), or
// entries a down replica holds intact (the while-down move); and every entry it damages keeps
// an intact copy on another replica on which the atlas lets no random fault strike it.
func TestNemesisCorrelatedDamageKeepsAnIntactCopy(t *testing.T) {
	for _, replicas := range []int{3, 5} {
		run := newAimedRun(t, replicas, 90, NemesisOptions{})
		c, n := run.c, run.n
		c.RunFor(2 * sim.Second)
		requireProgress(t, c)
		for round := 0; round < 12; round++ {
			tail := round%2 == 0
			before := allFaults(c)
			if tail {
				n.corruptTail(c)
			} else {
				n.corruptWhileDown(c)
			}
			struck := map[int]int{}
			for k := range allFaults(c) {
				if before[k] {
					continue
				}
				struck[k.replica]++
				op, body := entryAt(t, c.Nodes[k.replica].Disk.Pristine(k.name), k.offset)
				guaranteed, downCopy := false, false
				for g := 0; g < replicas; g++ {
					if g == k.replica || !copyOf(c.Nodes[g].Disk, k.name, op, body) {
						continue
					}
					guaranteed = guaranteed || !run.atlas.Allowed(g, k.name, 0)
					downCopy = downCopy || c.Nodes[g].Status() == sim.NodeCrashed
				}
				require.True(t, guaranteed, "replicas=%d round %d: op %d damaged on r%d without a guaranteed copy",
					replicas, round, op, k.replica)
				require.True(t, tail || downCopy, "op %d damaged while no holder was down", op)
			}
			require.LessOrEqual(t, len(struck), 1, "one replica per move")
			for _, entries := range struck {
				require.True(t, !tail || entries >= 2, "the tail move damaged %d entries", entries)
			}
			for i := 0; i < replicas; i++ { // bring the holders back for the next round
				if c.Nodes[i].Status() == sim.NodeCrashed {
					c.StartReplica(i)
				}
			}
			c.RunFor(300 * sim.Millisecond)
		}
		require.Empty(t, c.Failures())
		hits := n.Marks()
		require.Positive(t, hits.Count(MarkDiskCorrelatedTail), "replicas=%d", replicas)
		require.Positive(t, hits.Count(MarkDiskCorrelatedWhileDown), "replicas=%d", replicas)
		t.Logf("replicas=%d: %s, only down copies %d", replicas, n.CountsString(),
			hits.Count(MarkDiskCorrelatedOnlyDownCopies))
	}
}

// A removed replica's disk still holds its copies, but nobody asks a stopped replica for a
// prepare: the tail move must find a guarantor among the active members. Counting the removed
// one let two moves damage both members' copies of the removal's own change op (swarm seed
// 2026282304).
func TestNemesisCorrelatedDamageIgnoresRemovedReplicas(t *testing.T) {
	run := newAimedRun(t, 5, 90, NemesisOptions{})
	c, n := run.c, run.n
	c.RunFor(2 * sim.Second)
	requireProgress(t, c)
	removed := -1
	for tries := 0; removed < 0; tries++ {
		require.Less(t, tries, 500, "no primary took the removal")
		if p, _ := testPrimary(c); p >= 0 {
			victim := (p + 1) % 5
			var err error
			c.Nodes[p].Guard(func() {
				err = c.Replica(p).Reconfigure(vsr.Change{Kind: vsr.ChangeRemoveReplica, Replica: victim})
			})
			if err == nil {
				removed = victim
			}
		}
		c.RunFor(10 * sim.Millisecond)
	}
	for tries := 0; c.IsMember(removed); tries++ {
		require.Less(t, tries, 500, "the removal did not commit")
		c.RunFor(10 * sim.Millisecond)
	}
	c.RunFor(sim.Second)
	held := 0
	for target := 0; target < 5; target++ {
		v := newDiskView(c)
		for _, e := range n.tailEntries(v, target) {
			holders, _ := n.holders(v, target, e)
			require.NotContains(t, holders, removed, "op %d: the removed replica counted as a holder", e.op)
			if _, ok := v.intact(removed, e); ok {
				held++
			}
		}
	}
	require.Positive(t, held, "the removed replica holds none of the entries: the test shows nothing")
}

// SoleHolder names the one member whose disk still holds an intact copy of an entry the
// others' disks have damaged: the swarm's membership changes must not remove or replace it
// (swarm seed 2026305952 lost an op with such a disk). Once a second member holds the entry
// again, nobody is its sole holder.
func TestNemesisSoleHolder(t *testing.T) {
	run := newAimedRun(t, 3, 90, NemesisOptions{})
	c, n := run.c, run.n
	c.RunFor(2 * sim.Second)
	requireProgress(t, c)
	for i := 0; i < 3; i++ {
		require.False(t, n.SoleHolder(c, i), "r%d: nothing is damaged yet", i)
	}
	v := newDiskView(c)
	entries := n.tailEntries(v, 0)
	require.NotEmpty(t, entries)
	e := entries[0]
	_, ok := v.intact(2, e)
	require.True(t, ok, "r2 holds op %d", e.op)
	c.Nodes[0].Disk.CorruptSector(e.name, e.offset)
	require.False(t, n.SoleHolder(c, 2), "r1 holds op %d too", e.op)
	d1, ok := v.intact(1, e)
	require.True(t, ok)
	c.Nodes[1].Disk.CorruptSector(d1.name, d1.offset)
	require.True(t, n.SoleHolder(c, 2), "r2 alone holds op %d intact", e.op)
	require.False(t, n.SoleHolder(c, 1))
	n.SetLeaving(2)
	require.False(t, n.SoleHolder(c, 2), "a leaving replica holds nothing for the nemesis")
	n.SetLeaving(-1)
}

// With identity loss on, as the old primary (holding its suffix from the older log view)
// rejoins, a replica of the new primary's log view, neither of the two primaries, loses the
// identity of its newest entries: the view change that follows must not fill them from the
// old primary's suffix. The coin falls either way, so some seed of a few reaches it.
func TestNemesisPrimaryIsolationDivergentIdentityLoss(t *testing.T) {
	for seed := uint64(40); ; seed++ {
		require.Less(t, seed, uint64(60), "no divergent identity loss in 20 seeds")
		run := newAimedRun(t, 5, seed, NemesisOptions{PrimaryIsolationProbability: 1, DiskIdentityLossProbability: 1e-12})
		c, n := run.c, run.n
		c.RunFor(sim.Second)
		n.Step(c)
		n.o.PrimaryIsolationProbability = 0
		for tick := 0; n.isolation.phase == isolationFirst && tick < isolationTicksMax; tick++ {
			c.RunFor(sim.TickInterval)
			n.Step(c)
		}
		if n.Marks().Count(MarkPrimaryIsolationIdentityLoss) == 0 {
			continue
		}
		require.Equal(t, isolationSecond, n.isolation.phase)
		require.True(t, n.isolation.suffix, "only with the old primary's suffix")
		require.Equal(t, uint64(1), n.Counts()[ActionDiskCorruptIdentity])
		require.Contains(t, run.out.String(), "disk.corrupt_identity")
		for _, line := range strings.Split(run.out.String(), "\n") {
			if strings.Contains(line, "nemesis    disk.corrupt_identity") {
				require.NotContains(t, line, fmt.Sprintf("identity r%d ", n.isolation.old))
				require.NotContains(t, line, fmt.Sprintf("identity r%d ", n.isolation.next))
			}
		}
		return
	}
}

// With misdirected writes on, as the old primary (holding its suffix from the older log view)
// rejoins, a misdirect is armed on its disk for the record sectors of its newest ops, and one
// of its record writes lands elsewhere while it installs the new primary's log: the mark
// counts it when the isolation ends. The coin falls either way, so some seed of a few reaches
// it.
func TestNemesisPrimaryIsolationMisdirectsARecord(t *testing.T) {
	for seed := uint64(40); ; seed++ {
		require.Less(t, seed, uint64(70), "no misdirected record in 30 seeds")
		run := newAimedRun(t, 5, seed, NemesisOptions{PrimaryIsolationProbability: 1})
		c, n := run.c, run.n
		n.swarm.Disk.WriteMisdirectProbability = 1e-12 // the kind on; random misdirects all but never
		c.RunFor(sim.Second)
		n.Step(c)
		n.o.PrimaryIsolationProbability = 0
		for tick := 0; n.isolation.phase != isolationIdle && tick < 2*isolationTicksMax; tick++ {
			c.RunFor(sim.TickInterval)
			n.Step(c)
		}
		if n.Marks().Count(MarkPrimaryIsolationMisdirectedRecord) == 0 {
			continue
		}
		require.Equal(t, uint64(1), n.Counts()[ActionDiskMisdirectRecord])
		require.Contains(t, run.out.String(), "a record write misdirected")
		require.Contains(t, run.out.String(), "fault misdirected_write log-")
		require.False(t, c.Nodes[0].Disk.DisarmMisdirect(), "disarmed at the end of the isolation")
		if n.Marks().Count(MarkPrimaryIsolationMisdirectReboot) == 0 {
			continue // the reboot's coin fell the other way
		}
		require.Regexp(t, `crash r[0-9] after a misdirected record write`, run.out.String())
		return
	}
}

// TestNemesisCrashAfterCut: the old primary, isolated while it prepared a suffix alone,
// cuts that suffix from its log files when it learns the others' newer view, and the armed
// move crashes it at its k-th I/O completion after the truncation, before the replica
// learns of that completion.
func TestNemesisCrashAfterCut(t *testing.T) {
	run := newAimedRun(t, 3, 60, NemesisOptions{})
	c, n := run.c, run.n
	n.cut = cutCrash{r: sim.Stream(60, "nemesis/cut"), at: disarmed, until: 1 << 40}
	var cutAt, crashed = -1, -1
	var completions int
	c.SetFaultHooks(sim.FaultHooks{
		Completion: func(i int, io sim.IOCompletion) bool {
			if i == cutAt && crashed < 0 {
				completions++
			}
			crash := n.onCompletion(c, i, io)
			if crash {
				crashed = i
			}
			if cutAt < 0 && io.Op == sim.IOTruncate && strings.HasPrefix(io.Name, "log-") {
				cutAt = i
			}
			return crash
		},
		Event: func(e vsr.Event) { n.onEvent(c, e) },
	})
	c.RunFor(sim.Second)
	old, view := testPrimary(c)
	require.GreaterOrEqual(t, old, 0)
	c.Network.Partition(sim.IsolateFrom(old, run.n.otherReplicas(old))) // clients still reach it
	require.True(t, c.RunUntil(func() bool { p, v := testPrimary(c); return p != old && v > view }, 2000),
		"the others elect a new primary")
	c.RunFor(200 * sim.Millisecond)
	require.Greater(t, c.Replica(old).Inspect().Op, c.Replica(old).Inspect().CommitMax, "a suffix of its own")
	c.Network.Heal()
	require.True(t, c.RunUntil(func() bool { return crashed >= 0 }, 3000), "no crash after the cut")
	require.Equal(t, old, cutAt, "the old primary cut its suffix")
	require.Equal(t, old, crashed)
	require.Equal(t, sim.NodeCrashed, c.Nodes[old].Status())
	require.GreaterOrEqual(t, completions, 1)
	require.LessOrEqual(t, completions, cutCrashIOMax)
	require.Equal(t, -1, n.cut.at.replica, "the move is spent")
	require.Equal(t, uint64(1), n.Counts()[ActionCrashAfterCut])
	requireCrashRecorded(t, run, old, ActionCrashAfterCut)
	require.Equal(t, uint64(1), n.Marks().Count(MarkCrashAfterCut))
}

// TestNemesisCrashInRecovery: an armed crash during recovery lets reads through, strikes
// the restarted replica at the j-th write, sync, truncation or removal of its recovery
// (recorded and marked), and a recovery that finishes first disarms it.
func TestNemesisCrashInRecovery(t *testing.T) {
	run := newAimedRun(t, 3, 60, NemesisOptions{})
	c, n := run.c, run.n
	c.RunFor(100 * sim.Millisecond)
	n.cut = cutCrash{r: sim.Stream(60, "nemesis/cut"), at: disarmed}
	n.recovery = countdown{replica: 1, left: 2}
	require.False(t, n.onCompletion(c, 1, sim.IOCompletion{Op: sim.IORead, Name: "log-0000000000000000"}))
	require.False(t, n.onCompletion(c, 0, sim.IOCompletion{Op: sim.IOWrite, Name: "log-0000000000000000"}), "another replica")
	require.False(t, n.onCompletion(c, 1, sim.IOCompletion{Op: sim.IOWrite, Name: "log-0000000000000000"}))
	require.True(t, n.onCompletion(c, 1, sim.IOCompletion{Op: sim.IOSync, Name: "log-0000000000000000"}))
	require.Equal(t, -1, n.recovery.replica, "spent")
	require.Equal(t, uint64(1), n.Counts()[ActionCrashInRecovery])
	require.Equal(t, uint64(1), n.Marks().Count(MarkCrashInRecovery))
	require.Contains(t, run.out.String(), ActionCrashInRecovery+" r1 as the sync of log-0000000000000000 completed")

	n.recovery = countdown{replica: 2, left: 1}
	n.onEvent(c, vsr.Event{Kind: vsr.EventRecovered, Replica: 2})
	require.False(t, n.onCompletion(c, 2, sim.IOCompletion{Op: sim.IOWrite, Name: "superblock"}), "recovered: disarmed")

	armed := 0
	for range 400 {
		n.recovery = disarmed
		n.armRecoveryCrash(0)
		if n.recovery.replica == 0 {
			armed++
			require.GreaterOrEqual(t, n.recovery.left, 1)
			require.LessOrEqual(t, n.recovery.left, recoveryCrashWritesMax)
		}
	}
	require.InDelta(t, 100, armed, 40, "a quarter of the restarts")
}
