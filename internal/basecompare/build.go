package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// repoRoot returns the top of the git work tree the command runs in.
func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("not in a git work tree: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// buildHead builds the working tree's vopr (uncommitted changes included) into dir.
func buildHead(root, dir string) (string, error) {
	bin := filepath.Join(dir, "vopr-head")
	return bin, goBuild(root, bin)
}

// buildBase extracts commit (git archive) into dir and builds its vopr there.
func buildBase(root, commit, dir string) (string, error) {
	full, err := exec.Command("git", "-C", root, "rev-parse", "--verify", commit+"^{commit}").Output()
	if err != nil {
		return "", fmt.Errorf("base %q is not a commit: %v", commit, err)
	}
	src := filepath.Join(dir, "base-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	archive := exec.Command("sh", "-c", "git -C \"$1\" archive \"$2\" | tar -x -C \"$3\"",
		"sh", root, strings.TrimSpace(string(full)), src)
	archive.Stderr = os.Stderr
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %v", commit, err)
	}
	bin := filepath.Join(dir, "vopr-base")
	return bin, goBuild(src, bin)
}

func goBuild(dir, out string) error {
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", out, "./cmd/vopr")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build in %s: %v", dir, err)
	}
	return nil
}

// scenarios returns the scenario names bin lists (vopr list scenarios).
func scenarios(bin string) ([]string, error) {
	out, err := exec.Command(bin, "list", "scenarios").Output()
	if err != nil {
		return nil, fmt.Errorf("%s list scenarios: %v", bin, err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// common returns the names in both lists, in a's order.
func common(a, b []string) []string {
	in := map[string]bool{}
	for _, name := range b {
		in[name] = true
	}
	var both []string
	for _, name := range a {
		if in[name] {
			both = append(both, name)
		}
	}
	return both
}
