package invariants

import (
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/vsr"
)

// NameCanonicalCommit checks the canonical commit history (TigerBeetle's state checker):
// the first prepare any replica executes at an op is canonical, and every replica that
// executes that op executes the same prepare (by header checksum). Each replica executes
// ops one after another: op n+1 right after op n, or a jump forward by state sync to a
// checkpoint. Only a crash may send it back: it then resumes from its checkpoint (at most
// its last executed op) and re-executes the same prepares, which the canonical check sees.
// Inspections must agree: commit_min is the last op the events showed executed.
//
// What was executed is what was prepared: at every commit the checker computes its own
// digest (SHA-256) of the whole prepare the replica executed (vsr.Event.Prepare), rather than
// trusting the header's checksum claim. Every replica must execute the canonical prepare's
// bytes at that op, and the canonical bytes must be those its primary created (when the
// harness saw the creation: Suite.OnPrepare). Acknowledgements name the canonical prepare
// (acked_survive), so they are held to the created bytes too.
const NameCanonicalCommit = "canonical_commit"

// commitRecord is the canonical prepare of an op: who executed it first, in which view, when.
type commitRecord struct {
	sum       checksum.Sum
	digest    digest // the harness's own digest of the bytes executed
	timestamp int64
	replica   int
	epoch     uint32
	view      uint32 // the view the first replica executed it in (with epoch)
	atNs      int64
}

// executor is one replica's execution position.
//
// Invariant: known implies last is the op its state machine is at; ceiling >= last is the
// highest op it has executed (or synced to) in any lifetime.
type executor struct {
	known   bool
	last    uint64
	ceiling uint64
	crashed bool // it has restarted at least once: its first look is a recovery
}

type canonicalCommit struct {
	canon     opTable[commitRecord]
	executors []executor
	prepared  *preparedTable
	highest   uint64 // the highest canonical op
	// executedUnseen counts canonical prepares whose creation the harness never saw (a
	// single replica sends no prepares), whose bytes are held only to each other.
	executedUnseen uint64
	memo           *digestMemo // digestOf, hashing each prepare's bytes once (nil: every time)
	// watchingSyncs: the harness passes every sync message the network delivers intact
	// (heardSync), and each replica's state-sync event is held to the context they carried.
	watchingSyncs bool
	heard         [][]syncHeard // per replica, the distinct (op, context) of syncs delivered to it
	syncsChecked  uint64
	syncsNone     uint64 // of them, syncs whose sender sent no context (and the replica reported none)
}

// syncHeard is the checkpoint op of a sync message delivered intact to a replica and its
// context, read off the wire by the checker (bytes 48..64 of the header, where the sender
// wrote the checksum of the checkpoint op's prepare, or zeros if its log no longer held it).
type syncHeard struct {
	op      uint64
	context checksum.Sum
}

// syncHeardMax bounds the contexts kept per replica: the lowest op goes first (a replica
// syncs to the newest checkpoint it is offered). Each checkpoint op has one canonical prepare,
// so a replica hears at most two contexts of it (that checksum, or none).
const syncHeardMax = 32

// syncContextOnWire reads a sync's context off its header bytes: the wire layout puts the
// checksum, the body's checksum, the parent and then the context, 16 bytes each.
func syncContextOnWire(msg []byte) checksum.Sum {
	var sum checksum.Sum
	copy(sum[:], msg[48:64])
	return sum
}

// heardSync records a sync message for the checkpoint of op delivered intact to replica to.
func (c *canonicalCommit) heardSync(to int, op uint64, msg []byte) {
	c.heard = grow(c.heard, to)
	list, context := c.heard[to], syncContextOnWire(msg)
	lowest := -1
	for i, h := range list {
		if h.op == op && h.context == context {
			return
		}
		if lowest < 0 || h.op < list[lowest].op {
			lowest = i
		}
	}
	if len(list) >= syncHeardMax {
		list = append(list[:lowest], list[lowest+1:]...)
	}
	c.heard[to] = append(list, syncHeard{op: op, context: context})
}

