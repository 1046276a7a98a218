package kv

import (
	"errors"
	"maps"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
)

// TestConstants checks the relationships between the bounds.
func TestConstants(t *testing.T) {
	if KeySizeMax >= 1<<16 {
		t.Fatal("KeySizeMax must fit the u16 length prefix")
	}
	if SnapshotSizeMax > storage.CheckpointSizeMax {
		t.Fatalf("SnapshotSizeMax %d exceeds storage.CheckpointSizeMax %d",
			SnapshotSizeMax, storage.CheckpointSizeMax)
	}
	if OpSizeMax > storage.EntryBodyMaxLimit {
		t.Fatal("an op must fit a log entry")
	}
}

func TestApplyExamples(t *testing.T) {
	m := New()
	steps := []struct {
		op   Op
		want Result
	}{
		{Op{Kind: KindGet, Key: "a"}, Result{Status: StatusNotFound}},
		{Op{Kind: KindPut, Key: "a", Value: "1"}, Result{Status: StatusOK}},
		{Op{Kind: KindAppend, Key: "a", Value: "2"}, Result{Status: StatusOK}},
		{Op{Kind: KindGet, Key: "a"}, Result{Status: StatusOK, Value: "12"}},
		{Op{Kind: KindCAS, Key: "a", Expected: "1", Value: "x"}, Result{StatusMismatch, "12"}},
		{Op{Kind: KindCAS, Key: "a", Expected: "12", Value: "x"}, Result{Status: StatusOK}},
		{Op{Kind: KindCAS, Key: "b", Expected: "", Value: "y"}, Result{Status: StatusNotFound}},
		{Op{Kind: KindCAS, Key: "b", ExpectedAbsent: true, Value: "y"}, Result{Status: StatusOK}},
		{Op{Kind: KindCAS, Key: "b", ExpectedAbsent: true, Value: "z"}, Result{StatusMismatch, "y"}},
		{Op{Kind: KindPut, Key: "e", Value: ""}, Result{Status: StatusOK}},
		{Op{Kind: KindGet, Key: "e"}, Result{Status: StatusOK}},
	}
	for i, s := range steps {
		got, err := DecodeResult(m.Apply(EncodeOp(s.op)))
		if err != nil || got != s.want {
			t.Fatalf("step %d %+v: got %+v (%v), want %+v", i, s.op, got, err, s.want)
		}
	}
}

func TestBounds(t *testing.T) {
	m := New()
	big := string(make([]byte, ValueSizeMax))
	mustStatus(t, m, Op{Kind: KindPut, Key: "k", Value: big}, StatusOK)
	mustStatus(t, m, Op{Kind: KindAppend, Key: "k", Value: "x"}, StatusTooLarge)
	if v, _ := m.Get("k"); len(v) != ValueSizeMax {
		t.Fatal("a refused append changed the value")
	}
	for i := m.Len(); i < KeysMax; i++ {
		mustStatus(t, m, Op{Kind: KindPut, Key: string(rune(0x1000 + i))}, StatusOK)
	}
	mustStatus(t, m, Op{Kind: KindPut, Key: "new"}, StatusFull)
	mustStatus(t, m, Op{Kind: KindAppend, Key: "new", Value: "x"}, StatusFull)
	mustStatus(t, m, Op{Kind: KindPut, Key: "k", Value: "overwrite is fine"}, StatusOK)
	if m.Len() != KeysMax {
		t.Fatalf("len %d, want %d", m.Len(), KeysMax)
	}
	if s := m.Snapshot(); len(s) > SnapshotSizeMax {
		t.Fatalf("snapshot %d > SnapshotSizeMax", len(s))
	}
}

func mustStatus(t *testing.T, m *Machine, op Op, want Status) {
	t.Helper()
	r, err := DecodeResult(m.Apply(EncodeOp(op)))
	if err != nil || r.Status != want {
		t.Fatalf("%s %q: status %d (%v), want %d", op.Kind, op.Key, r.Status, err, want)
	}
}

