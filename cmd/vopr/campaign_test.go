package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"vopr/report"
)

// A campaign whose stderr is not a terminal prints a plain progress line now and then (every
// 30 s; shortened here), prints each failure with its replay command when it is found, and
// ends with the verdict table, then the failures grouped by signature, then the counters.
func TestSwarmReportsAsItGoes(t *testing.T) {
	saved := progressPlainEvery
	progressPlainEvery = 20 * time.Millisecond
	t.Cleanup(func() { progressPlainEvery = saved })
	var out, errOut bytes.Buffer
	code := run([]string{"swarm", "--scenario", "echo", "--seed", "1", "--seeds", "6", "--ticks-max", "1"}, &out, &errOut)
	require.Equal(t, exitLiveness, code, errOut.String())
	require.Regexp(t, `(?m)^progress: \d+/6 seeds passed=\d+ failed=\d+ [\d.]+ seeds/s ETA \S+ elapsed \S+$`, errOut.String())
	stdout := out.String()
	found := strings.Index(stdout, "echo seed=1 FAIL liveness: ")
	table := strings.Index(stdout, "seeds     passed  failed")
	groups := strings.Index(stdout, "failures by signature:\n  6 x liveness: no pong arrived after the network healed\n    seeds: ")
	counters := strings.Index(stdout, "counters over 6 seed(s):")
	require.True(t, found >= 0 && table > found && groups > table && counters > groups,
		"failures as found, then the table, the groups and the counters:\n%s", stdout)
	require.Contains(t, stdout, "  replay: vopr replay 1 --scenario echo --ticks-max 1\n")
}

// openPTY opens a pseudo-terminal pair (Linux /dev/ptmx), for a child whose stderr must be
// a terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Skipf("unlockpt: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Skipf("ptsname: %v", errno)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal's slave: %v", err)
	}
	return master, slave
}

// buildVopr builds the command line into a temporary directory.
func buildVopr(t *testing.T) string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin := filepath.Join(t.TempDir(), "vopr")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// A 300-seed swarm on a terminal shows its progress line within 2 s; SIGINT a few seconds
// later stops it cleanly: exit 130, the summary of the seeds that finished, and valid
// partial JSON and JUnit reports that say so.
func TestSwarmOnATerminalShowsProgressAndStopsOnSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildVopr(t)
	master, slave := openPTY(t)
	defer master.Close()
	dir := t.TempDir()
	jsonPath, junitPath := filepath.Join(dir, "swarm.json"), filepath.Join(dir, "swarm.xml")
	cmd := exec.Command(bin, "swarm", "--seeds", "300", "--seed", "1", "--json", jsonPath, "--junit", junitPath)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, slave
	began := time.Now()
	require.NoError(t, cmd.Start())
	slave.Close()
	terminal := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				terminal <- string(buf[:n])
			}
			if err != nil {
				close(terminal)
				return
			}
		}
	}()
	var seen strings.Builder
	progress := regexp.MustCompile(`progress: \d+/300 seeds passed=\d+ failed=\d+`)
	deadline := time.After(2 * time.Second)
	for !progress.MatchString(seen.String()) {
		select {
		case s := <-terminal:
			seen.WriteString(s)
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no progress line on the terminal within 2 s: %q", seen.String())
		}
	}
	t.Logf("progress after %s: %q", time.Since(began).Round(time.Millisecond), progress.FindString(seen.String()))
	time.Sleep(3 * time.Second)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, stdout.String())
	require.Equal(t, report.ExitInterrupted, exit.ExitCode(), stdout.String())
	require.Contains(t, stdout.String(), "interrupted: the summary covers the ")
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var doc report.BatchJSON
	require.NoError(t, json.Unmarshal(data, &doc), "valid partial JSON")
	require.True(t, doc.Interrupted)
	require.Less(t, len(doc.Results), 300)
	require.Equal(t, "swarm", doc.Scenario)
	data, err = os.ReadFile(junitPath)
	require.NoError(t, err)
	var suite struct {
		Tests int `xml:"tests,attr"`
	}
	require.NoError(t, xml.Unmarshal(data, &suite), "valid partial JUnit")
	require.Equal(t, len(doc.Results), suite.Tests)
}
