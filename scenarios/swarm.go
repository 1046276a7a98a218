package scenarios

import (
	"cmp"
	"math/rand/v2"
	"strconv"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/faults"
	"vopr/invariants"
	"vopr/ops"
	"vopr/sim"
)

// The swarm scenario is VOPR's main job: every parameter of the world is drawn from the seed
// (faults.DrawSwarm: cluster size, clients, a random subset of fault kinds with random
// rates), a fault atlas keeps disk faults recoverable, and a nemesis injects crashes,
// restarts, pauses, partitions, clogs, clock faults, slow and full disks and corruption while
// clients run a random key/value workload. Every invariant checker runs throughout, and so do
// the runbook's metrics and alert rules (a Monitor, as in the runbook scenarios). Then the
// nemesis heals everything and the liveness phase requires new requests to commit, the
// replicas to converge, and the P0/P1 alerts to clear (swarmAlerts in swarm_liveness.go).
func init() {
	register(Scenario{
		Name:    "swarm",
		Runbook: "all (random mix per seed)",
		Summary: "real VSR replicas under a random mix of every fault kind per seed, every invariant checked; liveness after heal",
		Params:  func(seed uint64) string { return drawSwarm(seed).String() },
		Run:     runSwarm,
	})
}

func drawSwarm(seed uint64) faults.Swarm {
	s := faults.DrawSwarm(sim.Stream(seed, "swarm"))
	s.DrawFailoverReconfig(sim.Stream(seed, "swarm/failover_reconfig"), faults.Override{})
	return s
}

const (
	swarmFaultTicksDefault    = 3000
	swarmLivenessTicksDefault = 3000
	// lateLossLeadTicks is how long before the heal the late checkpoint loss strikes
	// (faults/nemesis_late.go): time for the rebooted replica's recovery to read the damage
	// while disk faults are still on.
	lateLossLeadTicks = 150
)

