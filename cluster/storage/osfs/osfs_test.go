package osfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"vopr/cluster/storage"
	"vopr/cluster/storage/fstest"
	"vopr/cluster/storage/osfs"
)

func TestConformance(t *testing.T) {
	fs, err := osfs.New(t.TempDir(), osfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if err := fstest.TestFS(fs, fs.Poll); err != nil {
		t.Fatal(err)
	}
}

// TestQueuedUntilPoll shows that nothing happens, on disk or in callbacks, before Poll.
func TestQueuedUntilPoll(t *testing.T) {
	dir := t.TempDir()
	fs, err := osfs.New(dir, osfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var order []string
	fs.Create("a", func(err error) { order = append(order, "create") })
	fs.WriteAt("a", []byte("xyz"), 0, func(err error) { order = append(order, "write") })
	if len(order) != 0 || fs.Pending() != 2 {
		t.Fatalf("completions ran before Poll: %v", order)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the file was created before Poll")
	}
	if n := fs.RunUntilIdle(); n != 2 || len(order) != 2 || order[0] != "create" {
		t.Fatalf("RunUntilIdle ran %d, order %v", n, order)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a")); err != nil || string(b) != "xyz" {
		t.Fatalf("file holds %q, %v", b, err)
	}
}

func TestSoftCapacity(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old"), make([]byte, 600), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := osfs.New(dir, osfs.Options{CapacityBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if u := fs.Usage(); u.Used != 600 || u.Capacity != 1000 || u.Percent() != 60 {
		t.Fatalf("Usage %+v", u)
	}
	var errs []error
	record := func(err error) { errs = append(errs, err) }
	fs.Create("new", record)
	fs.WriteAt("new", make([]byte, 401), 0, record)
	fs.WriteAt("new", make([]byte, 400), 0, record)
	fs.Truncate("new", 401, record)
	fs.Remove("old", record)
	fs.Truncate("new", 1000, record)
	fs.RunUntilIdle()
	want := []error{nil, storage.ErrNoSpace, nil, storage.ErrNoSpace, nil, nil}
	for i := range want {
		if !errors.Is(errs[i], want[i]) || (want[i] == nil && errs[i] != nil) {
			t.Fatalf("operation %d: %v, want %v", i, errs[i], want[i])
		}
	}
	if u := fs.Usage(); u.Used != 1000 {
		t.Fatalf("Usage %+v, want 1000 used", u)
	}
}

func TestInvalidNames(t *testing.T) {
	fs, err := osfs.New(t.TempDir(), osfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, name := range []string{"", ".", "..", "a/b", "../x"} {
		var got error
		fs.Create(name, func(err error) { got = err })
		fs.RunUntilIdle()
		if got == nil {
			t.Errorf("Create(%q) succeeded", name)
		}
	}
	if _, err := osfs.New(filepath.Join(t.TempDir(), "absent"), osfs.Options{}); err == nil {
		t.Error("New on a missing directory succeeded")
	}
	if _, err := osfs.New(t.TempDir(), osfs.Options{CapacityBytes: -1}); err == nil {
		t.Error("New with a negative capacity succeeded")
	}
}