func TestInvalidOps(t *testing.T) {
	valid := EncodeOp(Op{Kind: KindCAS, Key: "k", Value: "v", Expected: "e"})
	cases := map[string][]byte{
		"empty":        nil,
		"short":        valid[:5],
		"trailing":     append(append([]byte(nil), valid...), 0),
		"zero kind":    withByte(valid, 0, 0),
		"unknown kind": withByte(valid, 0, 99),
		"bad flags":    withByte(valid, 1, 2),
		"empty key":    EncodeOpUnchecked(Op{Kind: KindGet}),
		"get value":    EncodeOpUnchecked(Op{Kind: KindGet, Key: "k", Value: "v"}),
		"put expected": EncodeOpUnchecked(Op{Kind: KindPut, Key: "k", Expected: "v"}),
		"absent+value": EncodeOpUnchecked(Op{Kind: KindCAS, Key: "k", Expected: "v", ExpectedAbsent: true}),
		"huge length":  withByte(valid, 7, 0xff),
	}
	m := New()
	for name, b := range cases {
		if err := m.Validate(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
		r, err := DecodeResult(m.Apply(b))
		if err != nil || r.Status != StatusInvalid {
			t.Errorf("%s: Apply = %+v (%v), want StatusInvalid", name, r, err)
		}
	}
	if m.Len() != 0 {
		t.Fatal("invalid ops changed the state")
	}
}

// TestValidateAgreesWithDecode checks that Validate (which builds no op) accepts exactly what
// DecodeOp accepts, with the same error, on valid, malformed and random bytes.
func TestValidateAgreesWithDecode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var b []byte
		if rapid.Bool().Draw(t, "raw") {
			b = rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "bytes")
		} else {
			op := genOp().Draw(t, "op")
			op.Expected = rapid.SampledFrom([]string{op.Expected, "z"}).Draw(t, "expected")
			op.ExpectedAbsent = op.ExpectedAbsent || rapid.Bool().Draw(t, "absent")
			b = EncodeOpUnchecked(op)
			if i := rapid.IntRange(-1, len(b)-1).Draw(t, "flip"); i >= 0 {
				b[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "bits"))
			}
		}
		_, decodeErr := DecodeOp(b)
		validateErr := New().Validate(b)
		if (decodeErr == nil) != (validateErr == nil) ||
			(decodeErr != nil && decodeErr.Error() != validateErr.Error()) {
			t.Fatalf("DecodeOp: %v, Validate: %v", decodeErr, validateErr)
		}
	})
}

func withByte(b []byte, i int, v byte) []byte {
	c := append([]byte(nil), b...)
	c[i] = v
	return c
}

// EncodeOpUnchecked encodes like EncodeOp without validating, to build malformed inputs.
func EncodeOpUnchecked(op Op) []byte {
	b := []byte{byte(op.Kind), 0, byte(len(op.Key)), byte(len(op.Key) >> 8)}
	if op.ExpectedAbsent {
		b[1] = flagExpectedAbsent
	}
	b = append(b, byte(len(op.Value)), byte(len(op.Value)>>8), 0, 0)
	b = append(b, byte(len(op.Expected)), byte(len(op.Expected)>>8), 0, 0)
	return append(append(append(b, op.Key...), op.Value...), op.Expected...)
}

// genOp draws operations over a small key and value alphabet so that they collide.
func genOp() *rapid.Generator[Op] {
	return rapid.Custom(func(t *rapid.T) Op {
		op := Op{
			Kind: Kind(rapid.IntRange(int(KindGet), int(KindDelete)).Draw(t, "kind")),
			Key:  rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "key"),
		}
		value := rapid.SampledFrom([]string{"", "x", "yy", "x-yy"}).Draw(t, "value")
		switch op.Kind {
		case KindPut, KindAppend:
			op.Value = value
		case KindCAS:
			op.Value = value
			op.ExpectedAbsent = rapid.Bool().Draw(t, "absent")
			if !op.ExpectedAbsent {
				op.Expected = rapid.SampledFrom([]string{"", "x", "yy"}).Draw(t, "expected")
			}
		}
		return op
	})
}

