package tidy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FunctionLinesMax is the function-length ratchet (TigerBeetle's 70 lines, with room for
// gofmt's vertical style).
const FunctionLinesMax = 80

var root = filepath.Join("..", "..")

// deterministicDirs must not reach the real world. ops is run by the simulator's operator
// (and by kimberlite-cli over TCP, through server/remote, which does the I/O).
var deterministicDirs = []string{"cluster", "sim", "ops"}

// excusedDirs are real-I/O adapters, outside the determinism rule by design.
var excusedDirs = []string{filepath.Join("cluster", "storage", "osfs")}

var bannedImports = map[string]string{
	"time":        "virtual time only: use sim.Time or the replica's Clock",
	"os":          "no real I/O: use the FS interface",
	"net":         "no real network: use the message bus interface",
	"sync":        "single-threaded: nothing to synchronise",
	"math/rand":   "use an injected math/rand/v2 *rand.Rand",
	"crypto/rand": "use an injected math/rand/v2 *rand.Rand",
	"unsafe":      "no unsafe",
}

var harnessPackages = []string{"vopr/sim", "vopr/faults", "vopr/invariants", "vopr/scenarios", "vopr/cmd", "vopr/report", "vopr/picture"}

type goFile struct {
	path string
	file *ast.File
	fset *token.FileSet
}

func parseDir(t *testing.T, dir string, tests bool) []goFile {
	t.Helper()
	var files []goFile
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || (!tests && strings.HasSuffix(path, "_test.go")) {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, goFile{path: path, file: f, fset: fset})
		return nil
	})
	require.NoError(t, err)
	return files
}

func excused(path string) bool {
	for _, e := range excusedDirs {
		if strings.Contains(path, string(filepath.Separator)+e+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func TestDeterminismRules(t *testing.T) {
	var problems []string
	for _, dir := range deterministicDirs {
		for _, f := range parseDir(t, dir, false) {
			if excused(f.path) {
				continue
			}
			problems = append(problems, determinismProblems(f)...)
		}
	}
	sort.Strings(problems)
	require.Empty(t, problems, "determinism rules (DESIGN.md section 1)")
}

func determinismProblems(f goFile) []string {
	var problems []string
	report := func(pos token.Pos, what string) {
		problems = append(problems, f.fset.Position(pos).String()+": "+what)
	}
	for _, imp := range f.file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if why, ok := bannedImports[path]; ok {
			report(imp.Pos(), "imports "+path+": "+why)
		}
	}
	ast.Inspect(f.file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n.Pos(), "go statement: single-threaded only")
		case *ast.ChanType:
			report(n.Pos(), "channel type: single-threaded only")
		case *ast.SelectStmt:
			report(n.Pos(), "select statement: single-threaded only")
		}
		return true
	})
	return problems
}

// TestDeterminismRulesFire proves the checker has teeth: a file breaking every rule is
// reported once per rule.
func TestDeterminismRulesFire(t *testing.T) {
	src := `package bad
import ("time"; "os"; "sync"; "math/rand")
func f() { go func() {}(); var c chan int; select { case <-c: }; _ = time.Now; _ = os.Args; _ = sync.Mutex{}; _ = rand.Int }`
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "bad.go", src, 0)
	require.NoError(t, err)
	problems := determinismProblems(goFile{path: "bad.go", file: file, fset: fset})
	require.Len(t, problems, 7, "%v", problems)
}

func TestClusterImportsNoHarness(t *testing.T) {
	var problems []string
	for _, f := range parseDir(t, "cluster", true) {
		for _, imp := range f.file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, h := range harnessPackages {
				if path == h || strings.HasPrefix(path, h+"/") {
					problems = append(problems, f.path+" imports "+path)
				}
			}
		}
	}
	require.Empty(t, problems, "cluster/ must know nothing of the harness (DESIGN.md section 2)")
}

func TestEveryPackageHasDocGo(t *testing.T) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = true
		}
		return nil
	})
	require.NoError(t, err)
	var missing []string
	for dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "doc.go")); err != nil {
			missing = append(missing, dir)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "packages without doc.go")
}

func TestFunctionLength(t *testing.T) {
	var problems []string
	for _, dir := range deterministicDirs {
		for _, f := range parseDir(t, dir, false) {
			for _, decl := range f.file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				lines := f.fset.Position(fn.End()).Line - f.fset.Position(fn.Pos()).Line + 1
				if lines > FunctionLinesMax {
					problems = append(problems, f.fset.Position(fn.Pos()).String()+" "+fn.Name.Name+": "+strconv.Itoa(lines)+" lines")
				}
			}
		}
	}
	sort.Strings(problems)
	require.Empty(t, problems, "functions longer than %d lines", FunctionLinesMax)
}
