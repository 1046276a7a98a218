package scenarios

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/cluster/vsr"
	"vopr/invariants"
	"vopr/sim"
)

// The session-storm episode: the client table under pressure. The table holds a bounded
// number of sessions (vsr.Options.ClientsMax; the oldest registration is evicted when a
// register finds it full), and a client learns of its session's eviction from an eviction
// message naming the session (client.Client: only an eviction of its current session counts).
// The contract (cluster/vsr replica_commit.go, invariants/client_sessions.go): a client is
// told its session is evicted only when the committed history no longer holds it, and no
// request ever runs under a session that is gone.
//
// The swarm reaches the corners of that contract rarely: its table is full only in a quarter
// of its seeds (one session fewer than clients), and its primary prepares each request alone
// while its pipeline has room, so a batch seldom holds several registers. Here, in one seed in
// four that passes, a cluster of its own runs with a table of one or two sessions and many
// more clients, all writing without pause. In each of its storms the primary is cut off from
// its backups for a few ticks: its pipeline fills and the requests that arrive wait in its
// queue, to be prepared together in one batch once the cut ends. Into the queue the storm
// also sends, as a network that held packets would, copies of the registers every client sent
// before (older request numbers) and of its last key/value request: a batch then registers
// many clients in turn, each evicting the one before, and a client whose register and a stale
// copy of an older one both ran in it has its session opened, evicted and opened again in the
// same op, under the same name (swarm seed 2042000048). Evictions are delivered twice, the
// copy late: an eviction told of a session that is still open reaches its client while its
// next request is in flight, and the client gives it up (client_sessions).
//
// The episode's cluster has no other fault. The Suite sees every event and every message that
// ends a client's request: client_sessions, session_execution and committed_replies judge it,
// with the client's own contract (sessionProblem: registered without a session), and each
// checkpoint's client table is held to the model (session_execution: no request ran under a
// session that is gone) and to its replies (checkpoint_sessions). Its verdict joins the seed's.

// sessionStormOneIn: one passing seed in this many runs the episode.
const sessionStormOneIn = 4

// sessionStormRegistersKept is how many of a client's registers (distinct requests) the
// storm keeps to send again.
const sessionStormRegistersKept = 3

// sessionStormParams is what the episode draws from the seed's stream.
type sessionStormParams struct {
	table, clients, storms int
	world                  uint64
	delayMeanUs            int64
}

func (p sessionStormParams) String() string {
	return fmt.Sprintf("client_table=%d clients=%d storms=%d", p.table, p.clients, p.storms)
}

// drawSessionStorm draws whether the seed runs the episode (from its own stream, so that the
// swarm's other draws are unchanged) and its parameters.
func drawSessionStorm(seed uint64) (sessionStormParams, bool) {
	rng := sim.Stream(seed, "swarm_session_storm")
	if rng.IntN(sessionStormOneIn) != 0 {
		return sessionStormParams{}, false
	}
	p := sessionStormParams{table: 1 + rng.IntN(2)}
	p.clients = p.table + 3 + rng.IntN(8)
	p.storms = 6 + rng.IntN(7)
	p.world = rng.Uint64()
	p.delayMeanUs = 300 + rng.Int64N(3000)
	return p, true
}

// sessionStormKnobs change the episode for the tests.
type sessionStormKnobs struct {
	// forgeEviction: after each storm, a busy client that holds a live session is sent an
	// eviction naming it, rewritten from the reply that gave it the session: a broken case
	// the judges must see.
	forgeEviction bool
}

// sessionStorm is one run of the episode.
type sessionStorm struct {
	p      sessionStormParams
	knobs  sessionStormKnobs
	c      *sim.Cluster
	suite  *invariants.Suite
	rng    *rand.Rand
	load   bool
	broken string
	// registers[i] holds client i's latest registers (distinct requests), kv[i] its latest
	// key/value request, lastReply[i] the latest reply a replica sent it to a register.
	registers [][][]byte
	kv        [][]byte
	lastReply [][]byte
	puts      []int
	held      []heldEviction
	// model follows the committed batches with a table of the episode's capacity, to count
	// the ops that opened, evicted and opened again one client's session (reopened).
	model    map[uint64]uint64
	modelOp  uint64
	counters map[string]uint64
}

