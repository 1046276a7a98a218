package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// traceOf emits records into a fresh trace, each at its own time, and returns the trace.
func traceOf(keep int, records ...Record) *Trace {
	var now Time
	tr := NewTrace(func() Time { return now })
	tr.KeepMax = keep
	for _, r := range records {
		now = r.At
		tr.Emit(r.Level, r.Node, r.Kind, r.Text)
	}
	return tr
}

func TestTraceHashChangesWithEveryHashedField(t *testing.T) {
	base := Record{At: 5 * Time(Millisecond), Level: LevelShort, Node: 2, Kind: "node", Text: "crash"}
	hash := traceOf(0, base).Hash()
	require.Equal(t, hash, traceOf(0, base).Hash(), "the hash is a function of the records")
	require.NotEqual(t, NewTrace(func() Time { return 0 }).Hash(), hash, "a record changes the hash")

	for name, mutate := range map[string]func(*Record){
		"time +1ns":     func(r *Record) { r.At++ },
		"node":          func(r *Record) { r.Node = 3 },
		"world node":    func(r *Record) { r.Node = -1 },
		"kind":          func(r *Record) { r.Kind = "disk" },
		"text":          func(r *Record) { r.Text = "crasH" },
		"text longer":   func(r *Record) { r.Text = "crash " },
		"kind/text cut": func(r *Record) { r.Kind, r.Text = "nodec", "rash" },
		"empty text":    func(r *Record) { r.Text = "" },
	} {
		r := base
		mutate(&r)
		require.NotEqual(t, hash, traceOf(0, r).Hash(), "changing the %s must change the hash", name)
	}

	// Order matters, and so does every record of a longer trace.
	other := Record{At: base.At, Level: LevelFull, Node: 1, Kind: "net", Text: "send 1->2"}
	require.NotEqual(t, traceOf(0, base, other).Hash(), traceOf(0, other, base).Hash())
	require.NotEqual(t, traceOf(0, base, other).Hash(), traceOf(0, base, other, other).Hash())
	require.Equal(t, uint64(2), traceOf(0, base, other).Count())

	// Mix folds a word in without a record.
	tr := traceOf(0, base)
	tr.Mix(0)
	require.NotEqual(t, hash, tr.Hash())
	require.Equal(t, uint64(1), tr.Count())
}

// The fingerprint does not depend on how verbosely a run is logged: --log none and --log
// full of the same run must print the same trace_hash. (Record.Level says which log level
// prints a record; it is deliberately not hashed.)
func TestTraceHashIgnoresPrintingAndLevel(t *testing.T) {
	records := []Record{
		{At: 1, Level: LevelShort, Node: 0, Kind: "node", Text: "start"},
		{At: 2, Level: LevelFull, Node: -1, Kind: "net", Text: "send"},
	}
	quiet := traceOf(0, records...)
	var out bytes.Buffer
	var now Time
	loud := NewTrace(func() Time { return now })
	loud.Out, loud.Level, loud.KeepMax = &out, LevelFull, 10
	for _, r := range records {
		now = r.At
		loud.Emit(r.Level, r.Node, r.Kind, r.Text)
	}
	require.Equal(t, quiet.Hash(), loud.Hash())
	require.Equal(t, 2, strings.Count(out.String(), "\n"))
}

func TestTracePrintsRecordsAtOrBelowItsLevel(t *testing.T) {
	var out bytes.Buffer
	tr := NewTrace(func() Time { return 1250 * Time(Millisecond) })
	tr.Out, tr.Level = &out, LevelShort
	tr.Emit(LevelShort, 3, "node", "crash")
	tr.Emit(LevelFull, -1, "net", "deliver 0->1")
	tr.Emitf(LevelShort, -1, "net", "partition %s", "isolate n2")
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 2, "the LevelFull record must not print at LevelShort")
	require.Equal(t, "        1.250s n3   node       crash", lines[0])
	require.Equal(t, "        1.250s --   net        partition isolate n2", lines[1])
	require.Equal(t, uint64(3), tr.Count(), "every record is hashed, printed or not")

	out.Reset()
	tr.Level = LevelNone
	tr.Emit(LevelShort, 0, "node", "start")
	require.Empty(t, out.String())
}

