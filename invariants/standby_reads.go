package invariants

import (
	"encoding/binary"
	"fmt"

	"vopr/cluster/kv"
	"vopr/cluster/vsr"
)

// NameStandbyReads checks the reads standbys serve from their own executed state (the
// runbook's read offload): a standby's read is declared stale, never linearizable, but it
// must be the state of the cluster's committed history at the op the standby names, which
// is one the standby had executed (so no newer than its commit), and a client's reads from
// one standby never go back to an older op than the one it last read there.
//
// The checker keeps its own model of the key/value state at every committed op: it replays
// the canonical prepares (the first prepare executed at each op, in op order) through a
// decoder of the batch format and a model of the state machine's rules written here, not
// the replica's code: sessions and their eviction (the oldest registration goes first when
// the table is full), duplicate requests run once, the key limit, the value size limit, and
// deletes only from the release that has them.
const NameStandbyReads = "standby_reads"

// StandbyRead is one read a client had answered by a standby.
type StandbyRead struct {
	Client  int
	Standby int
	Key     string
	// Op is the op whose state the standby says it read (the reply's op).
	Op     uint64
	Result kv.Result
}

type standbyReads struct {
	canon     *canonicalCommit // what each replica executed: its ceiling bounds what it can read
	model     kvShadow
	lastOp    map[[2]int]uint64 // (client, standby) -> op of its previous read there
	checked   uint64
	unchecked uint64
}

// read checks one standby read.
func (s *standbyReads) read(atNs int64, r StandbyRead) *Violation {
	fail := func(format string, args ...any) *Violation {
		return violation(NameStandbyReads, r.Standby, r.Op, 0, atNs, format, args...)
	}
	if s.lastOp == nil {
		s.lastOp = map[[2]int]uint64{}
	}
	pair := [2]int{r.Client, r.Standby}
	if s.model.rewound {
		// A restore or a failover rewound the history: what the standbys of the old
		// configuration executed is forgotten, and so is their reads' ground truth.
		s.unchecked++
		return nil
	}
	executed := s.canon.executor(r.Standby).ceiling
	switch {
	case r.Op > executed:
		return fail("standby %d served client %d a read at op %d, past the highest op it ever executed, %d",
			r.Standby, r.Client, r.Op, executed)
	case r.Op < s.lastOp[pair]:
		return fail("standby %d served client %d a read at op %d after a read at op %d: reads went back",
			r.Standby, r.Client, r.Op, s.lastOp[pair])
	case s.model.broken != "" || r.Op > s.model.applied:
		s.unchecked++ // the model lost the history (an op it could not replay)
		return nil
	}
	s.lastOp[pair] = r.Op
	s.checked++
	value, present := s.model.at(r.Key, r.Op)
	want := kv.Result{Status: kv.StatusNotFound}
	if present {
		want = kv.Result{Status: kv.StatusOK, Value: value}
	}
	if r.Result != want {
		return fail("standby %d read key %q at op %d as %s, but the committed history holds %s there",
			r.Standby, r.Key, r.Op, describeResult(r.Result), describeResult(want))
	}
	return nil
}

func describeResult(r kv.Result) string {
	return describeOutput(kv.Op{Kind: kv.KindGet}, kvOutput{known: true, result: r})
}

// kvShadow is the checker's model of the key/value state machine, with every version of
// every key kept, so that the state at any committed op can be read back.
type kvShadow struct {
	applied  uint64 // ops 1..applied are in the model
	broken   string // why the model stopped (an op skipped, a batch it cannot decode)
	rewound  bool   // a restore or failover rewound the history (rewind)
	versions map[string][]keyVersion
	keys     int // keys present
	release  uint32
	upgrades []releaseRaise // every raise of the release, in op order (checkpoint_content)
	sessions map[uint64]*shadowSession
	capacity int // the client table's capacity (0: vsr.ClientsMax)
	// opened holds every (client, op) whose register opened a session (client_sessions).
	opened map[[2]uint64]bool
	// executedIn is the epoch and view of the replica that executed the op being applied
	// first (client_sessions: every primary from there on knows it).
	executedIn [2]uint32
	// replies holds each client's last key/value request the history executed and the
	// result the rules give it (committed_replies).
	replies map[uint64]shadowReply
	// undo journals every change to sessions, oldest first, so that the table after an
	// earlier op can be rebuilt (session_execution); entries at or below undoFrom are gone.
	undo     []sessionUndo
	undoFrom uint64
}

// sessionUndo is a change op made to client's session: was is the session before, if had.
type sessionUndo struct {
	op, client uint64
	had        bool
	was        shadowSession
}

