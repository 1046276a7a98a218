package sim

import (
	"fmt"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
)

// FS returns the node's disk as the actor should see it: every completion callback runs
// under Guard, so a panic in the storage engine or replica during an I/O completion is a
// fail-stop of this node, and completions issued by an earlier incarnation never reach the
// current one. Node.OnCompletion, if set, sees each completion first and may crash the node
// at that instant instead.
func (n *Node) FS() storage.FS {
	return &guardedFS{node: n, disk: n.Disk, generation: n.generation}
}

// IOOp names the kind of an I/O operation.
type IOOp int

const (
	IOCreate IOOp = iota
	IORead
	IOWrite
	IOSync
	IOTruncate
	IORemove
	IOList
)

var ioOpNames = [...]string{"create", "read", "write", "sync", "truncate", "remove", "list"}

func (o IOOp) String() string {
	if int(o) >= 0 && int(o) < len(ioOpNames) {
		return ioOpNames[o]
	}
	return fmt.Sprintf("IOOp(%d)", int(o))
}

// IOCompletion is one completed I/O operation of a node's actor, as Node.OnCompletion sees
// it: the operation, its file (empty for a list) and, for reads and writes, its span.
type IOCompletion struct {
	Op     IOOp
	Name   string
	Offset int64
	Size   int
	Err    error
}

type guardedFS struct {
	node       *Node
	disk       *Disk
	generation uint64
}

var _ storage.FS = (*guardedFS)(nil)

// run invokes a completion only if the incarnation that issued it is still running, and
// only if the node's completion hook does not crash the node at this instant: then the
// process died as the completion arrived, and the disk's crash semantics decide the rest.
func (g *guardedFS) run(io IOCompletion, fn func()) {
	n := g.node
	if n.generation != g.generation {
		return
	}
	if n.ObserveCompletion != nil && n.status == NodeUp {
		n.ObserveCompletion(io)
	}
	if n.OnCompletion != nil && n.status == NodeUp && n.OnCompletion(io) {
		n.Crash()
		return
	}
	n.Guard(fn)
}

func (g *guardedFS) Create(name string, done func(error)) {
	g.disk.Create(name, func(err error) {
		g.run(IOCompletion{Op: IOCreate, Name: name, Err: err}, func() { done(err) })
	})
}

func (g *guardedFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	g.disk.readAt(name, buf, offset, done, g)
}

func (g *guardedFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	g.disk.writeAt(name, data, offset, done, g)
}

func (g *guardedFS) Sync(name string, done func(error)) {
	g.disk.sync(name, done, g)
}

func (g *guardedFS) Truncate(name string, size int64, done func(error)) {
	g.disk.Truncate(name, size, func(err error) {
		g.run(IOCompletion{Op: IOTruncate, Name: name, Offset: size, Err: err}, func() { done(err) })
	})
}

func (g *guardedFS) Remove(name string, done func(error)) {
	g.disk.Remove(name, func(err error) {
		g.run(IOCompletion{Op: IORemove, Name: name, Err: err}, func() { done(err) })
	})
}

func (g *guardedFS) List(done func([]string, error)) {
	g.disk.List(func(names []string, err error) {
		g.run(IOCompletion{Op: IOList, Err: err}, func() { done(names, err) })
	})
}

func (g *guardedFS) Size(name string) (int64, error) { return g.disk.Size(name) }

func (g *guardedFS) SumMemos() (bodies, audits *checksum.SHA256Memo) { return g.disk.SumMemos() }

func (g *guardedFS) Usage() storage.Usage { return g.disk.Usage() }
