package mutants

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Match counts the occurrences of the mutant's search text in its file under root. A mutant
// applies only when the count is exactly 1; otherwise it is stale.
func Match(root string, m Mutant) (int, error) {
	data, err := os.ReadFile(filepath.Join(root, m.File))
	if err != nil {
		return 0, err
	}
	return strings.Count(string(data), m.Search), nil
}

// StaleReason says why a mutant does not apply to the tree at root, or "" if it does.
func StaleReason(root string, m Mutant) string {
	n, err := Match(root, m)
	switch {
	case err != nil:
		return fmt.Sprintf("stale: %v", err)
	case n == 0:
		return "stale: the search text no longer occurs in " + m.File
	case n > 1:
		return fmt.Sprintf("stale: the search text occurs %d times in %s", n, m.File)
	}
	return ""
}

// Apply edits the mutant's file under dir in place: the one occurrence of its search text is
// replaced.
func Apply(dir string, m Mutant) error {
	if reason := StaleReason(dir, m); reason != "" {
		return fmt.Errorf("mutant %s: %s", m.ID, reason)
	}
	path := filepath.Join(dir, m.File)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	edited := strings.Replace(string(data), m.Search, m.Replace, 1)
	return os.WriteFile(path, []byte(edited), 0o644)
}

// TrackedFiles lists the repository's files as git sees them: tracked ones (with their
// working-tree content) and untracked ones not ignored, so that a copy builds what the
// working tree would.
func TrackedFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %v: %s", root, err, stderr.String())
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// CopyTree copies the given files from src to dst (which it creates). A file listed but
// deleted from the working tree is skipped, as git would build without it.
func CopyTree(src, dst string, files []string) error {
	for _, f := range files {
		info, err := os.Stat(filepath.Join(src, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if info.IsDir() {
			continue // a submodule or nested repository: not ours to copy
		}
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		target := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, data, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
