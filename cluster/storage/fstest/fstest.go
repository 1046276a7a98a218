package fstest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"vopr/cluster/storage"
)

const (
	// Prefix starts the name of every file the checker makes; none may exist beforehand.
	Prefix = "fstest-"
	// StepsMax bounds how many event loop steps one completion may take.
	StepsMax = 1 << 20
	// NoSpaceProbeMax is the most free space for which the ErrNoSpace check runs: it writes
	// one byte more than the free space.
	NoSpaceProbeMax = 1 << 20
)

// TestFS checks fsys against the storage.FS contract. run steps the owner's event loop once
// and reports false when nothing is left to run. TestFS makes its own files (named with
// Prefix), removes them at the end, and returns nil or every failure found.
func TestFS(fsys storage.FS, run func() bool) error {
	c := &checker{fs: fsys, run: run}
	names, err := c.list()
	if err != nil {
		return fmt.Errorf("fstest: List: %w", err)
	}
	for _, name := range names {
		if strings.HasPrefix(name, Prefix) {
			return fmt.Errorf("fstest: %s exists before the check", name)
		}
	}
	checks := []struct {
		name string
		fn   func() error
	}{
		{"create", c.checkCreate},
		{"write and read", c.checkWriteRead},
		{"sync file", c.checkSync},
		{"truncate", c.checkTruncate},
		{"missing file", c.checkMissing},
		{"remove", c.checkRemove},
		{"list", c.checkList},
		{"usage", c.checkUsage},
		{"no space", c.checkNoSpace},
		{"concurrent", c.checkConcurrent},
	}
	var errs []error
	for _, check := range checks {
		if err := check.fn(); err != nil {
			errs = append(errs, fmt.Errorf("fstest: %s: %w", check.name, err))
		}
	}
	c.cleanup()
	if err := c.checkDeliveredOnce(); err != nil {
		errs = append(errs, fmt.Errorf("fstest: completions: %w", err))
	}
	return errors.Join(errs...)
}

// errProtocol marks a broken completion protocol (inline, never, or twice).
var errProtocol = errors.New("completion protocol violated")

type checker struct {
	fs  storage.FS
	run func() bool
	// delivered counts, per issued operation, how many times its completion ran.
	delivered []*int
	what      []string
}

// await issues one operation and steps the loop until its completion has run.
func (c *checker) await(what string, issue func(done func())) error {
	count := new(int)
	c.delivered = append(c.delivered, count)
	c.what = append(c.what, what)
	issue(func() { *count++ })
	if *count != 0 {
		return fmt.Errorf("%s: %w: delivered inline", what, errProtocol)
	}
	return c.until(what, func() bool { return *count > 0 })
}

// until steps the loop until cond holds.
func (c *checker) until(what string, cond func() bool) error {
	for steps := 0; !cond(); steps++ {
		if steps >= StepsMax {
			return fmt.Errorf("%s: %w: not delivered within %d steps", what, errProtocol, StepsMax)
		}
		if !c.run() {
			return fmt.Errorf("%s: %w: loop idle, completion never delivered", what, errProtocol)
		}
	}
	return nil
}

func (c *checker) checkDeliveredOnce() error {
	for steps := 0; c.run(); steps++ {
		if steps >= StepsMax {
			return fmt.Errorf("event loop never idle")
		}
	}
	for i, count := range c.delivered {
		if *count != 1 {
			return fmt.Errorf("%s: %w: delivered %d times", c.what[i], errProtocol, *count)
		}
	}
	return nil
}

func (c *checker) create(name string) (result error) {
	if err := c.await("Create "+name, func(done func()) {
		c.fs.Create(name, func(err error) { result = err; done() })
	}); err != nil {
		return err
	}
	return result
}

func (c *checker) write(name string, data []byte, offset int64) (result error) {
	if err := c.await("WriteAt "+name, func(done func()) {
		c.fs.WriteAt(name, data, offset, func(err error) { result = err; done() })
	}); err != nil {
		return err
	}
	return result
}

func (c *checker) read(name string, size int, offset int64) (data []byte, result error) {
	buf := make([]byte, size)
	n := 0
	if err := c.await("ReadAt "+name, func(done func()) {
		c.fs.ReadAt(name, buf, offset, func(got int, err error) { n, result = got, err; done() })
	}); err != nil {
		return nil, err
	}
	if n < 0 || n > size {
		return nil, fmt.Errorf("ReadAt %s: n = %d out of [0, %d]", name, n, size)
	}
	return buf[:n], result
}

func (c *checker) sync(name string) (result error) {
	if err := c.await("Sync "+name, func(done func()) {
		c.fs.Sync(name, func(err error) { result = err; done() })
	}); err != nil {
		return err
	}
	return result
}

func (c *checker) truncate(name string, size int64) (result error) {
	if err := c.await("Truncate "+name, func(done func()) {
		c.fs.Truncate(name, size, func(err error) { result = err; done() })
	}); err != nil {
		return err
	}
	return result
}

