package scenarios

import (
	"fmt"
	"strings"

	"vopr/cluster/vsr"
	"vopr/sim"
)

// A healthy cluster's traffic is bounded. Operators size links and budgets for what a cluster
// sends while it serves: each committed op costs a prepare to every other member and a
// prepare_ok back, and the primary's heartbeats and the pings add a share per tick that does
// not grow with the load. Repair traffic (a backup asking for the view's log, a prepare, a
// checkpoint; a primary answering with its log; an election) is for replicas that missed
// something, and on a whole network with every replica converged nobody has. A bug that makes
// a replica think it is behind when it is not, or resends what was delivered, never breaks
// a result: the cluster stays correct and live, and the swarm's other checks pass it while
// it wastes bandwidth on every heartbeat, or sends messages round in circles for ever. Two
// checks hold the cluster to its budget:
//
//   - (a) The traffic round: once the other rounds are over, on the healed, converged
//     cluster with at least two active replicas, every one up, the clients write for
//     trafficTicks. Counting every message a replica sends another (onTrafficSend), the
//     replicas may send at most trafficRepairSlack repair messages in all (the commands
//     of trafficRepair), and at most trafficPerOp messages per committed op and member,
//     plus trafficPerTick per tick and member pair, in all. Over swarm seeds 1..250 a
//     healthy window sent at most 2 repair messages (a start_view a backup asked for once)
//     and at most 35% of the total budget; a replica that asks for the view's log at every
//     heartbeat sends tens. Repair of single prepares (request_prepare) is left to the total
//     budget: reordering on a whole network makes backups ask for the prepare they lack
//     ahead of the one that arrived, up to 145 times in a window (seed 35). The knob
//     duringTraffic runs at every tick of the window: a test hands the primary a
//     request_start_view there.
//     The round runs where roundCluster lets a round take the healed cluster apart (not
//     after a failover, nor with a lasting clock fault): about 3 seeds in 5.
//   - (b) Throughout the run, a backup forwards a client's request to its primary at most
//     once per time the request reached it from the client (a client's send, or the
//     network's replay of one): a forwarded request is never forwarded again. A replica
//     that forwards what another forwarded sends a request on for as long as the replicas
//     disagree on the primary, and round in a circle if each believes another is. The
//     check counts, per replica and client, the sends of the request that arrived from
//     outside the cluster (every request message a replica sent is recorded by its header
//     checksum; one that arrives with none of those checksums came from a client). Only a
//     backup that heard of no newer view forwards to a replica no longer primary, so the
//     fault phase's view changes reach a second forward in about one seed in twenty (9 of
//     seeds 1..200 with the check on a replica that forwards anything); in one
//     configuration no two replicas can each forward to the other, since views only grow
//     and a backup is normal in a view only after that view's primary started it.
const (
	trafficTicks       = 100
	trafficRepairSlack = 8
	trafficPerOp       = 4
	trafficPerTick     = 1
)

// trafficRepair are the commands a replica sends only to repair what it, or a peer, missed.
var trafficRepair = []vsr.Command{vsr.CommandStartViewChange, vsr.CommandDoViewChange, vsr.CommandStartView,
	vsr.CommandRequestStartView, vsr.CommandRequestSync, vsr.CommandSync}

// trafficState is the traffic round's count and the forward check's books.
type trafficState struct {
	on     bool
	sent   [256]uint64 // by command, while on
	rounds uint64
	// forwards: the run sees what replicas receive, and the forward check (b) runs.
	forwards bool

	// forwarded holds the header checksum of every request a replica sent another;
	// fromClients[node][client] the request that last arrived at node from outside the
	// cluster and how many of its arrivals have not been forwarded yet.
	forwarded    map[[16]byte]bool
	fromClients  [][]clientArrivals
	forwardAgain string // the first breach of (b)
}

type clientArrivals struct {
	request uint32
	left    int
}

