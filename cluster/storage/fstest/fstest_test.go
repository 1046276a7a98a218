package fstest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vopr/cluster/storage"
	"vopr/cluster/storage/fstest"
	"vopr/cluster/storage/osfs"
)

func newOSFS(t *testing.T, capacity int64) *osfs.FS {
	t.Helper()
	fs, err := osfs.New(t.TempDir(), osfs.Options{CapacityBytes: capacity})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	return fs
}

func TestOSFS(t *testing.T) {
	fs := newOSFS(t, 0)
	if err := fstest.TestFS(fs, fs.Poll); err != nil {
		t.Fatal(err)
	}
}

// TestOSFSSmallCapacity runs the checker on a nearly full disk, so that the ErrNoSpace check
// runs too.
func TestOSFSSmallCapacity(t *testing.T) {
	fs := newOSFS(t, 64<<10)
	if err := os.WriteFile(filepath.Join(fs.Dir(), "ballast"), make([]byte, 16<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	fs2, err := osfs.New(fs.Dir(), osfs.Options{CapacityBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if u := fs2.Usage(); u.Used != 16<<10 {
		t.Fatalf("existing files not counted: %+v", u)
	}
	if err := fstest.TestFS(fs2, fs2.Poll); err != nil {
		t.Fatal(err)
	}
}

// inlineSync breaks the contract: its Sync completes inside the call.
type inlineSync struct{ *osfs.FS }

func (f inlineSync) Sync(name string, done func(error)) { done(nil) }

// eofAtEnd breaks the contract: a short read at the end returns an error.
type eofAtEnd struct{ *osfs.FS }

func (f eofAtEnd) ReadAt(name string, buf []byte, off int64, done func(int, error)) {
	f.FS.ReadAt(name, buf, off, func(n int, err error) {
		if err == nil && n < len(buf) {
			err = errors.New("EOF")
		}
		done(n, err)
	})
}

// scribble breaks the contract: it uses the written slice as scratch space once the write
// is issued (data is read-only for the FS too).
type scribble struct{ *osfs.FS }

func (f scribble) WriteAt(name string, data []byte, off int64, done func(error)) {
	f.FS.WriteAt(name, data, off, done)
	clear(data)
}

// TestCheckerFires shows that each broken implementation is caught.
func TestCheckerFires(t *testing.T) {
	cases := []struct {
		name string
		fs   func(*osfs.FS) (storage.FS, func() bool)
		want string
	}{
		{"inline", func(fs *osfs.FS) (storage.FS, func() bool) {
			return inlineSync{fs}, fs.Poll
		}, "delivered inline"},
		{"eof", func(fs *osfs.FS) (storage.FS, func() bool) {
			return eofAtEnd{fs}, fs.Poll
		}, "EOF"},
		{"scribble", func(fs *osfs.FS) (storage.FS, func() bool) {
			return scribble{fs}, fs.Poll
		}, "read-only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, run := tc.fs(newOSFS(t, 0))
			err := fstest.TestFS(fs, run)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("TestFS = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
