package vsr

import (
	"math/rand/v2"

	"vopr/cluster/checksum"
	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/internal/assert"
)

// Replica is one member of a VSR cluster: an event-driven state machine in the shape of etcd
// raft's RawNode. The event loop calls Tick every 10 ms of the replica's monotonic clock,
// Receive for each message, and (through the FS) the completions of its I/O. It never
// blocks, never spawns anything, and reaches the world only through Options.
type Replica struct {
	options  Options
	config   Config
	cluster  uint64
	replica  int
	count    int // active replica slots: quorums and primaries come from their members alone
	standbys int // standby slots after them (standby.go)
	// epoch and outside are the configuration the replica takes part in (reconfig.go):
	// its epoch, and the slots that are not members. Every message carries both; the
	// superblock has them once durable (a replica votes only in a durable configuration).
	epoch   uint32
	outside uint16
	joining bool // formatted to join: silent until it hears an epoch that includes it
	// openRetries counts the Opens run again after an I/O error (retryOpen).
	openRetries int
	// openSpaceWait counts down the ticks until an Open that met a full disk runs again
	// (waitForSpace); 0 when not waiting.
	openSpaceWait int
	// joinedEmpty: added from joining with an empty disk; it holds nothing of the ops before
	// it joined until it holds state (denies).
	joinedEmpty bool
	removed     bool // stopped outside its configuration: it only tells older epochs where the cluster went
	reconfig    reconfigState
	rand        *rand.Rand
	bus         Bus
	clock       Clock
	observer    Observer

	storage *storage.Storage
	machine *kv.Machine
	clients clientTable
	// batchEvictions are the sessions the registers of the op executing evicted, told to
	// their clients once the whole batch has run (sendBatchEvictions).
	batchEvictions []batchEviction

	upgradeBatch []batchEntry // upgradeOf's decode buffer, reused
	// batchScratch is the entries array execute decodes a batch into and primaryPrepare
	// gathers one in, reused: taken (nil) while in use, so that a call nested inside another
	// (a commit that lets the primary prepare more) allocates its own.
	batchScratch []batchEntry

	status Status
	// view is the view the replica is in or moving to; logView the view in which its log
	// was last normal (VRR 2012 §4.2's "latest normal view").
	// Invariant: logView <= view.
	view    uint32
	logView uint32
	// logEpoch is the configuration epoch of logView's view (reconfig.go): a log is
	// (logEpoch, logView), compared in that order. Invariant: logEpoch <= epoch.
	logEpoch uint32
	// logViewOp is op_number when the log view began (the log installed by the view change):
	// the log view is durable once the log up to it is; ops appended after it in the same
	// view extend that log in order.
	logViewOp uint64
	// op is op_number, the highest op in the log; commitMin the highest op executed;
	// commitMax commit_number, the highest op known committed.
	// Invariants: checkpointOp <= commitMin <= commitMax <= op.
	op           uint64
	commitMin    uint64
	commitMax    uint64
	checkpointOp uint64
	log          log

	// Durability of the superblock: the view the disk has, so that prepare_ok and
	// do_view_change go out only for a view that survives a restart.
	stateDurable  storage.State
	stateWriting  bool
	stateRetry    bool   // the last superblock write failed: the next tick writes again (persistState)
	boots         uint32 // this process's boot number: stateDurable.Boots once durable
	checkpointing bool
	logWriting    bool // an append is in flight (the engine's log is written in op order)
	// logRetry: the last log write failed and waits for the repair timeout to write it again
	// (logWritten, writeRun); cleared by that timeout. Read-only (Inspection.LogWriteRetry).
	logRetry bool
	// logWrite is the op and prepare checksum of the append in flight (flushLog), and
	// logWrittenFn its completion (logWritten), made once: a closure per append was a tenth
	// of a run's allocations.
	logWrite      logWrite
	logWrittenFn  func(error)
	cutsQueued    int    // truncations issued to the engine and not yet run (cutLog)
	cutLowest     uint64 // the lowest op a queued truncation keeps (valid while cutsQueued > 0)
	checkpointDue bool
	// stateLost: the checkpoint did not survive on disk; the replica stays recovering until
	// a state sync installs a peer's checkpoint at or after it.
	stateLost bool
	// checkpointingOp is the op of the newest checkpoint issued to the engine (durable or not).
	checkpointingOp uint64
	// releases is the binary release each peer last stamped on a message (upgrade.go);
	// upgradeOp is the op of this primary's newest upgrade prepare.
	releases  []uint32
	upgradeOp uint64
	// checkpointSnapshot is the snapshot of checkpointOp, served to replicas that state-sync.
	checkpointSnapshot []byte
	syncCooldown       int
	syncAssembly       syncAssembly // a snapshot arriving in chunks (replica_sync.go)
	syncServing        syncServing  // the snapshots this replica sends in chunks (replica_sync.go)
	diskFull           bool
	lastTimestamp      int64
	clockSync          clockSync
	pipeline           []pipelineEntry
	requestQueue       []queuedRequest
	ahead              aheadBuffer // prepares that overtook their predecessor
	viewChange         viewChangeState
	repair             repairState
	metrics            Metrics
	heartbeat          timeout // primary: send commit heartbeat
	election           timeout // backup: primary is silent
	prepareResend      timeout // primary: resend unacknowledged prepares
	ping               timeout // everyone: pings for liveness and clock samples
	repairTimeout      timeout // ask for missing prepares
	viewChangeSend     timeout // resend start_view_change / do_view_change
	viewChangeLimit    timeout // give up on this view change, try the next view
	recoverTimeout     timeout // recovering/lagging: ask the primary for the view

	// operator holds the operator's actions in flight and the isolation (operator.go).
	operator operatorState
	// lag is a standby's distance behind the primary, throttle its read limit (standby.go).
	lag      standbyLag
	throttle readThrottle
}

