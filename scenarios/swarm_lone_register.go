package scenarios

import (
	"fmt"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// The lone-register episode: a view change right after a client's register, its first
// request reaching the new primary before that primary has executed the register.
//
// A primary that does not know a request's session (its client table, as executed, holds
// none) tells the client its session is gone, unless an op of its log above commit_min may
// register the client (registrationPending, cluster/vsr replica_normal.go): a new primary may
// not have executed a register its predecessor committed and answered. The client gives its
// session up on that eviction (client_sessions: an eviction of a session the committed history
// still holds, from a primary of a view from the register's on, is spurious). The swarm's
// clients register under load, so the register is seldom the newest op of the log when the
// view changes, and a new primary re-commits its log within a round trip of its start_view,
// long before a client's retry (RetryTicks) reaches it.
//
// So in one passing seed in loneRegisterOneIn, a cluster of its own (3 replicas, one client,
// no other fault) does it by construction: the client registers; once both backups hold the
// register's prepare, the primary P is cut off towards them (it still hears their
// prepare_oks, so it commits, executes and answers the register, but never tells them it
// committed); the backups elect a new primary Q whose log ends with the register, not
// executed; the path from Q's backup to Q is cut, so that Q cannot re-commit it yet, and the
// client's first request (its own message, as the client's retry to Q would send it) is
// delivered to Q. Then the network heals, and the client must be served and the replicas
// converge. Every checker of the Suite judges it (client_sessions among them); the draw
// comes from the seed's "swarm_lone_register" stream, the network's delay from the episode's.
const loneRegisterOneIn = 4

var loneRegisterEpisode = oneInEpisode{stream: "swarm_lone_register", label: "lone-register",
	oneIn: loneRegisterOneIn, run: runLoneRegister, fold: func(counters map[string]uint64, er Result) {
		counters["coverage.episode.lone_register"]++
		counters["episode.lone_register.window"] += er.Counters["lone_register.window"]
	}}

// loneRegister is one run of the episode.
type loneRegister struct {
	c       *sim.Cluster
	suite   *invariants.Suite
	broken  string
	request []byte // the client's latest key/value request
	served  uint64
}

func runLoneRegister(o Options) Result {
	r := Result{Scenario: "swarm", Seed: o.Seed, Counters: map[string]uint64{"lone_register.runs": 1}}
	rng := sim.Stream(o.Seed, "lone_register")
	delay := sim.Duration(100+rng.IntN(900)) * sim.Microsecond
	l := &loneRegister{suite: invariants.NewSuite(3)}
	l.c = sim.NewCluster(sim.ClusterOptions{Replicas: 3, Clients: 1, ClusterID: o.Seed | 1,
		Config: vsr.DefaultConfig(), Mutation: o.Mutation,
		World: sim.WorldOptions{Seed: o.Seed, DiskPool: o.disks,
			Network: sim.NetworkOptions{OneWayDelayMin: 50 * sim.Microsecond, OneWayDelayMean: delay, PathMaximumCapacity: 1024},
			Disk: sim.DiskOptions{ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 50 * sim.Microsecond,
				WriteLatencyMin: 10 * sim.Microsecond, WriteLatencyMean: 200 * sim.Microsecond, Capacity: 1 << 30}},
		OnEvent: l.onEvent, OnClientAnswer: l.onClientAnswer, OnClientSend: l.onClientSend,
	})
	l.c.Trace.Out, l.c.Trace.Level = nil, o.Log
	reason := l.run(r.Counters)
	if reason == "" && l.broken == "" {
		if v := l.suite.Finish(); v != nil {
			l.broken = v.Error()
		}
	}
	switch {
	case l.broken != "":
		r.Outcome, r.Reason = Correctness, l.broken
	case reason != "":
		r.Outcome, r.Reason = Liveness, reason
	default:
		r.Outcome = Pass
	}
	return r
}

func (l *loneRegister) now() int64 { return int64(l.c.Loop.Now()) }

func (l *loneRegister) onEvent(e vsr.Event) {
	if l.c != nil {
		l.suite.OnEvent(l.now(), e)
	}
}

func (l *loneRegister) onClientAnswer(client int, before, after uint64, msg []byte) {
	if m, err := vsr.Decode(msg, l.c.ClusterID()); err == nil {
		l.suite.OnClientAnswer(l.now(), uint64(client+1), before, after, m.Header, m.Body)
	}
}

func (l *loneRegister) onClientSend(_, _ int, msg []byte) {
	if m, err := vsr.Decode(msg, l.c.ClusterID()); err == nil && m.Header.Command == vsr.CommandRequest &&
		m.Header.Operation == vsr.OperationKV {
		l.request = msg
	}
}

// check reports whether the run may go on: no checker fired, no replica fail-stopped.
func (l *loneRegister) check() bool {
	if v := l.suite.Violation(); v != nil && l.broken == "" {
		l.broken = v.Error()
	}
	if failures := l.c.Failures(); len(failures) > 0 && l.broken == "" {
		l.broken = fmt.Sprintf("replica %d fail-stopped: %s", failures[0].Node, failures[0].Message)
	}
	return l.broken == ""
}

// until steps the world event by event until done, for at most ticks ticks of virtual time;
// false if done never held or a check failed.
func (l *loneRegister) until(done func() bool, ticks int) bool {
	deadline := l.c.Loop.Now() + sim.Time(sim.Duration(ticks)*sim.TickInterval)
	for l.check() {
		if done() {
			return true
		}
		if at, ok := l.c.Loop.NextAt(); !ok || at > deadline || !l.c.Loop.Step() {
			return false
		}
	}
	return false
}

// submit keeps the client writing: a client without a session registers first.
func (l *loneRegister) submit() {
	cl := l.c.Client(0)
	if cl.Busy() {
		return
	}
	l.served++
	put := kv.EncodeOp(kv.Op{Kind: kv.KindPut, Key: "lone", Value: fmt.Sprint(l.served)})
	cl.Submit(put, func(client.Result) {})
}

// run is the episode; it returns a liveness failure's reason, or "" (l.broken holds a
// checker's).
func (l *loneRegister) run(counters map[string]uint64) string {
	c := l.c
	p := -1
	if !l.until(func() bool { p = c.Primary(); return p >= 0 && l.normalAll() }, 1000) {
		return l.failed("no primary with every replica normal at the start")
	}
	l.submit() // the register
	var k uint64
	held := func() bool {
		k = c.Replica(p).Inspect().Op
		if k == 0 {
			return false
		}
		for i := 0; i < c.ReplicaCount(); i++ {
			if c.Replica(i).Inspect().Op < k {
				return false
			}
		}
		return true
	}
	if !l.until(held, 500) {
		return l.failed("the backups never held the register's prepare")
	}
	for b := 0; b < c.ReplicaCount(); b++ {
		if b != p {
			c.Network.Cut(p, b) // P still hears their prepare_oks, but tells them nothing
		}
	}
	c.Trace.Emitf(sim.LevelShort, p, "nemesis", "lone_register: R%d cut off towards its backups after op %d (the register)", p, k)
	cl := c.Client(0)
	if !l.until(func() bool { return cl.Registered() }, 1000) {
		return l.failed("the client never took its session from the register's reply")
	}
	l.submit() // its first request, to P: lost there or prepared alone
	q := -1
	elected := func() bool {
		for i := 0; i < c.ReplicaCount(); i++ {
			in := c.Replica(i).Inspect()
			if i != p && in.Status == vsr.StatusNormal && in.Role == vsr.RolePrimary && in.View > 0 {
				q = i
				return true
			}
		}
		return false
	}
	if !l.until(elected, 2000) {
		return l.failed("the backups elected no primary with R%d cut off", p)
	}
	if in := c.Replica(q).Inspect(); in.CommitMin < k && l.request != nil && cl.Busy() && cl.Session() == k {
		counters["lone_register.window"]++
		for b := 0; b < c.ReplicaCount(); b++ {
			if b != q {
				c.Network.Cut(b, q) // Q cannot re-commit the register yet
			}
		}
		c.Trace.Emitf(sim.LevelShort, q, "nemesis", "lone_register: new primary R%d at commit_min %d, the client's first request delivered",
			q, in.CommitMin)
		c.Network.Send(c.ClientNode(0), q, l.request)
		if !l.until(func() bool { return false }, 5) && l.broken != "" {
			return ""
		}
	}
	c.Network.Heal()
	for i := 0; i < 3; i++ {
		target := l.served + 1
		if !l.until(func() bool { l.submit(); return l.served > target }, 3000) {
			return l.failed("the client was not served after the network healed")
		}
	}
	if !l.until(l.converged, 2000) {
		return l.failed("the replicas did not converge after the network healed")
	}
	return ""
}

// failed is a liveness reason, unless a checker fired first.
func (l *loneRegister) failed(format string, args ...any) string {
	if l.broken != "" {
		return ""
	}
	return "lone_register: " + fmt.Sprintf(format, args...)
}

func (l *loneRegister) normalAll() bool {
	for i := 0; i < l.c.ReplicaCount(); i++ {
		if l.c.Replica(i).Inspect().Status != vsr.StatusNormal {
			return false
		}
	}
	return true
}

// converged: every replica normal in one view, having executed the same ops.
func (l *loneRegister) converged() bool {
	first := l.c.Replica(0).Inspect()
	for i := 0; i < l.c.ReplicaCount(); i++ {
		in := l.c.Replica(i).Inspect()
		if in.Status != vsr.StatusNormal || in.View != first.View || in.CommitMin != first.CommitMin ||
			in.CommitMin != in.Op {
			return false
		}
	}
	return true
}
