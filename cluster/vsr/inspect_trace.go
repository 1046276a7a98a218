package vsr

// TraceState is the part of a replica's state its one-line status shows in the trace
// (vopr --log short) and in the picture of a run: cheap to read after every event, unlike
// Inspect, which computes the state machine's digest.
type TraceState struct {
	Status     Status
	Role       Role
	View       uint32
	Epoch      uint32 // the configuration epoch (reconfig.go)
	Release    uint32 // the release of the binary it runs
	Op         uint64
	CommitMin  uint64
	CommitMax  uint64
	Checkpoint uint64
}

// TraceState returns the replica's status line state. It reads only.
func (r *Replica) TraceState() TraceState {
	return TraceState{Status: r.status, Role: r.role(), View: r.view, Epoch: r.epoch, Release: r.options.Release,
		Op: r.op, CommitMin: r.commitMin, CommitMax: r.commitMax, Checkpoint: r.checkpointOp}
}
