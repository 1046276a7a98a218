package osfs

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"vopr/cluster/storage"
	"vopr/internal/assert"
)

const (
	// CapacityUnlimited is the capacity reported when Options.CapacityBytes is zero: large
	// enough never to be reached in a test, small enough that percentages do not overflow.
	CapacityUnlimited = int64(1) << 50
	// PendingMax bounds the queue of issued but not yet completed operations.
	PendingMax = 1 << 16
)

// Options configures an FS.
type Options struct {
	// CapacityBytes is a soft capacity; zero means CapacityUnlimited.
	CapacityBytes int64
}

// FS is a storage.FS over the regular files of one directory.
type FS struct {
	dir      string
	capacity int64
	used     int64
	sizes    map[string]int64    // every file's logical size, as of completed operations
	files    map[string]*os.File // open handles, opened lazily
	queue    []func()            // issued operations, oldest first
}

var _ storage.FS = (*FS)(nil)

// New returns an FS over dir, which must exist. Regular files already in dir are part of it.
func New(dir string, opts Options) (*FS, error) {
	if opts.CapacityBytes < 0 {
		return nil, fmt.Errorf("osfs: negative capacity %d", opts.CapacityBytes)
	}
	capacity := opts.CapacityBytes
	if capacity == 0 {
		capacity = CapacityUnlimited
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("osfs: %w", err)
	}
	f := &FS{dir: dir, capacity: capacity, sizes: map[string]int64{}, files: map[string]*os.File{}}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("osfs: %w", err)
		}
		f.sizes[e.Name()] = info.Size()
		f.used += info.Size()
	}
	return f, nil
}

// Dir returns the directory the FS stores its files in.
func (f *FS) Dir() string { return f.dir }

// Pending returns the number of issued operations not yet completed.
func (f *FS) Pending() int { return len(f.queue) }

// Poll performs the oldest issued operation and delivers its completion. It reports false
// if nothing was pending.
func (f *FS) Poll() bool {
	if len(f.queue) == 0 {
		return false
	}
	op := f.queue[0]
	f.queue[0] = nil
	f.queue = f.queue[1:]
	op()
	return true
}

// RunUntilIdle polls until nothing is pending (completions may issue more operations) and
// returns how many operations ran.
func (f *FS) RunUntilIdle() int {
	n := 0
	for f.Poll() {
		n++
	}
	return n
}

// Close closes every open handle. Pending operations are dropped.
func (f *FS) Close() error {
	var first error
	for _, name := range slices.Sorted(maps.Keys(f.files)) {
		if err := f.files[name].Close(); err != nil && first == nil {
			first = err
		}
		delete(f.files, name)
	}
	f.queue = nil
	return first
}

func (f *FS) issue(op func()) {
	assert.That(op != nil, "osfs: nil operation")
	assert.That(len(f.queue) < PendingMax, "osfs: more than PendingMax pending operations")
	f.queue = append(f.queue, op)
}

// Create makes an empty file; ErrExist if it exists.
func (f *FS) Create(name string, done func(err error)) {
	f.issue(func() { done(f.create(name)) })
}

// ReadAt fills buf from offset; a short read at the end of the file is not an error.
func (f *FS) ReadAt(name string, buf []byte, offset int64, done func(n int, err error)) {
	f.issue(func() { done(f.readAt(name, buf, offset)) })
}

// WriteAt writes a copy of data at offset, extending the file with zeros as needed.
func (f *FS) WriteAt(name string, data []byte, offset int64, done func(err error)) {
	data = append([]byte(nil), data...)
	f.issue(func() { done(f.writeAt(name, data, offset)) })
}

// Sync makes the file's completed writes durable.
func (f *FS) Sync(name string, done func(err error)) {
	f.issue(func() { done(f.sync(name)) })
}

// Truncate sets the file's size; durable on completion.
func (f *FS) Truncate(name string, size int64, done func(err error)) {
	f.issue(func() { done(f.truncate(name, size)) })
}

// Remove deletes the file; durable on completion.
func (f *FS) Remove(name string, done func(err error)) {
	f.issue(func() { done(f.remove(name)) })
}

// List returns the names of all files, sorted.
func (f *FS) List(done func(names []string, err error)) {
	f.issue(func() { done(slices.Sorted(maps.Keys(f.sizes)), nil) })
}

// Size returns a file's size as of the completed operations.
func (f *FS) Size(name string) (int64, error) {
	size, ok := f.sizes[name]
	if !ok {
		return 0, fmt.Errorf("osfs: %s: %w", name, storage.ErrNotExist)
	}
	return size, nil
}

