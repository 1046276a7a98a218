package checksum_test

import (
	"crypto/sha256"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/checksum"
)

// TestSHA256MatchesSum256: one reused digest gives sha256.Sum256's sum for every input, in
// any sequence of inputs (a digest not reset between calls would carry the previous one).
func TestSHA256MatchesSum256(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s checksum.SHA256
		for _, data := range rapid.SliceOfN(rapid.SliceOf(rapid.Byte()), 1, 8).Draw(t, "inputs") {
			if got, want := s.Of(data), sha256.Sum256(data); got != want {
				t.Fatalf("SHA256.Of(%x) = %x, want %x", data, got, want)
			}
		}
	})
}

// TestSealerMatchesOf: Sealer's one pass gives Of(data) and Of(data ‖ Of(data)) for every
// length through several of XXH3's 1 KiB blocks (its streaming state flushes a block when
// the appended sum crosses one), reusing one Sealer.
func TestSealerMatchesOf(t *testing.T) {
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i*2654435761>>13) ^ byte(i)
	}
	var s checksum.Sealer
	for n := 0; n <= len(data); n++ {
		sum, sealed := s.Of(data[:n])
		if want := checksum.Of(data[:n]); sum != want {
			t.Fatalf("n=%d: sum %x, want %x", n, sum, want)
		}
		if want := checksum.Of(append(append([]byte{}, data[:n]...), sum[:]...)); sealed != want {
			t.Fatalf("n=%d: sealed %x, want %x", n, sealed, want)
		}
	}
}
