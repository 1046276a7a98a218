package ops

import (
	"fmt"

	"vopr/cluster/vsr"
)

// The operator's requests a running replica serves (a real server's admin port: package
// server runs Serve on its event loop; kimberlite-cli asks with server/remote).
const (
	CommandStatus    = "status"     // ReplicaStatusReport
	CommandVersion   = "version"    // ReplicaVersion
	CommandIsolate   = "isolate"    // IsolationReport; reason required
	CommandUnisolate = "unisolate"  // IsolationReport
	CommandCompact   = "compact"    // CompactReport
	CommandDumpState = "dump-state" // StateDump
)

// NodeUp is a StateDump's node when the process answered.
const NodeUp = "up"

// Serve answers an operator's command on running replica r (index replica, whose file
// system is diskUsagePct full). done runs exactly once, with the command's report or an
// error: inside the call, or later from a disk completion (compact).
func Serve(r *vsr.Replica, replica int, diskUsagePct int, command, reason string, done func(any, error)) {
	switch command {
	case CommandStatus:
		done(ReplicaStatusOf(r.InspectState(), diskUsagePct), nil)
	case CommandVersion:
		done(VersionOf(r.Inspect()), nil)
	case CommandIsolate:
		if reason == "" {
			done(nil, fmt.Errorf("isolate: a --reason is required"))
			return
		}
		done(Isolate(r, replica, reason), nil)
	case CommandUnisolate:
		done(Unisolate(r, replica), nil)
	case CommandCompact:
		Compact(r, func(freed int64, err error) { done(CompactReport{Replica: replica, FreedBytes: freed}, err) })
	case CommandDumpState:
		done(DumpState(r, replica, NodeUp), nil)
	default:
		done(nil, fmt.Errorf("unknown command %q", command))
	}
}