// swarmRun is one run of the swarm: the cluster, its checkers, the workload and the
// counters of what happened.
type swarmRun struct {
	c        *sim.Cluster
	swarm    faults.Swarm
	nemesis  *faults.Nemesis
	suite    *invariants.Suite
	workload *rand.Rand
	load     bool
	// loadClients, if set, limits the load to the clients it picks (swarm_blip.go).
	loadClients func(i int) bool
	// staleReads draws which gets go to a standby as stale reads (swarm_standby.go); nil
	// without standbys.
	staleReads *rand.Rand
	// busyProbes draws when a busy client is asked for another request (swarm_busy_client.go);
	// nil in unchecked runs and the runbook scenarios.
	busyProbes *rand.Rand
	// awaiting holds, per client, whether it accepted an operation (Submit returned true)
	// whose completion has not run (swarm_client_contract.go).
	awaiting []bool
	// reconfig is the reconfiguring nemesis (swarm_reconfig.go); nil unless the seed draws it.
	reconfig *swarmReconfig
	// ackedOps are the ops acknowledged to clients (only in a run that fails over: its lost
	// writes are counted against them); gone the nodes a failover lost for good;
	// failoverLost the acknowledged ops it lost.
	ackedOps     []uint64
	gone         map[int]bool
	failoverLost uint64
	// outsiders are nodes outside the configuration the checkers follow (indexed by node,
	// nil when none): an old active replica that comes back with its old disk after a
	// failover (quorum_lost option B) holds the old configuration's history, which the new
	// one replaced above the promotion point by the operator's approval. The Suite and the
	// disk checkers do not see them; the scenario holds them to staying out itself.
	outsiders []bool
	// metrics holds each process's own counters to the events it reported
	// (swarm_metrics_agree.go).
	metrics metricsAgreement
	// healConverged: the healed cluster has converged once (the lasting faults start then).
	healConverged   bool
	failoverSkipped bool
	acked           int
	// incarnations remembers each replica's current process, so that a crash (by the
	// nemesis or a fail-stop) is reported to the checkers before its successor is inspected.
	incarnations []*vsr.Replica
	paths        map[string]uint64 // protocol paths taken: coverage
	// durability is the first acknowledgement of a prepare that was not durable.
	durability string
	checked    bool // the invariant checkers run (Options.Unchecked is false)
	// inspection holds each running replica's state in turn (InspectStateInto), kept here
	// because a local one escaped to the heap: one allocation per inspection, every tick.
	inspection vsr.Inspection
	malformed  *malformedOps // the malformed-operation round's plan (swarm_malformed.go); nil if off
	// explained, if set, recognises a fail-stop caused by a fault injected beyond the fault
	// model (DESIGN.md section 3): that one is expected; any other is a correctness bug.
	explained func(sim.Failure) bool
	// keyPrefix starts every key of the workload: a scenario that rewinds the cluster's
	// state by design (restore from backup) moves the workload to keys never written.
	keyPrefix string
	// deletes mixes deletes (a feature of a later release) into the workload; onReply, if
	// set, sees every operation's outcome (a scenario's own checks).
	deletes        bool
	onReply        func(kv.Op, client.Result)
	onReplicaEvent func(vsr.Event) // if set, sees every replica event after the checkers
	// broken is the first violation of a scenario's own safety check (onReply,
	// onReplicaEvent): a correctness failure like the Suite's.
	broken string
	// alerts evaluates the runbook's alert rules every tick and checks that the healed
	// cluster is healthy (swarm_liveness.go). Nil in the runbook scenarios, which share this
	// type but keep their own Monitor.
	alerts *swarmAlerts
	knobs  swarmKnobs
	// disks reads the simulated disks for the durability checks (durability.go); down
	// watches the disks of down replicas for an operator's restore.
	disks *durableDisks
	down  []downDisk
	// storage runs the storage truth check at recoveries and, in the swarm, the operator's
	// storage verify at random times (storage_truth.go, storage_verify.go).
	storage storageChecks
	// clients checks that the healed cluster serves every client (swarm_clients.go).
	clients clientLiveness
	// work draws the clients' operations (workload.go).
	work *workload
	// lasting is the lasting minority fault the heal left, on lastingReplica (swarm_lasting.go).
	lasting, lastingReplica int
	lastingPick             int             // lastingDown: which replica (takeLastingDown)
	lastingTaken            bool            // the replica kept down went down (takeLastingDown)
	lastingEnded            bool            // and restarted
	removed                 *removedLatency // lastingRemoved: the requests after the change (swarm_removed.go)
	exact                   exactStamps     // stamps under perfect clocks (swarm_clock_exact.go)
	pauseTicks              int             // lastingPause: how long (swarm_pause.go)
	paused                  []int           // lastingPause: the backups it paused
	livenessReason          string          // why the liveness phase's last round failed, if it says
	behindReplica           int             // lastingBehind: the replica left behind (swarm_behind.go)
	behindPassed, behindLed bool            // lastingBehind: the others got past it; it led a view
	behindStepNs            int64           // lastingBehind: the clock step while it is down
	// viewDrift is why the idle, healed cluster did not keep its view (swarm_stable_view.go).
	viewDrift string
	// replyCut starves one client of replies after the heal (swarm_reply_loss.go).
	replyCut replyCut
	// sentLog and heldLog are the arrays of the last logs shown to the checkers (logRefs,
	// onLogSettled), reused: the checkers copy what they keep.
	sentLog, heldLog []invariants.PrepareRef
	// picture, if set, records the run for its picture (Options.Picture).
	picture *Picture
	// operator runs storage compact and export during the fault phase (swarm_operator.go);
	// nil unless the seed draws it.
	operator *swarmOperator
	// isolation counts the operator's isolation rounds on the healed cluster
	// (swarm_isolation.go); roundFailure is why a round after the alert hold failed (those,
	// swarm_deposed.go's and swarm_blip.go's); alertsClosed stops the alert sampling once
	// they begin.
	isolation    isolationCounts
	roundFailure string
	alertsClosed bool
	// deposed is the deposed-primary round's state (swarm_deposed.go).
	deposed deposedState
	// blip counts the short outages timed (swarm_blip.go).
	blip blipCounts
	// upgradeCut is the round of upgrade prepares lost in view changes (swarm_upgrade_cut.go).
	upgradeCut upgradeCutState
	// voteCut is the round of do_view_change votes lost in an election (swarm_vote_cut.go).
	voteCut voteCutState
	// lossy is the round of service through a lossy network (swarm_lossy.go).
	lossy lossyState
	// config is the round of the operator's timeout settings in force (swarm_config_round.go).
	config configRoundState
	// clientConfig is the round of a client with a stale configuration (swarm_client_config.go).
	clientConfig clientConfigState
	// catchUp is the round of a backup catching up under load (swarm_catchup.go).
	catchUp catchUpState
	// lagTruth holds the standbys' reported lag to what they were told (standby_lag_truth.go).
	lagTruth lagTruth
	// routing holds each client to the primary its last reply named (client_routing.go).
	routing clientRouting
	// attempts holds each client to its attempt budget (client_attempts.go).
	attempts clientAttempts
	// persistedJudged, persistedFloorHeld count the replicas the persisted commit check
	// judged, and those whose disk's verified floor was below commit_max (persisted_commit.go).
	persistedJudged, persistedFloorHeld uint64
	// repliesChecked counts the replies held to their sender's view (swarm_reply_identity.go).
	repliesChecked uint64
	// lostSync is the round of a lost checkpoint whose sender fails mid-transfer (swarm_lost_sync.go).
	lostSync lostSyncState
	// rejoin is the round of a member that missed a reconfiguration (swarm_rejoin.go).
	rejoin  rejoinState
	restart restartState
	// suffix is the round of an election that recovers a suffix under loss (swarm_suffix.go).
	suffix suffixState
	// repairPeer is the round of an op repaired from a peer other than the primary (swarm_repair_peer.go).
	repairPeer repairPeerState
	// slowElection is the round of an election on a slow network (swarm_slow_election.go).
	slowElection slowElectionState
	// lastChange is the last membership change before a failover (swarm_failover_change.go).
	lastChange lastChangeState
	// traffic is the traffic round and the forward check (swarm_traffic.go).
	traffic trafficState
	// checkpointCrash is the round of a failed checkpoint, a crash and a view change (swarm_checkpoint_crash.go).
	checkpointCrash checkpointCrashState
	// epochRejoin is the round of a member back from an ended epoch (swarm_epoch_rejoin.go).
	epochRejoin epochRejoinState
	// cutCatchUp is the round of a backup cut off past the log window catching up under load (swarm_cut_catchup.go).
	cutCatchUp cutCatchUpState
	windowEdge windowEdgeState
	// stuckBackup counts the rounds of a backup past the log window without commit heartbeats, and
	// those judged (swarm_stuck_backup.go).
	stuckBackup struct{ rounds, judged uint64 }
	// staleRequests re-sends old client requests late (swarm_stale_requests.go); nil when off.
	staleRequests *faults.StaleRequests
	// clockTruth holds clock verdicts to the true clocks (swarm_long_pause.go).
	clockTruth clockTruth
}

