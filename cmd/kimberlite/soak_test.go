package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/invariants"
	"vopr/ops"
	"vopr/server/remote"
)

// The real-process soak (`make soak-real`, not in make test): three kimberlite processes on
// loopback under a client load of reads, puts, appends and compare-and-swaps on a few keys,
// while random replicas (the primary half of the time) are killed with SIGKILL and
// restarted, one at a time, for SOAK_REAL_DURATION. Then every key is read once more and
// the whole client history is checked with the simulator's checkers: linearizability
// (porcupine, invariants.History.Check) and acknowledged writes reading back
// (History.CheckReadBack). A server that exits by itself, or a cluster that does not
// return to three healthy replicas within a minute of a restart, fails the soak too.

const (
	soakClients   = 6
	soakKeys      = 24
	soakOpTimeout = 10 * time.Second
	// soakHealTimeout bounds the wait for three healthy replicas after a restart.
	soakHealTimeout = time.Minute
)

// soakHistory is the clients' history, shared by the workers (History is single-threaded).
type soakHistory struct {
	mu     sync.Mutex
	h      *invariants.History
	start  time.Time
	acked  int
	unsure int
}

func (s *soakHistory) invoke(client int, op kv.Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h.Invoke(client, op, int64(time.Since(s.start)))
}

// complete records an outcome: a result the client library reported, or indeterminate when
// the call timed out (the request may still commit).
func (s *soakHistory) complete(id int, r client.Result, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.h.Indeterminate(id)
		s.unsure++
		return
	}
	s.h.Complete(id, r, int64(time.Since(s.start)))
	if r.Outcome == client.OK {
		s.acked++
	} else {
		s.unsure++
	}
}

// run submits op as client index id through cl and records it; it returns the decoded
// result when the operation was acknowledged.
func (s *soakHistory) run(cl *remote.Client, id int, op kv.Op) (kv.Result, bool) {
	h := s.invoke(id, op)
	ctx, cancel := context.WithTimeout(context.Background(), soakOpTimeout)
	defer cancel()
	r, err := cl.Submit(ctx, kv.EncodeOp(op))
	s.complete(h, r, err)
	if err != nil || r.Outcome != client.OK {
		return kv.Result{}, false
	}
	res, err := kv.DecodeResult(r.Reply)
	return res, err == nil
}

// soakOp draws client id's next operation; seen is the last value it read of each key (a
// cas expects it). Values are unique and bracketed, so that one never contains another.
func soakOp(rng *rand.Rand, id, seq int, seen map[string]string) kv.Op {
	key := fmt.Sprintf("k%02d", rng.IntN(soakKeys))
	value := fmt.Sprintf("[%d.%d]", id, seq)
	switch p := rng.IntN(100); {
	case p < 40:
		return kv.Op{Kind: kv.KindGet, Key: key}
	case p < 75:
		return kv.Op{Kind: kv.KindPut, Key: key, Value: value}
	case p < 85:
		return kv.Op{Kind: kv.KindAppend, Key: key, Value: value}
	default:
		expected, ok := seen[key]
		return kv.Op{Kind: kv.KindCAS, Key: key, Value: value, Expected: expected, ExpectedAbsent: !ok}
	}
}

// soakWorker runs client id's operations until stop closes.
func soakWorker(s *soakHistory, cl *remote.Client, id int, seed uint64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	seen := map[string]string{}
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		op := soakOp(rng, id, seq, seen)
		res, ok := s.run(cl, id, op)
		if ok && (res.Status == kv.StatusOK || res.Status == kv.StatusMismatch) && res.Value != "" {
			seen[op.Key] = res.Value
		}
		switch {
		case ok && res.Status == kv.StatusOK && (op.Kind == kv.KindPut || op.Kind == kv.KindCAS):
			seen[op.Key] = op.Value
		case ok && res.Status == kv.StatusOK && op.Kind == kv.KindAppend:
			delete(seen, op.Key) // a cas expecting absence mismatches and learns the value
		}
	}
}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("SOAK_REAL_DURATION")
	if v == "" {
		t.Skip("the real-process soak runs from make soak-real (SOAK_REAL_DURATION)")
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "SOAK_REAL_DURATION")
	return d
}