// Open starts a replica on an already formatted disk. It returns at once in status
// recovering; the replica joins the protocol once its durable state has been read.
func Open(o Options) *Replica {
	assert.That(o.ReplicaCount >= 1 && o.ReplicaCount <= ReplicasMax, "replica count out of range")
	assert.That(o.StandbyCount >= 0 && o.StandbyCount <= StandbysMax, "standby count out of range")
	assert.That(o.Replica >= 0 && o.Replica < o.ReplicaCount+o.StandbyCount, "replica index out of range")
	assert.That(o.FS != nil && o.Bus != nil && o.Clock != nil && o.Rand != nil, "replica: missing dependency")
	if o.Config == (Config{}) {
		o.Config = DefaultConfig()
	}
	if o.Release == 0 {
		o.Release = kv.ReleaseBase
	}
	assert.That(o.Release <= kv.ReleaseLatest, "replica: a release this code does not know")
	assert.That(o.Config.Validate() == nil, "replica: invalid config")
	checkMutation(o.Mutation)
	assert.That(o.ClientsMax >= 0 && o.ClientsMax <= ClientsMax, "replica: client table capacity out of range")
	assert.That(o.SyncChunkBytes >= 0 && o.SyncChunkBytes <= syncChunkMax, "replica: sync chunk size out of range")
	r := &Replica{
		options: o, config: o.Config, cluster: o.Cluster, replica: o.Replica, count: o.ReplicaCount,
		rand: o.Rand, standbys: o.StandbyCount, bus: o.Bus, clock: o.Clock, observer: o.Observer,
		machine: kv.New(), status: StatusRecovering,
	}
	r.clients = newClientTable(r.clientsMax())
	r.initTimeouts()
	storage.Open(o.FS, StorageOptions(o.FS), r.openCallback)
	return r
}

// Format writes the initial durable state of a replica on an empty disk (the database's
// `format` command): replica of count active replicas and standbys standbys (a standby's
// index is count + k). done runs on the FS's completion.
func Format(fs storage.FS, cluster uint64, replica, count, standbys int, release uint32, done func(error)) {
	FormatOutside(fs, cluster, replica, count, standbys, 0, release, done)
}

// FormatJoin formats a replica to join a running cluster (`format --join`): its own slot
// outside, with the epoch of the configuration the cluster is in (the one that removed
// it, or any later one). It takes part only once it hears a later epoch that includes it:
// a configuration that counted this slot before its disk was replaced counted the old disk's
// promises, which the new one does not hold.
func FormatJoin(fs storage.FS, cluster uint64, replica, count, standbys int, epoch uint32, release uint32, done func(error)) {
	assert.That(replica >= 0 && replica < count+standbys && standbys <= StandbysMax, "format: replica index out of range")
	state := storage.State{Cluster: cluster, Replica: uint8(replica), ReplicaCount: uint8(count),
		StandbyCount: uint8(standbys), Release: release, Epoch: epoch, Outside: 1 << uint(replica)}
	storage.Format(fs, StorageOptions(fs), state, done)
}

