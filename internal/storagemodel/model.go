package storagemodel

import (
	"fmt"
	"math/rand/v2"
)

// Kind is an operation of a history.
type Kind int

const (
	Append Kind = iota
	SaveState
	Checkpoint
	Compact
	Truncate
	Replace // an Append of an op already in the log: a view change's replacement
	Install // a peer's checkpoint above the head (state sync): InstallCheckpoint
	// Repair writes a faulty op's acknowledged body again over its own extent (Rewrite, or
	// an Append for the head op), as a replica repairing it from a peer; the log above it
	// stays.
	Repair
)

// Step is one operation of a history.
type Step struct {
	Kind     Kind
	Op       uint64 // Append, Replace, Checkpoint, Install, Repair: the op; Truncate: truncate after Op
	Body     []byte // Append, Replace, Repair
	View     uint32 // SaveState
	Snapshot []byte // Checkpoint, Install
	// Fields are the other fields a SaveState writes (nil: it keeps the engine's).
	Fields *Fields
}

// Fields are the fields of the engine's state that its caller owns besides the view: a
// SaveState stores them as given and every Open must give them back (SaveState's contract),
// except that a checkpoint raises Commit to its op.
type Fields struct {
	Commit                          uint64
	Epoch, LogEpoch, Release, Boots uint32
	Outside                         uint16
	StandbyCount                    uint8
	JoinedEmpty                     bool
}

func (s Step) String() string {
	return fmt.Sprintf("%s(%d)", [...]string{"append", "save_state", "checkpoint", "compact", "truncate_after", "replace", "install", "repair"}[s.Kind], s.Op)
}

// Draw draws a valid history of n operations: appends of multi-sector bodies in op order,
// view changes, checkpoints, compactions, truncations of the uncommitted suffix (after which
// the truncated ops are appended again with new bodies), replacing appends, and state syncs
// that install a peer's checkpoint a few ops above the head (the log's unaudited ops below it
// need not be that checkpoint's history).
func Draw(r *rand.Rand, n int) []Step { return DrawFrom(r, 0, 0, 1, 0, n) }

// DrawFrom is Draw for an engine whose log runs to head above checkpoint cp, whose
// superblock names view; bodies name their generation, counted from generation.
func DrawFrom(r *rand.Rand, head, cp uint64, view uint32, generation, n int) []Step {
	var steps []Step
	body := func(op uint64) []byte {
		// The generation comes first: a record keeps the body's first bytes, and they must
		// tell one version of an op from another (the identity a faulty op comes back with).
		// The length is the older "op %d generation %d "'s, so that the regression seeds'
		// histories lay out on disk as they did.
		fill := r.IntN(1400)
		b := fmt.Appendf(make([]byte, 0, 48+fill), "%d op %d generation ", generation, op)
		for range fill {
			b = append(b, byte(op)|1) // one allocation: the episodes draw many bodies
		}
		return b
	}
	for len(steps) < n {
		switch k := r.IntN(14); {
		case k < 7 || head == 0:
			head++
			steps = append(steps, Step{Kind: Append, Op: head, Body: body(head)})
		case k == 7:
			view++
			steps = append(steps, Step{Kind: SaveState, View: view})
		case k == 8 && head > cp:
			cp += 1 + r.Uint64N(head-cp)
			steps = append(steps, Step{Kind: Checkpoint, Op: cp,
				Snapshot: fmt.Appendf(nil, "snapshot at %d generation %d", cp, generation)})
		case k == 9:
			steps = append(steps, Step{Kind: Compact})
		case (k == 10 || k == 11) && head > cp:
			head = cp + r.Uint64N(head-cp)
			generation++
			steps = append(steps, Step{Kind: Truncate, Op: head})
		case k == 12 && head > cp:
			head = cp + 1 + r.Uint64N(head-cp)
			generation++
			steps = append(steps, Step{Kind: Replace, Op: head, Body: body(head)})
		case k == 13:
			head += 1 + r.Uint64N(8)
			cp = head
			generation++
			steps = append(steps, Step{Kind: Install, Op: head,
				Snapshot: fmt.Appendf(nil, "a peer's snapshot at %d generation %d", head, generation)})
		}
	}
	return steps
}

