package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSeedAccepts(t *testing.T) {
	cases := map[string]uint64{
		"0":                    0,
		"42":                   42,
		"0x2a":                 42,
		"0X2A":                 42,
		"18446744073709551615": ^uint64(0),
		"0xffffffffffffffff":   ^uint64(0),
		"0123456789abcdef0123456789abcdef01234567": 0x0123456789abcdef,
		"DEADBEEFdeadbeef000000000000000000000000": 0xdeadbeefdeadbeef,
	}
	for in, want := range cases {
		got, err := ParseSeed(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestParseSeedRejects(t *testing.T) {
	for _, in := range []string{"", "zz", "-1", "0x", "0xZZ", "0x1ffffffffffffffff", "18446744073709551616",
		"1.5", " 42", "0123456789abcdef0123456789abcdef0123456", "0123456789abcdef0123456789abcdef0123456g"} {
		_, err := ParseSeed(in)
		require.Error(t, err, "%q must be rejected", in)
		require.Contains(t, err.Error(), "expected a decimal u64", in)
	}
}
