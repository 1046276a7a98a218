package scenarios

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vopr/cluster/client"
	"vopr/cluster/kv"
	"vopr/invariants"
	"vopr/picture"
)

// failingPicture runs swarm seed 5 under a budget too small to converge (a liveness failure
// on 3 replicas with crashes, partitions and clock faults) and writes its picture.
func failingPicture(t *testing.T) (picture.Run, string) {
	t.Helper()
	s, _ := Lookup("swarm")
	o := Options{Seed: 5, TicksMax: 150, Picture: NewPicture()}
	r := s.Run(o)
	require.Equal(t, Liveness, r.Outcome, r.Reason)
	path := filepath.Join(t.TempDir(), "seed5.html")
	require.NoError(t, WritePicture(path, o.Picture, r, ReplayOf(o)))
	run := o.Picture.finish(r, ReplayOf(o))
	return run, path
}

// The picture of a failing seed holds every replica's states, the faults it saw, the
// clients' operations, the messages and the failure mark; its page embeds all of it.
func TestPictureOfAFailingSeed(t *testing.T) {
	run, path := failingPicture(t)
	require.Equal(t, 3+1, run.Replicas, "three replicas and the standby seed 5 draws")
	seen := map[int]bool{}
	for _, s := range run.States {
		seen[s.Replica] = true
	}
	require.Equal(t, map[int]bool{0: true, 1: true, 2: true, 3: true}, seen, "a lane of states per replica")
	require.NotEmpty(t, run.Ops)
	require.NotEmpty(t, run.Messages)
	require.NotNil(t, run.Failure)
	require.Equal(t, run.EndNs, run.Failure.AtNs, "a liveness failure is marked where the budget ran out")
	require.Equal(t, "vopr replay 5 --scenario swarm --ticks-max 150", run.Replay)
	kinds := map[string]bool{}
	for _, f := range run.Faults {
		kinds[f.Kind] = true
		require.LessOrEqual(t, f.FromNs, f.ToNs)
	}
	require.True(t, kinds["crash"], "seed 5 crashes a replica early: %v", kinds)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	data := regexp.MustCompile(`(?s)<script id="vopr-data" type="application/json">(.*?)</script>`).FindSubmatch(page)
	require.NotNil(t, data)
	var back picture.Run
	require.NoError(t, json.Unmarshal(data[1], &back))
	require.Equal(t, len(run.States), len(back.States))
	require.Equal(t, run.Failure, back.Failure)
}

// linearizabilityPicture is the picture of a hand-made linearizability failure (no run).
func linearizabilityPicture(t *testing.T) picture.Run {
	h := invariants.NewHistory()
	ack := func(r kv.Result, op uint64) client.Result {
		return client.Result{Outcome: client.OK, Reply: kv.EncodeResult(r), Op: op}
	}
	id := h.Invoke(0, kv.Op{Kind: kv.KindPut, Key: "k1", Value: "a"}, 0)
	h.Complete(id, ack(kv.Result{Status: kv.StatusOK}, 1), 10)
	id = h.Invoke(1, kv.Op{Kind: kv.KindGet, Key: "k1"}, 20)
	h.Complete(id, ack(kv.Result{Status: kv.StatusNotFound}, 2), 30) // stale: the put returned before
	v := h.Check()
	require.NotNil(t, v)
	p := NewPicture()
	p.history = h
	return p.finish(Result{Scenario: "swarm", Seed: 1, Outcome: Correctness, Reason: v.Error()}, Replay{})
}

// A linearizability failure's picture carries porcupine's visualisation of the key the
// violation names (the page's script links to it: TestPictureInHeadlessChromium).
func TestPictureCarriesPorcupineForALinearizabilityFailure(t *testing.T) {
	run := linearizabilityPicture(t)
	require.Equal(t, "k1", run.PorcupineKey)
	require.True(t, strings.Contains(string(run.Porcupine), "<html"), "porcupine's page")
	require.Len(t, run.Ops, 2)
}

// chromium finds a headless Chromium (Debian's chromium package), or skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no chromium on PATH: install Debian's chromium package (.ci/run does) to draw the picture in a browser")
	return ""
}

func headless(t *testing.T, browser string, args ...string) []byte {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1560,900"}
	cmd := exec.Command(browser, append(base, args...)...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("chromium did not finish within 60 s")
	}
	return []byte(stdout.String())
}

// The picture opens in headless Chromium: its script draws a lane for every replica and
// the failure mark, and the screenshot is not blank.
func TestPictureInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	run, path := failingPicture(t)
	dom := string(headless(t, browser, "--dump-dom", "file://"+path))
	for r := 0; r < run.Replicas; r++ {
		require.True(t, strings.Contains(dom, `id="lane-R`+string(rune('0'+r))+`"`), "replica %d's lane is drawn", r)
	}
	for _, want := range []string{`id="failure-mark"`, `class="fault fault-crash"`, `class="op"`, `id="message-table"`} {
		require.True(t, strings.Contains(dom, want), "the page draws %s", want)
	}
	lin := filepath.Join(t.TempDir(), "linearizability.html")
	f, err := os.Create(lin)
	require.NoError(t, err)
	require.NoError(t, picture.Write(f, linearizabilityPicture(t)))
	f.Close()
	dom = string(headless(t, browser, "--dump-dom", "file://"+lin))
	require.True(t, strings.Contains(dom, `id="porcupine-link"`), "a linearizability failure links porcupine's picture")
	shot := filepath.Join(t.TempDir(), "shot.png")
	headless(t, browser, "--screenshot="+shot, "file://"+path)
	shotFile, err := os.Open(shot)
	require.NoError(t, err)
	defer shotFile.Close()
	img, err := png.Decode(shotFile)
	require.NoError(t, err)
	inked, colors := ink(img)
	require.Greater(t, inked, 0.10, "at least a tenth of the screenshot is drawn")
	require.Greater(t, colors, 8, "lanes, faults and operations in their colors")
}

// ink returns the fraction of pixels that are not white and the number of distinct colors.
func ink(img image.Image) (float64, int) {
	b := img.Bounds()
	drawn, total := 0, 0
	colors := map[color.RGBA]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			total++
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				drawn++
			}
			colors[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 0}] = true
		}
	}
	return float64(drawn) / float64(total), len(colors)
}
