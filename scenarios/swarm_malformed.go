package scenarios

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"vopr/cluster/client"
	"vopr/sim"
)

// The malformed-operation round: in some seeds, a few clients send, during the fault phase,
// one request whose body is not a valid key/value operation (a get with a value, a put
// carrying a CAS condition, an unknown kind or flag, a field longer than its bound, lengths
// that do not add up). A client library that encodes its operations never sends such bytes,
// so the workload never did, and the database's validation of what it prepares was never
// tested: a primary that lets one through prepares and executes bytes whose meaning the
// sender did not define (a put that ignores the condition its sender set runs
// unconditionally). A correct primary drops such a request unanswered; its client gives up
// after its last attempt.
//
// The rules below are the operation format as documented (kind, flags, key length u16,
// value length u32, expected length u32, then the three fields), written here apart from
// package kv's decoder, which is what they check. Two checks hold the database to them:
//   - the request is never answered with a reply (client.OK);
//   - no primary creates a prepare that carries its bytes (a reply lost on the way would
//     hide an execution from the first check).
//
// Each malformed body carries a marker unique in the run, so that finding it in a prepare's
// bytes is proof that the primary took it. The round draws from its own stream
// (swarm_malformed), so the seeds without it run as before.

// Operation format, as documented: the sizes of the header and the bounds of its fields,
// and the kinds' numbers on the wire.
const (
	malformedHeaderSize = 1 + 1 + 2 + 4 + 4
	malformedKeyMax     = 128
	malformedValueMax   = 1024
	wireGet             = 1
	wirePut             = 2
	wireAppend          = 3
	wireCAS             = 4
	wireDelete          = 5
	wireExpectedAbsent  = 1 // the flags byte's only defined bit
)

// malformedOneIn is how many seeds share one with the round; malformedOpsMax bounds the
// malformed requests of a run (each keeps its client busy until it gives up).
const (
	malformedOneIn  = 3
	malformedOpsMax = 4
)

// malformedShot is one malformed request: its client, when it is due, and once sent its
// body and the rule it breaks.
type malformedShot struct {
	client int
	at     sim.Time
	sent   bool
	body   []byte
	rule   string
}

// malformedOps is the round's plan for a run; nil when the seed does not draw it.
type malformedOps struct {
	rng   *rand.Rand
	shots []malformedShot
	// last is the latest a shot may be sent: one sent later could still be retried when
	// the fault phase ends, and hold its client from the requests the liveness phase counts
	// (soak seed 7590380379739322507: the one client, busy until after the heal, then sent
	// two malformed requests and was never served again within the window).
	last sim.Time
	// sent counts the malformed requests sent, refused those given up on or evicted (what
	// a correct cluster does with each).
	sent, refused uint64
}

// counters reports the round's coverage (zero when the seed does not draw it).
func (m *malformedOps) counters(counters map[string]uint64) {
	counters["coverage.mark.malformed.sent"] += 0
	counters["coverage.mark.malformed.refused"] += 0
	if m != nil {
		counters["coverage.mark.malformed.sent"] += m.sent
		counters["coverage.mark.malformed.refused"] += m.refused
	}
}

// drawMalformed plans the run's malformed requests: due before the fault phase ends by
// more than a request's whole retry budget, so that each is given up before the heal.
func drawMalformed(seed uint64, clients, faultTicks int) *malformedOps {
	rng := sim.Stream(seed, "swarm_malformed")
	if rng.IntN(malformedOneIn) != 0 || clients == 0 {
		return nil
	}
	budget := sim.Time((clientAttemptsMax + 4) * clientRetryPeriod)
	last := sim.Time(faultTicks)*sim.Time(sim.TickInterval) - budget
	if last <= 0 {
		return nil
	}
	m := &malformedOps{rng: rng, last: last}
	for n := 1 + rng.IntN(malformedOpsMax); n > 0; n-- {
		m.shots = append(m.shots, malformedShot{client: rng.IntN(clients), at: sim.Time(rng.Int64N(int64(last)))})
	}
	return m
}

// due returns the index of client i's next unsent shot that is due at now, or -1 (always
// after last: a shot its client was too busy to send in time is not sent).
func (m *malformedOps) due(i int, now sim.Time) int {
	if m == nil || now > m.last {
		return -1
	}
	for k := range m.shots {
		if s := &m.shots[k]; !s.sent && s.client == i && s.at <= now {
			return k
		}
	}
	return -1
}