type heldEviction struct {
	from, client int
	msg          []byte
	due          sim.Time
}

// withSessionStorm runs the seed's session-storm episode, if it draws one, after a passing
// swarm run, and folds its verdict and counters into r.
func withSessionStorm(o Options, r Result) Result {
	p, ok := drawSessionStorm(o.Seed)
	if !ok || r.Outcome != Pass {
		return r
	}
	s := runSessionStorm(o, p, sessionStormKnobs{})
	for k, v := range s.counters {
		r.Counters[k] += v
	}
	if s.broken != "" {
		r.Outcome = Correctness
		r.Reason = fmt.Sprintf("session storm episode (%s): %s", p, s.broken)
	}
	return r
}

// runSessionStorm runs the episode on a cluster of its own.
func runSessionStorm(o Options, p sessionStormParams, knobs sessionStormKnobs) *sessionStorm {
	s := &sessionStorm{p: p, knobs: knobs, rng: sim.Stream(p.world, "session_storm"), load: true,
		registers: make([][][]byte, p.clients), kv: make([][]byte, p.clients), lastReply: make([][]byte, p.clients),
		puts: make([]int, p.clients), model: map[uint64]uint64{}, counters: map[string]uint64{"session_storm.runs": 1}}
	s.suite = invariants.NewSuite(3)
	s.suite.SetClientTable(p.table)
	delay := sim.Duration(p.delayMeanUs) * sim.Microsecond
	s.c = sim.NewCluster(sim.ClusterOptions{Replicas: 3, Clients: p.clients, ClusterID: p.world | 1,
		Config: vsr.DefaultConfig(), ClientsMax: p.table, Mutation: o.Mutation,
		World: sim.WorldOptions{Seed: p.world, DiskPool: o.disks,
			Network: sim.NetworkOptions{OneWayDelayMin: 50 * sim.Microsecond, OneWayDelayMean: delay, PathMaximumCapacity: 1024},
			Disk: sim.DiskOptions{ReadLatencyMin: 10 * sim.Microsecond, ReadLatencyMean: 50 * sim.Microsecond,
				WriteLatencyMin: 10 * sim.Microsecond, WriteLatencyMean: 200 * sim.Microsecond, Capacity: 1 << 30}},
		OnEvent: s.onEvent, OnClientAnswer: s.onClientAnswer, OnClientSend: s.onClientSend,
		OnReplicaAnswer: s.onReplicaAnswer,
	})
	s.c.Trace.Out, s.c.Trace.Level = nil, o.Log
	for i := 0; i < p.clients; i++ {
		i := i
		s.c.SetClientTick(i, func() { s.clientTick(i) })
	}
	s.run()
	return s
}

func (s *sessionStorm) now() int64 { return int64(s.c.Loop.Now()) }

func (s *sessionStorm) onEvent(e vsr.Event) {
	if s.c == nil {
		return
	}
	s.suite.OnEvent(s.now(), e)
	if snapshot := checkpointJustTaken(s.c, e); snapshot != nil {
		// session_execution and checkpoint_content read the client table each checkpoint
		// holds; checkpoint_sessions, that every session in it carries its reply.
		s.suite.OnCheckpointHeld(s.now(), e.Replica, e.Op, snapshot)
		s.counters["session_storm.checkpoints"]++
		if s.broken == "" {
			s.broken = checkCheckpointSessions(s.c, e, snapshot)
		}
	}
	if e.Kind == vsr.EventCommit && e.Op == s.modelOp+1 {
		s.modelOp = e.Op
		s.follow(e.Op, e.Prepare)
	}
}

