package scenarios

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"

	"vopr/invariants"
	"vopr/picture"
	"vopr/sim"
)

// Picture collects a run's timeline while it runs, for package picture to draw (vopr
// replay --html, and the failures TestVOPR saves): it taps the trace (status lines,
// messages, nemesis actions, disk faults, fail-stops, alerts, operator actions) and samples
// each replica's faults every tick. It only reads: a run with a Picture has the same trace
// hash as one without.
type Picture struct {
	run     picture.Run
	c       *sim.Cluster
	history *invariants.History
	// open fault periods: key replica/kind -> index in run.Faults.
	open map[string]int
	// sent finds a message's send by its packet number, to pair it with its delivery.
	sent map[uint64]int
	// failStop is the time of the last fail-stop seen (the failure mark of a fail-stop).
	failStop sim.Time
}

// Limits on what a picture keeps (the newest): a long run sends millions of messages.
const (
	pictureMessagesMax = 60_000
	pictureLogMax      = 30_000
)

// NewPicture returns an empty Picture for Options.Picture.
func NewPicture() *Picture {
	return &Picture{open: map[string]int{}, sent: map[uint64]int{}}
}

// attach starts recording a run of cluster c (a later attach, such as the second load run
// of performance, starts over).
func (p *Picture) attach(c *sim.Cluster, history *invariants.History) {
	*p = *NewPicture()
	p.c, p.history = c, history
	p.run.Replicas, p.run.Clients = c.MemberCount(), c.ClientCount() // standbys have lanes too
	c.Trace.Tap = p.tap
}

// attachTrace points the run's trace at the log and the picture the options ask for.
func (run *swarmRun) attachTrace(o Options) {
	c := run.c
	c.Trace.Out, c.Trace.Level, c.Trace.KeepMax = o.Out, o.Log, o.TraceKeep
	if o.Picture != nil {
		run.picture = o.Picture
		o.Picture.attach(c, run.suite.History())
	}
}

var packetText = regexp.MustCompile(`^(send|recv|drop|replay) (\d+)->(\d+) #(\d+) len=\d+(.*)$`)

func (p *Picture) tap(r sim.Record) {
	switch {
	case r.Kind == "status" && r.Data != nil:
		p.status(r.At, r.Data.([]sim.ReplicaLine))
	case r.Kind == "network" && r.Level == sim.LevelFull:
		p.packet(r)
	default:
		p.mark(r)
	}
}

// status records the replicas whose line changed.
func (p *Picture) status(at sim.Time, lines []sim.ReplicaLine) {
	for _, l := range lines {
		s := picture.State{Replica: l.Replica, AtNs: int64(at), Status: l.Node.String(), Text: l.String()}
		if l.Up {
			st := l.State
			s.Status, s.Role, s.View, s.Op, s.Commit = st.Status.String(), st.Role.String(), st.View, st.Op, st.CommitMin
			s.Paused = l.Node == sim.NodePaused
		}
		if last := p.lastState(l.Replica); last != nil && last.Text == s.Text {
			continue
		}
		p.run.States = append(p.run.States, s)
	}
}

func (p *Picture) lastState(replica int) *picture.State {
	for i := len(p.run.States) - 1; i >= 0; i-- {
		if p.run.States[i].Replica == replica {
			return &p.run.States[i]
		}
	}
	return nil
}

// packet pairs each send with its delivery (or drop) by packet number.
func (p *Picture) packet(r sim.Record) {
	m := packetText.FindStringSubmatch(r.Text)
	if m == nil {
		return
	}
	from, _ := strconv.Atoi(m[2])
	to, _ := strconv.Atoi(m[3])
	seq, _ := strconv.ParseUint(m[4], 10, 64)
	rest := strings.TrimSpace(m[5])
	switch m[1] {
	case "send":
		p.addMessage(seq, picture.Message{From: from, To: to, SendNs: int64(r.At), RecvNs: -1, Text: r.Detail})
		if strings.Contains(rest, "reorder") {
			p.run.Messages[len(p.run.Messages)-1].Fate = "reordered"
		}
	case "recv":
		if i, ok := p.sent[seq]; ok {
			p.run.Messages[i].RecvNs = int64(r.At)
			if strings.Contains(rest, "corrupt") {
				p.run.Messages[i].Fate = "corrupt"
			}
			delete(p.sent, seq)
		}
	case "drop":
		if i, ok := p.sent[seq]; ok {
			p.run.Messages[i].Fate = "drop " + strings.Fields(rest)[0]
			delete(p.sent, seq)
		} else {
			p.addMessage(seq, picture.Message{From: from, To: to, SendNs: int64(r.At), RecvNs: -1,
				Fate: "drop " + strings.Fields(rest)[0], Text: r.Detail})
			delete(p.sent, seq)
		}
	case "replay":
		if dup := strings.Fields(rest); len(dup) == 2 && dup[0] == "as" {
			n, _ := strconv.ParseUint(strings.TrimPrefix(dup[1], "#"), 10, 64)
			p.addMessage(n, picture.Message{From: from, To: to, SendNs: int64(r.At), RecvNs: -1, Fate: "duplicate", Text: r.Detail})
		}
	}
}

// addMessage keeps the newest pictureMessagesMax messages.
func (p *Picture) addMessage(seq uint64, m picture.Message) {
	if len(p.run.Messages) >= pictureMessagesMax {
		drop := pictureMessagesMax / 4
		p.run.Messages = append(p.run.Messages[:0:0], p.run.Messages[drop:]...)
		p.run.MessagesOmitted += drop
		for s, i := range p.sent {
			if i < drop {
				delete(p.sent, s)
			} else {
				p.sent[s] = i - drop
			}
		}
	}
	p.sent[seq] = len(p.run.Messages)
	p.run.Messages = append(p.run.Messages, m)
}

