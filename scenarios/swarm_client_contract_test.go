package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/sim"
)

// takingClient answers every request as taken (or refused, if refuses), and counts the calls.
type takingClient struct {
	refuses          bool
	submits, staleOf int
}

func (t *takingClient) Submit([]byte, func(client.Result)) bool { t.submits++; return !t.refuses }

func (t *takingClient) ReadStale(int, []byte, func(client.Result)) bool {
	t.staleOf++
	return !t.refuses
}

// TestProbeBusyFires: a busy client that takes another request or stale read is a violation,
// each kind of probe runs, and a client that refuses them passes.
func TestProbeBusyFires(t *testing.T) {
	rng := sim.Stream(1, "busy-probes")
	taking, refusing := &takingClient{}, &takingClient{refuses: true}
	var request, stale int
	for range 2000 {
		switch msg := probeBusy(rng, 2, taking, 3, 2); {
		case msg == "":
		case msg == "client 2 took a request while another was in flight":
			request++
		default:
			require.Regexp(t, `^client 2 took a stale read to replica [34] while a request was in flight$`, msg)
			stale++
		}
		require.Empty(t, probeBusy(rng, 2, refusing, 3, 2))
	}
	require.Positive(t, request)
	require.Positive(t, stale)
	require.Equal(t, request, taking.submits)
	require.Equal(t, stale, taking.staleOf)
	require.Positive(t, refusing.submits+refusing.staleOf)
}

// session is a client's registration as sessionProblem reads it.
type session struct {
	registered bool
	op         uint64
}

func (s session) Registered() bool { return s.registered }
func (s session) Session() uint64  { return s.op }

// TestSessionProblemFires: registered without a session is a violation; registered with
// one, or not registered, is not.
func TestSessionProblemFires(t *testing.T) {
	require.Equal(t, "client 1 counts itself registered but holds no session", sessionProblem(1, session{registered: true}))
	require.Empty(t, sessionProblem(1, session{registered: true, op: 7}))
	require.Empty(t, sessionProblem(1, session{}))
}

// busyFlag is a client's Busy as acceptedUnanswered reads it.
type busyFlag bool

func (b busyFlag) Busy() bool { return bool(b) }

// TestAcceptedUnansweredFires: an unregistered client that says it took the operation it was
// handed, and goes idle without completing it, is a violation; one that refuses it (a correct
// client registers first), or completes what it took, is not.
func TestAcceptedUnansweredFires(t *testing.T) {
	run := &swarmRun{}
	run.submitUnregistered(0, &takingClient{})
	run.submitUnregistered(1, &takingClient{refuses: true})
	require.Empty(t, run.acceptedUnanswered(0, busyFlag(true)), "still in flight")
	require.Equal(t, "client 0 is idle, but an operation it took (Submit returned true) never completed",
		run.acceptedUnanswered(0, busyFlag(false)))
	require.Empty(t, run.acceptedUnanswered(1, busyFlag(false)))
	run.noteCompleted(0)
	require.Empty(t, run.acceptedUnanswered(0, busyFlag(false)))
}
