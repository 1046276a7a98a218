package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// An election that must recover a suffix. When the primary fails under load, the replica
// that leads the next view may lack its newest prepares (a slow or lossy link), and the
// others may have executed less than they know committed (one just restarted and is still
// repairing). Before it starts the view, the new primary must learn the largest commit number
// its voters knew (VRR 2012 section 4.2 step 3) and hold every op above it, fetching each body
// it lacks or gathering the nacks that prove an op never committed (vsr/replica_par.go), and
// under message loss it must ask again every repair round. A new primary that asks once and
// then waits, or that learns a lower commit number and makes the election wait on ops a
// quorum had committed, turns one lost message into a whole view-change timeout and another
// election: seconds of unavailability that no safety check sees. The fault phase meets this
// shape only by chance and times no election; the vote_cut round (swarm_vote_cut.go) loses a
// vote, not the suffix's messages; the lossy round (swarm_lossy.go) loses messages but holds
// no election.
//
// So after the other rounds, in one seed in suffixOdds with at least three active replicas,
// as many backups as the cluster tolerates (never the next view's primary) go down while the
// clients write, until the primary has committed suffixGapMin to suffixGapMax ops more; they
// restart (a rolling restart) and learn the primary's log from its start_view. Then one of
// two endings, drawn:
//
//   - nacked: before the restart, the primary's prepares to the replicas up are lost (a path
//     that loses large packets: its small commit heartbeats still arrive) for 1 to
//     suffixLagMax ops, which no quorum can then acknowledge; the backups back learn them as
//     headers without bodies, and the primary goes down. The new primary must prove they
//     never committed by the nacks of enough replicas, which only the requests it repeats
//     each repair round gather when one is lost.
//   - committed: once the backups back hold the primary's log, the repairs of the ops they
//     know committed are lost (until the election is over), so they execute behind what
//     they know; as the clients stop, the primary's messages to the replicas up are lost,
//     so that its last commits reach only the backups back, and it goes down. The new
//     primary holds every body, and must start its view knowing those ops committed.
//
// (Where the backups back do not come to hold the primary's log, too far behind its
// checkpoint, the primary stays up and the round ends.)
//
// While the new primary is in its view change, its request_prepares for the suffix, and the
// prepares and nack_prepares sent to it for those ops, are each lost with a drawn probability
// (suffixLossMin to suffixLossMax), at most suffixDropsMax messages in all. Then:
//
//   - the new primary's commit number as it starts its view (at its first start_view, before
//     any vote of the new view) must be at least what its voters knew committed, read from
//     their status as each sent its do_view_change (the quorum it used is unknown: the bound
//     is the (quorum-1)th smallest of the other voters', which holds whichever it used);
//   - where the network and disks are fast enough for suffixElectionTicks to lie below the
//     view change's timeout, every active replica left must be normal in one newer view
//     within that bound of the first one starting the view change; elsewhere within the
//     budget of an election;
//   - everywhere, the assumption that bound rests on: while the new primary is in the view
//     change it asked for a suffix in, it asks again within a repair period (RepairTicks,
//     its jitter, and a tick each for the sampling and for clocks 1% slow) of its last
//     request, lost or not: a new primary that waits on an answer that was lost falls into
//     the view-change timeout however fast the network.
//
// Then the old primary restarts, the clients are served and everyone converges. The draws
// come from the run's "swarm/suffix" stream.
const (
	suffixOdds        = 3
	suffixGapMin      = 12
	suffixGapMax      = 28
	suffixLagMax      = 3
	suffixLagTicksMax = 40 // below an election timeout: no backup starts a view change meanwhile
	suffixPhaseTicks  = 300
	suffixLossMin     = 0.3
	suffixLossMax     = 0.6
	suffixDropsMax    = 2
)

