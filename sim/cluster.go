package sim

import (
	"fmt"
	"strconv"

	"vopr/cluster/client"
	"vopr/cluster/vsr"
	"vopr/internal/assert"
)

// ClusterOptions describe a simulated database cluster: replicas (nodes 0..Replicas-1, with
// disks), standbys (the nodes after them, with disks) and clients (the nodes after those).
type ClusterOptions struct {
	World    WorldOptions // NodeCount and DiskNodes are set from Replicas, Standbys and Clients
	Replicas int
	// Standbys follow the cluster without voting (vsr.Options.StandbyCount): replica
	// indices Replicas..Replicas+Standbys-1, on the nodes of the same numbers.
	Standbys int
	// StandbyRelease is the binary release the standbys boot (0: Release). A standby runs
	// every op the cluster commits, an upgrade included, so it needs a binary at least as
	// new as any release the cluster moves to: operators upgrade standbys first.
	StandbyRelease uint32
	// Outside are the replica slots formatted outside the configuration (vsr reconfig.go):
	// spare nodes, each waiting to be added (`cluster reconfig add-replica`).
	Outside   uint16
	Clients   int
	ClusterID uint64
	Config    vsr.Config
	Release   uint32
	// OnEvent, if set, receives every replica event (the checkers' hook).
	OnEvent func(vsr.Event)
	// Mutation plants a bug in every replica (test binaries built with -tags vopr_mutants).
	Mutation vsr.Mutation
	// ClientsMax is the replicas' client table capacity (0: vsr's default).
	ClientsMax int
	// SyncChunkBytes is the replicas' state-sync chunk size (0: vsr's default, a message).
	SyncChunkBytes int
	// OnReplicaSend, if set, sees every message a replica sends to another replica, before
	// the network does (checkers that hold replicas to what they claimed).
	OnReplicaSend func(from, to int, msg []byte)
	// OnReplicaAnswer, if set, sees every message a replica sends to a client (a reply or an
	// eviction), before the network does: checkers of what a replica tells clients.
	OnReplicaAnswer func(from, client int, msg []byte)
	// OnReplicaReceive, if set, sees every message the network delivers to a replica's node
	// while it is up, before the replica takes it (checkers of what a replica had heard
	// before it acted). The bytes are as delivered: they may fail their checksums.
	OnReplicaReceive func(to int, msg []byte)
	// OnCompletion, if set, sees each I/O completion of a replica's storage as the disk
	// completes it, before any fault hook and before the replica (checkers of the disk's
	// durable state at the instant it changes). It must not change the run.
	OnCompletion func(replica int, io IOCompletion)
	// OnClientAnswer, if set, sees each message that ends a client's request (a reply or an
	// eviction), with the client's session before and after the client took it (checkers
	// that hold the client to the cluster's sessions).
	OnClientAnswer func(client int, before, after uint64, msg []byte)
	// OnClientSend, if set, sees each message a client sends, with the slot it chose
	// (before the cluster maps the slot to a node): checkers of how a client routes.
	OnClientSend func(client, slot int, msg []byte)
}

// Cluster wires real replicas (cluster/vsr) and clients (cluster/client) to the simulated
// world: each replica runs on a node, talks through the simulated network and stores on the
// node's simulated disk. It is the "testing/cluster.zig" half of the harness.
type Cluster struct {
	*World
	options  ClusterOptions
	replicas []*vsr.Replica // nil while the node is down
	// releases is the binary release each replica's node boots (an upgrade or a rollback
	// installs another before a restart); 0 means ClusterOptions.Release.
	releases []uint32
	clients  []*client.Client
	restarts uint64
	hooks    FaultHooks
	// traceLines is the last status line noted, clientTraces each client's request in
	// flight, for the trace's notes (cluster_trace.go).
	traceLines   []ReplicaLine
	clientTraces []clientTrace
	lastGists    map[string]string // NoteOnChange
	eventText    []byte            // scratch for replica events' trace lines (replicaObserver)
	// members maps a replica index of the current configuration to its node: nil while
	// the configuration is the one the cluster was formatted with (index i on node i). A
	// failover (cluster_failover.go) sets it; identities holds each promoted node's place.
	members    []int
	identities map[int]memberIdentity
	// clientsReconfigured counts the failovers that told every client a new replica count
	// (client.Reconfigure): it forgets the primary it learned.
	clientsReconfigured uint64
	// newest is the newest configuration a replica has taken part in (cluster_reconfig.go):
	// kept while every member of it is down.
	newest configuration
}

