package main

import (
	"bufio"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/lookerexport/exporter"

// layoutRow is one row of README.md's Layout table.
type layoutRow struct {
	layer   int
	pkg     string
	imports []string
	line    int
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readLayout parses the table under "## Layout" in README.md:
// | layer | package | what it holds | imports from the project |.
func readLayout(t *testing.T, readme string) []layoutRow {
	t.Helper()
	f, err := os.Open(readme)
	require.NoError(t, err)
	defer f.Close()
	var rows []layoutRow
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Layout"
			continue
		case !in || !strings.HasPrefix(line, "| "):
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		require.Len(t, cells, 4, "README.md:%d: a Layout row has 4 cells: layer, package, what it holds, imports", n)
		layer, err := strconv.Atoi(cells[0])
		if err != nil {
			continue // the header and its rule
		}
		m := backticked.FindStringSubmatch(cells[1])
		require.NotNil(t, m, "README.md:%d: the package is written `like/this`", n)
		row := layoutRow{layer: layer, pkg: m[1], line: n, imports: []string{}}
		for _, im := range backticked.FindAllStringSubmatch(cells[3], -1) {
			row.imports = append(row.imports, im[1])
		}
		rows = append(rows, row)
	}
	require.NoError(t, sc.Err())
	return rows
}

// projectImports maps every package of the module (tests aside) to the
// module's packages it imports.
func projectImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(p, 0)
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		}
		require.NoError(t, err, p)
		rel, err := filepath.Rel(root, p)
		require.NoError(t, err)
		imports := []string{}
		for _, im := range pkg.Imports {
			if strings.HasPrefix(im, module+"/") {
				imports = append(imports, strings.TrimPrefix(im, module+"/"))
			}
		}
		out[filepath.ToSlash(rel)] = imports
		return nil
	})
	require.NoError(t, err)
	return out
}

// component is the top-level directory a package belongs to.
func component(pkg string) string {
	c, _, _ := strings.Cut(pkg, "/")
	return c
}

// TestLayoutTable holds README.md's Layout table to the code: it lists
// every package once, with exactly the project packages it imports, and
// the layering rule holds: a package imports only packages of a lower
// layer, or of its own component (formats/csvenc imports formats) listed
// further down. So there are no cycles, the leaves (lookerapi, formats,
// sinks, state) never import each other or jobs, and nothing imports
// cmd/exporter.
func TestLayoutTable(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	rows := readLayout(t, filepath.Join(root, "README.md"))
	actual := projectImports(t, root)

	index := map[string]int{}
	for i, r := range rows {
		_, dup := index[r.pkg]
		require.False(t, dup, "README.md:%d: %s is listed twice", r.line, r.pkg)
		index[r.pkg] = i
	}
	var missing []string
	for pkg := range actual {
		if _, ok := index[pkg]; !ok {
			missing = append(missing, pkg)
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing, "packages missing from README.md's Layout table")

	for i, r := range rows {
		got, ok := actual[r.pkg]
		require.True(t, ok, "README.md:%d: %s is not a package of the module", r.line, r.pkg)
		require.ElementsMatch(t, r.imports, got, "README.md:%d: the project imports of %s", r.line, r.pkg)
		for _, im := range got {
			j := index[im]
			below := rows[j].layer < r.layer || (component(im) == component(r.pkg) && j > i)
			require.True(t, below, "README.md:%d: %s (layer %d) imports %s (layer %d, row %d): a package imports only lower layers, or its own component further down",
				r.line, r.pkg, r.layer, im, rows[j].layer, rows[j].line)
		}
	}
}