// swarmKnobs change a swarm run for the tests; the zero value is the swarm scenario.
type swarmKnobs struct {
	// reconfigAsk carries the reconfiguring nemesis's asks for a change (nil:
	// ClusterReconfigChange), and reconfigTwice makes it ask a second change right after each
	// accepted one (swarm_reconfig.go): a transport that loses an accepted change must fail.
	reconfigAsk   func(c *sim.Cluster, change vsr.Change) (ops.ReconfigReport, error)
	reconfigTwice bool
	// afterConverged runs once when the healed cluster has converged, before the alert hold:
	// a fault injected there must make the health check fail.
	afterConverged func(c *sim.Cluster)
	// beforeFinish sees the clients' history before the end-of-run checks (the
	// linearizability benchmark times its check).
	beforeFinish func(h *invariants.History)
	// afterUnisolate runs right after each isolation round reconnects its backup
	// (swarm_isolation.go): a fault injected there must make the round's check fail.
	afterUnisolate func(c *sim.Cluster, backup int)
	// afterDeposedReturn runs right after the deposed-primary round heals the network
	// (swarm_deposed.go): a fault injected there that stalls the cluster must fail it.
	afterDeposedReturn func(c *sim.Cluster, deposed, down int)
	// afterBlip runs right after the blip round resumes the backups (swarm_blip.go): a fault
	// injected there that delays the commit must fail it.
	afterBlip func(c *sim.Cluster, backups []int)
	// afterUpgradeCut runs right after the upgrade_cut round heals the network
	// (swarm_upgrade_cut.go): a fault injected there that keeps the release down must fail it.
	afterUpgradeCut func(c *sim.Cluster)
	// afterVoteCut runs right after the vote_cut round heals the new primary's links
	// (swarm_vote_cut.go), in a timed round: a fault injected there that stalls the election
	// must fail it.
	afterVoteCut func(c *sim.Cluster, newPrimary int)
	// duringLossy runs as the lossy round's load starts (swarm_lossy.go): a fault injected
	// there that keeps a request from being answered must fail it.
	duringLossy func(c *sim.Cluster)
	// contactLagGrows adds this many ms to the failover standby's contact lag read after the
	// operator's reaction time (swarm_failover.go): a lag that grows with the region lost.
	contactLagGrows int64
	// afterConfigSet runs right after each `cluster config set` of the config round
	// (swarm_config_round.go; raised in its first part): a setting undone there must fail it.
	afterConfigSet func(c *sim.Cluster, raised bool)
	// afterClientCut runs once the client_config round has cut client k off from every
	// replica but x (swarm_client_config.go): a fault injected there that keeps its request
	// from x must fail it.
	afterClientCut func(c *sim.Cluster, k, x int)
	// afterCatchUpReturn runs right after the catchup round restarts its backup
	// (swarm_catchup.go): a fault injected there that keeps it behind must fail it.
	afterCatchUpReturn func(c *sim.Cluster, backup int)
	// afterCatchUpLaps runs once the catch-up round's laps end, before its disk turns fast:
	// a fault injected there that keeps the backup behind must fail the convergence after it.
	afterCatchUpLaps func(c *sim.Cluster, backup int)
	// afterCutCatchUpHeal runs right after the cut_catchup round heals its backup's partition
	// (swarm_cut_catchup.go): a fault injected there that keeps it behind must fail it.
	afterCutCatchUpHeal func(c *sim.Cluster, backup int)
	// afterWindowEdgeHeal runs right after the window_edge round heals its backup's partition
	// (swarm_window_edge.go): a fault injected there that keeps it behind must fail it.
	afterWindowEdgeHeal func(c *sim.Cluster, backup int)
	// lagReported changes the lag every standby reports before standby_lag_truth.go checks it.
	lagReported func(ns int64) int64
	// lagKnown replaces whether every standby reports its lag known (the inspection, and
	// whether the process is a restart) before standby_lag_truth.go checks it.
	lagKnown func(in *vsr.Inspection, restarted bool) bool
	// lagOps changes the lag in ops and eligibility every standby reports
	// (standby_lag_ops_truth.go).
	lagOps lagOpsKnobs
	// afterLostSyncHeal runs right after the lost_sync round heals the links of the replica
	// that lost its checkpoint (swarm_lost_sync.go): a fault injected there that keeps it
	// recovering must fail it.
	afterLostSyncHeal func(c *sim.Cluster, x int)
	// afterRejoinReturn runs right after the rejoin round restarts or reconnects its backup
	// (swarm_rejoin.go): a fault injected there that keeps it out, or changes the view, must
	// fail it.
	afterRejoinReturn func(c *sim.Cluster, y int)
	// afterRestart runs right after the restart round restarts its replica
	// (swarm_restart.go): a fault injected there that changes the view must fail it.
	afterRestart func(c *sim.Cluster, y int)
	// The suffix round's new primary (swarm_suffix.go) never hears an answer to its suffix
	// requests (suffixAnswersLost), sends none after its first (suffixAsksOnce: lost before
	// the round sees them), or starts its view with this commit number (suffixStartCommit).
	suffixAnswersLost, suffixAsksOnce bool
	suffixStartCommit                 func(commit uint64) uint64
	// afterRepairPeerOpen runs once the repair_peer round's replica, and the lost_head round's,
	// has read its damaged disk back (swarm_repair_peer.go, swarm_lost_head.go): a fault
	// injected there that keeps it from its peers must fail the round.
	afterRepairPeerOpen func(c *sim.Cluster, x int)
	// duringSlowElection runs right after the slow_election round takes the primary down
	// (swarm_slow_election.go): a fault injected there that holds up the election must fail it.
	duringSlowElection func(c *sim.Cluster, newPrimary int)
	// refuseBetweenViews: the failover refuses a standby between views (swarm_failover.go),
	// as the replicas did before 1c33fc2.
	refuseBetweenViews bool
	// duringTraffic runs at every tick of the traffic round's load (swarm_traffic.go): a fault
	// injected there that makes the replicas send more must fail it.
	duringTraffic func(c *sim.Cluster)
}