// FaultHooks let a fault injector strike at the instant something happens inside a replica
// rather than at its next step: crash a replica as its superblock write completes, just after
// it sends start_view, or just after it reports a checkpoint. Nil hooks are off. They see
// replicas only (clients have no disk and are never crashed).
type FaultHooks struct {
	// Completion sees each I/O completion of replica's storage before the replica does;
	// returning true crashes the replica at that instant (Node.OnCompletion).
	Completion func(replica int, io IOCompletion) bool
	// Sent sees each message a replica sends to another replica, after the network has it.
	// It runs inside the sender's call: to crash the sender, use Node.CrashAfterCall.
	Sent func(from, to int, msg []byte)
	// Event sees each replica event, after the checkers (ClusterOptions.OnEvent). It runs
	// inside the replica's call, like Sent.
	Event func(vsr.Event)
}

// SetFaultHooks installs h, replacing any hooks installed before.
func (c *Cluster) SetFaultHooks(h FaultHooks) {
	c.hooks = h
	for i := 0; i < c.MemberCount(); i++ {
		i := i
		c.Nodes[i].OnCompletion = nil
		if h.Completion != nil {
			c.Nodes[i].OnCompletion = func(io IOCompletion) bool { return h.Completion(i, io) }
		}
	}
}

// Restarts counts replica restarts (boots after the first).
func (c *Cluster) Restarts() uint64 { return c.restarts }

// NewCluster formats every replica's disk and starts every node.
func NewCluster(o ClusterOptions) *Cluster {
	assert.That(o.Replicas >= 1 && o.Replicas <= vsr.ReplicasMax, "cluster: replica count out of range")
	assert.That(o.Standbys >= 0 && o.Standbys <= vsr.StandbysMax, "cluster: standby count out of range")
	members := o.Replicas + o.Standbys
	o.World.NodeCount, o.World.DiskNodes = members+o.Clients, members
	if len(o.World.Clocks) != 0 && len(o.World.Clocks) != o.World.NodeCount {
		panic(fmt.Sprintf("cluster: %d clocks for %d nodes", len(o.World.Clocks), o.World.NodeCount))
	}
	if o.Config == (vsr.Config{}) {
		o.Config = vsr.DefaultConfig()
	}
	c := &Cluster{World: NewWorld(o.World), options: o, newest: configuration{outside: o.Outside}}
	c.replicas = make([]*vsr.Replica, members)
	c.releases = make([]uint32, members)
	c.clients = make([]*client.Client, o.Clients)
	c.clientTraces = make([]clientTrace, o.Clients)
	c.Network.Describe = describeMessage(o.ClusterID)
	for i := 0; i < members; i++ {
		c.Nodes[i].AfterCall = c.noteStatus
		if o.OnCompletion != nil {
			i := i
			c.Nodes[i].ObserveCompletion = func(io IOCompletion) { o.OnCompletion(i, io) }
		}
	}
	c.format()
	for i := 0; i < members; i++ {
		c.StartReplica(i)
	}
	for i := 0; i < o.Clients; i++ {
		c.startClient(i)
	}
	return c
}

// format writes each replica's initial durable state, running the loop until it is done.
func (c *Cluster) format() {
	pending := c.MemberCount()
	for i := 0; i < c.MemberCount(); i++ {
		disk := c.Nodes[i].Disk
		disk.SetFaultsEnabled(false) // formatting happens before the fault phase
		vsr.FormatOutside(disk, c.options.ClusterID, i, c.options.Replicas, c.options.Standbys, c.options.Outside, c.options.Release, func(err error) {
			assert.That(err == nil, "cluster: format failed")
			pending--
		})
		defer disk.SetFaultsEnabled(true)
	}
	for pending > 0 && c.Loop.Step() {
	}
	assert.That(pending == 0, "cluster: format did not complete")
}