// model is the obvious map semantics the machine must match, at a release.
func model(data map[string]string, op Op, release uint32) Result {
	current, present := data[op.Key]
	switch op.Kind {
	case KindDelete:
		if release < ReleaseDelete {
			return Result{Status: StatusUnsupported}
		}
		if !present {
			return Result{Status: StatusNotFound}
		}
		delete(data, op.Key)
	case KindGet:
		if !present {
			return Result{Status: StatusNotFound}
		}
		return Result{Status: StatusOK, Value: current}
	case KindPut:
		data[op.Key] = op.Value
	case KindAppend:
		data[op.Key] = current + op.Value
	case KindCAS:
		switch {
		case op.ExpectedAbsent && present, !op.ExpectedAbsent && present && current != op.Expected:
			return Result{Status: StatusMismatch, Value: current}
		case !op.ExpectedAbsent && !present:
			return Result{Status: StatusNotFound}
		}
		data[op.Key] = op.Value
	}
	return Result{Status: StatusOK}
}

func TestApplyMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, data := New(), map[string]string{}
		ops := rapid.SliceOfN(genOp(), 0, 40).Draw(t, "ops")
		upgradeAt := rapid.IntRange(0, len(ops)).Draw(t, "upgrade at")
		for i, op := range ops {
			if i == upgradeAt {
				m.Upgrade(ReleaseDelete)
			}
			want := model(data, op, m.Release())
			got, err := DecodeResult(m.Apply(EncodeOp(op)))
			if err != nil || got != want {
				t.Fatalf("%+v: got %+v (%v), want %+v", op, got, err, want)
			}
		}
		if !maps.Equal(contents(t, m), data) {
			t.Fatalf("state %v, model %v", contents(t, m), data)
		}
	})
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := New()
		if rapid.Bool().Draw(t, "upgraded") {
			m.Upgrade(ReleaseDelete)
		}
		for _, op := range rapid.SliceOfN(genOp(), 0, 30).Draw(t, "ops") {
			m.Apply(EncodeOp(op))
		}
		snap := m.Snapshot()
		r := New()
		if err := r.Restore(snap); err != nil {
			t.Fatalf("restore: %v", err)
		}
		if !maps.Equal(contents(t, m), contents(t, r)) || r.Release() != m.Release() || r.Digest() != m.Digest() {
			t.Fatal("restored state differs")
		}
		if string(r.Snapshot()) != string(snap) {
			t.Fatal("snapshot of restored state differs")
		}
	})
}

// TestSnapshotAfterSnapshots checks that a snapshot built from the last one's records (the
// pairs unchanged since copied over) is the snapshot of a machine that never took one, after
// any ops (deletes and restores included) between any snapshots and digests.
func TestSnapshotAfterSnapshots(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := New()
		var applied [][]byte
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(t, "step") {
			case 0:
				m.Snapshot()
			case 1:
				m.Digest()
			case 2:
				m.Upgrade(ReleaseDelete)
				applied = append(applied, nil)
			case 3:
				restored := New()
				if err := restored.Restore(m.Snapshot()); err != nil {
					t.Fatalf("restore: %v", err)
				}
				m = restored
			default:
				op := EncodeOp(genOp().Draw(t, "op"))
				m.Apply(op)
				applied = append(applied, op)
			}
			fresh := New()
			for _, op := range applied {
				if op == nil {
					fresh.Upgrade(ReleaseDelete)
					continue
				}
				fresh.Apply(op)
			}
			if got, want := m.Snapshot(), fresh.Snapshot(); string(got) != string(want) {
				t.Fatalf("snapshot %x, want %x", got, want)
			}
		}
	})
}

func TestDigestEqualIffStatesEqual(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := New(), New()
		for _, op := range rapid.SliceOfN(genOp(), 0, 12).Draw(t, "a") {
			a.Apply(EncodeOp(op))
		}
		for _, op := range rapid.SliceOfN(genOp(), 0, 12).Draw(t, "b") {
			b.Apply(EncodeOp(op))
		}
		if maps.Equal(contents(t, a), contents(t, b)) != (a.Digest() == b.Digest()) {
			t.Fatalf("maps equal %v, digests equal %v", maps.Equal(contents(t, a), contents(t, b)),
				a.Digest() == b.Digest())
		}
	})
}