func (run *swarmRun) suffixRound(seed uint64, livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 3)
	if !ok || !run.checked { // the losses ride on the send hook of checked runs
		return ""
	}
	rng := sim.Stream(seed, "swarm/suffix")
	if rng.IntN(suffixOdds) != 0 {
		return ""
	}
	gap := uint64(suffixGapMin + rng.IntN(suffixGapMax-suffixGapMin+1))
	lag := uint64(1 + rng.IntN(suffixLagMax))
	nacked := rng.IntN(2) == 0
	s := &run.suffix
	*s = suffixState{counts: s.counts, rng: rng, loss: suffixLossMin + (suffixLossMax-suffixLossMin)*rng.Float64(),
		votes: map[uint32][]suffixVote{}, asked: map[uint64]sim.Time{}, askedAt: -1}
	in := c.Replica(p).Inspect()
	view := in.View
	s.primary, s.next = p, vsr.PrimaryIndex(view+1, c.ReplicaCount(), in.Outside)
	var others []int
	for _, i := range active {
		if i != p && i != s.next {
			others = append(others, i)
		}
	}
	if !slices.Contains(active, s.next) || len(others) == 0 {
		return ""
	}
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	down := others[:(len(active)-1)/2]
	s.active = true // from here on, every vote is noted
	defer func() { s.active, s.armed = false, false }()
	state := func(i int) vsr.TraceState {
		if r := c.Replica(i); r != nil {
			return r.TraceState()
		}
		return vsr.TraceState{}
	}
	run.runChecked(run.logsWritten, livenessTicks/4) // nothing acknowledged lives only in memory (swarm_lasting.go)
	run.load = true
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the suffix round took backups %v down", down))
	head := state(p).CommitMax
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "suffix: backups %v go down for %d ops while the clients write", down, gap)
	for _, b := range down {
		c.CrashReplica(b)
	}
	run.runChecked(func() bool { return state(p).CommitMax >= head+gap }, suffixPhaseTicks)
	holds := func(op uint64) bool { // every backup back holds the primary's log up to op, bodies or not
		for _, b := range down {
			if st := state(b); st.Status != vsr.StatusNormal || st.Op < op {
				return false
			}
		}
		return true
	}
	knows := func() bool { return holds(state(p).Op) }          // its whole log
	follows := func() bool { return holds(state(p).CommitMax) } // what it committed: under load, the rest is in flight
	restart := func() {
		for _, b := range down {
			c.StartReplica(b)
		}
		s.back = down
	}
	if nacked {
		behind := state(s.next).Op
		c.Trace.Emitf(sim.LevelShort, p, "nemesis", "suffix: primary R%d's prepares to the replicas up are lost for %d ops; "+
			"then %v restart", p, lag, down)
		s.prepares = true
		run.runChecked(func() bool { return state(p).Op >= behind+lag }, suffixLagTicksMax)
		restart()
		run.runChecked(knows, suffixPhaseTicks)
	} else {
		c.Trace.Emitf(sim.LevelShort, p, "nemesis", "suffix: %v restart; once they hold the primary's log, their repairs of "+
			"committed ops are lost, and then primary R%d's messages to the replicas up as the clients stop", down, p)
		restart()
		if run.runChecked(follows, suffixPhaseTicks) {
			s.repairs, s.prepares, s.commits, run.load = true, true, true, false
			run.runChecked(func() bool { // every backup back knows more committed than every replica up
				var up uint64
				for _, i := range active {
					if i != p && !slices.Contains(down, i) {
						up = max(up, state(i).CommitMax)
					}
				}
				for _, b := range down {
					if state(b).CommitMax <= up {
						return false
					}
				}
				return true
			}, suffixLagTicksMax)
		}
	}
	s.prepares, s.commits, run.load = false, false, false // the repairs stay lost until the election is over
	if run.safety() != "" {
		return ""
	}
	if st := state(p); st.Status != vsr.StatusNormal || st.View != view || !follows() {
		// The restarts moved the view on, or the backups back are too far behind to vote
		// (a state sync): no election to time.
		s.repairs = false
		return run.suffixEnd(p, livenessTicks)
	}
	var top uint64 // the highest op any replica holds: the new primary fetches none above it
	for i := 0; i < c.MemberCount(); i++ {
		top = max(top, state(i).Op)
	}
	fetch := int(min(top-min(top, state(s.next).Op), vsr.PipelinePrepareMax))
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "suffix: primary R%d goes down (nacked=%t, at most %d ops to fetch: %s); "+
		"R%d's suffix messages are lost at %.0f%%", p, nacked, fetch, run.describe(), s.next, 100*s.loss)
	run.clients.again(c.Loop.Now(), fmt.Sprintf("the suffix round took primary R%d down", p))
	c.CrashReplica(p)
	s.armed = true
	start := sim.Time(-1)
	repeat := c.Replica(s.next).Config().RepairTicks + 4 // its jitter of 2, a tick to see it, a tick for slow clocks
	elected := func() bool {
		for _, i := range active {
			if start < 0 && state(i).Status == vsr.StatusViewChange {
				start = c.Loop.Now()
			}
		}
		if st := state(s.next); s.failure == "" && s.askedAt >= 0 && st.Status == vsr.StatusViewChange &&
			st.View == s.askedView && c.Loop.Now()-s.askedAt > sim.Time(repeat)*sim.Time(sim.TickInterval) {
			s.failure = fmt.Sprintf("suffix: new primary R%d of view %d, still in its view change, has not asked for its "+
				"suffix again in the %d ticks since %s: it asks every repair round (%d ticks) until it holds the suffix or "+
				"the nacks that truncate it, or a lost request or answer costs the whole view-change timeout", s.next,
				st.View, repeat, s.askedAt, c.Replica(s.next).Config().RepairTicks)
		}
		return s.failure != "" || run.electedAfter(active, p, view)
	}
	budget := run.electionBudget(livenessTicks)
	done := run.runChecked(elected, budget)
	s.armed, s.repairs = false, false
	switch {
	case run.safety() != "":
		return ""
	case s.failure != "":
		return s.failure
	case !done:
		return fmt.Sprintf("suffix: with primary R%d of view %d down, the active replicas left were not all normal in a "+
			"newer view within %d ticks", p, view, budget)
	}
	if start < 0 {
		start = c.Loop.Now() // begun and done within a tick
	}
	ticks := int((c.Loop.Now() - start) / sim.Time(sim.TickInterval))
	bound := run.suffixElectionTicks(active, fetch)
	c.Trace.Emitf(sim.LevelShort, s.next, "nemesis", "suffix: elected %d ticks after the view change began (bound %d), "+
		"%d suffix messages lost", ticks, bound, s.drops)
	s.counts.rounds++
	if bound < c.Replica(s.next).Config().ViewChangeTimeoutTicks {
		s.counts.timed++
		if len(s.asked) > 0 {
			s.counts.asked++
		}
		if ticks > bound {
			return fmt.Sprintf("suffix: with primary R%d of view %d down, the active replicas left were normal in a newer "+
				"view only %d ticks after the view change began, over the bound of %d (%d ops to fetch at most, %d of its "+
				"messages lost at %.0f%%): a new primary asks again for the suffix every repair round (%d ticks)",
				p, view, ticks, bound, fetch, s.drops, 100*s.loss, c.Replica(s.next).Config().RepairTicks)
		}
	}
	return run.suffixEnd(p, livenessTicks)
}