// FormatOutside is Format for a cluster whose configuration leaves the slots in outside out
// (reconfig.go): a spare slot for a replica to be added later. A replica formatted with its
// own slot outside joins: it waits until a change adds it (`format --join`).
func FormatOutside(fs storage.FS, cluster uint64, replica, count, standbys int, outside uint16, release uint32, done func(error)) {
	assert.That(replica >= 0 && replica < count+standbys && standbys <= StandbysMax, "format: replica index out of range")
	state := storage.State{Cluster: cluster, Replica: uint8(replica), ReplicaCount: uint8(count),
		StandbyCount: uint8(standbys), Release: release, Outside: outside}
	storage.Format(fs, StorageOptions(fs), state, done)
}

// StorageOptions are the options a replica runs its storage engine on fs with (Open refuses
// options that differ from the superblock's): for tools that open a replica's disk.
func StorageOptions(fs storage.FS) storage.Options {
	return storage.Options{FS: fs, SegmentEntriesMax: CheckpointInterval, EntryBodyMax: MessageSizeMax,
		AutoCompactPercent: 85, RecordPrefix: HeaderSize, ReplayOpsMax: LogSlotsMax}
}

func (r *Replica) initTimeouts() {
	c := r.config
	r.heartbeat = timeout{name: "heartbeat", after: c.HeartbeatTicks}
	r.election = timeout{name: "election", after: c.ElectionTimeoutTicks, jitter: c.ElectionTimeoutTicks}
	r.prepareResend = timeout{name: "prepare_resend", after: c.PrepareResendTicks, jitter: 2}
	r.ping = timeout{name: "ping", after: c.PingTicks, jitter: 2}
	r.repairTimeout = timeout{name: "repair", after: c.RepairTicks, jitter: 2}
	r.viewChangeSend = timeout{name: "view_change_send", after: c.ViewChangeResendTicks, jitter: 2}
	r.viewChangeLimit = timeout{name: "view_change_limit", after: c.ViewChangeTimeoutTicks, jitter: c.ViewChangeTimeoutTicks}
	r.recoverTimeout = timeout{name: "recover", after: 2 * c.RepairTicks, jitter: 2}
}

// SetConfig applies an operator's configuration change at run time.
func (r *Replica) SetConfig(c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	r.config = c
	saved := r.timeouts()
	running := make([]bool, len(saved))
	for i, t := range saved {
		running[i] = t.running
	}
	r.initTimeouts()
	for i, t := range saved {
		if running[i] {
			t.start(r.rand)
		}
	}
	return nil
}

// Config returns the replica's current configuration.
func (r *Replica) Config() Config { return r.config }

// Tick advances the replica's timeouts by one tick; the event loop calls it every 10 ms of
// the replica's monotonic clock.
func (r *Replica) Tick() {
	if r.operator.isolated {
		return // cut off by an operator: its timers stand still (operator.go)
	}
	if r.openSpaceWait > 0 {
		r.openSpaceWait--
		if r.openSpaceWait == 0 {
			r.reopen()
		}
		return
	}
	if r.stateRetry && r.status != StatusStopped {
		r.stateRetry = false
		r.persistState()
	}
	if r.stateLost {
		r.tickStateLost()
		return
	}
	if r.status == StatusRecovering || r.status == StatusStopped {
		return
	}
	defer r.invariants()
	r.syncCooldown = max(r.syncCooldown-1, 0)
	r.syncServing.tick()
	r.syncAssembly.idle++
	if !r.isStandby() {
		r.clockSync.tick(r) // a standby never timestamps: it keeps no clock samples
	}
	table := []struct {
		t  *timeout
		on func()
	}{
		{&r.ping, r.onPingTimeout},
		{&r.heartbeat, r.onHeartbeatTimeout},
		{&r.election, r.onElectionTimeout},
		{&r.prepareResend, r.onPrepareResendTimeout},
		{&r.repairTimeout, r.onRepairTimeout},
		{&r.viewChangeSend, r.onViewChangeSendTimeout},
		{&r.viewChangeLimit, r.onViewChangeLimitTimeout},
		{&r.recoverTimeout, r.onRecoverTimeout},
	}
	for _, entry := range table {
		if entry.t.tick() {
			entry.on()
		}
	}
	if r.reconfig.switch_ != nil {
		r.switchEpoch()
	}
	r.maybeUpgrade()
	r.maybeReconfigure()
}

