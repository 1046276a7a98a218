package scenarios

import (
	"fmt"
	"testing"
)

// TestFileNamesAsFmt: the harness's hand-rolled names of the engine's files are those fmt
// gives.
func TestFileNamesAsFmt(t *testing.T) {
	for _, v := range []uint64{0, 1, 64, 0xabcdef, 1<<63 + 5, ^uint64(0)} {
		if got, want := checkpointFileName(v), fmt.Sprintf("checkpoint-%016x", v); got != want {
			t.Errorf("checkpointFileName(%d) = %q, want %q", v, got, want)
		}
		if got, want := segmentName(v), fmt.Sprintf("log-%016x", v); got != want {
			t.Errorf("segmentName(%d) = %q, want %q", v, got, want)
		}
	}
}
