package picture

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sample() Run {
	return Run{Scenario: "swarm", Seed: 7, Outcome: "correctness", Reason: `invariant x violated: </script><b>`, EndNs: 2e9,
		Replicas: 2, Clients: 1,
		States:   []State{{Replica: 0, AtNs: 0, Status: "normal", Role: "primary"}, {Replica: 1, AtNs: 0, Status: "normal"}},
		Faults:   []Fault{{Replica: 1, Kind: "crash", FromNs: 1e8, ToNs: 5e8}},
		Ops:      []Op{{Client: 0, CallNs: 1e7, ReturnNs: 2e7, Op: `put("k", "v")`, Outcome: "ok"}},
		Messages: []Message{{From: 0, To: 1, SendNs: 1, RecvNs: 5, Text: "[prepare v=0 op=1]"}},
		Failure:  &Failure{AtNs: 1e9, Replica: 1, Text: "boom"}, PorcupineKey: "k", Porcupine: []byte("<html>porcupine</html>")}
}

// The page carries the run as JSON, safely escaped, and porcupine's page in base64; it
// loads nothing from the network.
func TestWriteEmbedsTheRunAndNeedsNoNetwork(t *testing.T) {
	var out strings.Builder
	require.NoError(t, Write(&out, sample()))
	page := out.String()
	data := regexp.MustCompile(`(?s)<script id="vopr-data" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	require.NotNil(t, data, "the run's data is embedded")
	var back Run
	require.NoError(t, json.Unmarshal([]byte(data[1]), &back))
	want := sample()
	want.Porcupine = nil
	require.Equal(t, want, back)
	require.NotContains(t, data[1], "</script>", "text from the run cannot close the script element")
	b64 := regexp.MustCompile(`<script id="vopr-porcupine" type="text/plain">([^<]*)</script>`).FindStringSubmatch(page)
	require.NotNil(t, b64)
	decoded, err := base64.StdEncoding.DecodeString(b64[1])
	require.NoError(t, err)
	require.Equal(t, "<html>porcupine</html>", string(decoded))
	for _, remote := range []string{"<link", " src=", "https://", "@import", "fetch("} {
		require.NotContains(t, page, remote, "the page must not load anything")
	}
	require.NotContains(t, strings.ReplaceAll(page, "http://www.w3.org/2000/svg", ""), "http",
		"no URL but the SVG namespace's name")
}
