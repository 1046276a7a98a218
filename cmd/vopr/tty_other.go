//go:build !linux

package main

import "os"

// fileIsTerminal is false where the terminal check is not implemented: the plain progress
// line every 30 s is always correct, only less lively.
func fileIsTerminal(f *os.File) bool { return false }
