package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"vopr/cluster/kv"
)

// The workload's edge shapes (issue 10: the swarm missed a compare-and-set that succeeds on
// an absent key, and an append bounded by its own length rather than the value's). Ordinary
// operations never reach them: a cas expects a value the clients saw, and short values
// appended for a key's whole history stay far below kv.ValueSizeMax. Each seed draws:
//
//   - blindCAS (one seed in four): half the compare-and-sets on a key the clients have seen
//     no value of expect a value nobody wrote ("c<client>.0.", never issued): the machine must
//     answer not found on an absent key and mismatch on a present one;
//   - size (one seed in two draws long values): values padded to 96 or 320 bytes, so that a
//     key's appends cross kv.ValueSizeMax after a few operations and must answer too large;
//     or, one seed in eight, every value padded to kv.ValueSizeMax and every key to
//     kv.KeySizeMax, so that a cas that expects a value seen is an operation of exactly
//     kv.OpSizeMax bytes (the decoder's bound);
//   - emptyValues (one seed in six): a quarter of the puts and compare-and-sets write the
//     empty string, which is a value, not an absence: a cas expecting the key absent must
//     find it present (mismatch), and a get must return it, not not-found.
//
// Padding is "x" for values and "_" for keys: neither occurs in the unpadded names, so values
// stay unique and none is a substring of another.

// workloadSize pads the workload's values and keys; the zero value pads nothing.
type workloadSize struct {
	value    int  // a value's length (0: unpadded)
	longKeys bool // keys are padded to kv.KeySizeMax
}

// drawEdges draws the edge shapes from the mix's stream, after every other draw of the mix.
func (m *workloadMix) drawEdges(r *rand.Rand) {
	m.blindCAS = r.IntN(4) == 0
	switch r.IntN(8) {
	case 0, 1:
		m.size.value = 96
	case 2, 3:
		m.size.value = 320
	case 4:
		m.size = workloadSize{value: kv.ValueSizeMax, longKeys: true}
	}
	m.emptyValues = r.IntN(6) == 0 // drawn last, so that seeds keep their other shapes
}

// written is the value a put or a compare-and-set writes: a fresh one, or, in a quarter of
// them when the mix writes empty values, the empty string. Only those seeds draw here, so
// that the others keep their draws.
func (w *workload) written(clientIndex int) string {
	if w.mix.emptyValues && w.r.IntN(4) == 0 {
		w.counts["workload.value.empty"]++
		return ""
	}
	return w.value(clientIndex, 0)
}

func (m workloadMix) edgesString() string {
	var parts []string
	if m.blindCAS {
		parts = append(parts, " blind_cas")
	}
	if m.size.value > 0 {
		parts = append(parts, " value_size="+strconv.Itoa(m.size.value))
	}
	if m.size.longKeys {
		parts = append(parts, " key_size="+strconv.Itoa(kv.KeySizeMax))
	}
	if m.emptyValues {
		parts = append(parts, " empty_values")
	}
	return strings.Join(parts, "")
}

// pad pads value with "x" to the mix's value size less reserve bytes, never shortening it.
func (s workloadSize) pad(value string, reserve int) string {
	if s.value == 0 {
		return value
	}
	return value + strings.Repeat("x", max(0, s.value-reserve-len(value)))
}

// key pads key with "_" to kv.KeySizeMax when the mix pads keys.
func (s workloadSize) key(key string) string {
	if !s.longKeys {
		return key
	}
	if len(key) > kv.KeySizeMax {
		panic(fmt.Sprintf("workload: key %q beyond kv.KeySizeMax", key))
	}
	return key + strings.Repeat("_", kv.KeySizeMax-len(key))
}

// neverWritten is a value no client writes: value numbers start at 1.
func (w *workload) neverWritten(clientIndex int) string {
	return w.mix.size.pad("c"+strconv.Itoa(clientIndex)+".0.", 0)
}
