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