// Receive handles one message from the network. Bytes that fail validation are dropped:
// a network may corrupt, truncate or misroute anything.
func (r *Replica) Receive(buf []byte) {
	if r.operator.isolated {
		return // cut off by an operator (operator.go)
	}
	if (r.status == StatusStopped && !r.removed) || (r.status == StatusRecovering && !r.stateLost && !r.joining) {
		return
	}
	m, err := Decode(buf, r.cluster)
	if err != nil {
		return
	}
	if r.stateLost {
		r.stateLostEpoch(m.Header)
		if m.Header.Command == CommandSync && m.Header.Epoch == r.epoch && r.status != StatusStopped {
			r.onSync(m)
		}
		return
	}
	defer r.invariants()
	r.onMessage(m)
}

func (r *Replica) onMessage(m Message) {
	h := &m.Header
	// A prepare's header is the op's log entry: its epoch is the one the op was prepared in,
	// so an op of an older epoch is repaired and re-replicated like any other.
	oldPrepare := h.Command == CommandPrepare && h.Epoch < r.epoch
	if h.Command != CommandRequest && h.Epoch != r.epoch && !oldPrepare {
		r.onOtherEpoch(m) // reconfig.go
		return
	}
	if r.joining || r.removed {
		return // not a member: only other epochs matter (reconfig.go)
	}
	if h.Command != CommandRequest && !r.acceptFrom(h) {
		return // from no replica of ours, or a standby asking for what only actives answer
	}
	if h.Command != CommandRequest {
		r.noteRelease(int(h.Replica), h.Release)
	}
	switch h.Command {
	case CommandPing:
		r.onPing(m)
	case CommandPong:
		r.onPong(m)
	case CommandRequest:
		r.onRequest(m)
	case CommandPrepare:
		r.onPrepare(m)
	case CommandPrepareOK:
		r.onPrepareOK(m)
	case CommandCommit:
		r.onCommit(m)
	case CommandStartViewChange:
		r.onStartViewChange(m)
	case CommandDoViewChange:
		r.onDoViewChange(m)
	case CommandStartView:
		r.onStartView(m)
	case CommandRequestStartView:
		r.onRequestStartView(m)
	case CommandRequestPrepare:
		r.onRequestPrepare(m)
	case CommandNackPrepare:
		r.onNackPrepare(m)
	case CommandRequestSync:
		r.onRequestSync(m)
	case CommandSync:
		r.onSync(m)
	case CommandReply, CommandEviction:
		// Addressed to clients; a replica never receives them from a correct peer.
	default:
		assert.Unreachable("decoder let through an unknown command")
	}
}

// Inspect returns the replica's read-only state.
func (r *Replica) Inspect() Inspection {
	in := r.InspectState()
	if r.storage != nil {
		in.DiskUsagePct = r.storage.UsagePercent()
		in.DiskCompactableBytes = r.storage.CompactableBytes()
	}
	return in
}

// InspectState is Inspect without the storage usage figures (DiskUsagePct and
// DiskCompactableBytes are zero): for checkers that inspect every replica at every tick and
// read none of them (the compactable bytes walk every entry below the checkpoint).
func (r *Replica) InspectState() (in Inspection) {
	r.InspectStateInto(&in)
	return in
}

