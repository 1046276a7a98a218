package report

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSeedRanges(t *testing.T) {
	require.Equal(t, "", seedRanges(nil))
	require.Equal(t, "1-3, 7, 9-10", seedRanges([]uint64{1, 2, 3, 7, 9, 10}))
}