func runSwarm(o Options) Result { return runSwarmWith(o, swarmKnobs{}) }

func runSwarmWith(o Options, knobs swarmKnobs) Result {
	run := &swarmRun{swarm: overriddenSwarm(o), workload: sim.Stream(o.Seed, "workload"), load: true,
		paths: map[string]uint64{}, checked: !o.Unchecked, knobs: knobs, storage: newStorageChecks(o.Seed)}
	run.work = newWorkload(run.workload, drawWorkloadMix(o.Seed))
	run.clients = newClientLiveness(run.swarm.Clients)
	opts := run.swarm.ClusterOptions(o.Seed)
	opts.SyncChunkBytes = drawSyncChunk(o.Seed, run.work.mix)
	opts.World.DiskPool = o.disks // nil when a test calls runSwarmWith directly: no pool, same run
	opts.Mutation, opts.OnEvent = o.Mutation, run.onEvent
	if run.checked {
		opts.OnReplicaSend, opts.OnCompletion = run.onReplicaSend, run.onCompletion
		opts.OnClientAnswer, opts.OnReplicaReceive = run.onClientAnswer, run.onReplicaReceive
		opts.OnClientSend, opts.OnReplicaAnswer = run.onClientSend, run.onReplicaAnswer
		run.traffic.forwards = true // onReplicaReceive counts the requests from clients
		run.routing = newClientRouting(opts.ClusterID, opts.Clients, opts.Replicas, opts.Outside)
		run.attempts = newClientAttempts(opts.ClusterID, opts.Clients, clientAttemptsMax)
	}
	run.staleRequests = armStaleRequests(o.Seed, run.swarm, &opts, func() *sim.Cluster { return run.c })
	run.suite = invariants.NewSuite(run.swarm.Replicas)
	if run.checked {
		run.busyProbes = sim.Stream(o.Seed, "busy-probes")
		run.suite.WatchDeliveries()
		run.suite.SetMonotonic(func(i int) int64 { return run.c.Nodes[i].Clock.Monotonic() })
		run.storage.superblocks.onAuditHead = func(replica int, op uint64, head [32]byte, seeded bool) {
			run.suite.OnAuditHead(int64(run.c.Loop.Now()), replica, op, head, seeded)
		}
	}
	run.suite.SetClientTable(run.swarm.ClientTable)
	if run.swarm.Standbys > 0 {
		run.staleReads = sim.Stream(o.Seed, "stale-reads")
	}
	run.operator = newSwarmOperator(o.Seed)
	run.c = sim.NewCluster(opts)
	keepSyncedWrites(run.c, o.Seed)
	run.wireDisks()
	run.attachTrace(o)
	c := run.c
	atlas := faults.NewAtlas(sim.Stream(o.Seed, "atlas"), run.swarm.Replicas)
	if run.swarm.Reconfig {
		// A replaced disk is a fault of its own, on any replica: random disk faults keep to
		// one replica fewer, so that a zone faulty on f-1 replicas and one wiped disk leave
		// a quorum's copy intact (a removal also leaves fewer members to hold one).
		atlas.F = max(atlas.F-1, 0)
		run.reconfig = newSwarmReconfig(o.Seed, atlas.F)
	}
	atlas.Install(c)
	run.nemesis = faults.NewNemesis(sim.Stream(o.Seed, "nemesis"), run.swarm, atlas)
	run.nemesis.ArmCutCrashes(sim.Stream(o.Seed, "nemesis/cut"))
	run.nemesis.ArmSyncErrorCrashes(sim.Stream(o.Seed, "nemesis/sync_error"))
	run.nemesis.ArmCutNoSpace(sim.Stream(o.Seed, "nemesis/cut_no_space"))
	run.nemesis.ArmDivergent(sim.Stream(o.Seed, "nemesis/divergent"))
	run.nemesis.Install(c)
	// Deletes are the feature of the release the nemesis upgrades to: with upgrades on,
	// the workload checks that they are refused until, and work after, the cluster's.
	run.deletes = run.swarm.Enabled(faults.NodeUpgrade)
	run.incarnations = make([]*vsr.Replica, c.MemberCount())
	run.alerts = newSwarmAlerts(c, run.swarm.FaultFree(), run.swarm.Enabled(faults.DiskLatency))
	for i := 0; i < run.swarm.Clients; i++ {
		i := i
		c.SetClientTick(i, func() { run.clientTick(i) })
	}
	faultTicks, livenessTicks := swarmFaultTicksDefault, swarmLivenessTicksDefault
	if o.TicksMax > 0 {
		faultTicks, livenessTicks = o.TicksMax/2, o.TicksMax-o.TicksMax/2
	}
	faultTicks = o.SwarmOverride.faultTicksOr(faultTicks)
	faultTicks = run.armLongPause(o.Seed, faultTicks) // longer if the long pause needs it
	run.alerts.longPause = run.nemesis.LongPauseArmed()
	if run.checked {
		run.malformed = drawMalformed(o.Seed, run.swarm.Clients, faultTicks)
	}
	for tick := 0; tick < faultTicks && run.safety() == ""; tick++ {
		c.RunFor(sim.TickInterval)
		run.nemesis.Step(c)
		run.stepStaleRequests(tick, faultTicks)
		run.exact.observe(c)
		if tick == faultTicks-lateLossLeadTicks {
			run.nemesis.LoseCheckpointLate(c)
		}
		run.stepReconfig()
		run.inspect()
		run.alerts.observe()
		if run.checked && run.broken == "" {
			run.broken = run.storage.maybeVerify(c, tick)
		}
		run.stepOperator(tick)
	}
	run.closeOperator()
	r := run.finish(o, livenessTicks)
	run.checkerCounters(r.Counters)
	run.staleRequests.Counters(r.Counters)
	run.metrics.counters(r.Counters)
	run.malformed.counters(r.Counters)
	r.Counters["invariants.clock_truth.checked"] = run.clockTruth.checked
	run.lagTruth.counters(r.Counters)
	if r.Outcome == Pass && run.checked {
		r = withPrepareWindowEpisode(o, withParEpisode(o, r)) // prepare_window.go
		r = withSessionStorm(o, r)                            // swarm_session_storm.go: the client table under pressure
		r = loneRegisterEpisode.with(o, r)                    // swarm_lone_register.go: a view change after a lone register
	}
	return r
}

