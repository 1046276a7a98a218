package checksum

import (
	"crypto/sha256"
	"testing"
)

// TestSHA256MemoIsSHA256: the memo returns exactly sha256.Sum256 for every sequence of inputs,
// hits and misses alike: equal bytes under one key, other bytes under it, a key that shares a
// slot (newer and older), an empty input and one too large to keep.
func TestSHA256MemoIsSHA256(t *testing.T) {
	var m SHA256Memo
	large := make([]byte, sha256MemoBytesMax+1)
	cases := []struct {
		key  uint64
		data []byte
	}{
		{1, []byte("a")}, {1, []byte("a")}, {1, []byte("b")}, {1, []byte("a")},
		{1 + sha256MemoSlots, []byte("a")}, {1, []byte("a")}, {1, []byte("c")}, {1 + sha256MemoSlots, []byte("a")},
		{2, nil}, {2, []byte{}}, {2, []byte{0}},
		{3, large}, {3, large}, {3, large[1:]},
	}
	for i, c := range cases {
		if got, want := m.Of(c.key, c.data), sha256.Sum256(c.data); got != want {
			t.Fatalf("case %d: %x, want %x", i, got, want)
		}
	}
}