// InspectStateInto is InspectState into *in, every field set: for a caller that inspects
// every replica at every tick and hands the checkers a pointer. An Inspection built apart,
// or returned, was copied where the caller keeps it, and the copy reread with wide loads the
// fields just stored (a store-forwarding stall per inspection); this one is filled in place.
func (r *Replica) InspectStateInto(in *Inspection) {
	*in = Inspection{}
	in.Replica, in.Status, in.Role, in.Epoch, in.Outside = r.replica, r.status, r.role(), r.epoch, r.outside
	in.Joining, in.Removed, in.View, in.LogView = r.joining, r.removed, r.view, r.logView
	in.Op, in.CommitMin, in.CommitMax, in.CheckpointOp = r.op, r.commitMin, r.commitMax, r.checkpointOp
	in.Digest, in.Release, in.ClusterRelease = r.machine.Digest(), r.options.Release, r.machine.Release()
	in.ClockSynchronized, in.ClockOffsetNs = r.clockSync.synchronized, r.clockSync.offsetNs
	in.ClockUnsyncStreak = r.clockSync.unsyncTicks
	for i, s := range r.clockSync.samples {
		if s.valid {
			in.ClockSamples |= 1 << uint(i)
			in.ClockSampleAtNs[i] = s.atMono
		}
	}
	in.DiskFull, in.Isolated, in.CheckpointLost = r.diskFull, r.operator.isolated, r.stateLost
	in.StateWritePending = r.stateWriting || r.stateRetry
	in.LogWriteRetry = r.logRetry
	in.Metrics = r.metrics
	if r.isStandby() {
		in.StandbyLagOps, in.StandbyLagNs, in.StandbyEligible = r.standbyLagNow()
		in.StandbyID, in.StandbyReadsMaxQPS = StandbyIDBase+r.replica-r.count, r.throttle.maxQPS
		in.StandbyContactLagNs, in.StandbyLagKnown = r.standbyContactLag(), r.lag.initialised
	}
	if h := r.log.headerOf(r.op); h != nil {
		in.LogHead = h.Checksum // not header: a copy of the whole header at every inspection
	}
}

// Header returns the header the replica holds for op, if any: for checkers that compare
// logs across replicas.
func (r *Replica) Header(op uint64) (Header, bool) { return r.log.header(op) }

// primaryIndex is the primary of view: the active members take turns.
func (r *Replica) primaryIndex(view uint32) int { return PrimaryIndex(view, r.count, r.outside) }

// PrimaryIndex is the primary of view in a configuration of count active slots whose
// members are those not in outside (reconfig.go): the active members take turns, in index
// order. Clients find the primary with it too.
func PrimaryIndex(view uint32, count int, outside uint16) int {
	active := activeCountOf(count, outside)
	assert.That(active >= 1, "a configuration without an active member")
	k := int(view % uint32(active))
	if outside == 0 {
		return k // every slot is a member: the k-th member is slot k (the loop below's answer)
	}
	for i := 0; i < count; i++ {
		if outside&(1<<uint(i)) != 0 {
			continue
		}
		if k == 0 {
			return i
		}
		k--
	}
	assert.Unreachable("active member out of range")
	return -1
}

func (r *Replica) isPrimary() bool { return r.primaryIndex(r.view) == r.replica }

func (r *Replica) role() Role {
	if r.isStandby() {
		return RoleStandby
	}
	if r.isPrimary() {
		return RolePrimary
	}
	return RoleBackup
}

// quorum is the size of both the replication and the view-change quorum: a majority, so any
// two quorums intersect.
func (r *Replica) quorum() int { return r.activeCount()/2 + 1 }

func (r *Replica) emit(kind EventKind, op uint64, sum checksum.Sum, text string) {
	if r.observer == nil {
		return
	}
	r.observer.Event(Event{Kind: kind, Replica: r.replica, Epoch: r.epoch, View: r.view, Op: op, Checksum: sum, Text: text})
}

func (r *Replica) sendToOthers(msg []byte) {
	for i := 0; i < r.count; i++ {
		if i != r.replica && r.isMember(i) {
			r.bus.SendToReplica(i, msg)
		}
	}
}

// header returns a header with the fields every message from this replica carries.
func (r *Replica) header(command Command) Header {
	return Header{Cluster: r.cluster, Replica: uint8(r.replica), View: r.view, Command: command,
		Release: r.options.Release, Epoch: r.epoch, Outside: r.outside}
}

// syncChunk is the most snapshot bytes one sync message carries: Options.SyncChunkBytes, or
// syncChunkMax by default.
func (r *Replica) syncChunk() uint64 {
	if r.options.SyncChunkBytes == 0 {
		return syncChunkMax
	}
	return uint64(r.options.SyncChunkBytes)
}

// clientsMax is the client table's capacity: Options.ClientsMax, or ClientsMax by default.
func (r *Replica) clientsMax() int {
	if r.options.ClientsMax == 0 {
		return ClientsMax
	}
	return r.options.ClientsMax
}
