package scenarios

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/sim"
)

// Every rule of the malformed-operation round gives bytes that package kv refuses, that
// carry the run's marker whole, and every rule is reached.
func TestMalformedBodiesAreRefusedByKV(t *testing.T) {
	rng := sim.Stream(1, "test_malformed")
	rules := map[string]bool{}
	for n := 0; n < 2000; n++ {
		marker := fmt.Sprintf("malformed-%d-%d", n%8, n)
		body, rule := malformedBody(rng, marker)
		_, err := kv.DecodeOp(body)
		require.Error(t, err, "rule %q: kv decoded %x", rule, body)
		require.Error(t, kv.New().Validate(body), "rule %q", rule)
		require.True(t, bytes.Contains(body, []byte(marker)), "rule %q: the body lacks its marker", rule)
		rules[strings.TrimRight(strings.Split(rule, " ")[0], ",")] = true
	}
	require.GreaterOrEqual(t, len(rules), 6, "rules reached: %v", rules)
}

// A well-formed operation encoded by the round's own encoder is what package kv encodes:
// the round's format is the documented one, not a different one that kv refuses anyway.
func TestMalformedWireFormatIsKVs(t *testing.T) {
	for _, op := range []kv.Op{{Kind: kv.KindGet, Key: "k"}, {Kind: kv.KindPut, Key: "key", Value: "value"},
		{Kind: kv.KindAppend, Key: "a", Value: "b"}, {Kind: kv.KindCAS, Key: "c", Value: "new", Expected: "old"},
		{Kind: kv.KindCAS, Key: "c", Value: "new", ExpectedAbsent: true}, {Kind: kv.KindDelete, Key: "d"}} {
		flags := byte(0)
		if op.ExpectedAbsent {
			flags = wireExpectedAbsent
		}
		require.Equal(t, kv.EncodeOp(op), wireOp(byte(op.Kind), flags, op.Key, op.Value, op.Expected), "%+v", op)
	}
}

// The second check fires on a prepare that carries a sent malformed body, and only then.
func TestMalformedPreparedFires(t *testing.T) {
	body, rule := malformedBody(sim.Stream(2, "test_malformed"), "malformed-0-0")
	run := &swarmRun{malformed: &malformedOps{shots: []malformedShot{{client: 0, sent: true, body: body, rule: rule}}}}
	prepare := append(append([]byte("header and batch framing "), body...), "more entries"...)
	require.Contains(t, run.checkMalformedPrepared(1, 7, prepare), "replica 1 prepared op 7 carrying a malformed operation")
	require.Empty(t, run.checkMalformedPrepared(1, 7, []byte("a prepare of well-formed operations")))
	run.malformed.shots[0].sent = false
	require.Empty(t, run.checkMalformedPrepared(1, 7, prepare), "a body not sent yet is not looked for")
	run.malformed = nil
	require.Empty(t, run.checkMalformedPrepared(1, 7, prepare))
}

// A shot its client was too busy to send before the latest time that leaves its retries to
// end before the heal is never sent: sent after the heal, it held the only client of soak
// seed 7590380379739322507 from the requests the liveness phase counts.
func TestMalformedShotsExpireBeforeTheHeal(t *testing.T) {
	var m *malformedOps
	for seed := uint64(1); m == nil; seed++ {
		m = drawMalformed(seed, 1, swarmFaultTicksDefault)
	}
	k := m.due(0, m.last)
	require.GreaterOrEqual(t, k, 0, "every shot is due by the last moment")
	require.Equal(t, -1, m.due(0, m.last+1), "an unsent shot past the last moment")
	faultPhase := sim.Time(swarmFaultTicksDefault) * sim.Time(sim.TickInterval)
	require.LessOrEqual(t, m.last+sim.Time((clientAttemptsMax+1)*clientRetryPeriod), faultPhase,
		"a shot sent at the last moment is given up before the heal")
}
