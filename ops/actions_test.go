package ops

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
)

func TestClusterVersionOf(t *testing.T) {
	v := ClusterVersionOf([]ReplicaVersion{{Replica: 0, Release: 2, ClusterRelease: 1}, {Replica: 1},
		{Replica: 2, Release: 1, ClusterRelease: 1}})
	require.Equal(t, ClusterVersionReport{Binaries: []uint32{2, 0, 1}, Cluster: 1}, v)
	require.Equal(t, 1, v.Upgraded(2))
	require.Equal(t, []string{}, Features(kv.ReleaseBase).Features)
	require.Equal(t, []string{"delete"}, Features(kv.ReleaseDelete).Features)
}

// The smoke test's steps hold each other to account: a wrong value, a wrong status or a
// transport error fails the step, and one failed step fails the report.
func TestSmokeStepCheckFires(t *testing.T) {
	steps := SmokeTests("p", true)
	require.NotEmpty(t, steps)
	for _, s := range steps {
		require.True(t, s.Critical)
	}
	require.Greater(t, len(SmokeTests("p", false)), len(steps))
	get := steps[1]
	require.Equal(t, kv.KindGet, get.Op.Kind)
	require.True(t, get.Check(get.Want, nil).Passed)
	require.False(t, get.Check(kv.Result{Status: kv.StatusOK, Value: "stale"}, nil).Passed)
	require.False(t, get.Check(kv.Result{Status: kv.StatusNotFound}, nil).Passed)
	bad := get.Check(kv.Result{}, errors.New("timeout"))
	require.False(t, bad.Passed)
	require.Equal(t, "error: timeout", bad.Got)
	require.Equal(t, "failed", SmokeReportOf([]SmokeStepResult{get.Check(get.Want, nil), bad}).Status)
	require.Equal(t, "passed", SmokeReportOf([]SmokeStepResult{get.Check(get.Want, nil)}).Status)
}

func TestVerifyResultOf(t *testing.T) {
	require.Equal(t, "ok", VerifyResultOf(storage.VerifyReport{OK: true}).Status)
	v := VerifyResultOf(storage.VerifyReport{Problems: []storage.Problem{{File: "log.0", Offset: 4096, Op: 7, Reason: "checksum"}},
		Faulty: []uint64{7}})
	require.Equal(t, "damaged", v.Status)
	require.Equal(t, []VerifyProblem{{File: "log.0", Offset: 4096, Op: 7, Reason: "checksum"}}, v.Problems)
}
