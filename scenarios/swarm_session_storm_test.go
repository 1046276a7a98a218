package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// sessionStormSeeds returns the first n seeds from 2203000000 that draw the episode.
func sessionStormSeeds(t *testing.T, n int) []uint64 {
	var seeds []uint64
	for seed := uint64(2203000000); seed < 2203000050 && len(seeds) < n; seed++ {
		if _, ok := drawSessionStorm(seed); ok {
			seeds = append(seeds, seed)
		}
	}
	require.Len(t, seeds, n, "too few seeds draw the session storm")
	return seeds
}

// TestSessionStormDraw: the episode runs in about one seed in sessionStormOneIn, always with
// more clients than sessions.
func TestSessionStormDraw(t *testing.T) {
	drawn := 0
	for seed := uint64(2203000000); seed < 2203000400; seed++ {
		p, ok := drawSessionStorm(seed)
		if !ok {
			continue
		}
		drawn++
		require.True(t, p.table >= 1 && p.table <= 2, p.String())
		require.Greater(t, p.clients, p.table+2, p.String())
		require.GreaterOrEqual(t, p.storms, 6, p.String())
	}
	require.InDelta(t, 400/sessionStormOneIn, drawn, 40)
}

// TestSessionStormReopensSessions: the storms batch registers, and in those batches clients'
// sessions are opened, evicted and opened again within one op (the case of swarm seed
// 2042000048), while the unmutated cluster keeps the client's contract.
func TestSessionStormReopensSessions(t *testing.T) {
	for _, seed := range sessionStormSeeds(t, 2) {
		p, _ := drawSessionStorm(seed)
		s := runSessionStorm(Options{Seed: seed}, p, sessionStormKnobs{})
		require.Empty(t, s.broken, "seed %d (%s)", seed, p)
		require.Positive(t, s.counters["session_storm.batched_registers"], "seed %d (%s)", seed, p)
		require.Positive(t, s.counters["session_storm.reopened"], "seed %d (%s)", seed, p)
		require.Positive(t, s.counters["session_storm.evicted_clients"], "seed %d (%s)", seed, p)
		require.Positive(t, s.counters["session_storm.outcome.ok"], "seed %d (%s)", seed, p)
		require.Positive(t, s.counters["session_storm.evictions_again"], "seed %d (%s)", seed, p)
		require.Positive(t, s.counters["session_storm.checkpoints"], "seed %d (%s)", seed, p)
	}
}

// TestSessionStormJudgeSeesForgedEviction: a busy client told its live session is evicted (an
// eviction rewritten from the reply that gave it the session) fails the episode, by
// client_sessions.
func TestSessionStormJudgeSeesForgedEviction(t *testing.T) {
	seed := sessionStormSeeds(t, 1)[0]
	p, _ := drawSessionStorm(seed)
	s := runSessionStorm(Options{Seed: seed}, p, sessionStormKnobs{forgeEviction: true})
	require.Positive(t, s.counters["session_storm.forged"])
	require.Contains(t, s.broken, "client_sessions")
	require.Contains(t, s.broken, "still holds it")
}

// TestSessionStormVerdictJoinsSeed: a failed episode fails the seed that ran it, and names it.
func TestSessionStormVerdictJoinsSeed(t *testing.T) {
	seed := sessionStormSeeds(t, 1)[0]
	r := withSessionStorm(Options{Seed: seed}, Result{Outcome: Pass, Counters: map[string]uint64{}})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["session_storm.runs"])
	failed := withSessionStorm(Options{Seed: seed}, Result{Outcome: Liveness, Counters: map[string]uint64{}})
	require.Zero(t, failed.Counters["session_storm.runs"], "a failed seed runs no episode")
}
