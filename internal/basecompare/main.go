package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: basecompare bench|hashes -base COMMIT [flags]")
		os.Exit(64)
	}
	var err error
	switch os.Args[1] {
	case "bench":
		err = benchMain(os.Args[2:], os.Stdout)
	case "hashes":
		err = hashesMain(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q: want bench or hashes", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "basecompare:", err)
		os.Exit(1)
	}
}

// buildBoth builds the base commit and the working tree into a temporary directory and
// returns the binaries, the scenarios both list, and a cleanup.
func buildBoth(base string) (baseBin, headBin string, names []string, cleanup func(), err error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", nil, nil, err
	}
	dir, err := os.MkdirTemp("", "basecompare-")
	if err != nil {
		return "", "", nil, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	fail := func(err error) (string, string, []string, func(), error) {
		cleanup()
		return "", "", nil, nil, err
	}
	if baseBin, err = buildBase(root, base, dir); err != nil {
		return fail(err)
	}
	if headBin, err = buildHead(root, dir); err != nil {
		return fail(err)
	}
	baseNames, err := scenarios(baseBin)
	if err != nil {
		return fail(err)
	}
	headNames, err := scenarios(headBin)
	if err != nil {
		return fail(err)
	}
	return baseBin, headBin, common(headNames, baseNames), cleanup, nil
}
