package scenarios

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/sim"
)

// runLogged runs a seed at a log level and returns its result and its log.
func runLogged(t *testing.T, scenario string, o Options, level sim.Level) (Result, string) {
	t.Helper()
	s, ok := Lookup(scenario)
	require.True(t, ok)
	var out strings.Builder
	o.Log, o.Out = level, &out
	if level == sim.LevelNone {
		o.Out = nil
	}
	return s.Run(o), out.String()
}

// The log level, and drawing the picture (a trace tap), change what is printed, never the
// fingerprint: the notes and message details the levels add are not hashed.
func TestTraceHashIsTheSameAtEveryLogLevel(t *testing.T) {
	for _, c := range []struct {
		scenario string
		o        Options
	}{
		{"swarm", Options{Seed: 5, TicksMax: 400}},
		{"replica_crash", Options{Seed: 2}},
	} {
		quiet, _ := runLogged(t, c.scenario, c.o, sim.LevelNone)
		short, _ := runLogged(t, c.scenario, c.o, sim.LevelShort)
		full, _ := runLogged(t, c.scenario, c.o, sim.LevelFull)
		pictured := c.o
		pictured.Picture = NewPicture()
		s, _ := Lookup(c.scenario)
		drawn := s.Run(pictured)
		for _, r := range []Result{short, full, drawn} {
			require.Equal(t, quiet.TraceHash, r.TraceHash, "%s seed %d", c.scenario, c.o.Seed)
			require.Equal(t, quiet.Events, r.Events, "%s seed %d", c.scenario, c.o.Seed)
		}
	}
}

var (
	statusNote  = regexp.MustCompile(`(?m)^\s+\S+ --   status     R0 (normal|recovering|view_change) (primary|backup) v\d+ op=\d+ commit=\d+/\d+ ckpt=\d+ \| R1 `)
	requestNote = regexp.MustCompile(`(?m) client     c\d+ request req=\d+ (register|get|put|append|cas|delete) `)
	replyNote   = regexp.MustCompile(`(?m) client     c\d+ reply req=\d+ op=\d+ v=\d+ from r\d$`)
	retryNote   = regexp.MustCompile(`(?m) client     c\d+ timeout: no reply to req=\d+; retry \d+ -> r\d$`)
	decoded     = regexp.MustCompile(`(?m) network    send \d+->\d+ #\d+ len=\d+ d=\d+ \[prepare v=\d+ op=\d+ commit=\d+ replica=\d checksum=[0-9a-f]{8}\]$`)
	dropped     = regexp.MustCompile(`(?m) network    drop \d+->\d+ #\d+ len=\d+ (partition|loss|capacity) \[`)
	corrupted   = regexp.MustCompile(`(?m) network    recv \d+->\d+ #\d+ len=\d+ corrupt bit=\d+ \[\w+\? undecodable: `)
)

// --log short shows a status line of every replica when one changes and the clients'
// requests, retries and replies; --log full adds every message decoded, with drops and
// corrupted copies marked.
func TestLogShortAndFullSayWhatHappened(t *testing.T) {
	o := Options{Seed: 5}
	_, short := runLogged(t, "swarm", o, sim.LevelShort)
	require.Regexp(t, statusNote, short)
	require.Regexp(t, requestNote, short)
	require.Regexp(t, replyNote, short)
	require.Regexp(t, retryNote, short)
	require.NotRegexp(t, decoded, short, "messages only at full")
	// Without the standby seed 5 draws: its schedule, as the test was written, drops a packet.
	_, full := runLogged(t, "swarm", Options{Seed: 5, TicksMax: 1000, SwarmOverride: SwarmOverride{NoStandbys: true}},
		sim.LevelFull)
	require.Regexp(t, decoded, full)
	require.Regexp(t, dropped, full)
	require.Regexp(t, corrupted, full)
	require.Regexp(t, statusNote, full)
}

// The runbook scenarios log each operator action with its answer, and each alert firing
// and resolving.
func TestLogShortShowsOperatorActionsAndAlerts(t *testing.T) {
	_, short := runLogged(t, "replica_crash", Options{Seed: 2}, sim.LevelShort)
	for _, want := range []string{
		" operator   cluster status => healthy=3/3 quorum=true primary=0\n",
		" operator   replica status --replica-id 0 => replica 0: unreachable\n",
		" operator   storage verify --replica-id 0 --full-scan => verify found ",
		" operator   storage restore --replica-id 0 => done\n",
		" alert      P2 ReplicasUnhealthy firing at ",
		" alert      P2 ReplicasUnhealthy resolved at ",
	} {
		require.Contains(t, short, want)
	}
}
