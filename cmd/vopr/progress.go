package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"vopr/scenarios"
)

// progressPlainEvery is how often a campaign whose stderr is not a terminal (a CI log)
// prints a progress line.
var progressPlainEvery = 30 * time.Second

// progressTTYEvery is how often the progress line on a terminal is redrawn.
const progressTTYEvery = 250 * time.Millisecond

// progress reports a campaign as it goes, on stderr: on a terminal, one line redrawn in
// place (seeds done/total, passed, failed, seeds/s, ETA); otherwise a plain line every
// progressPlainEvery. Failures are printed on stdout as they are found (printFailure),
// clearing the terminal line first so the two never interleave.
type progress struct {
	mu       sync.Mutex
	stderr   io.Writer
	tty      bool
	total    int           // seeds planned; 0 with --duration
	duration time.Duration // the --duration, 0 with --seeds
	began    time.Time
	done     int
	passed   int
	failed   int
	quit     chan struct{}
	stopped  sync.WaitGroup
}

func newProgress(stderr io.Writer, total int, duration time.Duration) *progress {
	return &progress{stderr: stderr, tty: isTerminal(stderr), total: total, duration: duration,
		began: time.Now(), quit: make(chan struct{})}
}

// start draws the first line at once and then keeps it fresh until stop.
func (p *progress) start() {
	every := progressPlainEvery
	if p.tty {
		every = progressTTYEvery
		p.draw()
	}
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				p.draw()
			case <-p.quit:
				return
			}
		}
	}()
}

// stop ends the reports: it clears the terminal line, or prints a last plain one.
func (p *progress) stop() {
	close(p.quit)
	p.stopped.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.stderr, "\r\033[K")
		return
	}
	fmt.Fprintln(p.stderr, p.line())
}

// add counts a finished seed; a failure is printed at once on w with its replay command.
func (p *progress) add(w io.Writer, r scenarios.Result, replay scenarios.Replay) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if r.Outcome == scenarios.Pass {
		p.passed++
		return
	}
	p.failed++
	if p.tty {
		fmt.Fprint(p.stderr, "\r\033[K")
	}
	fmt.Fprintf(w, "%s seed=%d FAIL %s: %s\n  replay: %s\n", r.Scenario, r.Seed, r.Outcome, r.Reason, replay.Command(r))
	if p.tty {
		fmt.Fprint(p.stderr, p.line())
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.stderr, "\r\033[K"+p.line())
		return
	}
	fmt.Fprintln(p.stderr, p.line())
}

// line is the progress line: "progress: 12/300 seeds passed=12 failed=0 2.4 seeds/s ETA 2m0s".
func (p *progress) line() string {
	elapsed := time.Since(p.began)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed.Seconds()
	}
	total, eta := "?", "?"
	switch {
	case p.total > 0:
		total = fmt.Sprint(p.total)
		if rate > 0 {
			eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
		}
	case p.duration > 0:
		eta = max(p.duration-elapsed, 0).Round(time.Second).String()
	}
	return fmt.Sprintf("progress: %d/%s seeds passed=%d failed=%d %.1f seeds/s ETA %s elapsed %s",
		p.done, total, p.passed, p.failed, rate, eta, elapsed.Round(time.Second))
}

// isTerminal reports whether w is a terminal (a *os.File on a tty).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && fileIsTerminal(f)
}
