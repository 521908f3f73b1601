package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
)

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// checkKeys walks a YAML tree beside the Go type it decodes into and
// reports every mapping key the type does not know, and every duplicate
// key, with its line. It is what makes the config strict without stopping
// at the first problem.
func checkKeys(n ast.Node, t reflect.Type, path string, report func(line int, path, msg string)) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			return // a type mismatch; the decoder reports it
		}
		fields := yamlFields(t)
		seen := map[string]int{}
		for _, mv := range m.Values {
			if mv.Key == nil {
				continue
			}
			key := keyString(mv.Key)
			line := nodeLine(mv.Key)
			sub := joinPath(path, key)
			if prev, dup := seen[key]; dup {
				report(line, sub, fmt.Sprintf("duplicate key %q in %s (first on line %d)", key, where(path), prev))
				continue
			}
			seen[key] = line
			ft, ok := fields[key]
			if !ok {
				report(line, sub, fmt.Sprintf("unknown key %q in %s%s", key, where(path), suggest(key, fields)))
				continue
			}
			checkKeys(mv.Value, ft, sub, report)
		}
	case reflect.Slice:
		s, ok := n.(*ast.SequenceNode)
		if !ok {
			return
		}
		for i, v := range s.Values {
			checkKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), report)
		}
	}
}

// fieldCache holds yamlFields by type: computing them for every mapping
// of every job was a tenth of a large load.
var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

func yamlFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	defer fieldCache.Store(t, out)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func where(path string) string {
	if path == "" {
		return "the top level"
	}
	if strings.HasPrefix(path, "jobs[") {
		_, rest, _ := strings.Cut(path, "]")
		if rest = strings.TrimPrefix(rest, "."); rest == "" {
			return "the job"
		}
		return rest
	}
	return path
}

// suggest proposes the closest known key, or lists the allowed ones.
func suggest(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	best, bestD := "", 3
	for name := range fields {
		names = append(names, name)
		if d := editDistance(key, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	sort.Strings(names)
	return "; allowed: " + strings.Join(names, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
