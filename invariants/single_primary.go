package invariants

import "vopr/cluster/vsr"

// NameSinglePrimary checks that at most one replica is primary in normal status in any view
// (VRR 2012 §4.2: a view has one primary, and only a view change with a quorum makes it
// normal). Replicas in different views may each be a normal primary at once, legitimately:
// a partitioned old primary does not know it was replaced. The first normal primary seen in
// a view is remembered for the whole run, across crashes.
const NameSinglePrimary = "single_primary"

type primaryRecord struct {
	replica int
	atNs    int64
}

type singlePrimary struct {
	primaries map[uint32]primaryRecord // view -> its normal primary; views are few
}

func (p *singlePrimary) inspect(atNs int64, replica int, in vsr.Inspection) *Violation {
	if in.Status != vsr.StatusNormal || in.Role != vsr.RolePrimary {
		return nil
	}
	first, ok := p.primaries[in.View]
	if !ok {
		if p.primaries == nil {
			p.primaries = make(map[uint32]primaryRecord)
		}
		p.primaries[in.View] = primaryRecord{replica: replica, atNs: atNs}
		return nil
	}
	if first.replica != replica {
		return violation(NameSinglePrimary, replica, in.Op, in.View, atNs,
			"is primary in normal status in view %d, whose normal primary since %s is replica %d",
			in.View, formatNs(first.atNs), first.replica)
	}
	return nil
}
