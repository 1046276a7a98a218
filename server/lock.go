package server

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the file in a data directory that a process working on it holds locked
// (flock): the running server, and kimberlite-cli's storage commands, which need the
// replica stopped. The kernel drops the lock with the process, kill -9 included.
const LockFile = "kimberlite.lock"

// LockDir takes dir's lock, or fails at once if another process holds it. unlock releases
// it.
func LockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s is in use by another process (a running replica?): %w", dir, err)
	}
	return func() { _ = f.Close() }, nil
}