func (run *swarmRun) trafficRound(livenessTicks int) string {
	c := run.c
	active, p, ok := run.roundCluster(livenessTicks, 2)
	if !ok {
		return ""
	}
	t := &run.traffic
	start := c.Replica(p).Inspect().CommitMax
	c.Trace.Emitf(sim.LevelShort, -1, "nemesis", "traffic: the clients write for %d ticks on the converged cluster", trafficTicks)
	t.sent, t.on, run.load = [256]uint64{}, true, true
	run.runChecked(func() bool {
		if run.knobs.duringTraffic != nil {
			run.knobs.duringTraffic(c)
		}
		return false
	}, trafficTicks)
	t.on, run.load = false, false
	t.rounds++
	if run.safety() != "" {
		return ""
	}
	var ops uint64
	if rep := c.Replica(p); rep != nil {
		ops = rep.Inspect().CommitMax - start
	}
	members := uint64(len(active) + c.StandbyCount())
	var repair, total uint64
	var named []string
	for command, n := range t.sent {
		total += n
		for _, r := range trafficRepair {
			if int(r) == command && n > 0 {
				repair += n
				named = append(named, fmt.Sprintf("%d %s", n, r))
			}
		}
	}
	budget := trafficPerOp*ops*members + trafficPerTick*trafficTicks*members*members
	switch {
	case repair > trafficRepairSlack:
		return fmt.Sprintf("traffic: the converged cluster on a whole network sent %d repair messages (%s) in %d ticks "+
			"of load (%d ops committed), more than %d", repair, strings.Join(named, ", "), trafficTicks, ops, trafficRepairSlack)
	case total > budget:
		return fmt.Sprintf("traffic: the converged cluster on a whole network sent %d messages in %d ticks of load, "+
			"more than %d (%d per op committed and member for %d ops, %d per tick and pair of its %d members)",
			total, trafficTicks, budget, trafficPerOp, ops, trafficPerTick, members)
	}
	drained := run.runChecked(run.clientsIdle, livenessTicks/2)
	if !drained {
		return fmt.Sprintf("a client still had a request in flight %d ticks after the traffic round's load stopped", livenessTicks/2)
	}
	return run.convergedAfterRound("the traffic round", livenessTicks)
}

// onTrafficSend counts a message a replica sends another for the traffic round, and holds
// a request it forwards to the forward check (b): its first breach is the run's
// forwardAgain, a liveness failure at the end of the run (finish), since the cluster stays
// correct.
func (run *swarmRun) onTrafficSend(from int, command vsr.Command, msg []byte) {
	t := &run.traffic
	if t.on {
		t.sent[command]++
	}
	if command != vsr.CommandRequest || !t.forwards {
		return
	}
	h, err := vsr.DecodeHeader(vsr.HeaderBytes(msg), run.c.ClusterID())
	if err != nil || h.Client == 0 || h.Client > uint64(run.c.ClientCount()) {
		return
	}
	if t.forwarded == nil {
		t.forwarded = map[[16]byte]bool{}
	}
	t.forwarded[[16]byte(msg[:16])] = true
	a := t.arrivals(from, int(h.Client-1))
	if a.request != h.Request || a.left == 0 {
		if t.forwardAgain == "" {
			t.forwardAgain = fmt.Sprintf("traffic: replica R%d forwarded request %d of client c%d at %s more times than "+
				"it reached R%d from the client (a forwarded request forwarded again)", from, h.Request, h.Client,
				run.c.Loop.Now(), from)
		}
		return
	}
	a.left--
}

// onTrafficReceive counts a request that arrives at replica to from outside the cluster.
func (run *swarmRun) onTrafficReceive(to int, msg []byte) {
	t := &run.traffic
	if !t.forwards || len(msg) < vsr.HeaderSize || t.forwarded[[16]byte(msg[:16])] {
		return
	}
	h, err := vsr.DecodeHeader(vsr.HeaderBytes(msg), run.c.ClusterID())
	if err != nil || h.Client == 0 || h.Client > uint64(run.c.ClientCount()) {
		return
	}
	a := t.arrivals(to, int(h.Client-1))
	if a.request != h.Request {
		a.request, a.left = h.Request, 0
	}
	a.left++
}

func (t *trafficState) arrivals(node, client int) *clientArrivals {
	for len(t.fromClients) <= node {
		t.fromClients = append(t.fromClients, nil)
	}
	for len(t.fromClients[node]) <= client {
		t.fromClients[node] = append(t.fromClients[node], clientArrivals{})
	}
	return &t.fromClients[node][client]
}

func (t trafficState) counters(counters map[string]uint64) {
	counters["coverage.mark.traffic.round"] += t.rounds
}