func (c *canonicalCommit) executor(replica int) *executor {
	c.executors = grow(c.executors, replica)
	return &c.executors[replica]
}

// lookup returns the canonical prepare of op, if a replica has executed it.
func (c *canonicalCommit) lookup(op uint64) (commitRecord, bool) { return c.canon.get(op) }

// record is lookup without the copy (opTable.at), for the checks of every commit: nil if no
// replica has executed op.
func (c *canonicalCommit) record(op uint64) *commitRecord { return c.canon.at(op) }

func (c *canonicalCommit) event(atNs int64, e vsr.Event) *Violation {
	switch e.Kind {
	case vsr.EventCommit:
		return c.commit(atNs, e)
	case vsr.EventStateSync:
		return c.sync(atNs, e)
	}
	return nil
}

func (c *canonicalCommit) commit(atNs int64, e vsr.Event) *Violation {
	fail := func(format string, args ...any) *Violation {
		return violation(NameCanonicalCommit, e.Replica, e.Op, e.View, atNs, format, args...)
	}
	executed := c.memo.of(e.Op, e.Prepare)
	if first, ok := c.canon.get(e.Op); !ok {
		if made, ok := c.createdAs(e); ok && made.digest != executed {
			return fail("executed prepare %s at op %d, but its bytes (digest %s) are not those its primary %d created in view %d at %s (digest %s)",
				short(e.Checksum), e.Op, hex8(executed), made.replica, made.view, formatNs(made.atNs), hex8(made.digest))
		}
		c.canon.put(e.Op, commitRecord{sum: e.Checksum, digest: executed, timestamp: e.Timestamp,
			replica: e.Replica, epoch: e.Epoch, view: e.View, atNs: atNs})
		c.highest = max(c.highest, e.Op)
	} else if first.sum != e.Checksum {
		return fail("executed prepare %s at op %d, but replica %d executed prepare %s there (view %d, at %s)",
			short(e.Checksum), e.Op, first.replica, short(first.sum), first.view, formatNs(first.atNs))
	} else if first.digest != executed {
		return fail("executed prepare %s at op %d with bytes of digest %s, but replica %d executed it with digest %s (view %d, at %s): the header's checksum claims bytes that differ",
			short(e.Checksum), e.Op, hex8(executed), first.replica, hex8(first.digest), first.view, formatNs(first.atNs))
	}
	x := c.executor(e.Replica)
	switch {
	case x.known && e.Op <= x.last:
		return fail("executed op %d after op %d without a restart: execution went back", e.Op, x.last)
	case x.known && e.Op > x.last+1:
		return fail("executed op %d right after op %d: ops %d..%d were skipped", e.Op, x.last, x.last+1, e.Op-1)
	case !x.known && x.crashed && e.Op > x.ceiling+1:
		return fail("first op executed since a restart is %d, but the replica had executed only up to op %d",
			e.Op, x.ceiling)
	}
	x.known, x.last, x.ceiling = true, e.Op, max(x.ceiling, e.Op)
	return nil
}

// createdAs returns the creation of the prepare e executed, counting those never seen.
func (c *canonicalCommit) createdAs(e vsr.Event) (created, bool) {
	if c.prepared == nil {
		return created{}, false
	}
	made, ok := c.prepared.lookup(e.Op, e.Checksum)
	if !ok {
		c.executedUnseen++
	}
	return made, ok
}