// StartReplica boots (or restarts) replica i: a new process that recovers from its disk.
func (c *Cluster) StartReplica(i int) {
	node := c.Nodes[i]
	if node.started {
		c.restarts++
	}
	node.Start(func(n *Node) Actor {
		id := c.identity(i)
		r := vsr.Open(vsr.Options{
			Cluster: c.options.ClusterID, ReplicaCount: id.count, Replica: id.replica,
			StandbyCount: id.standbys,
			Release:      c.Release(i), FS: n.FS(), Bus: &clusterBus{c: c, from: i}, Clock: n.Clock,
			Rand: Stream(c.Seed, fmt.Sprintf("replica/%d/%d", i, n.generation)), Config: c.options.Config,
			Observer: &replicaObserver{c: c, node: i}, Mutation: c.options.Mutation,
			ClientsMax: c.options.ClientsMax, SyncChunkBytes: c.options.SyncChunkBytes,
		})
		c.replicas[i] = r
		return replicaActor{r: r, node: i, onReceive: c.options.OnReplicaReceive}
	})
}

// SetRelease installs the binary of release on replica i's node: it runs from the node's
// next start (the runbook's `kubectl set image` followed by a restart).
func (c *Cluster) SetRelease(i int, release uint32) {
	c.releases[i] = release
	c.Trace.Emit(LevelShort, i, "node", fmt.Sprintf("binary release %d installed", release))
}

// Release returns the binary release replica i's node boots.
func (c *Cluster) Release(i int) uint32 {
	if c.releases[i] != 0 {
		return c.releases[i]
	}
	if i >= c.options.Replicas && c.options.StandbyRelease != 0 {
		return c.options.StandbyRelease
	}
	return c.options.Release
}

// CrashReplica crashes replica i's node.
func (c *Cluster) CrashReplica(i int) {
	c.Nodes[i].Crash()
	c.replicas[i] = nil
}

// Replica returns replica i, or nil while its node is down (crashed or fail-stopped).
func (c *Cluster) Replica(i int) *vsr.Replica {
	if c.Nodes[i].Status() == NodeCrashed {
		return nil
	}
	return c.replicas[i]
}

// ClusterID returns the cluster's id (every message names it).
func (c *Cluster) ClusterID() uint64 { return c.options.ClusterID }

// ReplicaCount returns the number of active replicas (those that vote).
func (c *Cluster) ReplicaCount() int { return c.options.Replicas }

// StandbyCount returns the number of standbys (replica indices ReplicaCount() and up).
func (c *Cluster) StandbyCount() int { return c.options.Standbys }

// MemberCount returns the number of replicas of either kind: the nodes with disks.
func (c *Cluster) MemberCount() int { return c.options.Replicas + c.options.Standbys }

// Client returns client i (0-based; its id is i+1).
func (c *Cluster) Client(i int) *client.Client { return c.clients[i] }

// ClientCount returns the number of clients.
func (c *Cluster) ClientCount() int { return c.options.Clients }

// ClientsReconfigured counts the failovers that reconfigured every client (a client then
// looks for the primary from the first slot again).
func (c *Cluster) ClientsReconfigured() uint64 { return c.clientsReconfigured }

// ClientNode returns the node index of client i.
func (c *Cluster) ClientNode(i int) int { return c.MemberCount() + i }

func (c *Cluster) startClient(i int) {
	node := c.Nodes[c.ClientNode(i)]
	node.Start(func(n *Node) Actor {
		cl := client.New(client.Options{
			ID: uint64(i + 1), Cluster: c.options.ClusterID, ReplicaCount: c.options.Replicas, Outside: c.options.Outside,
			Send: func(replica int, msg []byte) {
				if c.options.OnClientSend != nil {
					c.options.OnClientSend(i, replica, msg)
				}
				to := c.clientTarget(replica)
				c.noteClientSend(i, to, msg)
				c.Network.Send(n.ID, to, msg)
			},
		})
		c.clients[i] = cl
		return &clientActor{client: cl, c: c, index: i}
	})
}

// OnClientTick, if set, runs after each client tick: the workload's hook to submit requests.
func (c *Cluster) SetClientTick(i int, fn func()) {
	if a, ok := c.Nodes[c.ClientNode(i)].Actor().(*clientActor); ok {
		a.onTick = fn
	}
}