// suffixElectionTicks bounds the election of a correct cluster, from the first replica that
// starts the view change to every active replica left normal in the new view, when the new
// primary has at most fetch ops to fetch. On its critical path, in sequence:
//
//   - messages: the start_view_change that starts the others' view change, the do_view_change
//     to the new primary, one request and one answer per op it fetches (it asks for the next
//     op as soon as the body or the nacks of one arrive, and a lack of bodies anywhere ends
//     in one exchange of nacks), the start_view back, and for each message lost (at most
//     suffixDropsMax) one more request and answer;
//   - waits: a repair period for each message lost (the new primary asks again at its next
//     repair timeout, RepairTicks plus a jitter of 2), a tick for the moment the view change
//     is seen, and one for the replicas' clocks running up to 1% slow;
//   - disk: each voter's view is durable before it votes, a superblock write perhaps queued
//     behind another: six disk writes on the slowest disk.
//
// A one-way delay is at most its floor plus an exponential draw of the mean, so m of them in
// sequence take at most m floors and a Gamma(m) sum of means, which exceeds 2m+16 means with
// probability below e^-12 (Chernoff: a - m - m ln(a/m) >= 12 for a = 2m+16); the disk writes
// alike. A new primary that stops asking after a lost message waits for the view-change
// timeout (ViewChangeTimeoutTicks at the earliest from the first replica's view change,
// jittered up to twice that per replica), and another election after it: the bound is used
// only where it is below that.
func (run *swarmRun) suffixElectionTicks(active []int, fetch int) int {
	net := run.c.Network.Options()
	cfg := run.c.Replica(run.suffix.next).Config()
	m := sim.Duration(2 + 2*fetch + 1 + 2*suffixDropsMax)
	msgs := m*net.OneWayDelayMin + (2*m+16)*net.OneWayDelayMean
	slow := 1
	for _, i := range active {
		slow = max(slow, run.c.Nodes[i].Disk.SlowMultiplier())
	}
	d, w := run.swarm.Disk, sim.Duration(6)
	disk := sim.Duration(slow) * (w*d.WriteLatencyMin + (2*w+16)*d.WriteLatencyMean)
	return ticksOf(msgs) + ticksOf(disk) + suffixDropsMax*(cfg.RepairTicks+2) + 2
}

