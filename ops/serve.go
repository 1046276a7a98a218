package ops

import (
	"fmt"
	"strconv"
	"strings"

	"vopr/cluster/vsr"
)

// The operator's requests a running replica serves (a real server's admin port: package
// server runs Serve on its event loop; kimberlite-cli asks with server/remote).
const (
	CommandStatus      = "status"       // ReplicaStatusReport
	CommandVersion     = "version"      // ReplicaVersion
	CommandIsolate     = "isolate"      // IsolationReport; reason required
	CommandUnisolate   = "unisolate"    // IsolationReport
	CommandCompact     = "compact"      // CompactReport
	CommandDumpState   = "dump-state"   // StateDump
	CommandConfig      = "config"       // vsr.Config: the replica's current configuration
	CommandConfigSet   = "config-set"   // vsr.Config after ConfigApply(Key, Value)
	CommandClock       = "clock"        // ReplicaClock
	CommandLag         = "lag"          // ReplicaLag
	CommandViewChanges = "view-changes" // []ViewChange since SinceNs
	CommandExport      = "export"       // ExportReport; the backup follows the answer
	CommandThrottle    = "throttle"     // ThrottleReport; Value is the max qps
	CommandFailover    = "failover"     // FailoverReport; Value: "", "approve" or "approve,force"
	CommandReconfig    = "reconfig"     // ReconfigReport; Key: the change, Value: the slot (ReconfigRequest)
)

// Request is an operator's command to one replica's process.
type Request struct {
	Command string `json:"command"`
	Reason  string `json:"reason,omitempty"`   // isolate
	Key     string `json:"key,omitempty"`      // config-set
	Value   string `json:"value,omitempty"`    // config-set
	SinceNs int64  `json:"since_ns,omitempty"` // view-changes: wall time, Unix ns
}

// Host is what the replica's host knows that the replica does not: its index, its file
// system's usage, its wall clock's reading now, the lag it measured, the view changes it
// logged, the cluster's slot counts (its addresses) and why the replica stopped, if it did.
type Host struct {
	Replica      int
	DiskUsagePct int
	RealtimeNs   int64
	LagMs        int64
	ViewChanges  *ViewChangeLog
	ReplicaCount int
	StandbyCount int
	StopReason   string
}

// status is the replica's status with what its host adds: the configuration named with the
// slot counts, and why it stopped.
func (h Host) status(r *vsr.Replica) ReplicaStatusReport {
	s := ReplicaStatusOf(r.InspectState(), h.DiskUsagePct)
	switch {
	case s.Joining:
		s.Configuration = "joining: outside the configuration until cluster reconfig adds it"
	case h.ReplicaCount > 0:
		s.Configuration = ConfigurationText(s.Epoch, s.Outside, h.ReplicaCount, h.StandbyCount)
	}
	if s.Status == vsr.StatusStopped.String() {
		s.Reason = h.StopReason
		s.Removed = s.Removed || strings.HasPrefix(h.StopReason, RemovedPrefix)
	}
	return s
}

// RemovedPrefix starts the status of a replica that stopped because a configuration left it
// out (vsr/reconfig.go).
const RemovedPrefix = "stopped: removed from the cluster"

// NodeUp is a StateDump's node when the process answered.
const NodeUp = "up"

// Serve answers an operator's command on running replica r. done runs exactly once, with
// the command's report or an error: inside the call, or later from a disk completion
// (compact, export).
func Serve(r *vsr.Replica, h Host, req Request, done func(any, error)) {
	switch req.Command {
	case CommandStatus:
		done(h.status(r), nil)
	case CommandVersion:
		done(VersionOf(r.Inspect()), nil)
	case CommandIsolate:
		if req.Reason == "" {
			done(nil, fmt.Errorf("isolate: a --reason is required"))
			return
		}
		done(Isolate(r, h.Replica, req.Reason), nil)
	case CommandUnisolate:
		done(Unisolate(r, h.Replica), nil)
	case CommandCompact:
		Compact(r, func(freed int64, err error) { done(CompactReport{Replica: h.Replica, FreedBytes: freed}, err) })
	case CommandDumpState:
		done(DumpState(r, h.Replica, NodeUp), nil)
	case CommandConfig:
		done(r.Config(), nil)
	case CommandConfigSet:
		cfg, err := ConfigApply(r.Config(), req.Key, req.Value)
		if err == nil {
			err = r.SetConfig(cfg)
		}
		done(r.Config(), err)
	case CommandThrottle:
		qps, err := strconv.Atoi(req.Value)
		if err != nil || qps < 0 {
			done(nil, fmt.Errorf("standby throttle: --max-qps %q: want a count of reads per second, 0 for no limit", req.Value))
			return
		}
		done(StandbyThrottle(r, h.Replica, qps))
	case CommandFailover:
		approve, force := strings.Contains(req.Value, "approve"), strings.Contains(req.Value, "force")
		Failover(r, h.DiskUsagePct, approve, force, done)
	case CommandReconfig:
		change, err := changeOf(req)
		if err != nil {
			done(nil, err)
			return
		}
		done(Reconfigure(r, h.Replica, change))
	case CommandClock:
		done(ClockOf(r.InspectState(), h.RealtimeNs), nil)
	case CommandLag:
		done(ReplicaLag{ReplicaStatusReport: h.status(r), LagMs: h.LagMs}, nil)
	case CommandViewChanges:
		if h.ViewChanges == nil {
			done(nil, fmt.Errorf("view-changes: this host keeps no view-change log"))
			return
		}
		done(h.ViewChanges.Since(req.SinceNs), nil)
	case CommandExport:
		Export(r, h.Replica, func(rep ExportReport, err error) { done(rep, err) })
	default:
		done(nil, fmt.Errorf("unknown command %q", req.Command))
	}
}