func (s *sessionStorm) onClientAnswer(client int, before, after uint64, msg []byte) {
	if s.c == nil {
		return
	}
	if m, err := vsr.Decode(msg, s.c.ClusterID()); err == nil {
		s.suite.OnClientAnswer(s.now(), uint64(client+1), before, after, m.Header, m.Body)
		if m.Header.Command == vsr.CommandEviction {
			s.counters["session_storm.evicted_clients"]++
		}
	}
}

// onClientSend keeps copies of what the clients send: their registers, their last request.
func (s *sessionStorm) onClientSend(client, _ int, msg []byte) {
	m, err := vsr.Decode(msg, s.c.ClusterID())
	if err != nil || m.Header.Command != vsr.CommandRequest {
		return
	}
	switch m.Header.Operation {
	case vsr.OperationRegister:
		kept := s.registers[client]
		for _, k := range kept {
			if string(k) == string(msg) {
				return // a retry of a register already kept
			}
		}
		if len(kept) == sessionStormRegistersKept {
			kept = append(kept[:0], kept[1:]...)
		}
		s.registers[client] = append(kept, msg)
	case vsr.OperationKV:
		s.kv[client] = msg
	}
}

// onReplicaAnswer keeps the replies to registers (forgeEviction) and holds a copy of every
// eviction, delivered again a little later: a network that duplicates and delays packets.
func (s *sessionStorm) onReplicaAnswer(from, client int, msg []byte) {
	command, ok := vsr.PeekCommand(msg)
	if !ok {
		return
	}
	switch command {
	case vsr.CommandEviction:
		if s.load {
			s.held = append(s.held, heldEviction{from: from, client: client, msg: msg,
				due: s.c.Loop.Now() + sim.Time(sim.Duration(1+s.rng.IntN(30))*sim.TickInterval)})
		}
	case vsr.CommandReply:
		if m, err := vsr.Decode(msg, s.c.ClusterID()); err == nil && m.Header.Operation == vsr.OperationRegister {
			s.lastReply[client] = msg
		}
	}
}

// clientTick keeps every idle client writing (a client without a session registers first),
// and holds it to its contract.
func (s *sessionStorm) clientTick(i int) {
	cl := s.c.Client(i)
	if s.broken == "" {
		s.broken = sessionProblem(i, cl)
	}
	if cl.Busy() {
		if s.broken == "" {
			s.broken = probeBusy(s.rng, i, cl, s.c.ReplicaCount(), 0) // one request at a time
		}
		return
	}
	if !s.load {
		return
	}
	s.puts[i]++
	put := kv.EncodeOp(kv.Op{Kind: kv.KindPut, Key: "storm-" + strconv.Itoa(i), Value: strconv.Itoa(s.puts[i])})
	cl.Submit(put, func(r client.Result) { s.counters["session_storm.outcome."+r.Outcome.String()]++ })
}

// run is the episode: a warm-up, the storms, then time for the held copies to land.
func (s *sessionStorm) run() {
	if !s.ticks(50) {
		return
	}
	for storm := 0; storm < s.p.storms; storm++ {
		if !s.ticks(10+s.rng.IntN(40)) || !s.storm() {
			return
		}
	}
	if !s.ticks(100) {
		return
	}
	s.load = false
	if !s.ticks(60) {
		return
	}
	if v := s.suite.Finish(); v != nil && s.broken == "" {
		s.broken = v.Error()
	}
}

// storm cuts the primary off from its backups for a few ticks (well inside the election
// timeout) and sends it the clients' old registers and last requests again, in client order.
func (s *sessionStorm) storm() bool {
	c := s.c
	p := c.Primary()
	if p < 0 {
		return true
	}
	s.counters["session_storm.storms"]++
	for b := 0; b < c.ReplicaCount(); b++ {
		if b != p {
			c.Network.Cut(p, b)
			c.Network.Cut(b, p)
		}
	}
	// The first copies fill the pipeline (each prepared alone while it has room); the
	// clients' own requests then wait in the queue, and the second copies join them there.
	hold := 8 + s.rng.IntN(15)
	s.burst(p)
	if !s.ticks(hold) {
		return false
	}
	s.burst(p)
	if !s.ticks(1) {
		return false
	}
	for b := 0; b < c.ReplicaCount(); b++ {
		if b != p {
			c.Network.Uncut(p, b)
			c.Network.Uncut(b, p)
		}
	}
	if s.knobs.forgeEviction {
		s.forge(p)
	}
	return true
}