// suffixEnd restarts the primary the round took down, serves the clients, and waits for
// convergence. (A backup restarted by the round may still be writing its log back on a slow
// disk, unable to vote: with the old primary still down too, the cluster could be short of a
// quorum for seconds.)
func (run *swarmRun) suffixEnd(p, livenessTicks int) string {
	c := run.c
	if c.Replica(p) == nil {
		c.Trace.Emitf(sim.LevelShort, p, "nemesis", "suffix ends: R%d restarts", p)
		c.StartReplica(p)
	}
	run.load = true
	run.clients.again(c.Loop.Now(), "the suffix round's election")
	served := run.runChecked(func() bool { return run.clients.allAnswered() || run.clients.starved != "" }, livenessTicks/2)
	run.load = false
	switch {
	case run.safety() != "":
		return ""
	case run.clients.starved != "":
		return run.clients.starved
	case !served:
		return run.clients.unserved()
	}
	if !run.runChecked(run.converged, livenessTicks/2) {
		return fmt.Sprintf("no convergence within %d ticks after the suffix round", livenessTicks/2)
	}
	if c.StandbyCount() > 0 {
		run.idleAfterRound() // a standby's lag counts the election until heartbeats reach it
	}
	return ""
}

// onSuffixSend sees each message a replica sends while the round runs, before the network
// takes it: it loses what the round loses, and notes the votes and each view's first
// start_view.
func (run *swarmRun) onSuffixSend(from, to int, command vsr.Command, msg []byte) {
	s := &run.suffix
	c := run.c
	back := slices.Contains(s.back, to)
	if s.repairs && back && command == vsr.CommandPrepare && c.Replica(to) != nil {
		if h, err := vsr.DecodeHeader(vsr.HeaderBytes(msg), c.ClusterID()); err == nil &&
			h.Op <= c.Replica(to).TraceState().CommitMax {
			run.loseMessage(from, to, command) // a repair of an op the backup knows committed
		}
		return
	}
	if !s.armed {
		if from == s.primary && !back && c.Replica(to) != nil &&
			(s.prepares && command == vsr.CommandPrepare || s.commits && command == vsr.CommandCommit) {
			run.loseMessage(from, to, command) // to a replica up
		}
		if command != vsr.CommandDoViewChange {
			return
		}
	}
	switch command {
	case vsr.CommandDoViewChange, vsr.CommandStartView, vsr.CommandRequestPrepare, vsr.CommandPrepare, vsr.CommandNackPrepare:
	default:
		return
	}
	h, err := vsr.DecodeHeader(vsr.HeaderBytes(msg), c.ClusterID())
	if err != nil {
		return
	}
	switch command {
	case vsr.CommandDoViewChange, vsr.CommandStartView:
		if int(h.Replica) != from {
			return
		}
		known := c.Replica(from).TraceState().CommitMax // what the sender knows committed, from its status
		if command == vsr.CommandDoViewChange {
			s.vote(h.View, from, known)
			return
		}
		if run.knobs.suffixStartCommit != nil {
			known = run.knobs.suffixStartCommit(known)
		}
		s.startView(run, h.View, from, known)
		return
	}
	// The new primary's suffix messages, while it is in its view change.
	next := c.Replica(s.next)
	_, asked := s.asked[h.Op]
	switch {
	case !s.armed || next == nil || next.TraceState().Status != vsr.StatusViewChange:
		return
	case from == s.next && command == vsr.CommandRequestPrepare && h.Request == suffixNackWanted:
		now := c.Loop.Now()
		if !asked {
			s.asked[h.Op] = now
		} else if run.knobs.suffixAsksOnce && s.asked[h.Op] < now {
			run.loseMessage(from, to, command)
			return
		}
		s.askedAt, s.askedView = now, h.View
	case to == s.next && (command == vsr.CommandNackPrepare || command == vsr.CommandPrepare && asked):
		if run.knobs.suffixAnswersLost {
			run.loseMessage(from, to, command)
			return
		}
	default:
		return
	}
	if c.Replica(to) == nil || s.drops >= suffixDropsMax || s.rng.Float64() >= s.loss {
		return
	}
	s.drops++
	run.loseMessage(from, to, command)
}

