package sim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// connectivity prints which paths among nodes are up: row from, column to, '1' connected.
func connectivity(n *Network, nodes int) []string {
	rows := make([]string, nodes)
	for from := 0; from < nodes; from++ {
		row := make([]byte, nodes)
		for to := 0; to < nodes; to++ {
			row[to] = '0'
			if n.Connected(from, to) {
				row[to] = '1'
			}
		}
		rows[from] = string(row)
	}
	return rows
}

// The shapes' connectivity matrices, on 5 replicas (nodes 0-4) and 2 clients (5, 6) whose
// paths a shape never cuts; Reconnect restores exactly what Partition cut.
func TestNetworkShapes(t *testing.T) {
	const nodes = 7
	for _, tc := range []struct {
		name  string
		shape Shape
		want  []string
	}{
		// Each replica of the ring 0-2-4-1-3 sees only its two neighbours.
		{"ring", Ring([]int{0, 2, 4, 1, 3}), []string{
			"1011011", "0101111", "1010111", "1101011", "0110111", "1111111", "1111111"}},
		// A ring of four: each sees two of the other three.
		{"ring4", Ring([]int{0, 1, 2, 3}), []string{
			"1101111", "1110111", "0111111", "1011111", "1111111", "1111111", "1111111"}},
		// Halves {0,1} and {3,4} joined by 2, which sees everyone.
		{"bridge", Bridge([]int{0, 1}, []int{3, 4}, 2), []string{
			"1110011", "1110011", "1111111", "0011111", "0011111", "1111111", "1111111"}},
		// The primary 1 loses the other replicas and keeps its clients.
		{"isolate_from", IsolateFrom(1, []int{0, 2, 3, 4}), []string{
			"1011111", "0100011", "1011111", "1011111", "1011111", "1111111", "1111111"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newNetRig(t, 3, NetworkOptions{NodeCount: nodes})
			r.net.Partition(tc.shape)
			require.Equal(t, tc.want, connectivity(r.net, nodes))
			require.Equal(t, uint64(1), r.net.Stats().Partitions)
			for a := 0; a < nodes; a++ {
				for b := 0; b < nodes; b++ {
					require.Equal(t, tc.shape.Apart(a, b), tc.shape.Apart(b, a), "shapes are symmetric")
				}
			}
			r.net.Reconnect(tc.shape)
			for _, row := range connectivity(r.net, nodes) {
				require.Equal(t, "1111111", row)
			}
		})
	}
}

// A ring of three cuts nothing; a reconnect leaves a cut made by another partition that the
// shape does not cover.
func TestNetworkShapeEdges(t *testing.T) {
	r := newNetRig(t, 3, NetworkOptions{NodeCount: 4})
	r.net.Partition(Ring([]int{2, 0, 1}))
	require.Equal(t, []string{"1111", "1111", "1111", "1111"}, connectivity(r.net, 4))
	r.net.Cut(3, 0)
	shape := Bridge([]int{0}, []int{2}, 1)
	r.net.Partition(shape)
	r.net.Reconnect(shape)
	require.False(t, r.net.Connected(3, 0))
	require.True(t, r.net.Connected(0, 2))
	require.Panics(t, func() { Bridge([]int{0}, []int{0}, 1) })
	require.Panics(t, func() { Ring([]int{1, 1}) })
}