func TestSoakReal(t *testing.T) {
	duration := soakDuration(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SOAK_REAL_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("soak-real: %v, seed %d (SOAK_REAL_SEED replays the draws, not the timing)", duration, seed)
	c := newRealCluster(t, 3)
	for i := range c.addrs {
		c.start(i)
	}
	c.waitHealthy(t, "started")
	s := &soakHistory{h: invariants.NewHistory(), start: time.Now()}
	stop := make(chan struct{})
	var workers sync.WaitGroup
	var clients []*remote.Client
	for id := 0; id < soakClients; id++ {
		cl := remote.NewClient(testCluster, c.addrs)
		clients = append(clients, cl)
		workers.Add(1)
		go func() {
			defer workers.Done()
			soakWorker(s, cl, id, seed, stop)
		}()
	}
	kills, primaryKills := c.killLoop(t, rand.New(rand.NewPCG(seed, 0xc0ffee)), time.Now().Add(duration), s)
	close(stop)
	workers.Wait()
	for _, cl := range clients {
		cl.Close()
	}
	c.waitHealthy(t, "after the last restart")
	final := readAll(t, s, c.addrs)

	begin := time.Now()
	lin := s.h.Check()
	rep, lost := s.h.CheckReadBack(final)
	t.Logf("soak-real: %d kill -9s survived (%d of the primary) in %v; %d operations checked (%d acknowledged, %d indeterminate) in %v",
		kills, primaryKills, duration, s.h.Len(), s.acked, s.unsure, time.Since(begin).Round(time.Millisecond))
	t.Logf("soak-real: linearizable: %s; acknowledged writes: %d, read back %d, superseded %d, lost %d",
		yesNo(lin == nil), rep.Acked, rep.ReadBack, rep.Superseded, rep.Acked-rep.ReadBack-rep.Superseded)
	require.Nil(t, lin, "linearizability")
	require.Nil(t, lost, "acknowledged writes read back")
	for i := range c.addrs {
		c.terminate(i)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// killLoop kills a replica with SIGKILL every 1 to 4 s (the primary half of the time),
// restarts it 0.2 to 3 s later and waits for the cluster to heal, until deadline.
func (c *realCluster) killLoop(t *testing.T, rng *rand.Rand, deadline time.Time, s *soakHistory) (kills, primaryKills int) {
	lastLog := time.Now()
	for time.Now().Before(deadline) {
		c.sleepWatching(t, time.Second+time.Duration(rng.Int64N(int64(3*time.Second))))
		victim := rng.IntN(len(c.addrs))
		if rng.IntN(2) == 0 {
			if p := c.statusNow().Primary; p >= 0 {
				victim = p
				primaryKills++
			}
		}
		c.kill9(victim)
		kills++
		c.sleepWatching(t, 200*time.Millisecond+time.Duration(rng.Int64N(int64(2800*time.Millisecond))))
		c.start(victim)
		c.waitHealthy(t, fmt.Sprintf("restart %d of replica %d", kills, victim))
		if time.Since(lastLog) > 30*time.Second {
			s.mu.Lock()
			t.Logf("soak-real: %d kills, %d operations so far", kills, s.h.Len())
			s.mu.Unlock()
			lastLog = time.Now()
		}
	}
	return kills, primaryKills
}

// statusNow asks the servers directly (the CLI's code, without a process per call).
func (c *realCluster) statusNow() ops.ClusterStatusReport {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return remote.ClusterStatus(ctx, testCluster, c.addrs)
}

// checkExits fails the test if a server exited without being told to.
func (c *realCluster) checkExits(t *testing.T) {
	for i := range c.procs {
		if err, ok := c.exitedByItself(i); ok {
			t.Fatalf("replica %d exited by itself: %v (its log is below)", i, err)
		}
	}
}

func (c *realCluster) sleepWatching(t *testing.T, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		c.checkExits(t)
		time.Sleep(min(100*time.Millisecond, time.Until(end)))
	}
}

// waitHealthy waits for three healthy replicas with a primary.
func (c *realCluster) waitHealthy(t *testing.T, what string) {
	deadline := time.Now().Add(soakHealTimeout)
	for {
		c.checkExits(t)
		s := c.statusNow()
		if s.Healthy == len(c.addrs) && s.Primary >= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the cluster did not heal within %v: %s", what, soakHealTimeout, s.Gist())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readAll reads every key once more, recorded in the history as one more client's
// operations, retrying a read that did not answer.
func readAll(t *testing.T, s *soakHistory, addrs []string) map[string]kv.Result {
	cl := remote.NewClient(testCluster, addrs)
	defer cl.Close()
	final := map[string]kv.Result{}
	for k := 0; k < soakKeys; k++ {
		key := fmt.Sprintf("k%02d", k)
		for attempt := 0; ; attempt++ {
			res, ok := s.run(cl, soakClients, kv.Op{Kind: kv.KindGet, Key: key})
			if ok {
				final[key] = res
				break
			}
			require.Less(t, attempt, 5, "final read of %s", key)
		}
	}
	return final
}