// sync: a state sync installed a peer's checkpoint at e.Op (e.Checksum names the prepare
// of that op, zero if the peer did not know it).
//
// The context is the one the sync message that completed the snapshot carried: its sender
// sends none only when its log no longer holds the checkpoint op's header (the slot reused,
// the anchor moved on; onRequestSync). When the harness passes the syncs delivered
// (watchingSyncs), the replica must report a context that a sync of that op delivered to it
// carried on the wire, zero only if one carried zero: a replica that drops or garbles the
// context it received (a decoder that skips the field) reports a context nobody sent.
func (c *canonicalCommit) sync(atNs int64, e vsr.Event) *Violation {
	fail := func(format string, args ...any) *Violation {
		return violation(NameCanonicalCommit, e.Replica, e.Op, e.View, atNs, format, args...)
	}
	if c.watchingSyncs {
		if v := c.syncHeardCheck(e, fail); v != nil {
			return v
		}
	}
	if first, ok := c.canon.get(e.Op); ok && !e.Checksum.IsZero() && first.sum != e.Checksum {
		return fail("state-synced to a checkpoint at op %d of prepare %s, but replica %d executed prepare %s there",
			e.Op, short(e.Checksum), first.replica, short(first.sum))
	}
	x := c.executor(e.Replica)
	if x.known && e.Op <= x.last {
		return fail("state sync moved execution back from op %d to op %d", x.last, e.Op)
	}
	x.known, x.last, x.ceiling = true, e.Op, max(x.ceiling, e.Op)
	return nil
}

// syncHeardCheck holds a state-sync event's context to the contexts of the syncs of its op
// delivered to the replica, and forgets those at or below the op.
func (c *canonicalCommit) syncHeardCheck(e vsr.Event, fail func(string, ...any) *Violation) *Violation {
	c.heard = grow(c.heard, e.Replica)
	list := c.heard[e.Replica]
	var carried []string
	found := false
	for _, h := range list {
		if h.op == e.Op {
			found = found || h.context == e.Checksum
			carried = append(carried, short(h.context))
		}
	}
	if !found {
		return fail("state-synced to the checkpoint at op %d naming prepare %s as the sync's context, but the syncs of op %d delivered to it intact carried %v on the wire",
			e.Op, short(e.Checksum), e.Op, carried)
	}
	c.syncsChecked++
	if e.Checksum.IsZero() {
		c.syncsNone++
	}
	kept := list[:0]
	for _, h := range list {
		if h.op > e.Op {
			kept = append(kept, h)
		}
	}
	c.heard[e.Replica] = kept
	return nil
}

func (c *canonicalCommit) inspect(atNs int64, replica int, in *vsr.Inspection) *Violation {
	if !running(in.Status) {
		return nil
	}
	x := c.executor(replica)
	if !x.known {
		// The first look since a restart: execution resumes from the recovered checkpoint.
		// One past anything it executed is a state sync that became durable as the replica
		// crashed, before it could report it (a crash as its superblock write completes): a
		// peer's checkpoint, so of an op some replica executed (digest_agreement checks its
		// state). A checkpoint of an op nobody executed came from nowhere.
		if _, synced := c.canon.get(in.CommitMin); x.crashed && in.CommitMin > x.ceiling && !synced {
			return violation(NameCanonicalCommit, replica, in.CommitMin, in.View, atNs,
				"resumed at commit_min %d, past op %d, the highest it ever executed, and no replica executed op %d",
				in.CommitMin, x.ceiling, in.CommitMin)
		}
		x.known, x.last, x.ceiling = true, in.CommitMin, max(x.ceiling, in.CommitMin)
		return nil
	}
	if in.CommitMin != x.last {
		return violation(NameCanonicalCommit, replica, in.CommitMin, in.View, atNs,
			"commit_min is %d, but the last op it executed is %d", in.CommitMin, x.last)
	}
	return nil
}

func (c *canonicalCommit) crash(replica int) {
	x := c.executor(replica)
	x.known, x.crashed = false, true
}

// hex8 prints a digest's first 8 bytes in hex. Taking the digest by value keeps the
// caller's digests on its stack (slicing them there made them escape on every commit).
func hex8(d digest) string { return fmt.Sprintf("%x", d[:8]) }
