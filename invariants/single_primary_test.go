package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func TestSinglePrimaryPassesOnePrimaryPerView(t *testing.T) {
	var p singlePrimary
	require.Nil(t, p.inspect(10*ms, 1, ref(normal(1, vsr.RolePrimary, 1, 3, 3))))
	// The old primary, partitioned, is still normal in view 1 while view 2 has its own.
	require.Nil(t, p.inspect(20*ms, 2, ref(normal(2, vsr.RolePrimary, 2, 3, 3))))
	require.Nil(t, p.inspect(21*ms, 1, ref(normal(1, vsr.RolePrimary, 1, 4, 3))))
	// A primary-to-be still in view change is not a normal primary.
	in := normal(0, vsr.RolePrimary, 2, 3, 3)
	in.Status = vsr.StatusViewChange
	require.Nil(t, p.inspect(22*ms, 0, ref(in)))
	require.Nil(t, p.inspect(23*ms, 0, ref(normal(0, vsr.RoleBackup, 2, 3, 3))))
}

func TestSinglePrimaryFires(t *testing.T) {
	var p singlePrimary
	require.Nil(t, p.inspect(10*ms, 1, ref(normal(1, vsr.RolePrimary, 4, 3, 3))))
	v := p.inspect(4100*ms, 2, ref(normal(2, vsr.RolePrimary, 4, 5, 3)))
	requireViolation(t, v, NameSinglePrimary, 2, 5, 4, 4100*ms)
	require.Contains(t, v.Message, "normal primary since 10.000ms is replica 1")
}

// A failover's configuration (epoch 1) numbers its views afresh: its primary of view 4 is not
// the old configuration's, but two primaries of one view in one epoch still fire.
func TestSinglePrimaryPerEpoch(t *testing.T) {
	var p singlePrimary
	require.Nil(t, p.inspect(10*ms, 1, ref(normal(1, vsr.RolePrimary, 4, 3, 3))))
	promoted := normal(3, vsr.RolePrimary, 4, 5, 5)
	promoted.Epoch = 1
	require.Nil(t, p.inspect(20*ms, 3, ref(promoted)))
	other := normal(2, vsr.RolePrimary, 4, 6, 5)
	other.Epoch = 1
	requireViolation(t, p.inspect(30*ms, 2, ref(other)), NameSinglePrimary, 2, 6, 4, 30*ms)
}