// inspect hands every running replica's state to the checkers, reporting crashes first.
func (run *swarmRun) inspect() {
	if run.picture != nil {
		run.picture.sample()
	}
	if !run.checked {
		return
	}
	now := int64(run.c.Loop.Now())
	in := &run.inspection
	run.clockTruth.observe(run.c, now)
	for i := range run.incarnations {
		r := run.noteIncarnation(i, now)
		if run.outsider(i) {
			continue
		}
		run.watchDown(i, r == nil)
		if run.c.Nodes[i].Status() == sim.NodePaused {
			run.suite.OnPaused(now, i)
		}
		if r != nil {
			r.InspectStateInto(in)
			run.suite.OnInspectOf(now, i, in)
			run.broken = cmp.Or(run.broken, run.clockTruth.check(run.c, i, in, now))
			if in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary {
				run.clients.primary(in.Epoch, in.View, sim.Time(now), run.c.ReplicaCount())
			}
			if run.broken == "" {
				run.broken = run.metrics.check(i, r, in)
			}
			if run.broken == "" {
				run.broken = run.checkPersistedCommitAt(i, in) // persisted_commit.go
			}
			if run.broken == "" && i >= run.c.ReplicaCount() {
				run.broken = run.lagTruth.check(run.c, i, r, in,
					lagKnobs{reported: run.knobs.lagReported, known: run.knobs.lagKnown, ops: run.knobs.lagOps})
			}
		}
	}
}