func (c *checker) remove(name string) (result error) {
	if err := c.await("Remove "+name, func(done func()) {
		c.fs.Remove(name, func(err error) { result = err; done() })
	}); err != nil {
		return err
	}
	return result
}

func (c *checker) list() (names []string, result error) {
	if err := c.await("List", func(done func()) {
		c.fs.List(func(got []string, err error) { names, result = got, err; done() })
	}); err != nil {
		return nil, err
	}
	return names, result
}

// expectContent reads the whole file and compares it with want, and its size too.
func (c *checker) expectContent(name string, want []byte) error {
	size, err := c.fs.Size(name)
	if err != nil || size != int64(len(want)) {
		return fmt.Errorf("Size %s = %d, %v; want %d", name, size, err, len(want))
	}
	got, err := c.read(name, len(want)+7, 0)
	if err != nil {
		return fmt.Errorf("ReadAt %s: %w", name, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s holds %q, want %q", name, got, want)
	}
	return nil
}

func (c *checker) cleanup() {
	names, err := c.list()
	if err != nil {
		return
	}
	for _, name := range names {
		if strings.HasPrefix(name, Prefix) {
			_ = c.remove(name)
		}
	}
}

func expectErr(what string, got, want error) error {
	if want == nil && got != nil {
		return fmt.Errorf("%s: unexpected error %w", what, got)
	}
	if want != nil && !errors.Is(got, want) {
		return fmt.Errorf("%s: error %v, want %v", what, got, want)
	}
	return nil
}

func (c *checker) checkCreate() error {
	a := Prefix + "create"
	if err := expectErr("Create", c.create(a), nil); err != nil {
		return err
	}
	if err := c.expectContent(a, nil); err != nil {
		return err
	}
	if err := expectErr("Create of an existing file", c.create(a), storage.ErrExist); err != nil {
		return err
	}
	return c.expectContent(a, nil)
}

func (c *checker) checkWriteRead() error {
	a := Prefix + "write"
	if err := expectErr("Create", c.create(a), nil); err != nil {
		return err
	}
	data := []byte("hello")
	var result error
	err := c.await("WriteAt "+a, func(done func()) {
		c.fs.WriteAt(a, data, 0, func(err error) { result = err; done() })
	})
	if err := firstError(err, expectErr("WriteAt", result, nil)); err != nil {
		return err
	}
	if string(data) != "hello" {
		return fmt.Errorf("WriteAt changed the written slice to %q: it is read-only", data)
	}
	if err := c.expectContent(a, []byte("hello")); err != nil {
		return err
	}
	if err := expectErr("WriteAt past the end", c.write(a, []byte("world"), 10), nil); err != nil {
		return err
	}
	if err := c.expectContent(a, []byte("hello\x00\x00\x00\x00\x00world")); err != nil {
		return err
	}
	if err := expectErr("overwrite", c.write(a, []byte("EL"), 1), nil); err != nil {
		return err
	}
	if err := c.expectContent(a, []byte("hELlo\x00\x00\x00\x00\x00world")); err != nil {
		return err
	}
	return c.checkShortReads(a)
}

func (c *checker) checkShortReads(a string) error {
	got, err := c.read(a, 10, 12)
	if err != nil || string(got) != "rld" {
		return fmt.Errorf("ReadAt across the end = %q, %v; want \"rld\", nil", got, err)
	}
	got, err = c.read(a, 4, 100)
	if err != nil || len(got) != 0 {
		return fmt.Errorf("ReadAt past the end = %q, %v; want n = 0, nil", got, err)
	}
	return nil
}

func (c *checker) checkSync() error {
	a := Prefix + "synced"
	if err := firstError(c.create(a), c.write(a, []byte("durable"), 0)); err != nil {
		return err
	}
	if err := expectErr("Sync", c.sync(a), nil); err != nil {
		return err
	}
	return c.expectContent(a, []byte("durable"))
}

func (c *checker) checkTruncate() error {
	a := Prefix + "truncate"
	if err := firstError(c.create(a), c.write(a, []byte("0123456789"), 0)); err != nil {
		return err
	}
	if err := expectErr("Truncate down", c.truncate(a, 4), nil); err != nil {
		return err
	}
	if err := c.expectContent(a, []byte("0123")); err != nil {
		return err
	}
	if err := expectErr("Truncate up", c.truncate(a, 6), nil); err != nil {
		return err
	}
	if err := c.expectContent(a, []byte("0123\x00\x00")); err != nil {
		return err
	}
	if err := expectErr("Truncate to zero", c.truncate(a, 0), nil); err != nil {
		return err
	}
	return c.expectContent(a, nil)
}

func (c *checker) checkMissing() error {
	m := Prefix + "missing"
	if _, err := c.fs.Size(m); !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("Size: error %v, want ErrNotExist", err)
	}
	_, readErr := c.read(m, 4, 0)
	checks := []struct {
		what string
		err  error
	}{
		{"ReadAt", readErr},
		{"WriteAt", c.write(m, []byte("x"), 0)},
		{"Sync", c.sync(m)},
		{"Truncate", c.truncate(m, 1)},
		{"Remove", c.remove(m)},
	}
	for _, check := range checks {
		if err := expectErr(check.what+" of a missing file", check.err, storage.ErrNotExist); err != nil {
			return err
		}
	}
	if _, err := c.fs.Size(m); !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("an operation on a missing file created it (Size: %v)", err)
	}
	return nil
}

