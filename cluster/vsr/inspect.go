package vsr

// Read-only accessors for the harness's checkers, cheaper than Inspect (which computes the
// state machine's digest) where a checker needs one field on a hot path.

// CheckpointOp returns the op of the replica's newest durable checkpoint (Inspection's
// CheckpointOp).
func (r *Replica) CheckpointOp() uint64 { return r.checkpointOp }

// Configuration returns the replica's epoch, its configuration's outside slots and whether it
// is joining (Inspection's Epoch, Outside and Joining): the simulator reads them from every
// replica whenever it asks which configuration is the newest, and InspectState computed the
// digest and filled every other field for these three.
func (r *Replica) Configuration() (epoch uint32, outside uint16, joining bool) {
	return r.epoch, r.outside, r.joining
}

// DiskUsagePct returns the storage's disk usage in percent (Inspection's DiskUsagePct), for
// the operator's status, polled at every tick.
func (r *Replica) DiskUsagePct() int {
	if r.storage == nil {
		// Not open yet: the disk's own usage. A replica whose Open waits for space
		// (waitForSpace) reported 0%, and the disk alerts of its full disk resolved.
		return r.options.FS.Usage().Percent()
	}
	return r.storage.UsagePercent()
}

// Get reads key from the replica's executed state, outside the protocol: for tests and
// inspection, never for clients (a standby serves them through stale reads).
func (r *Replica) Get(key string) (string, bool) { return r.machine.Get(key) }