// noteIncarnation returns replica i's running incarnation (nil while it is down) and tells
// the checkers of a crash the first time it sees that the incarnation changed.
func (run *swarmRun) noteIncarnation(i int, now int64) *vsr.Replica {
	r := run.c.Replica(i)
	if r != run.incarnations[i] && run.incarnations[i] != nil {
		run.suite.OnCrash(now, i)
	}
	run.incarnations[i] = r
	return r
}

func (run *swarmRun) onEvent(e vsr.Event) {
	if run.c == nil {
		return
	}
	if run.checked && !run.outsider(e.Replica) {
		if e.Replica >= 0 && e.Replica < len(run.incarnations) {
			// A crash and a restart between two inspections: the checkers must hear of the
			// crash before the new incarnation's events (swarm seed 2044200178: the
			// checkpoint_crash round restarts a replica in the tick it crashed it, and its
			// replay of the log after recovery read as execution going back).
			run.noteIncarnation(e.Replica, int64(run.c.Loop.Now()))
		}
		run.suite.OnEvent(int64(run.c.Loop.Now()), e)
		run.metrics.onEvent(run.c, e)
		run.lagTruth.onEvent(run.c, e)
		if e.Kind == vsr.EventVoteSelf && run.durability == "" {
			run.durability = run.disks.checkAckDurable(e.Replica, e.Op, e.Checksum, "counted its own vote for")
		}
		if e.Kind == vsr.EventVoteSelf && run.durability == "" {
			// The primary's own vote is an acknowledgement like a backup's prepare_ok: its
			// view and log view must be on disk when it counts.
			run.durability = run.disks.checkVoteDurable(e.Replica, "counted its own vote", e.View, true)
		}
		if run.broken == "" {
			run.broken = run.storage.onEvent(run.c, e)
		}
		if snapshot := checkpointJustTaken(run.c, e); snapshot != nil {
			// Every replica's checkpoint of an op is the same bytes (checkpoint_agreement).
			run.suite.OnCheckpointHeld(int64(run.c.Loop.Now()), e.Replica, e.Op, snapshot)
			if run.broken == "" {
				run.broken = checkCheckpointSessions(run.c, e, snapshot)
			}
		}
		if run.broken == "" && run.alerts != nil { // the swarm: upgrades never roll back
			run.broken = checkUpgradeBinaries(run.c, e)
		}
		run.onLogSettled(e)
	}
	if run.onReplicaEvent != nil {
		run.onReplicaEvent(e)
	}
	run.standbyPaths(e)
	switch {
	case e.Kind == vsr.EventStatus && e.Text == "view_change":
		run.paths["view_change"]++
	case e.Kind == vsr.EventTruncate && e.Text == "nack":
		run.paths["nack_truncation"]++
	case e.Kind != vsr.EventCommit && e.Kind != vsr.EventStatus && e.Kind != vsr.EventVoteSelf:
		run.paths[e.Kind.String()]++
	}
}

// outsider reports whether node i is outside the configuration the checkers follow.
func (run *swarmRun) outsider(i int) bool {
	return i >= 0 && i < len(run.outsiders) && run.outsiders[i]
}