// undoKept bounds the journal: a first checkpoint of an op more than about this many session
// changes behind the history is not checked by session_execution (a checkpoint is mostly
// taken as its op executes).
const undoKept = 4096

// shadowReply is a client's request as the committed history executed it.
type shadowReply struct {
	op      uint64
	session uint64
	request uint32
	result  kv.Result
}

// releaseRaise is an op that raised the machine's release.
type releaseRaise struct {
	op      uint64
	release uint32
}

// releaseAt returns the release of the state after op.
func (m *kvShadow) releaseAt(op uint64) uint32 {
	release := kv.ReleaseBase
	for _, u := range m.upgrades {
		if u.op <= op {
			release = u.release
		}
	}
	return release
}

type keyVersion struct {
	op      uint64
	present bool
	value   string
}

type shadowSession struct {
	registered uint64
	request    uint32
	// executedIn is the epoch and view in which the register was first executed: the
	// register had committed by then, so every primary of that view or a later one holds
	// it in its log (client_sessions).
	executedIn [2]uint32
	// The reply the table holds for request: the op that executed it, its operation, and a
	// key/value request's result (session_execution).
	replyOp        uint64
	replyOperation vsr.Operation
	result         kv.Result
}

// journal records client's session before op changes it.
func (m *kvShadow) journal(op, client uint64) {
	u := sessionUndo{op: op, client: client}
	if s := m.sessions[client]; s != nil {
		u.had, u.was = true, *s
	}
	m.undo = append(m.undo, u)
	if len(m.undo) >= 2*undoKept { // forget all but about the last undoKept changes
		cut := m.undo[len(m.undo)-undoKept].op
		i := 0
		for i < len(m.undo) && m.undo[i].op <= cut {
			i++
		}
		m.undo, m.undoFrom = append(m.undo[:0], m.undo[i:]...), cut
	}
}

// sessionsAt returns the client table after op (ok false if the journal no longer reaches
// back there).
func (m *kvShadow) sessionsAt(op uint64) (map[uint64]shadowSession, bool) {
	if op < m.undoFrom {
		return nil, false
	}
	table := make(map[uint64]shadowSession, len(m.sessions))
	for client, s := range m.sessions {
		table[client] = *s
	}
	for i := len(m.undo) - 1; i >= 0 && m.undo[i].op > op; i-- {
		if u := m.undo[i]; u.had {
			table[u.client] = u.was
		} else {
			delete(table, u.client)
		}
	}
	return table, true
}

// at returns key's value in the state after op.
func (m *kvShadow) at(key string, op uint64) (string, bool) {
	vs := m.versions[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].op <= op {
			return vs[i].value, vs[i].present
		}
	}
	return "", false
}

// current returns key's newest value, the entries of the op being applied included.
func (m *kvShadow) current(key string) (string, bool) {
	vs := m.versions[key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1].value, vs[len(vs)-1].present
}

// commit applies the canonical prepare of op (the whole message: the header, then the
// batch), which must be the next op, executed first by a replica at epoch and view.
func (m *kvShadow) commit(op uint64, prepare []byte, epoch, view uint32) {
	if m.broken != "" || op <= m.applied {
		return
	}
	m.executedIn = [2]uint32{epoch, view}
	if op != m.applied+1 {
		m.broken = fmt.Sprintf("op %d committed before op %d", op, m.applied+1)
		return
	}
	if m.versions == nil {
		m.versions, m.sessions, m.release = map[string][]keyVersion{}, map[uint64]*shadowSession{}, kv.ReleaseBase
		m.opened = map[[2]uint64]bool{}
	}
	if len(prepare) < vsr.HeaderSize {
		m.broken = fmt.Sprintf("canonical prepare of op %d is %d bytes", op, len(prepare))
		return
	}
	if err := m.applyBatch(op, prepare[vsr.HeaderSize:]); err != nil {
		m.broken = fmt.Sprintf("op %d: %v", op, err)
		return
	}
	m.applied = op
}

// applyBatch walks the batch (count u16; per entry client u64, session u64, request u32,
// operation u8, size u32, payload).
func (m *kvShadow) applyBatch(op uint64, b []byte) error {
	le := binary.LittleEndian
	if len(b) < 2 {
		return fmt.Errorf("batch of %d bytes", len(b))
	}
	count := int(le.Uint16(b))
	b = b[2:]
	for i := 0; i < count; i++ {
		if len(b) < 25 {
			return fmt.Errorf("batch entry %d truncated", i)
		}
		client, session, request := le.Uint64(b), le.Uint64(b[8:]), le.Uint32(b[16:])
		operation, size := vsr.Operation(b[20]), int(le.Uint32(b[21:]))
		b = b[25:]
		if size > len(b) {
			return fmt.Errorf("batch entry %d payload truncated", i)
		}
		payload := b[:size]
		b = b[size:]
		if err := m.entry(op, client, session, request, operation, payload); err != nil {
			return err
		}
	}
	return nil
}

