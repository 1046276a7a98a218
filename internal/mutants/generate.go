package mutants

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// GeneratedPackages are the directories Generate draws operator mutants from. The storage
// adapters (osfs, fstest) are left out: the simulator never runs them.
var GeneratedPackages = []string{"cluster/vsr", "cluster/storage", "cluster/kv", "cluster/client"}

// operatorSwaps are the operator mutations, one per operator, after the usual mutation
// testing classes: a comparison's boundary (< and <=), an equality's sense, a logical
// connective, and integer arithmetic (+ and - with a literal operand only, so that string
// concatenation is never touched and every mutant compiles).
var operatorSwaps = map[token.Token]token.Token{
	token.LSS: token.LEQ, token.LEQ: token.LSS, token.GTR: token.GEQ, token.GEQ: token.GTR,
	token.EQL: token.NEQ, token.NEQ: token.EQL, token.LAND: token.LOR, token.LOR: token.LAND,
	token.ADD: token.SUB, token.SUB: token.ADD,
}

// site is one place an operator can be swapped.
type site struct {
	file, function string
	snippet        string // the line from its first non-blank character, unique in the file
	replace        string
	from, to       token.Token
}

// Generate draws count operator mutants from the packages, spread over them in proportion to
// their lines of code, reproducibly for a seed. Assertions are left alone (weakening one
// only hides a bug, making one fire only shows the assertion works), and so are constants.
// Each mutant's snippet is its whole source line, so it must be unique in its file. A line
// that a mutant of avoid (the hand-written catalog) already edits is left alone.
func Generate(root string, count int, seed uint64, avoid []Mutant) ([]Mutant, error) {
	sites := map[string][]site{}
	lines := map[string]int{}
	for _, pkg := range GeneratedPackages {
		s, n, err := packageSites(root, pkg)
		if err != nil {
			return nil, err
		}
		sites[pkg], lines[pkg] = s, n
	}
	var out []Mutant
	for _, pkg := range GeneratedPackages {
		r := rand.New(rand.NewPCG(seed, fnvHash(pkg)))
		pool := sites[pkg]
		r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		used := map[string]bool{}
		want := share(count, pkg, lines)
		for _, s := range pool {
			if want == 0 {
				break
			}
			if used[s.file+s.snippet] || overlaps(s, avoid) {
				continue
			}
			used[s.file+s.snippet] = true
			out = append(out, s.mutant())
			want--
		}
	}
	return out, checkCatalog(out)
}

func overlaps(s site, avoid []Mutant) bool {
	for _, m := range avoid {
		if m.File == s.file && (strings.Contains(m.Search, s.snippet) || strings.Contains(s.snippet, m.Search)) {
			return true
		}
	}
	return false
}

// share is pkg's part of count, by largest remainder over the packages' line counts.
func share(count int, pkg string, lines map[string]int) int {
	total := 0
	for _, n := range lines {
		total += n
	}
	type part struct {
		pkg       string
		whole     int
		remainder int
	}
	var parts []part
	given := 0
	for _, p := range GeneratedPackages {
		whole := count * lines[p] / max(total, 1)
		parts = append(parts, part{p, whole, count * lines[p] % max(total, 1)})
		given += whole
	}
	slices.SortStableFunc(parts, func(a, b part) int { return b.remainder - a.remainder })
	for i := 0; i < count-given; i++ {
		parts[i%len(parts)].whole++
	}
	for _, p := range parts {
		if p.pkg == pkg {
			return p.whole
		}
	}
	return 0
}

func fnvHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func (s site) mutant() Mutant {
	stem := strings.TrimSuffix(filepath.Base(s.file), ".go")
	pkg := filepath.Base(filepath.Dir(s.file))
	h := fnvHash(s.file + "\x00" + s.snippet + "\x00" + s.replace)
	return Mutant{
		ID:          fmt.Sprintf("gen.%s.%s_%06x", pkg, stem, h&0xffffff),
		File:        s.file,
		Description: fmt.Sprintf("operator: %s becomes %s in %s", s.from, s.to, s.function),
		Search:      s.snippet,
		Replace:     s.replace,
		Generated:   true,
	}
}

// packageSites lists the operator sites of a package's non-test files and counts its lines.
func packageSites(root, pkg string) ([]site, int, error) {
	paths, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
	if err != nil {
		return nil, 0, err
	}
	slices.Sort(paths)
	var sites []site
	lines := 0
	for _, path := range paths {
		base := filepath.Base(path)
		if strings.HasSuffix(base, "_test.go") || base == "doc.go" || strings.HasPrefix(base, "mutation") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, 0, err
		}
		lines += bytes.Count(src, []byte("\n"))
		s, err := fileSites(filepath.ToSlash(filepath.Join(pkg, base)), src)
		if err != nil {
			return nil, 0, err
		}
		sites = append(sites, s...)
	}
	return sites, lines, nil
}

// fileSites finds the swappable operators of one file outside assertions and constants.
func fileSites(name string, src []byte) ([]site, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var sites []site
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue // constants, types and variables are not mutated
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if isAssertion(n) {
				return false
			}
			be, ok := n.(*ast.BinaryExpr)
			if !ok {
				return true
			}
			if s, ok := operatorSite(fset, src, name, funcName(fn), be); ok {
				sites = append(sites, s)
			}
			return true
		})
	}
	return sites, nil
}

func isAssertion(n ast.Node) bool {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "assert"
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// operatorSite makes a site of a binary expression if its operator is swappable and its line
// is unique in the file.
func operatorSite(fset *token.FileSet, src []byte, name, function string, be *ast.BinaryExpr) (site, bool) {
	to, ok := operatorSwaps[be.Op]
	if !ok {
		return site{}, false
	}
	if (be.Op == token.ADD || be.Op == token.SUB) && !isIntLiteral(be.X) && !isIntLiteral(be.Y) {
		return site{}, false
	}
	at := fset.Position(be.OpPos).Offset
	start := bytes.LastIndexByte(src[:at], '\n') + 1
	end := at + bytes.IndexByte(src[at:], '\n')
	if end < at {
		end = len(src)
	}
	for start < at && (src[start] == '\t' || src[start] == ' ') {
		start++
	}
	snippet := string(src[start:end])
	if bytes.Count(src, []byte(snippet)) != 1 || strings.Contains(snippet, "//") {
		return site{}, false
	}
	op := at - start
	replace := snippet[:op] + to.String() + snippet[op+len(be.Op.String()):]
	return site{file: name, function: function, snippet: snippet, replace: replace, from: be.Op, to: to}, true
}

func isIntLiteral(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.INT
}

// GeneratedCatalog renders generated mutants as the catalog file that LoadCatalog reads.
func GeneratedCatalog(mutants []Mutant, count int, seed uint64) ([]byte, error) {
	body, err := yaml.Marshal(catalogDoc{Mutants: mutants})
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# Operator mutants drawn by `go run ./cmd/vopr-mutate generate --count %d --seed %d`\n"+
		"# (internal/mutants/generate.go). Regenerate rather than edit; the format is catalog.yaml's.\n", count, seed)
	return append([]byte(head), body...), nil
}
