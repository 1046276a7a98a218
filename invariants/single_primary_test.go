package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func TestSinglePrimaryPassesOnePrimaryPerView(t *testing.T) {
	var p singlePrimary
	require.Nil(t, p.inspect(10*ms, 1, normal(1, vsr.RolePrimary, 1, 3, 3)))
	// The old primary, partitioned, is still normal in view 1 while view 2 has its own.
	require.Nil(t, p.inspect(20*ms, 2, normal(2, vsr.RolePrimary, 2, 3, 3)))
	require.Nil(t, p.inspect(21*ms, 1, normal(1, vsr.RolePrimary, 1, 4, 3)))
	// A primary-to-be still in view change is not a normal primary.
	in := normal(0, vsr.RolePrimary, 2, 3, 3)
	in.Status = vsr.StatusViewChange
	require.Nil(t, p.inspect(22*ms, 0, in))
	require.Nil(t, p.inspect(23*ms, 0, normal(0, vsr.RoleBackup, 2, 3, 3)))
}

func TestSinglePrimaryFires(t *testing.T) {
	var p singlePrimary
	require.Nil(t, p.inspect(10*ms, 1, normal(1, vsr.RolePrimary, 4, 3, 3)))
	v := p.inspect(4100*ms, 2, normal(2, vsr.RolePrimary, 4, 5, 3))
	requireViolation(t, v, NameSinglePrimary, 2, 5, 4, 4100*ms)
	require.Contains(t, v.Message, "normal primary since 10.000ms is replica 1")
}