func (m *kvShadow) entry(op, client, session uint64, request uint32, operation vsr.Operation, payload []byte) error {
	switch operation {
	case vsr.OperationRegister:
		if s := m.sessions[client]; s != nil {
			// A newer register (the client gave up waiting) is answered with the session.
			if request > s.request {
				m.journal(op, client)
				s.request, s.replyOp, s.replyOperation, s.result = request, op, operation, kv.Result{}
			}
			return nil
		}
		m.evictOldest(op)
		m.journal(op, client)
		m.sessions[client] = &shadowSession{registered: op, request: request, executedIn: m.executedIn,
			replyOp: op, replyOperation: operation}
		m.opened[[2]uint64{client, op}] = true
	case vsr.OperationUpgrade:
		if len(payload) != 4 {
			return fmt.Errorf("upgrade payload of %d bytes", len(payload))
		}
		if release := binary.LittleEndian.Uint32(payload); release > m.release {
			m.release = release
			m.upgrades = append(m.upgrades, releaseRaise{op: op, release: release})
		}
	case vsr.OperationReconfigure:
		// A membership change: the key/value state and the sessions stay as they are.
		if len(payload) != 6 {
			return fmt.Errorf("reconfiguration payload of %d bytes", len(payload))
		}
	case vsr.OperationKV:
		s := m.sessions[client]
		if s == nil || s.registered != session || request <= s.request {
			return nil // an evicted session's request, or a duplicate: not executed
		}
		m.journal(op, client)
		result := kv.Result{Status: kv.StatusInvalid} // bytes that do not decode change nothing
		if o, err := kv.DecodeOp(payload); err == nil {
			result = m.apply(op, o)
		}
		s.request, s.replyOp, s.replyOperation, s.result = request, op, operation, result
		if m.replies == nil {
			m.replies = map[uint64]shadowReply{}
		}
		m.replies[client] = shadowReply{op: op, session: session, request: request, result: result}
	default:
		return fmt.Errorf("entry of operation %d", operation)
	}
	return nil
}

// evictOldest makes room for a registration: the session registered first (lowest client
// id among equals) goes.
func (m *kvShadow) evictOldest(op uint64) {
	capacity := m.capacity
	if capacity == 0 {
		capacity = vsr.ClientsMax
	}
	if len(m.sessions) < capacity {
		return
	}
	var oldest uint64
	var best *shadowSession
	for client, s := range m.sessions {
		if best == nil || s.registered < best.registered || (s.registered == best.registered && client < oldest) {
			oldest, best = client, s
		}
	}
	m.journal(op, oldest)
	delete(m.sessions, oldest)
}

// apply runs one key/value operation under the machine's documented rules (kvApply, with
// the two rules of the whole map: the key limit and the release) and returns its result.
func (m *kvShadow) apply(op uint64, o kv.Op) kv.Result {
	if o.Kind == kv.KindDelete && m.release < kv.ReleaseDelete {
		return kv.Result{Status: kv.StatusUnsupported}
	}
	value, present := m.current(o.Key)
	before := kvState{present: present, value: value}
	result, next, creates := kvApply(before, o)
	switch {
	case creates && m.keys >= kv.KeysMax:
		return kv.Result{Status: kv.StatusFull}
	case next == before:
		return result
	case creates:
		m.keys++
	case !next.present:
		m.keys--
	}
	m.versions[o.Key] = append(m.versions[o.Key], keyVersion{op: op, present: next.present, value: next.value})
	return result
}

// rewind forgets the ops above op (a restore or a failover: the new configuration commits
// its own there). The sessions and the release cannot be rewound, so reads above op go
// unchecked from here on; reads at or below op still are.
func (m *kvShadow) rewind(op uint64) {
	m.rewound = true
	if m.applied <= op {
		return
	}
	for key, vs := range m.versions {
		keep := len(vs)
		for keep > 0 && vs[keep-1].op > op {
			keep--
		}
		m.versions[key] = vs[:keep]
	}
	m.applied = op
	m.broken = fmt.Sprintf("rewound to op %d", op)
}