// onClientAnswer holds a client to the cluster's sessions (client_sessions) when a reply or an
// eviction ends its request.
func (run *swarmRun) onClientAnswer(client int, before, after uint64, msg []byte) {
	if run.c == nil {
		return
	}
	if m, err := vsr.Decode(msg, run.c.ClusterID()); err == nil { // as the client decoded it
		run.suite.OnClientAnswer(int64(run.c.Loop.Now()), uint64(client+1), before, after, m.Header, m.Body)
	}
	if problem := run.routing.onAnswer(run.c.ClientsReconfigured(), client, msg); problem != "" && run.broken == "" {
		run.broken = problem
	}
}

// onClientSend holds each client's first send of a request to the primary its last reply
// named (client_routing.go).
func (run *swarmRun) onClientSend(client, slot int, msg []byte) {
	if run.c == nil {
		return
	}
	if problem := run.routing.onSend(run.c.ClientsReconfigured(), client, slot, msg); problem != "" && run.broken == "" {
		run.broken = problem
	}
	if problem := run.attempts.onSend(client, msg); problem != "" && run.broken == "" {
		run.broken = problem
	}
}

// onReplicaSend shows the checkers the votes replicas cast: view_monotonic learns the views a
// replica voted in, and every prepare_ok is checked against the replica's durable disk.
// onReplicaReceive passes the checkers each do_view_change, start_view, nack_prepare and pong
// the network delivers intact.
func (run *swarmRun) onReplicaReceive(to int, msg []byte) {
	command, ok := vsr.PeekCommand(msg)
	if !ok || run.c == nil || run.outsider(to) {
		return
	}
	if run.lostSync.armed && to == run.lostSync.x && command == vsr.CommandSync {
		run.onLostSyncChunk(msg)
	}
	if run.catchUp.watching && to == run.catchUp.x && command == vsr.CommandSync {
		run.onCatchUpSync(msg) // coverage of the slow catch-up (swarm_slow_catchup.go)
	}
	if to >= run.c.ReplicaCount() && (command == vsr.CommandPrepare || command == vsr.CommandCommit) {
		run.lagTruth.onDeliver(run.c, to, msg) // a commit number announced to a standby
	}
	switch command {
	case vsr.CommandSync: // its context, for the state sync it may complete (canonical_commit)
		if len(msg) >= vsr.HeaderSize {
			if h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], run.c.ClusterID()); err == nil {
				run.suite.OnSyncReceive(int64(run.c.Loop.Now()), to, h, msg)
			}
		}
	case vsr.CommandRequest: // one from a client, for the forward check (swarm_traffic.go)
		run.onTrafficReceive(to, msg)
	case vsr.CommandDoViewChange, vsr.CommandStartView, vsr.CommandNackPrepare:
		if m, err := vsr.Decode(msg, run.c.ClusterID()); err == nil { // as the replica takes it
			run.suite.OnReceive(int64(run.c.Loop.Now()), to, m.Header)
		}
	case vsr.CommandPrepareOK: // a vote, for the commit latency the primary reports
		run.metrics.onPrepareOK(run.c, to, msg)
	case vsr.CommandPong:
		// A pong of another epoch than the receiver's never reaches onPong (onOtherEpoch):
		// the clock checks keep only pongs the replica may take (make soak seed
		// 6094428745104306307: r1, back from an 11.6 s pause, answered r2's pings of epoch
		// 2 in one burst; they pushed r2's one sample of epoch 3 out of the checker's ring).
		if m, err := vsr.Decode(msg, run.c.ClusterID()); err == nil && run.samePongEpoch(to, m.Header) {
			clock := run.c.Nodes[to].Clock
			run.suite.OnPong(int64(run.c.Loop.Now()), to, m.Header, clock.Monotonic(), clock.Realtime())
		}
	}
}

// samePongEpoch reports whether replica to, as it is now, is in the epoch of the pong h.
func (run *swarmRun) samePongEpoch(to int, h vsr.Header) bool {
	r := run.c.Replica(to)
	return r != nil && r.TraceState().Epoch == h.Epoch
}