func TestParseLevel(t *testing.T) {
	for s, want := range map[string]Level{"none": LevelNone, "short": LevelShort, "full": LevelFull} {
		got, err := ParseLevel(s)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	for _, s := range []string{"", "Full", "verbose", "2"} {
		_, err := ParseLevel(s)
		require.ErrorContains(t, err, "expected none, short or full", s)
	}
}

func TestTraceKeepsUpToKeepMaxRecordsWithTheirRunningHashes(t *testing.T) {
	records := []Record{
		{At: 1, Node: 0, Kind: "a", Text: "1"},
		{At: 2, Node: 1, Kind: "b", Text: "2"},
		{At: 3, Node: 2, Kind: "c", Text: "3"},
	}
	tr := traceOf(2, records...)
	require.Equal(t, records[:2], tr.Kept)
	require.Equal(t, []uint64{traceOf(0, records[0]).Hash(), traceOf(0, records[:2]...).Hash()}, tr.Hashes)
	require.Equal(t, traceOf(0, records...).Hash(), tr.Hash(), "records beyond KeepMax still count")
}

// FirstDivergence names the first record where two traces differ, whichever field differs,
// and -1 when they agree.
func TestTraceFirstDivergence(t *testing.T) {
	genRecord := rapid.Custom(func(t *rapid.T) Record {
		return Record{
			At:   Time(rapid.Int64Range(0, 1000).Draw(t, "at")),
			Node: rapid.IntRange(-1, 5).Draw(t, "node"),
			Kind: rapid.SampledFrom([]string{"node", "net", "disk", "clock"}).Draw(t, "kind"),
			Text: rapid.StringN(0, 8, -1).Draw(t, "text"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.SliceOfN(genRecord, 1, 50).Draw(t, "records")
		require.Equal(t, -1, FirstDivergence(traceOf(100, a...), traceOf(100, a...)))

		i := rapid.IntRange(0, len(a)-1).Draw(t, "index")
		b := append([]Record(nil), a...)
		changed := genRecord.Draw(t, "changed")
		if changed == b[i] {
			changed.Text += "!"
		}
		b[i] = changed
		// Records after the divergence may agree again: the running hash still differs.
		ta, tb := traceOf(100, a...), traceOf(100, b...)
		require.Equal(t, i, FirstDivergence(ta, tb))
		require.Equal(t, i, FirstDivergence(tb, ta))
		require.Equal(t, a[i], ta.Kept[i])
		require.Equal(t, changed, tb.Kept[i])
		require.NotEqual(t, ta.Hash(), tb.Hash())

		// A trace that stops early diverges where it ends.
		short := traceOf(100, a[:i]...)
		require.Equal(t, i, FirstDivergence(traceOf(100, a...), short))
	})
}

// Only kept records are compared: a divergence beyond KeepMax is not located (the caller
// compares the final hashes for that).
func TestTraceFirstDivergenceBeyondKeepMax(t *testing.T) {
	a := []Record{{At: 1, Kind: "x", Text: "same"}, {At: 2, Kind: "x", Text: "a"}}
	b := []Record{{At: 1, Kind: "x", Text: "same"}, {At: 2, Kind: "x", Text: "b"}}
	require.Equal(t, -1, FirstDivergence(traceOf(1, a...), traceOf(1, b...)))
	require.NotEqual(t, traceOf(1, a...).Hash(), traceOf(1, b...).Hash())
	require.Equal(t, 1, FirstDivergence(traceOf(2, a...), traceOf(2, b...)))
}

// EmitSum hashes the fields' sum, never the text: a record read (with its text) and one not
// read (nil) leave the same fingerprint, and every field of the sum counts.
func TestTraceEmitSumHashesTheSumNotTheText(t *testing.T) {
	emit := func(sum uint64, text []byte, keep int) *Trace {
		tr := NewTrace(func() Time { return 7 })
		tr.KeepMax = keep
		tr.EmitSum(LevelFull, 1, "disk", KindHash("disk"), sum, text, "")
		return tr
	}
	sum := Fold(Fold(0, 3), 4)
	require.Equal(t, emit(sum, nil, 0).Hash(), emit(sum, []byte("write log 0+512 ok"), 1).Hash())
	require.Equal(t, emit(sum, []byte("a"), 1).Hash(), emit(sum, []byte("b"), 1).Hash())
	require.NotEqual(t, emit(sum, nil, 0).Hash(), emit(Fold(Fold(0, 4), 3), nil, 0).Hash(), "fold order counts")
	require.NotEqual(t, emit(sum, nil, 0).Hash(), emit(Fold(sum, 0), nil, 0).Hash(), "a zero word counts")
	kept := emit(sum, []byte("write log 0+512 ok"), 1)
	require.Equal(t, "write log 0+512 ok", kept.Kept[0].Text)
	require.Equal(t, uint64(1), kept.Count())
	require.Panics(t, func() { emit(sum, nil, 1) }, "a kept record needs its text")
}