func (c *checker) checkRemove() error {
	a := Prefix + "remove"
	if err := firstError(c.create(a), c.write(a, []byte("gone"), 0)); err != nil {
		return err
	}
	if err := expectErr("Remove", c.remove(a), nil); err != nil {
		return err
	}
	if _, err := c.fs.Size(a); !errors.Is(err, storage.ErrNotExist) {
		return fmt.Errorf("Size after Remove: error %v, want ErrNotExist", err)
	}
	if err := expectErr("Create after Remove", c.create(a), nil); err != nil {
		return err
	}
	return c.expectContent(a, nil)
}

func (c *checker) checkList() error {
	want := []string{Prefix + "list-a", Prefix + "list-c", Prefix + "list-b"}
	for _, name := range want {
		if err := c.create(name); err != nil {
			return err
		}
	}
	names, err := c.list()
	if err != nil {
		return err
	}
	if !slices.IsSorted(names) {
		return fmt.Errorf("List is not sorted: %q", names)
	}
	for _, name := range want {
		if !slices.Contains(names, name) {
			return fmt.Errorf("List %q lacks %s", names, name)
		}
	}
	if err := c.remove(want[1]); err != nil {
		return err
	}
	if names, err = c.list(); err != nil || slices.Contains(names, want[1]) {
		return fmt.Errorf("List after Remove = %q, %v", names, err)
	}
	return nil
}

func (c *checker) checkUsage() error {
	before := c.fs.Usage()
	if before.Capacity <= 0 || before.Used < 0 || before.Used > before.Capacity {
		return fmt.Errorf("Usage %+v: want 0 <= Used <= Capacity, Capacity > 0", before)
	}
	a := Prefix + "usage"
	size := int64(8 * storage.SectorSize)
	if err := firstError(c.create(a), c.write(a, make([]byte, size), 0)); err != nil {
		return err
	}
	grown := c.fs.Usage()
	if grown.Used < before.Used+size || grown.Capacity != before.Capacity {
		return fmt.Errorf("Usage after writing %d bytes = %+v, before %+v", size, grown, before)
	}
	if err := c.remove(a); err != nil {
		return err
	}
	if after := c.fs.Usage(); after != before {
		return fmt.Errorf("Usage after Remove = %+v, want %+v", after, before)
	}
	return nil
}

// checkNoSpace runs only when the free space is small enough to fill.
func (c *checker) checkNoSpace() error {
	u := c.fs.Usage()
	free := u.Capacity - u.Used
	if free > NoSpaceProbeMax {
		return nil
	}
	a := Prefix + "nospace"
	if err := c.create(a); err != nil {
		return err
	}
	err := c.write(a, make([]byte, free+1), 0)
	if err := expectErr("WriteAt beyond capacity", err, storage.ErrNoSpace); err != nil {
		return err
	}
	if err := c.expectContent(a, nil); err != nil {
		return fmt.Errorf("a refused write applied something: %w", err)
	}
	err = c.truncate(a, free+1)
	if err := expectErr("Truncate beyond capacity", err, storage.ErrNoSpace); err != nil {
		return err
	}
	if err := c.expectContent(a, nil); err != nil {
		return fmt.Errorf("a refused truncate applied something: %w", err)
	}
	if c.fs.Usage() != u {
		return fmt.Errorf("Usage changed by refused operations: %+v, want %+v", c.fs.Usage(), u)
	}
	return c.remove(a)
}

// checkConcurrent issues several operations before running the loop.
func (c *checker) checkConcurrent() error {
	const files = 4
	for i := range files {
		if err := c.create(fmt.Sprintf("%sconcurrent-%d", Prefix, i)); err != nil {
			return err
		}
	}
	results := make([]error, files)
	pending := files
	for i := range files {
		name := fmt.Sprintf("%sconcurrent-%d", Prefix, i)
		count := new(int)
		c.delivered = append(c.delivered, count)
		c.what = append(c.what, "concurrent WriteAt "+name)
		c.fs.WriteAt(name, bytes.Repeat([]byte{byte('a' + i)}, 100*(i+1)), 0, func(err error) {
			*count++
			results[i] = err
			pending--
		})
		if *count != 0 {
			return fmt.Errorf("WriteAt %s: %w: delivered inline", name, errProtocol)
		}
	}
	if err := c.until("concurrent writes", func() bool { return pending <= 0 }); err != nil {
		return err
	}
	for i := range files {
		name := fmt.Sprintf("%sconcurrent-%d", Prefix, i)
		want := bytes.Repeat([]byte{byte('a' + i)}, 100*(i+1))
		if err := firstError(results[i], c.expectContent(name, want)); err != nil {
			return err
		}
	}
	return nil
}

// firstError returns the first non-nil error. Its arguments are all evaluated, so use it only
// where evaluating the later ones after an earlier failure is harmless.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