func (run *swarmRun) onReplicaSend(from, to int, msg []byte) {
	command, ok := vsr.PeekCommand(msg)
	if run.c == nil || !ok || run.outsider(from) {
		return
	}
	run.onTrafficSend(from, command, msg)
	if run.voteCut.armed {
		run.onVoteCutSend(from, to, command)
	}
	if run.suffix.active {
		run.onSuffixSend(from, to, command, msg)
	}
	switch command { // decode only the votes, and prepares as they are created
	case vsr.CommandPrepare:
		if run.upgradeCut.armed {
			run.onUpgradePrepare(from, msg)
		}
		run.onPrepare(from, msg)
		run.metrics.onPrepareSent(run.c, from, msg)
		return
	case vsr.CommandNackPrepare: // a denial: held to what its sender executed
		if m, err := vsr.Decode(msg, run.c.ClusterID()); err == nil {
			run.suite.OnMessage(int64(run.c.Loop.Now()), m.Header)
		}
		return
	case vsr.CommandPrepareOK, vsr.CommandDoViewChange, vsr.CommandStartView:
	default:
		return
	}
	m, err := vsr.Decode(msg, run.c.ClusterID())
	if err != nil {
		return
	}
	run.suite.OnMessage(int64(run.c.Loop.Now()), m.Header)
	if m.Header.Command == vsr.CommandPrepareOK && run.durability == "" {
		run.durability = run.disks.checkAckDurable(from, m.Header.Op, m.Header.Parent, "acknowledged")
	}
	if run.durability == "" {
		run.durability = run.disks.checkVoteSent(from, m.Header)
	}
	if m.Header.Command != vsr.CommandPrepareOK && int(m.Header.Replica) == from {
		// The log it carries, decoded once for both checkers (each only reads it); ok is
		// false if it is not a log the checkers can read: they skip it whole.
		log, ok := logRefs(m.Body, run.c.ClusterID(), run.sentLog)
		run.sentLog = log
		if m.Header.Command == vsr.CommandStartView && ok {
			run.onStartViewSent(m, log)
		}
		if ok {
			run.onViewLogSent(from, m, log)
		}
	}
}

// clientTick keeps client i busy with random operations on a small key space, recording
// each in the history that the linearizability checker reads.
func (run *swarmRun) clientTick(i int) {
	cl := run.c.Client(i)
	if problem := run.acceptedUnanswered(i, cl); problem != "" && run.checked {
		run.broken = cmp.Or(run.broken, problem)
	}
	if cl.Busy() {
		run.probeBusyClient(i, cl)
		return
	}
	if !run.load || (run.loadClients != nil && !run.loadClients(i)) {
		return
	}
	if !cl.Registered() {
		run.submitUnregistered(i, cl) // opens the session; the operation comes on a later tick
		return
	}
	if problem := sessionProblem(i, cl); problem != "" && run.checked {
		run.broken = cmp.Or(run.broken, problem)
		return
	}
	if k := run.malformed.due(i, run.c.Loop.Now()); k >= 0 {
		run.submitMalformed(i, cl, k)
		return
	}
	if run.work == nil {
		run.work = newWorkload(run.workload, defaultWorkloadMix) // a runbook scenario's
	}
	op := run.nextOp(i)
	if run.readFromStandby(i, op) {
		return
	}
	if run.clients.sentAt != nil {
		run.clients.sent(i, run.c.Loop.Now())
		run.onClientSent(i)
	}
	history := run.suite.History()
	id := -1
	if run.checked {
		id = history.Invoke(i, op, int64(run.c.Loop.Now()))
	}
	accepted := cl.Submit(kv.EncodeOp(op), func(r client.Result) {
		run.noteCompleted(i)
		if r.Outcome == client.Indeterminate && run.checked {
			run.broken = cmp.Or(run.broken, run.attempts.onGiveUp(i))
		}
		if r.Outcome == client.OK {
			run.acked++
			if run.swarm.Failover {
				run.ackedOps = append(run.ackedOps, r.Op)
			}
		}
		run.work.observe(op, r)
		if run.clients.sentAt != nil {
			if run.lossy.on { // the round's check; its text is built only then
				run.lossyDone(i, op.Kind.String()+" "+shortKey(op.Key), run.clients.sentAt[i], r)
			}
			run.removed.done(i, r, run.clients.sentAt[i], run.c.Loop.Now())
			run.clients.done(i, op.Kind.String()+" "+shortKey(op.Key), r, run.c.Loop.Now())
		}
		if id >= 0 {
			history.Complete(id, r, int64(run.c.Loop.Now()))
		}
		if run.onReply != nil {
			run.onReply(op, r)
		}
	})
	if !accepted {
		panic("swarm: an idle, registered client refused a request")
	}
	run.noteAccepted(i)
}

// keepSyncedWrites gives each disk of c its keep stream (sim.Disk.SetSyncKeepStream): a
// failed sync (disk.sync_error) keeps a quarter of the writes it covered whole. Drawn only
// where a sync fails, from a stream of each disk's own, so that the disks' streams, and the
// runs without sync errors, draw as before.
func keepSyncedWrites(c *sim.Cluster, seed uint64) {
	for i, node := range c.Nodes {
		if node.Disk != nil {
			node.Disk.SetSyncKeepStream(sim.Stream(seed, "disk/"+strconv.Itoa(i)+"/sync_kept"))
		}
	}
}
