package invariants

import "vopr/cluster/vsr"

// NameSinglePrimary checks that at most one replica is primary in normal status in any view
// (VRR 2012 §4.2: a view has one primary, and only a view change with a quorum makes it
// normal). Replicas in different views may each be a normal primary at once, legitimately:
// a partitioned old primary does not know it was replaced. The first normal primary seen in
// a view is remembered for the whole run, across crashes. Views are per configuration epoch:
// a failover's new configuration numbers its views afresh (it cannot know how far the lost
// one went), so the key is the epoch and the view.
const NameSinglePrimary = "single_primary"

type primaryRecord struct {
	replica int
	atNs    int64
}

type singlePrimary struct {
	primaries map[uint64]primaryRecord // epoch<<32 | view -> its normal primary; views are few
}

func (p *singlePrimary) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
	if in.Status != vsr.StatusNormal || in.Role != vsr.RolePrimary {
		return nil
	}
	key := uint64(in.Epoch)<<32 | uint64(in.View)
	first, ok := p.primaries[key]
	if !ok {
		if p.primaries == nil {
			p.primaries = make(map[uint64]primaryRecord)
		}
		p.primaries[key] = primaryRecord{replica: replica, atNs: atNs}
		return nil
	}
	if first.replica != replica {
		return violation(NameSinglePrimary, replica, in.Op, in.View, atNs,
			"is primary in normal status in view %d (epoch %d), whose normal primary since %s is replica %d",
			in.View, in.Epoch, formatNs(first.atNs), first.replica)
	}
	return nil
}