func TestRestoreRefusesCorruption(t *testing.T) {
	m := New()
	for _, k := range []string{"a", "b", "c"} {
		m.Apply(EncodeOp(Op{Kind: KindPut, Key: k, Value: "value-" + k}))
	}
	snap := m.Snapshot()
	digest := m.Digest()
	rapid.Check(t, func(t *rapid.T) {
		bit := rapid.IntRange(0, len(snap)*8-1).Draw(t, "bit")
		bad := append([]byte(nil), snap...)
		bad[bit/8] ^= 1 << (bit % 8)
		if err := m.Restore(bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bit %d: Restore = %v", bit, err)
		}
		if m.Digest() != digest {
			t.Fatal("a refused restore changed the state")
		}
	})
}

func TestDecodersNeverPanic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "bytes")
		_, _ = DecodeOp(b)
		_, _ = DecodeResult(b)
		_ = New().Restore(b)
	})
}

func FuzzDecodeOp(f *testing.F) {
	f.Add(EncodeOp(Op{Kind: KindCAS, Key: "k", Value: "v", Expected: "e"}))
	f.Add(EncodeOp(Op{Kind: KindGet, Key: "k"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := DecodeOp(b)
		if err != nil {
			return
		}
		if string(EncodeOp(op)) != string(b) {
			t.Fatal("decode/encode is not the identity on valid ops")
		}
	})
}

// TestDeleteIsAFeatureOfItsRelease: below ReleaseDelete a delete answers Unsupported and
// changes nothing (not even the digest); after Upgrade it deletes. The release is state:
// machines that differ only in it have different digests, and Upgrade never lowers it.
func TestDeleteIsAFeatureOfItsRelease(t *testing.T) {
	m := New()
	mustStatus(t, m, Op{Kind: KindPut, Key: "k", Value: "v"}, StatusOK)
	before := m.Digest()
	mustStatus(t, m, Op{Kind: KindDelete, Key: "k"}, StatusUnsupported)
	if v, ok := m.Get("k"); !ok || v != "v" || m.Digest() != before {
		t.Fatal("an unsupported delete changed the state")
	}
	upgraded := New()
	mustStatus(t, upgraded, Op{Kind: KindPut, Key: "k", Value: "v"}, StatusOK)
	upgraded.Upgrade(ReleaseDelete)
	if upgraded.Digest() == before {
		t.Fatal("the release is not part of the digest")
	}
	upgraded.Upgrade(ReleaseBase)
	if upgraded.Release() != ReleaseDelete {
		t.Fatal("Upgrade lowered the release")
	}
	mustStatus(t, upgraded, Op{Kind: KindDelete, Key: "k"}, StatusOK)
	mustStatus(t, upgraded, Op{Kind: KindDelete, Key: "k"}, StatusNotFound)
	if _, ok := upgraded.Get("k"); ok || upgraded.Len() != 0 {
		t.Fatal("delete left the key")
	}
	snap := upgraded.Snapshot()
	snap[4] = byte(ReleaseLatest + 1) // a release this code does not know, checksum fixed below
	body := snap[:len(snap)-len(checksum.Sum{})]
	sum := checksum.Of(body)
	copy(snap[len(body):], sum[:])
	if err := New().Restore(snap); !errors.Is(err, ErrInvalid) {
		t.Fatalf("restore of an unknown release: %v", err)
	}
}

// contents reads a machine's state as a plain map, checking that its key order holds
// exactly the map's keys, ascending.
func contents(t interface{ Fatalf(string, ...any) }, m *Machine) map[string]string {
	out := map[string]string{}
	for i, p := range m.order {
		if i > 0 && m.order[i-1].key >= p.key {
			t.Fatalf("key order not ascending at %d: %q then %q", i, m.order[i-1].key, p.key)
		}
		if m.data[p.key] != p {
			t.Fatalf("key order's %q is not the map's", p.key)
		}
		out[p.key] = p.value
	}
	if len(out) != len(m.data) {
		t.Fatalf("key order has %d keys, the map %d", len(out), len(m.data))
	}
	return out
}