// RunFor runs the world for d of virtual time.
func (c *Cluster) RunFor(d Duration) { c.Loop.RunUntil(c.Loop.Now() + Time(d)) }

// RunUntil runs in steps of one tick until done returns true or the budget of ticks runs
// out; it reports whether done became true.
func (c *Cluster) RunUntil(done func() bool, ticksMax int) bool {
	for i := 0; i < ticksMax; i++ {
		if done() {
			return true
		}
		c.RunFor(TickInterval)
	}
	return done()
}

type replicaActor struct {
	r         *vsr.Replica
	node      int
	onReceive func(to int, msg []byte)
}

func (a replicaActor) Tick() { a.r.Tick() }

func (a replicaActor) Receive(from int, msg []byte) {
	if a.onReceive != nil {
		a.onReceive(a.node, msg)
	}
	a.r.Receive(msg)
}

type clientActor struct {
	client *client.Client
	onTick func()
	c      *Cluster
	index  int
}

func (a *clientActor) Tick() {
	busy := a.client.Busy()
	a.client.Tick()
	if busy && !a.client.Busy() {
		a.c.noteClientDone(a.index, -1, nil) // it gave up
	}
	if a.onTick != nil {
		a.onTick()
	}
}

func (a *clientActor) Receive(from int, msg []byte) {
	busy, before := a.client.Busy(), a.client.Session()
	a.client.Receive(msg)
	if busy && !a.client.Busy() {
		a.c.noteClientDone(a.index, from, msg)
		if a.c.options.OnClientAnswer != nil {
			a.c.options.OnClientAnswer(a.index, before, a.client.Session(), msg)
		}
	}
}

type clusterBus struct {
	c    *Cluster
	from int
}

func (b *clusterBus) SendToReplica(replica int, msg []byte) {
	to, ok := b.c.nodeOf(b.from, replica)
	if !ok {
		return // no such replica in the sender's configuration
	}
	if b.c.options.OnReplicaSend != nil {
		b.c.options.OnReplicaSend(b.from, to, msg)
	}
	b.c.Network.Send(b.from, to, msg)
	if b.c.hooks.Sent != nil {
		b.c.hooks.Sent(b.from, to, msg)
	}
}

func (b *clusterBus) SendToClient(id uint64, msg []byte) {
	if id == 0 || id > uint64(b.c.options.Clients) {
		return // not a client of this cluster: a corrupt id that passed no checksum? drop
	}
	if b.c.options.OnReplicaAnswer != nil {
		b.c.options.OnReplicaAnswer(b.from, int(id-1), msg)
	}
	b.c.Network.Send(b.from, b.c.ClientNode(int(id-1)), msg)
}

type replicaObserver struct {
	c    *Cluster
	node int
}

func (o *replicaObserver) Event(e vsr.Event) {
	e.Replica = o.node // checkers know replicas by node: a promoted replica's index changed
	// "KIND op=N checksum=%016x" (one per op: full level only) or "KIND view=V op=N TEXT",
	// built in a scratch buffer: it is hashed for every event whatever the level.
	b := append(o.c.eventText[:0], e.Kind.String()...)
	level := LevelShort
	switch e.Kind {
	case vsr.EventCommit, vsr.EventVoteSelf:
		level = LevelFull
		b = append(b, " op="...)
		b = strconv.AppendUint(b, e.Op, 10)
		b = append(b, " checksum="...)
		b = appendHex16(b, e.Checksum.Low64())
	default:
		b = append(b, " view="...)
		b = strconv.AppendUint(b, uint64(e.View), 10)
		b = append(b, " op="...)
		b = strconv.AppendUint(b, e.Op, 10)
		b = append(b, ' ')
		b = append(b, e.Text...)
	}
	o.c.eventText = b
	o.c.Trace.EmitBytes(level, o.node, "replica", b)
	if e.Epoch > o.c.newest.epoch {
		o.c.noteConfiguration(o.c.replicas[o.node])
	}
	if o.c.options.OnEvent != nil {
		o.c.options.OnEvent(e)
	}
	if o.c.hooks.Event != nil {
		o.c.hooks.Event(e)
	}
}

// appendHex16 appends w as 16 lower-case hex digits (fmt's %016x).
func appendHex16(b []byte, w uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(w>>uint(shift))&0xf])
	}
	return b
}
