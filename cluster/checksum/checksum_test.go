package checksum_test

import (
	"crypto/sha256"
	"testing"

	"github.com/zeebo/xxh3"
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

// TestOfIsXXH3AndMatchesAgrees: Of is XXH3-128's bytes (big-endian, as Uint128.Bytes gives
// them), and Matches(data, sum) holds exactly when sum is Of(data): for the sum itself, and
// for it with a bit flipped in either half.
func TestOfIsXXH3AndMatchesAgrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.SliceOf(rapid.Byte()).Draw(t, "data")
		sum := checksum.Of(data)
		if want := checksum.Sum(xxh3.Hash128(data).Bytes()); sum != want {
			t.Fatalf("Of(%x) = %x, want %x", data, sum, want)
		}
		if !checksum.Matches(data, sum) {
			t.Fatalf("Matches(%x, Of) = false", data)
		}
		other := sum
		other[rapid.IntRange(0, 15).Draw(t, "byte")] ^= 1 << rapid.IntRange(0, 7).Draw(t, "bit")
		if checksum.Matches(data, other) {
			t.Fatalf("Matches(%x, %x) = true for a sum that is not Of's %x", data, other, sum)
		}
	})
}

// TestPutWritesOf: Put writes Of(data) into the first 16 bytes of dst and nothing else.
func TestPutWritesOf(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.SliceOf(rapid.Byte()).Draw(t, "data")
		dst := rapid.SliceOfN(rapid.Byte(), 16, 40).Draw(t, "dst")
		want := append([]byte{}, dst...)
		sum := checksum.Of(data)
		copy(want, sum[:])
		checksum.Put(dst, data)
		if string(dst) != string(want) {
			t.Fatalf("Put(%x) wrote %x, want %x", data, dst, want)
		}
	})
}
