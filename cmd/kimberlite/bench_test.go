package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vopr/cluster/kv"
	"vopr/ops"
	"vopr/scenarios"
	"vopr/server/remote"
)

// BenchmarkRealCluster (`make bench-real`) loads three kimberlite processes on loopback
// with closed-loop clients, as the performance scenario loads its simulated cluster, at
// max-batch-size 1 and 32, and reports throughput and the p99/p99.9 commit latency the
// clients saw (request sent to reply received, acknowledged operations only), beside the
// scenario's prediction for the same settings (a seed whose batch size is 32, its client
// count) and the gap. b.N operations are measured per batch size, after every client's
// first operation (its session registration) has returned.

// performanceSeed finds the first seed whose performance scenario runs max-batch-size 1 and
// 32, and its client count.
func performanceSeed(b *testing.B) (uint64, int) {
	sc, ok := scenarios.Lookup("performance")
	if !ok {
		b.Fatal("no performance scenario")
	}
	clients := regexp.MustCompile(`clients=(\d+) max_batch_size=1,32 `)
	for seed := uint64(1); seed < 1000; seed++ {
		if m := clients.FindStringSubmatch(sc.Params(seed)); m != nil {
			n, _ := strconv.Atoi(m[1])
			return seed, n
		}
	}
	b.Fatal("no performance seed draws max-batch-size 32")
	return 0, 0
}

type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d)
	l.mu.Unlock()
}

func (l *latencies) quantileMs(q float64) float64 {
	slices.Sort(l.all)
	if len(l.all) == 0 {
		return 0
	}
	return float64(l.all[min(len(l.all)-1, int(q*float64(len(l.all))))]) / float64(time.Millisecond)
}

func BenchmarkRealCluster(b *testing.B) {
	seed, clients := performanceSeed(b)
	sc, _ := scenarios.Lookup("performance")
	predicted := sc.Run(scenarios.Options{Seed: seed})
	b.Logf("performance scenario seed %d: %s (simulated: %s)", seed, sc.Params(seed), predicted.Outcome)
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			if b.N < clients {
				return // the testing package's probe run (b.N = 1): too few operations to measure
			}
			opsPerSec, p99, p999 := loadRealCluster(b, clients, batch)
			name := fmt.Sprintf("batch_%d.", batch)
			simOps := float64(predicted.Counters[name+"ops_per_sec"])
			simP99 := float64(predicted.Counters[name+"p99_us"]) / 1000
			simP999 := float64(predicted.Counters[name+"p999_us"]) / 1000
			b.ReportMetric(opsPerSec, "ops/s")
			b.ReportMetric(p99, "p99-ms")
			b.ReportMetric(p999, "p99.9-ms")
			b.Logf("seed %d, max-batch-size %d, %d clients: real %.0f ops/s, p99 %.2f ms, p99.9 %.2f ms | simulated %.0f ops/s, p99 %.2f ms, p99.9 %.2f ms | real/simulated: throughput %.2fx, p99 %.2fx (runbook: > 50000 ops/s, p99 < 50 ms)",
				seed, batch, clients, opsPerSec, p99, p999, simOps, simP99, simP999, opsPerSec/simOps, p99/simP99)
		})
	}
}

// loadRealCluster runs b.N acknowledged-or-not operations through clients closed-loop
// clients against a fresh 3-process cluster at max-batch-size batch.
func loadRealCluster(b *testing.B, clients, batch int) (opsPerSec, p99, p999 float64) {
	c := newRealCluster(b, 3)
	c.startArgs = []string{"--max-batch-size", strconv.Itoa(batch)}
	for i := range c.addrs {
		c.start(i)
	}
	c.waitStatus("started", 20*time.Second, func(s ops.ClusterStatusReport) bool { return s.Healthy == 3 && s.Primary >= 0 })
	var sessions []*remote.Client
	for i := 0; i < clients; i++ {
		cl := remote.NewClient(testCluster, c.addrs)
		defer cl.Close()
		sessions = append(sessions, cl)
	}
	do := func(cl *remote.Client, i int64) (time.Duration, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		begin := time.Now()
		_, _, err := cl.Do(ctx, kv.Op{Kind: kv.KindPut, Key: fmt.Sprintf("k%d", i%1024), Value: "v"})
		return time.Since(begin), err == nil
	}
	var warm sync.WaitGroup
	for _, cl := range sessions { // registration and connections, outside the measure
		warm.Add(1)
		go func() { defer warm.Done(); do(cl, 0) }()
	}
	warm.Wait()
	var next atomic.Int64
	var lat latencies
	var wg sync.WaitGroup
	b.ResetTimer()
	begin := time.Now()
	for _, cl := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if d, ok := do(cl, i); ok {
					lat.add(d)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	b.StopTimer()
	for i := range c.addrs {
		c.terminate(i)
	}
	return float64(len(lat.all)) / elapsed.Seconds(), lat.quantileMs(0.99), lat.quantileMs(0.999)
}
