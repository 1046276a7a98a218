package main

import (
	"os"
	"syscall"
	"unsafe"
)

// fileIsTerminal asks the kernel for f's terminal attributes: only a tty has them.
func fileIsTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
