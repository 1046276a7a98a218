package scenarios

import (
	"strings"
	"testing"
)

// syncedKnownPlans is every plan the move draws.
func syncedKnownPlans() []syncedKnownPlan {
	var plans []syncedKnownPlan
	for head := uint64(1); head <= 12; head++ {
		for c := uint64(1); c <= head; c++ {
			for k := uint64(0); k <= min(3, head-c); k++ {
				for top := head; top <= head+3; top++ {
					for i := 0; i < 4; i++ {
						plans = append(plans, syncedKnownPlan{head: head, c: c, k: k, top: top, below: i&1 != 0, rewrite: i&2 != 0})
					}
				}
			}
		}
	}
	return plans
}

// TestStorageSyncedKnown runs the move over every plan it draws.
func TestStorageSyncedKnown(t *testing.T) {
	for _, p := range syncedKnownPlans() {
		if msg := checkSyncedKnown(1, p, nil); msg != "" {
			t.Errorf("%v: %s", p, msg)
		}
	}
}

// TestStorageSyncedKnownFires runs the plans with ops above the checkpoint under an engine
// that loses them at the install (the log cut after the checkpoint, as a repair that finds
// the ops above unchained to the anchor leaves it): the judge must see every one.
func TestStorageSyncedKnownFires(t *testing.T) {
	fired := 0
	for _, p := range syncedKnownPlans() {
		if p.c == p.head {
			continue
		}
		msg := checkSyncedKnown(1, p, func(x *sideEngine) {
			if err := x.wait(func(done func(error)) { x.s.TruncateAfter(p.c, done) }); err != nil {
				t.Fatalf("%v: the broken engine's cut: %v", p, err)
			}
		})
		if msg == "" {
			t.Errorf("%v: ops lost above the checkpoint passed", p)
			continue
		}
		if !strings.Contains(msg, "after the") && !strings.Contains(msg, "the repair of op") && !strings.Contains(msg, "Rewritable") {
			t.Errorf("%v: fired elsewhere: %s", p, msg)
		}
		fired++
	}
	if fired == 0 {
		t.Fatal("no plan with ops above the checkpoint")
	}
}
