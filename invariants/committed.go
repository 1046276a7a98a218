package invariants

import "vopr/cluster/checksum"

// Read-only views of the committed history the checkers have seen, for a harness that holds a
// copy of a replica's state taken apart from the protocol (an operator's backup: swarm's
// storage export) to that history. They answer only what some replica reported; an op nobody
// executed is not known, and the caller must not treat that as a disagreement.

// CanonicalAt returns the header checksum of op's canonical prepare (the first any replica
// executed at op), if a replica has executed op.
func (s *Suite) CanonicalAt(op uint64) (checksum.Sum, bool) {
	if rec := s.canonical.record(op); rec != nil {
		return rec.sum, true
	}
	return checksum.Sum{}, false
}

// DigestAt returns the state-machine digest after op (the first a replica reported at
// commit_min op, or a checkpoint of op carried), if one was reported.
func (s *Suite) DigestAt(op uint64) (checksum.Sum, bool) {
	if rec := s.digests.digests.at(op); rec != nil {
		return rec.digest, true
	}
	return checksum.Sum{}, false
}

// HighestExecuted is the highest op any replica has executed (0 if none).
func (s *Suite) HighestExecuted() uint64 { return s.canonical.highest }