// Model is what the engine acknowledged, and the one operation in flight.
type Model struct {
	Log       map[uint64][]byte // acknowledged entries by op (kept below the checkpoint too)
	Head, CP  uint64
	Snapshots map[uint64][]byte   // acknowledged checkpoints' snapshots
	Audits    map[uint64][32]byte // and their audit heads
	// Audited is the highest op whose entry this log audited, by a checkpoint of its own or
	// as the state an installed checkpoint stands for; InstalledOver holds, for each
	// installed checkpoint, Audited when it was installed: the log's entries above that op and
	// at or below the checkpoint's were never audited against it (InstallCheckpoint).
	Audited       uint64
	InstalledOver map[uint64]uint64
	// Disowned are the ops whose entries a recovery distrusted (a fallback past an installed
	// checkpoint that had not audited them): no later recovery may return them intact until
	// they are written again.
	Disowned map[uint64]bool
	View     uint32
	// Fields are the acknowledged caller-owned fields (Fields): those the last acknowledged
	// SaveState that set them stored, Commit raised by the checkpoints since.
	Fields  Fields
	Pending *Step
	Acked   int
}

// New is the model of a freshly formatted engine whose superblock names view.
func New(view uint32) *Model {
	return &Model{Log: map[uint64][]byte{}, Snapshots: map[uint64][]byte{}, Audits: map[uint64][32]byte{},
		InstalledOver: map[uint64]uint64{}, Disowned: map[uint64]bool{}, View: view}
}

// Acknowledged applies step, which the engine acknowledged; auditHead is the engine's audit
// head after it (kept for a checkpoint).
func (m *Model) Acknowledged(step Step, auditHead [32]byte) {
	switch step.Kind {
	case Append:
		m.Log[step.Op], m.Head = step.Body, step.Op
		delete(m.Disowned, step.Op)
	case Repair:
		m.Log[step.Op], m.Head = step.Body, max(m.Head, step.Op)
		delete(m.Disowned, step.Op)
	case SaveState:
		m.View = step.View
		if step.Fields != nil {
			m.Fields = *step.Fields
		}
	case Checkpoint:
		m.Fields.Commit = max(m.Fields.Commit, step.Op)
		m.CP, m.Snapshots[step.Op], m.Audits[step.Op] = step.Op, step.Snapshot, auditHead
		m.Audited = step.Op
		delete(m.InstalledOver, step.Op)
	case Install:
		m.Fields.Commit = max(m.Fields.Commit, step.Op)
		over := m.Audited
		if before, ok := m.InstalledOver[m.CP]; ok {
			// Over another installed checkpoint: the log below that one is as unaudited as
			// it was, whatever op the install left as audited.
			over = min(over, before)
		}
		m.InstalledOver[step.Op] = over
		m.CP, m.Snapshots[step.Op], m.Audits[step.Op] = step.Op, step.Snapshot, auditHead
		m.Head, m.Audited = max(m.Head, step.Op), step.Op // installed again over a lost one: the log stays
	case Truncate, Replace:
		for op := range m.Log {
			if op > step.Op {
				delete(m.Log, op) // above the head too: an op a recovery held faulty
			}
		}
		m.Head = step.Op
		if step.Kind == Replace {
			m.Log[step.Op] = step.Body
			delete(m.Disowned, step.Op)
		}
	}
	m.Pending = nil
	m.Acked++
}

// PendingIs reports whether the operation in flight is of kind k.
func (m *Model) PendingIs(k Kind) bool { return m.Pending != nil && m.Pending.Kind == k }

// PendingCheckpoint reports whether the operation in flight writes a checkpoint (its own or a
// peer's).
func (m *Model) PendingCheckpoint() bool { return m.PendingIs(Checkpoint) || m.PendingIs(Install) }

// Unaudited returns the ops whose entries the log never audited against installed checkpoint
// cp, (after, cp]; the empty span for a checkpoint of the log's own.
func (m *Model) Unaudited(cp uint64) (after, upTo uint64) {
	if over, ok := m.InstalledOver[cp]; ok {
		return over, cp
	}
	return cp, cp
}

// PendingWrites reports whether the operation in flight writes an entry for op.
func (m *Model) PendingWrites(op uint64) bool {
	return (m.PendingIs(Append) || m.PendingIs(Replace) || m.PendingIs(Repair)) && m.Pending.Op == op
}

// PendingMayDrop reports whether the operation in flight may have removed op's entry.
func (m *Model) PendingMayDrop(op uint64) bool {
	return (m.PendingIs(Truncate) && op > m.Pending.Op) || (m.PendingIs(Replace) && op >= m.Pending.Op)
}