// suffixNackWanted marks a request_prepare of protocol-aware recovery: the new primary asks
// every replica for the prepare, and for a nack_prepare from one that never saw it (vsr's
// requestWantsNack, in the Request field).
const suffixNackWanted = 1

// loseMessage loses the message from sends to to as it enters the network: the path is cut
// for that one send and whole again before anything else happens (what is in flight on it
// still arrives).
func (run *swarmRun) loseMessage(from, to int, command vsr.Command) {
	c := run.c
	if from == to || !c.Network.Connected(from, to) {
		return
	}
	c.Trace.Emitf(sim.LevelShort, from, "nemesis", "suffix: %s R%d->R%d lost", command, from, to)
	c.Network.Cut(from, to)
	c.Loop.After(0, func() { c.Network.Uncut(from, to) })
}

// suffixVote is the commit number a replica knew as it voted in a view.
type suffixVote struct {
	replica int
	commit  uint64
}

// vote notes the commit number replica knew as it sent its do_view_change for view: the
// lowest of its votes (a restart in between may have lowered it).
func (s *suffixState) vote(view uint32, replica int, commit uint64) {
	votes := s.votes[view]
	for i := range votes {
		if votes[i].replica == replica {
			votes[i].commit = min(votes[i].commit, commit)
			return
		}
	}
	s.votes[view] = append(votes, suffixVote{replica, commit})
}

// startView checks the commit number the primary of view starts it with, at its first
// start_view: at least the (quorum-1)th smallest of the commit numbers the other voters knew
// (whichever quorum it installed from, it heard that many of them, and it takes the largest).
func (s *suffixState) startView(run *swarmRun, view uint32, primary int, known uint64) {
	if slices.Contains(s.started, view) || s.failure != "" {
		return
	}
	s.started = append(s.started, view)
	active, _ := run.c.Members()
	need := len(active) / 2 // the other voters of a quorum
	var commits []uint64
	for _, v := range s.votes[view] {
		if v.replica != primary {
			commits = append(commits, v.commit)
		}
	}
	if need == 0 || len(commits) < need {
		return
	}
	slices.Sort(commits)
	if floor := commits[need-1]; known < floor {
		s.failure = fmt.Sprintf("suffix: new primary R%d started view %d knowing ops up to %d committed, while every quorum "+
			"of the do_view_changes sent to it knew %d committed (voter and commit number: %v): it must take the largest "+
			"commit number of the votes, or it waits on bodies and nacks for ops a quorum committed", primary, view, known,
			floor, s.votes[view])
	}
}

// suffixState is the round while it runs, and what it counts.
type suffixState struct {
	active   bool  // the round runs: the send hook calls onSuffixSend
	prepares bool  // the primary's prepares to the replicas up are lost
	commits  bool  // and its commit heartbeats
	repairs  bool  // the repairs of committed ops to the backups back are lost
	armed    bool  // the election: the suffix messages are lost, the start_views checked
	primary  int   // the primary taken down
	next     int   // the primary of the next view
	back     []int // the backups restarted
	drops    int   // suffix messages lost
	loss     float64
	rng      *rand.Rand
	asked    map[uint64]sim.Time // when the new primary first asked for each op with a nack wanted
	// askedAt is when the new primary last asked for its suffix, in view askedView (-1: not yet)
	askedAt   sim.Time
	askedView uint32
	votes     map[uint32][]suffixVote
	started   []uint32 // the views whose first start_view was checked
	failure   string
	counts    suffixCounts
}

// suffixCounts are the rounds run to an election, those timed, and those timed in which
// the new primary asked for a suffix.
type suffixCounts struct{ rounds, timed, asked uint64 }

func (k suffixCounts) report(counters map[string]uint64) {
	counters["coverage.mark.suffix.round"] += k.rounds
	counters["coverage.mark.suffix.timed"] += k.timed
	counters["coverage.mark.suffix.asked"] += k.asked
}
