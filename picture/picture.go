package picture

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
)

// Run is everything a picture shows. Times are simulated nanoseconds since the run began.
type Run struct {
	Scenario  string `json:"scenario"`
	Seed      uint64 `json:"seed"`
	Params    string `json:"params"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason"`
	TraceHash string `json:"trace_hash"`
	Replay    string `json:"replay"`
	EndNs     int64  `json:"end"`
	Replicas  int    `json:"replicas"`
	Clients   int    `json:"clients"`
	// States are the replicas' status changes: each holds until the replica's next one.
	States []State `json:"states"`
	// Faults are periods during which a fault held a replica.
	Faults []Fault `json:"faults"`
	// Marks are instants: nemesis actions, disk faults, fail-stops, alerts, operator actions.
	Marks []Mark `json:"marks"`
	// Ops are the clients' operations.
	Ops []Op `json:"ops"`
	// Messages are the messages sent (the newest MessagesMax of them, if there were more).
	Messages        []Message `json:"messages"`
	MessagesOmitted int       `json:"messages_omitted"`
	// Log holds the short-level trace lines, for the window's table (the newest LogMax).
	Log        []LogLine `json:"log"`
	LogOmitted int       `json:"log_omitted"`
	Failure    *Failure  `json:"failure,omitempty"`
	// PorcupineKey and porcupine: porcupine's visualisation of a linearizability failure's key.
	PorcupineKey string `json:"porcupine_key,omitempty"`
	Porcupine    []byte `json:"-"`
}

// State is a replica's status line from AtNs on.
type State struct {
	Replica int    `json:"r"`
	AtNs    int64  `json:"t"`
	Status  string `json:"s"` // vsr status, or crashed
	Role    string `json:"role,omitempty"`
	Paused  bool   `json:"p,omitempty"`
	View    uint32 `json:"v"`
	Op      uint64 `json:"op"`
	Commit  uint64 `json:"c"`
	Text    string `json:"x"`
}

// Fault is a period of one fault kind on one replica (Replica -1: the whole cluster).
type Fault struct {
	Replica int    `json:"r"`
	Kind    string `json:"k"` // crash, pause, partition, clock, slow_disk, full_disk
	FromNs  int64  `json:"f"`
	ToNs    int64  `json:"t"`
	Text    string `json:"x,omitempty"`
}

// Mark is an instant on a node's lane (Node -1: the world).
type Mark struct {
	Node int    `json:"n"`
	AtNs int64  `json:"t"`
	Kind string `json:"k"`
	Text string `json:"x"`
}

// Op is a client operation: invoked at CallNs, returned at ReturnNs (-1: never).
type Op struct {
	Client   int    `json:"c"`
	CallNs   int64  `json:"f"`
	ReturnNs int64  `json:"t"`
	Op       string `json:"op"`
	Key      string `json:"key"`
	Outcome  string `json:"o"`
	Result   string `json:"res,omitempty"`
}

// Message is one packet: sent by From to To at SendNs, delivered at RecvNs (-1: never).
type Message struct {
	From   int    `json:"a"`
	To     int    `json:"b"`
	SendNs int64  `json:"s"`
	RecvNs int64  `json:"r"`
	Fate   string `json:"f,omitempty"` // "", "drop loss", "corrupt", "duplicate", ...
	Text   string `json:"x"`
}

// LogLine is one line of the short log.
type LogLine struct {
	AtNs int64  `json:"t"`
	Node int    `json:"n"`
	Kind string `json:"k"`
	Text string `json:"x"`
}

// Failure is where the run failed.
type Failure struct {
	AtNs    int64  `json:"t"`
	Replica int    `json:"r"` // -1 if no single replica
	Text    string `json:"x"`
}

//go:embed picture.html.tmpl
var pageTemplate string

var page = template.Must(template.New("picture").Parse(pageTemplate))

// Write writes the picture of run as one HTML file.
func Write(w io.Writer, run Run) error {
	data, err := json.Marshal(run)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	err = page.Execute(&buf, struct {
		Title     string
		Data      template.JS
		Porcupine template.HTML // base64: nothing in it can leave the script element
	}{
		Title:     fmt.Sprintf("vopr %s seed %d: %s", run.Scenario, run.Seed, run.Outcome),
		Data:      template.JS(data),
		Porcupine: template.HTML(base64.StdEncoding.EncodeToString(run.Porcupine)),
	})
	if err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}
