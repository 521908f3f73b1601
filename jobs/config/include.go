package config

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// rawIncluded is an included file: jobs only. Settings, defaults and
// further includes belong to the main file, so that one file says how
// every job runs.
type rawIncluded struct {
	Jobs []rawJob `yaml:"jobs"`
}

// include reads the files the main file's include: globs name, relative
// to the main file, and adds their jobs after its own. Each file is
// checked against the same limits as the main file, and its problems name
// it. A glob that matches nothing is fine (a team's directory may be
// empty); a literal path that does not exist is an error.
func (l *loader) include(root ast.Node, raw *rawFile) {
	seq, ok := mappingValue(root, "include").(*ast.SequenceNode)
	if !ok {
		return // absent, or reported by the checker
	}
	mainFile, mainAST := l.file, l.ast
	defer func() { l.file, l.ast = mainFile, mainAST }()
	dir := l.dir(l.main)
	for _, v := range seq.Values {
		s, ok := unwrap(v).(*ast.StringNode)
		if !ok {
			continue // null, reported by the checker; or a number: no file
		}
		line := nodeLine(v)
		pattern := l.join(dir, s.Value)
		var files []string
		if strings.ContainsAny(s.Value, `*?[\`) {
			m, err := l.glob(pattern)
			if err != nil {
				l.file, l.ast = mainFile, mainAST
				l.add(line, "", "include %q: %v", s.Value, err)
				continue
			}
			files = m
		} else {
			files = []string{pattern}
		}
		for _, f := range files {
			if _, seen := l.rank[f]; seen {
				continue // the main file, or included already
			}
			l.rank[f] = len(l.rank)
			data, err := l.read(f)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				l.file, l.ast = mainFile, mainAST
				l.add(line, "", "include %q: no such file", s.Value)
			case err != nil:
				l.file, l.ast = f, nil
				l.add(0, "", "%v", err)
			default:
				l.file, l.ast = f, nil
				l.includeFile(data, raw)
			}
		}
	}
}

// includeFile decodes the jobs of one included file, l.file.
func (l *loader) includeFile(data []byte, raw *rawFile) {
	if strings.TrimSpace(string(data)) == "" {
		return // a team's file with no jobs yet
	}
	const only = "an included file holds only jobs: (a list of jobs); settings and defaults belong in the main file"
	root := l.parse(data, only)
	if root == nil {
		return
	}
	m := root.(*ast.MappingNode)
	jobs := make([]*ast.MappingValueNode, 0, 1)
	for _, mv := range m.Values {
		switch key := keyString(mv.Key); key {
		case "jobs":
			jobs = append(jobs, mv)
		case "include":
			l.add(nodeLine(mv.Key), "", "an included file may not include others; list every file in the include: of %s", l.main)
		default:
			l.add(nodeLine(mv.Key), "", "%q in an included file: %s", key, only)
		}
	}
	m.Values = jobs
	l.check(root, typeOf[rawIncluded]())
	l.decodeJobs(root, raw)
}

func (l *loader) dir(file string) string {
	if l.fsys != nil {
		return path.Dir(file)
	}
	return filepath.Dir(file)
}

func (l *loader) join(dir, name string) string {
	if l.fsys != nil {
		return path.Join(dir, name)
	}
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(dir, name)
}

func (l *loader) glob(pattern string) ([]string, error) {
	var (
		m   []string
		err error
	)
	if l.fsys != nil {
		m, err = fs.Glob(l.fsys, pattern)
	} else {
		m, err = filepath.Glob(pattern)
	}
	if errors.Is(err, filepath.ErrBadPattern) || errors.Is(err, path.ErrBadPattern) {
		return nil, errors.New("not a valid glob; use *, ? and [a-z] as in jobs.d/*.yaml")
	}
	return m, err
}

// read reads an included file under the size limit. It refuses anything
// but a regular file: a FIFO or a device would block or never end.
func (l *loader) read(name string) ([]byte, error) {
	var (
		f   fs.File
		err error
	)
	if l.fsys != nil {
		f, err = l.fsys.Open(name)
	} else {
		f, err = os.Open(name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("an included file must be a regular file")
	}
	if st.Size() > MaxFileSize {
		return nil, errors.New(sizeMessage(st.Size()))
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}