// Usage returns the sum of the file sizes and the (soft) capacity.
func (f *FS) Usage() storage.Usage {
	assert.That(f.used >= 0, "osfs: negative usage")
	return storage.Usage{Used: f.used, Capacity: f.capacity}
}

func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("osfs: invalid file name %q", name)
	}
	return nil
}

func (f *FS) create(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if _, ok := f.sizes[name]; ok {
		return fmt.Errorf("osfs: %s: %w", name, storage.ErrExist)
	}
	file, err := os.OpenFile(f.path(name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return f.wrap(name, err)
	}
	f.files[name] = file
	f.sizes[name] = 0
	return f.syncDir()
}

func (f *FS) readAt(name string, buf []byte, offset int64) (int, error) {
	file, err := f.file(name)
	if err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, fmt.Errorf("osfs: %s: negative offset %d", name, offset)
	}
	n, err := file.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("osfs: %s: %v: %w", name, err, storage.ErrIO)
	}
	return n, nil
}

func (f *FS) writeAt(name string, data []byte, offset int64) error {
	file, err := f.file(name)
	if err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("osfs: %s: negative offset %d", name, offset)
	}
	before := f.sizes[name]
	after := max(before, offset+int64(len(data)))
	if !f.fits(before, after) {
		return fmt.Errorf("osfs: %s: %w", name, storage.ErrNoSpace)
	}
	if _, err := file.WriteAt(data, offset); err != nil {
		_ = file.Truncate(before) // nothing of a failed write is applied
		return f.wrap(name, err)
	}
	f.resize(name, after)
	return nil
}

func (f *FS) sync(name string) error {
	file, err := f.file(name)
	if err != nil {
		return err
	}
	if err := file.Sync(); err != nil {
		return f.wrap(name, err)
	}
	return nil
}

func (f *FS) truncate(name string, size int64) error {
	file, err := f.file(name)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("osfs: %s: negative size %d", name, size)
	}
	if !f.fits(f.sizes[name], size) {
		return fmt.Errorf("osfs: %s: %w", name, storage.ErrNoSpace)
	}
	if err := file.Truncate(size); err != nil {
		return f.wrap(name, err)
	}
	f.resize(name, size)
	return f.wrap(name, file.Sync())
}

func (f *FS) remove(name string) error {
	if _, ok := f.sizes[name]; !ok || validName(name) != nil {
		return fmt.Errorf("osfs: %s: %w", name, storage.ErrNotExist)
	}
	if file, ok := f.files[name]; ok {
		_ = file.Close()
		delete(f.files, name)
	}
	if err := os.Remove(f.path(name)); err != nil {
		return f.wrap(name, err)
	}
	f.used -= f.sizes[name]
	delete(f.sizes, name)
	return f.syncDir()
}

// file returns the open handle of an existing file.
func (f *FS) file(name string) (*os.File, error) {
	if _, ok := f.sizes[name]; !ok || validName(name) != nil {
		return nil, fmt.Errorf("osfs: %s: %w", name, storage.ErrNotExist)
	}
	if file, ok := f.files[name]; ok {
		return file, nil
	}
	file, err := os.OpenFile(f.path(name), os.O_RDWR, 0)
	if err != nil {
		return nil, f.wrap(name, err)
	}
	f.files[name] = file
	return file, nil
}

func (f *FS) fits(before, after int64) bool {
	return after <= before || f.used+(after-before) <= f.capacity
}

func (f *FS) resize(name string, size int64) {
	before, ok := f.sizes[name]
	assert.That(ok, "osfs: resizing an unknown file")
	f.used += size - before
	f.sizes[name] = size
	assert.That(f.used >= 0, "osfs: negative usage after resize")
}

func (f *FS) path(name string) string { return filepath.Join(f.dir, name) }

func (f *FS) syncDir() error {
	d, err := os.Open(f.dir)
	if err != nil {
		return f.wrap(f.dir, err)
	}
	defer d.Close()
	return f.wrap(f.dir, d.Sync())
}

// wrap maps an os error to the storage errors, keeping the os text.
func (f *FS) wrap(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("osfs: %s: %v: %w", name, err, storage.ErrNotExist)
	case errors.Is(err, os.ErrExist):
		return fmt.Errorf("osfs: %s: %v: %w", name, err, storage.ErrExist)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("osfs: %s: %v: %w", name, err, storage.ErrNoSpace)
	default:
		return fmt.Errorf("osfs: %s: %v: %w", name, err, storage.ErrIO)
	}
}
