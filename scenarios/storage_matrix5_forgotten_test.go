package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Every placement of storage_matrix5_forgotten is the corner: the lone shape, R1's H of
// unknown identity, exactly three replicas of log view 0 that know H (one intact, late but
// coming back; two faulty with their records), the fourth of unknown identity, nobody else
// down. With ops 1..3 intact the judge expects recovery, and with one offer fewer it does not.
func TestMatrix5ForgottenDraws(t *testing.T) {
	h := matrixOps - 1
	for seed := uint64(1); seed <= 200; seed++ {
		p := drawMatrix5Forgotten(seed)
		require.True(t, p.views.lone && p.views.forgotten && p.views.wide, "seed %d", seed)
		require.True(t, p.damage[viewsLone][h].identity, "seed %d: R1 lost H's identity", seed)
		known, intact, late := 0, 0, 0
		for r := range p.replicas {
			d := p.damage[r][h]
			if r != viewsLone && !d.identity {
				known++
			}
			if p.intact(r, matrixOps) {
				intact++
				require.True(t, p.down[r].late && !p.down[r].never, "seed %d: the intact copy starts late", seed)
			}
			if p.down[r].late {
				late++
			}
			for op := 1; op <= matrixOps; op++ {
				damaged := p.placement>>(r*matrixOps+op-1)&1 == 1
				require.Equal(t, p.damage[r][op-1].kind != damageNone, damaged, "seed %d: placement mask", seed)
			}
		}
		require.Equal(t, 3, known, "seed %d: replicas of log view 0 that know H", seed)
		require.Equal(t, 1, intact, "seed %d: intact copies of H", seed)
		require.Equal(t, 1, late, "seed %d: replicas down", seed)
		require.Contains(t, p.String(), "lone=R1 forgotten")

		for r := range p.replicas {
			for op := 1; op < matrixOps; op++ {
				p.damage[r][op-1] = copyDamage{}
			}
		}
		require.True(t, p.expectAvailable(), "seed %d: three offers name H", seed)
		for r := range p.replicas {
			if d := &p.damage[r][h]; r != viewsLone && d.kind != damageNone && !d.identity {
				d.identity = true
				break
			}
		}
		require.False(t, p.expectAvailable(), "seed %d: two offers prove nothing", seed)
	}
}

// Seed 1: R0 holds H intact and starts late; R2 and R3 hold it faulty with their records, and
// as primaries install R1's log without it while R0 is down, forgetting H; R4 lost H's
// identity. The view change completes only with the forgotten entries' offers (mutant
// vsr.held_identity_drops_forgotten_faulty stalls here for ever), and the cluster recovers.
func TestMatrix5ForgottenRecovers(t *testing.T) {
	p := drawMatrix5Forgotten(1)
	require.True(t, p.expectAvailable(), p.String())
	r := runMatrix5Forgotten(Options{Seed: 1})
	require.Equal(t, Pass, r.Outcome, r.Reason)
	require.Equal(t, uint64(1), r.Counters["matrix.views.lone"])
	require.Equal(t, uint64(1), r.Counters["matrix.views.shape.lone_forgotten.available"])
}
