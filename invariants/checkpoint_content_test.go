package invariants

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// stateSnapshot encodes a checkpoint snapshot holding a state machine of release with pairs
// (key, value, key, value...), in the layout the checker reads (written out here, apart from
// the replica's encoder): an empty prepare header, then the machine's snapshot, then an
// empty client table.
func stateSnapshot(release uint32, pairs ...string) []byte {
	le := binary.LittleEndian
	machine := le.AppendUint32(le.AppendUint32([]byte("KVS2"), release), uint32(len(pairs)/2))
	for i := 0; i < len(pairs); i += 2 {
		machine = append(le.AppendUint16(machine, uint16(len(pairs[i]))), pairs[i]...)
		machine = append(le.AppendUint32(machine, uint32(len(pairs[i+1]))), pairs[i+1]...)
	}
	machine = append(machine, make([]byte, 16)...) // the checksum, not read
	b := le.AppendUint32(make([]byte, vsr.HeaderSize), uint32(len(machine)))
	return le.AppendUint32(append(b, machine...), 0)
}

func TestCheckpointContentAcceptsTheCommittedState(t *testing.T) {
	s := readsSuite(t)
	s.OnCheckpointHeld(10*ms, 0, 2, withTable(stateSnapshot(kv.ReleaseBase, "a", "x"), ran(1, 1, 2, 2, kv.StatusOK, "")))
	s.OnCheckpointHeld(10*ms, 0, 4, withTable(stateSnapshot(kv.ReleaseBase, "a", "yz"), ran(1, 1, 4, 4, kv.StatusOK, "")))
	require.Nil(t, s.Violation())
	require.Equal(t, uint64(2), s.contents.checked)
}

func TestCheckpointContentFires(t *testing.T) {
	cases := map[string]struct {
		snapshot []byte
		says     string
	}{
		"a value of another op":        {stateSnapshot(kv.ReleaseBase, "a", "y"), `holds key "a" = "y", but the history holds it "yz" there`},
		"a key left out":               {stateSnapshot(kv.ReleaseBase), "holds 0 keys, but the history holds 1 there"},
		"a key the history never held": {stateSnapshot(kv.ReleaseBase, "a", "yz", "b", ""), `holds key "b" = "", but the history holds it absent there`},
		"the release of another op":    {stateSnapshot(kv.ReleaseDelete, "a", "yz"), "holds release 2, but the history runs release 1 there"},
		"no state":                     {make([]byte, vsr.HeaderSize+4), "holds no state machine snapshot"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := readsSuite(t)
			s.OnCheckpointHeld(10*ms, 0, 4, c.snapshot)
			requireViolation(t, s.Violation(), NameCheckpointContent, 0, 4, 0, 10*ms)
			require.Contains(t, s.Violation().Message, c.says)
		})
	}
}

// The release is the one of the checkpoint's op, not the model's latest: a replica behind
// checkpoints an op below an upgrade the others executed.
func TestCheckpointContentReadsTheReleaseAtItsOp(t *testing.T) {
	s := NewSuite(3)
	commitPrepared(s, [][]byte{
		preparedBatch(1, entry{client: 1, request: 1, operation: vsr.OperationRegister}),
		preparedBatch(2, entry{operation: vsr.OperationUpgrade, payload: binary.LittleEndian.AppendUint32(nil, kv.ReleaseDelete)}),
	})
	s.OnCheckpointHeld(10*ms, 0, 1, withTable(stateSnapshot(kv.ReleaseBase), registered(1, 1, 1, 1)))
	s.OnCheckpointHeld(10*ms, 0, 2, withTable(stateSnapshot(kv.ReleaseDelete), registered(1, 1, 1, 1)))
	require.Nil(t, s.Violation())
}