// mark keeps the short log and marks the instants worth a tick on a lane.
func (p *Picture) mark(r sim.Record) {
	if r.Level == sim.LevelFull {
		return
	}
	if len(p.run.Log) >= pictureLogMax {
		drop := pictureLogMax / 4
		p.run.Log = append(p.run.Log[:0:0], p.run.Log[drop:]...)
		p.run.LogOmitted += drop
	}
	p.run.Log = append(p.run.Log, picture.LogLine{AtNs: int64(r.At), Node: r.Node, Kind: r.Kind, Text: r.Text})
	kind := ""
	switch {
	case r.Kind == "nemesis":
		kind = "nemesis"
	case r.Kind == "disk" && strings.HasPrefix(r.Text, "fault "):
		kind = "disk fault"
	case r.Kind == "node" && strings.HasPrefix(r.Text, "fail-stop"):
		kind, p.failStop = "fail-stop", r.At
	case r.Kind == "alert", r.Kind == "operator":
		kind = r.Kind
	}
	if kind != "" {
		p.run.Marks = append(p.run.Marks, picture.Mark{Node: r.Node, AtNs: int64(r.At), Kind: kind, Text: r.Text})
	}
}

// sample records, once a tick, which faults hold each replica.
func (p *Picture) sample() {
	c := p.c
	now := int64(c.Loop.Now())
	for i := 0; i < c.MemberCount(); i++ {
		node := c.Nodes[i]
		p.hold(i, "crash", node.Status() == sim.NodeCrashed, now, "")
		p.hold(i, "pause", node.Status() == sim.NodePaused, now, "")
		p.hold(i, "partition", p.partitioned(i), now, "cut off from another replica")
		clock := node.Clock.ErrorNs()
		p.hold(i, "clock", clock > int64(sim.Millisecond) || clock < -int64(sim.Millisecond) || node.Clock.Options().DriftPPM != 0,
			now, "wall clock off true time or drifting")
		if node.Disk != nil {
			p.hold(i, "slow_disk", node.Disk.SlowMultiplier() > 1, now, "x"+strconv.Itoa(node.Disk.SlowMultiplier()))
			u := node.Disk.Usage()
			p.hold(i, "full_disk", u.Capacity > 0 && u.Used*100 >= u.Capacity*95, now, "usage >= 95%")
		}
	}
}

func (p *Picture) partitioned(i int) bool {
	for j := 0; j < p.c.MemberCount(); j++ {
		if j != i && (!p.c.Network.Connected(i, j) || !p.c.Network.Connected(j, i)) {
			return true
		}
	}
	return false
}

// hold opens or extends a fault period while on, and closes it when off.
func (p *Picture) hold(replica int, kind string, on bool, now int64, text string) {
	key := strconv.Itoa(replica) + "/" + kind
	i, open := p.open[key]
	switch {
	case on && open:
		p.run.Faults[i].ToNs = now
	case on:
		p.open[key] = len(p.run.Faults)
		p.run.Faults = append(p.run.Faults, picture.Fault{Replica: replica, Kind: kind, FromNs: now, ToNs: now, Text: text})
	case open:
		delete(p.open, key)
	}
}

var (
	failTick    = regexp.MustCompile(`\(tick (\d+)\)`)
	failReplica = regexp.MustCompile(`^(?:invariant \S+ violated: )?replica (\d+)`)
)

// finish fills in the verdict and the failure mark, and porcupine's visualisation of a
// linearizability failure's key.
func (p *Picture) finish(r Result, rp Replay) picture.Run {
	run := p.run
	run.Scenario, run.Seed, run.Params, run.Outcome = r.Scenario, r.Seed, r.Params, r.Outcome.String()
	run.Reason, run.TraceHash, run.EndNs = r.Reason, strconv.FormatUint(r.TraceHash, 16), int64(r.SimTime)
	for len(run.TraceHash) < 16 {
		run.TraceHash = "0" + run.TraceHash
	}
	if p.history != nil {
		for _, e := range p.history.Entries() {
			run.Ops = append(run.Ops, picture.Op{Client: e.Client, CallNs: e.CallNs, ReturnNs: e.ReturnNs, Op: e.Op,
				Key: e.Key, Outcome: e.Outcome, Result: e.Result})
		}
	}
	if r.Outcome == Pass {
		return run
	}
	run.Replay = rp.Command(r)
	f := &picture.Failure{AtNs: int64(r.SimTime), Replica: -1, Text: r.Outcome.String() + ": " + r.Reason}
	if m := failTick.FindStringSubmatch(r.Reason); m != nil {
		tick, _ := strconv.ParseInt(m[1], 10, 64)
		f.AtNs = tick * int64(sim.TickInterval)
	} else if strings.Contains(r.Reason, "fail-stopped") && p.failStop > 0 {
		f.AtNs = int64(p.failStop)
	}
	if m := failReplica.FindStringSubmatch(r.Reason); m != nil {
		f.Replica, _ = strconv.Atoi(m[1])
	}
	run.Failure = f
	if key, ok := invariants.ViolatedKey(r.Reason); ok && p.history != nil {
		var buf bytes.Buffer
		if err := p.history.Visualize(key, &buf); err == nil {
			run.PorcupineKey, run.Porcupine = key, buf.Bytes()
		}
	}
	return run
}

// WritePicture writes the picture of run r, recorded in p, to path.
func WritePicture(path string, p *Picture, r Result, rp Replay) error {
	var buf bytes.Buffer
	if err := picture.Write(&buf, p.finish(r, rp)); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
