package invariants

import (
	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// NameDigestAgreement checks that replicas that have executed up to the same op hold the
// same state: the first digest seen at each commit_min is remembered, and every later
// inspection of any replica at that commit_min (including after a restart, a re-execution
// or a state sync) must report it. The state machine is deterministic, so equal executed
// prefixes give equal digests; a difference is divergence, even where the canonical commit
// check passed (a state sync from a corrupt checkpoint, a lost client table). Checkpoint
// events carry the digest at their op and are checked the same way.
const NameDigestAgreement = "digest_agreement"

type digestRecord struct {
	digest  checksum.Sum
	replica int
	view    uint32
	atNs    int64
}

type digestAgreement struct {
	digests opTable[digestRecord]
}

func (d *digestAgreement) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
	if !running(in.Status) {
		return nil
	}
	first := d.digests.at(in.CommitMin)
	if first == nil {
		d.digests.put(in.CommitMin, digestRecord{digest: in.Digest, replica: replica, view: in.View, atNs: atNs})
		return nil
	}
	if first.digest != in.Digest {
		return violation(NameDigestAgreement, replica, in.CommitMin, in.View, atNs,
			"state digest %s at commit_min %d, but replica %d had digest %s at that op (view %d, at %s)",
			short(in.Digest), in.CommitMin, first.replica, short(first.digest), first.view, formatNs(first.atNs))
	}
	return nil
}