// submitMalformed sends shot k's malformed request from client i (idle and registered) and
// holds its outcome to the round's first check.
func (run *swarmRun) submitMalformed(i int, cl *client.Client, k int) {
	s := &run.malformed.shots[k]
	s.body, s.rule = malformedBody(run.malformed.rng, fmt.Sprintf("malformed-%d-%d", i, k))
	s.sent = true
	run.malformed.sent++
	run.c.Trace.Emitf(sim.LevelShort, run.c.ClientNode(i), "nemesis", "malformed: client %d sends %s", i, s.rule)
	accepted := cl.Submit(s.body, func(r client.Result) {
		run.noteCompleted(i)
		if r.Outcome != client.OK {
			run.malformed.refused++
		}
		if r.Outcome == client.OK && run.checked {
			run.broken = cmp.Or(run.broken, fmt.Sprintf("client %d's malformed operation (%s) was answered at op %d: "+
				"the database executed bytes that are no valid operation", i, s.rule, r.Op))
		}
	})
	if !accepted {
		panic("swarm: an idle, registered client refused a malformed request")
	}
	run.noteAccepted(i)
}

// checkMalformedPrepared is the round's second check, on a prepare msg that replica from
// created at op: it must carry no malformed body.
func (run *swarmRun) checkMalformedPrepared(from int, op uint64, msg []byte) string {
	if run.malformed == nil {
		return ""
	}
	for _, s := range run.malformed.shots {
		if s.sent && bytes.Contains(msg, s.body) {
			return fmt.Sprintf("replica %d prepared op %d carrying a malformed operation (%s): the primary took "+
				"bytes that are no valid operation", from, op, s.rule)
		}
	}
	return ""
}

// malformedBody returns the bytes of an operation that breaks one rule of the format, and
// the rule. marker (unique in the run) lies in the body whole.
func malformedBody(rng *rand.Rand, marker string) ([]byte, string) {
	key, value := marker, "v"
	switch rng.IntN(11) {
	case 0:
		kind := []byte{0, 6, 7, 0x80, 0xff}[rng.IntN(5)]
		return wireOp(kind, 0, key, value, ""), fmt.Sprintf("kind %d, which no release defines", kind)
	case 1:
		kind := []byte{wireGet, wireDelete}[rng.IntN(2)]
		return wireOp(kind, 0, key, value, ""), fmt.Sprintf("%s with a value", wireKindName(kind))
	case 2:
		kind := []byte{wireGet, wirePut, wireAppend, wireDelete}[rng.IntN(4)]
		return wireOp(kind, 0, key, wireValueOf(kind), "x"), fmt.Sprintf("%s with an expected value", wireKindName(kind))
	case 3:
		kind := []byte{wireGet, wirePut, wireAppend, wireDelete}[rng.IntN(4)]
		return wireOp(kind, wireExpectedAbsent, key, wireValueOf(kind), ""),
			fmt.Sprintf("%s with the expected-absent flag", wireKindName(kind))
	case 4:
		return wireOp(wireCAS, wireExpectedAbsent, key, value, "x"), "cas expecting absence and a value at once"
	case 5:
		flags := byte(2 << rng.IntN(7))
		return wireOp(wirePut, flags, key, value, ""), fmt.Sprintf("put with the undefined flag bits %#x", flags)
	case 6:
		return wireOp(wirePut, 0, "", marker, ""), "put of an empty key"
	case 7:
		long := marker + string(bytes.Repeat([]byte{'k'}, malformedKeyMax+1-len(marker)))
		return wireOp(wirePut, 0, long, value, ""), fmt.Sprintf("put of a key of %d bytes", len(long))
	case 8:
		long := marker + string(bytes.Repeat([]byte{'v'}, malformedValueMax+1-len(marker)))
		return wireOp(wirePut, 0, "k", long, ""), fmt.Sprintf("put of a value of %d bytes", len(long))
	case 9:
		b := append(wireOp(wirePut, 0, key, value, ""), 'z')
		return b, "put with a byte past its fields"
	default:
		b := wireOp(wirePut, 0, key, value+"w", "")
		return b[:len(b)-1], "put whose value is a byte short of its length"
	}
}

// wireOp encodes an operation in the documented format, whatever its fields.
func wireOp(kind, flags byte, key, value, expected string) []byte {
	b := make([]byte, malformedHeaderSize, malformedHeaderSize+len(key)+len(value)+len(expected))
	b[0], b[1] = kind, flags
	binary.LittleEndian.PutUint16(b[2:], uint16(len(key)))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(value)))
	binary.LittleEndian.PutUint32(b[8:], uint32(len(expected)))
	b = append(b, key...)
	b = append(b, value...)
	return append(b, expected...)
}

// wireValueOf is a value the kind may carry: none for a get or a delete.
func wireValueOf(kind byte) string {
	if kind == wireGet || kind == wireDelete {
		return ""
	}
	return "v"
}

func wireKindName(kind byte) string {
	switch kind {
	case wireGet:
		return "get"
	case wirePut:
		return "put"
	case wireAppend:
		return "append"
	case wireCAS:
		return "cas"
	case wireDelete:
		return "delete"
	}
	return fmt.Sprintf("kind %d", kind)
}