// burst sends the primary p, from each client's node in client order, the registers it
// kept and, half the time, its last key/value request.
func (s *sessionStorm) burst(p int) {
	c := s.c
	for i := 0; i < s.p.clients; i++ {
		for _, msg := range s.registers[i] {
			c.Network.Send(c.ClientNode(i), p, msg)
			s.counters["session_storm.stale_registers"]++
		}
		if s.kv[i] != nil && s.rng.IntN(2) == 0 {
			c.Network.Send(c.ClientNode(i), p, s.kv[i])
			s.counters["session_storm.stale_requests"]++
		}
	}
}

// forge sends a busy client holding a session an eviction naming it (forgeEviction).
func (s *sessionStorm) forge(p int) {
	for i := 0; i < s.p.clients; i++ {
		cl := s.c.Client(i)
		if !cl.Busy() || !cl.Registered() || s.lastReply[i] == nil {
			continue
		}
		m, err := vsr.Decode(s.lastReply[i], s.c.ClusterID())
		if err != nil || m.Header.Commit != cl.Session() {
			continue
		}
		h := m.Header
		h.Command, h.Operation, h.Request = vsr.CommandEviction, 0, 0
		s.c.Network.Send(p, s.c.ClientNode(i), vsr.Encode(h, nil))
		s.counters["session_storm.forged"]++
		return
	}
}

// ticks runs n ticks, releasing the held evictions that are due; false once a check failed.
func (s *sessionStorm) ticks(n int) bool {
	for t := 0; t < n; t++ {
		s.c.RunFor(sim.TickInterval)
		now := s.c.Loop.Now()
		kept := s.held[:0]
		for _, h := range s.held {
			if h.due <= now {
				s.c.Network.Send(h.from, s.c.ClientNode(h.client), h.msg)
				s.counters["session_storm.evictions_again"]++
			} else {
				kept = append(kept, h)
			}
		}
		s.held = kept
		if v := s.suite.Violation(); v != nil && s.broken == "" {
			s.broken = v.Error()
		}
		if failures := s.c.Failures(); len(failures) > 0 && s.broken == "" {
			s.broken = fmt.Sprintf("replica %d fail-stopped: %s", failures[0].Node, failures[0].Message)
		}
		if s.broken != "" {
			return false
		}
	}
	return true
}

// follow replays a committed prepare's batch (count u16, then per entry client u64, session
// u64, request u32, operation u8, size u32, payload) on the episode's own table: the ops
// whose registers opened, evicted and opened again one client's session are counted.
func (s *sessionStorm) follow(op uint64, prepare []byte) {
	if len(prepare) < vsr.HeaderSize+2 {
		return
	}
	b := prepare[vsr.HeaderSize:]
	count := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	registers := 0
	evicted := map[uint64]bool{}
	for i := 0; i < count && len(b) >= 25; i++ {
		client, operation, size := binary.LittleEndian.Uint64(b), vsr.Operation(b[20]), int(binary.LittleEndian.Uint32(b[21:]))
		b = b[25:]
		if size > len(b) {
			return
		}
		b = b[size:]
		if operation != vsr.OperationRegister {
			continue
		}
		registers++
		if _, ok := s.model[client]; ok {
			continue
		}
		if len(s.model) >= s.p.table {
			oldest, first := uint64(0), true
			for c, registered := range s.model {
				if first || registered < s.model[oldest] || registered == s.model[oldest] && c < oldest {
					oldest, first = c, false
				}
			}
			if s.model[oldest] == op {
				evicted[oldest] = true
			}
			delete(s.model, oldest)
		}
		if evicted[client] {
			s.counters["session_storm.reopened"]++
		}
		s.model[client] = op
	}
	if registers > 1 {
		s.counters["session_storm.batched_registers"]++
	}
}
