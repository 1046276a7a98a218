package vsr

// Read-only accessors for the harness's checkers, cheaper than Inspect (which computes the
// state machine's digest) where a checker needs one field on a hot path.

// CheckpointOp returns the op of the replica's newest durable checkpoint (Inspection's
// CheckpointOp).
func (r *Replica) CheckpointOp() uint64 { return r.checkpointOp }
