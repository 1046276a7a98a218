package sim

import "vopr/cluster/storage"

// FS returns the node's disk as the actor should see it: every completion callback runs
// under Guard, so a panic in the storage engine or replica during an I/O completion is a
// fail-stop of this node, and completions issued by an earlier incarnation never reach the
// current one.
func (n *Node) FS() storage.FS {
	return &guardedFS{node: n, disk: n.Disk, generation: n.generation}
}

type guardedFS struct {
	node       *Node
	disk       *Disk
	generation uint64
}

var _ storage.FS = (*guardedFS)(nil)

// run invokes a completion only if the incarnation that issued it is still running.
func (g *guardedFS) run(fn func()) {
	if g.node.generation != g.generation {
		return
	}
	g.node.Guard(fn)
}

func (g *guardedFS) Create(name string, done func(error)) {
	g.disk.Create(name, func(err error) { g.run(func() { done(err) }) })
}

func (g *guardedFS) ReadAt(name string, buf []byte, offset int64, done func(int, error)) {
	g.disk.ReadAt(name, buf, offset, func(n int, err error) { g.run(func() { done(n, err) }) })
}

func (g *guardedFS) WriteAt(name string, data []byte, offset int64, done func(error)) {
	g.disk.WriteAt(name, data, offset, func(err error) { g.run(func() { done(err) }) })
}

func (g *guardedFS) Sync(name string, done func(error)) {
	g.disk.Sync(name, func(err error) { g.run(func() { done(err) }) })
}

func (g *guardedFS) Truncate(name string, size int64, done func(error)) {
	g.disk.Truncate(name, size, func(err error) { g.run(func() { done(err) }) })
}

func (g *guardedFS) Remove(name string, done func(error)) {
	g.disk.Remove(name, func(err error) { g.run(func() { done(err) }) })
}

func (g *guardedFS) List(done func([]string, error)) {
	g.disk.List(func(names []string, err error) { g.run(func() { done(names, err) }) })
}

func (g *guardedFS) Size(name string) (int64, error) { return g.disk.Size(name) }

func (g *guardedFS) Usage() storage.Usage { return g.disk.Usage() }
