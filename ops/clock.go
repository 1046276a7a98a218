package ops

import "vopr/cluster/vsr"

// ReplicaClock is what a replica's process answers to `replica clock-offset`: its wall
// clock's reading as it answers, and its own verdict on it (clock_sync.go: whether a quorum
// of its peers' clocks agrees with it, and the correction it applies when one does).
type ReplicaClock struct {
	Replica         int   `json:"replica"`
	RealtimeNs      int64 `json:"realtime_ns"`
	Synchronized    bool  `json:"synchronized"`
	ClusterOffsetNs int64 `json:"cluster_offset_ns"`
}

// ClockOf is replica's answer: its inspection and its clock's realtime now.
func ClockOf(in vsr.Inspection, realtimeNs int64) ReplicaClock {
	return ReplicaClock{Replica: in.Replica, RealtimeNs: realtimeNs, Synchronized: in.ClockSynchronized,
		ClusterOffsetNs: in.ClockOffsetNs}
}

// ClockOffsetReport is `kimberlite-cli replica clock-offset --replica-id I`.
type ClockOffsetReport struct {
	Replica int `json:"replica"`
	// OffsetMs is the replica's wall clock minus the reference clock's at the same instant:
	// the operator's host's (the CLI's, read either side of the question) or, in the
	// simulator, true time. UncertaintyMs bounds the error of that reading (half the round
	// trip; 0 in the simulator).
	OffsetMs      float64 `json:"offset_ms"`
	UncertaintyMs float64 `json:"uncertainty_ms"`
	// Synchronized and ClusterOffsetMs are the replica's own view: whether a quorum of
	// clocks agrees with its own, and the correction it applies to timestamps.
	Synchronized    bool    `json:"synchronized"`
	ClusterOffsetMs float64 `json:"cluster_offset_ms"`
	// Desync: the offset exceeds the runbook's 500 ms (vsr.ClockToleranceNs), beyond the
	// uncertainty: "CLOCK DESYNC DETECTED".
	Desync bool `json:"desync"`
}

// ClockOffsetOf compares a replica's answer with the reference clock's reading at the
// instant it was taken (referenceNs, within uncertaintyNs).
func ClockOffsetOf(c ReplicaClock, referenceNs, uncertaintyNs int64) ClockOffsetReport {
	off := c.RealtimeNs - referenceNs
	abs := max(off, -off)
	return ClockOffsetReport{Replica: c.Replica, OffsetMs: ms(off), UncertaintyMs: ms(uncertaintyNs),
		Synchronized: c.Synchronized, ClusterOffsetMs: ms(c.ClusterOffsetNs),
		Desync: abs-uncertaintyNs > vsr.ClockToleranceNs}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }
