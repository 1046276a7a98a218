package invariants

import (
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/vsr"
)

func TestDigestAgreementPasses(t *testing.T) {
	var d digestAgreement
	require.Nil(t, d.inspect(10*ms, 0, ref(normal(0, vsr.RolePrimary, 1, 5, 5))))
	require.Nil(t, d.inspect(20*ms, 1, ref(normal(1, vsr.RoleBackup, 1, 5, 3))))
	require.Nil(t, d.inspect(30*ms, 1, ref(normal(1, vsr.RoleBackup, 1, 5, 5))))
	// A stopped replica may hold a half-installed state: not compared.
	broken := normal(2, vsr.RoleBackup, 1, 5, 5)
	broken.Status, broken.Digest = vsr.StatusStopped, sum("empty")
	require.Nil(t, d.inspect(40*ms, 2, ref(broken)))
	// An op far past the rest goes to the sparse table and is still compared.
	require.Nil(t, d.inspect(50*ms, 2, ref(normal(2, vsr.RoleBackup, 1, 1<<40, 1<<40))))
	require.Nil(t, d.inspect(60*ms, 0, ref(normal(0, vsr.RoleBackup, 1, 1<<40, 1<<40))))
}

func TestDigestAgreementFires(t *testing.T) {
	var d digestAgreement
	require.Nil(t, d.inspect(10*ms, 0, ref(normal(0, vsr.RolePrimary, 2, 8, 7))))
	diverged := normal(2, vsr.RoleBackup, 3, 9, 7)
	diverged.Digest = sum("another state")
	v := d.inspect(5*1000*ms, 2, ref(diverged))
	requireViolation(t, v, NameDigestAgreement, 2, 7, 3, 5000*ms)
	require.Contains(t, v.Message, "but replica 0 had digest")

	sparse := normal(1, vsr.RoleBackup, 3, 1<<40, 1<<40)
	require.Nil(t, d.inspect(6000*ms, 1, ref(sparse)))
	sparse.Digest = sum("other")
	requireViolation(t, d.inspect(6100*ms, 0, ref(sparse)), NameDigestAgreement, 0, 1<<40, 3, 6100*ms)
}

func TestOpTableDenseAndSparse(t *testing.T) {
	var tab opTable[int]
	tab.put(1<<20, 7) // far ahead: sparse
	tab.put(3, 3)
	for op := uint64(0); op < 1<<20; op += 1 << 15 {
		tab.put(op, int(op)) // grows the dense part up to the sparse entry, which moves
	}
	tab.put(1<<20+1, 1)
	v, ok := tab.get(1 << 20)
	require.True(t, ok)
	require.Equal(t, 7, v)
	require.Empty(t, tab.sparse)
	_, ok = tab.get(5)
	require.False(t, ok)
	v, ok = tab.get(3)
	require.True(t, ok)
	require.Equal(t, 3, v)
}
