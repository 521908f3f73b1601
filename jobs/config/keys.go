package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// A checker walks a YAML tree beside the Go type it decodes into. It
// reports every mapping key the type does not know, every duplicate key,
// and every value of the wrong kind (a list where a number belongs), each
// with its line, and replaces each wrong value with null so that decoding
// never meets it: the library's Go-type wording ("cannot unmarshal
// []interface {} into Go struct field") never reaches the user. It is what
// makes the config strict without stopping at the first problem.
type checker struct {
	anchors map[string]ast.Node
	// budget bounds the values visited through aliases, which can
	// expand exponentially (a "billion laughs" file).
	budget int
	report func(line int, path, msg string)
	// nulled records the path of each value replaced with null.
	nulled func(path string)
}

// aliasBudget is the most values the checker visits through aliases.
const aliasBudget = 10000

func newChecker(root ast.Node, report func(line int, path, msg string), nulled func(path string)) *checker {
	c := &checker{anchors: map[string]ast.Node{}, budget: aliasBudget, report: report, nulled: nulled}
	ast.Walk(visitor(func(n ast.Node) {
		if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
			c.anchors[a.Name.String()] = a.Value
		}
	}), root)
	return c
}

// check checks n against t and reports whether it may be decoded into t.
// A false return means n was reported; the caller replaces it with null.
func (c *checker) check(n ast.Node, t reflect.Type, path string) bool {
	return c.checkWant(n, t, "", path)
}

// checkWant is check with the words for what the key takes, when the Go
// type does not say it (a duration is a string).
func (c *checker) checkWant(n ast.Node, t reflect.Type, want, path string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	v := unwrap(n)
	if a, ok := v.(*ast.AliasNode); ok {
		target := c.anchors[aliasName(a)]
		if target == nil {
			return true // an unknown alias; the decoder words it
		}
		if c.budget--; c.budget < 0 {
			if c.budget == -1 {
				c.report(nodeLine(n), path, fmt.Sprintf("%s: aliases expand to more than %d values", keyPath(path), aliasBudget))
			}
			return false
		}
		// Check the anchored value here, reporting at the alias.
		if v = unwrap(target); v != nil && v.Type() == ast.AliasType {
			return true // the parser does not make these
		}
	}
	if tag, ok := n.(*ast.TagNode); ok && tag.Start != nil && tag.Start.Value != "!!null" {
		if _, empty := v.(*ast.NullNode); empty || v == nil {
			// A tag with nothing after it (`key: !x`): the decoder would
			// word it in Go types, so it is reported here.
			c.report(nodeLine(n), path, fmt.Sprintf("%s: the tag %s has no value after it; write a value after it, or remove the tag", keyPath(path), tag.Start.Value))
			return false
		}
	}
	if _, ok := v.(*ast.NullNode); ok || v == nil {
		return true // unset
	}
	if !c.kindOK(v, t, path) {
		if want == "" {
			want = wantWords(t, v)
		}
		c.report(nodeLine(n), path, keyPath(path)+": "+typeWords(t, want, v))
		return false
	}
	return true
}

// kindOK checks v, which is not null, and walks into mappings and lists.
func (c *checker) kindOK(v ast.Node, t reflect.Type, path string) bool {
	switch t.Kind() {
	case reflect.Struct:
		values, ok := mappingValues(v)
		if !ok {
			return false
		}
		c.checkStruct(values, t, path)
	case reflect.Map:
		values, ok := mappingValues(v)
		if !ok {
			return false
		}
		for _, mv := range values {
			if mv.Key == nil {
				continue
			}
			sub := joinPath(path, keyString(mv.Key))
			if !scalar(unwrap(mv.Key)) {
				c.report(nodeLine(mv.Key), sub, fmt.Sprintf("%s: expected a name as the key, found %s", keyPath(path), foundWords(mv.Key)))
				c.nulled(sub)
				mv.Value = null(mv.Value, mv.Key)
				continue
			}
			if !c.check(mv.Value, t.Elem(), sub) {
				c.nulled(sub)
				mv.Value = null(mv.Value, mv.Key)
			}
		}
	case reflect.Slice:
		s, ok := v.(*ast.SequenceNode)
		if !ok {
			return false
		}
		for i, e := range s.Values {
			sub := fmt.Sprintf("%s[%d]", path, i)
			if _, isNull := unwrap(e).(*ast.NullNode); isNull || e == nil {
				c.report(nodeLine(e), sub, keyPath(sub)+": "+typeWords(t.Elem(), "", e))
				c.nulled(sub)
				continue
			}
			if !c.check(e, t.Elem(), sub) {
				c.nulled(sub)
				s.Values[i] = null(e, e)
			}
		}
	case reflect.String:
		if t == fileModeType { // 0640 unquoted is YAML's decimal 640 or octal 416: either misleads
			_, ok := unwrap(v).(*ast.StringNode)
			return ok
		}
		if t == idType || t == rowLimitType || t == byteSizeType {
			_, ok := leafScalar(v)
			return ok
		}
		return scalar(v)
	case reflect.Bool:
		_, ok := v.(*ast.BoolNode)
		return ok
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intFits(v, t)
	}
	return true
}

func (c *checker) checkStruct(values []*ast.MappingValueNode, t reflect.Type, path string) {
	fields := yamlFields(t)
	seen := map[string]int{}
	for _, mv := range values {
		if mv.Key == nil {
			continue
		}
		key := keyString(mv.Key)
		line := nodeLine(mv.Key)
		sub := joinPath(path, key)
		if prev, dup := seen[key]; dup {
			c.report(line, sub, fmt.Sprintf("duplicate key %q in %s (first on line %d)", key, where(path), prev))
			continue
		}
		seen[key] = line
		f, ok := fields[key]
		if !ok {
			c.report(line, sub, fmt.Sprintf("unknown key %q in %s%s", key, where(path), suggest(key, fields)))
			continue
		}
		if !c.checkWant(mv.Value, f.typ, f.want, sub) {
			c.nulled(sub)
			mv.Value = null(mv.Value, mv.Key)
		}
	}
}

// mappingValues returns the entries of a mapping node.
func mappingValues(v ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := v.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// scalar reports whether v is a value a string field takes.
func scalar(v ast.Node) bool {
	switch v.(type) {
	case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode,
		*ast.BoolNode, *ast.InfinityNode, *ast.NanNode, *ast.NullNode:
		return true
	}
	return false
}

// intFits reports whether v is a whole number that fits t: an integer,
// or a string of digits (what ${VAR} expands to).
func intFits(v ast.Node, t reflect.Type) bool {
	var s string
	switch x := v.(type) {
	case *ast.IntegerNode:
		switch n := x.Value.(type) {
		case int64:
			return !reflect.Zero(t).OverflowInt(n)
		case uint64:
			return n <= 1<<63-1 && !reflect.Zero(t).OverflowInt(int64(n))
		}
		return false
	case *ast.StringNode:
		s = x.Value
	default:
		return false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && !reflect.Zero(t).OverflowInt(n)
}

// null is the null that replaces a rejected value, on the line of at.
func null(old, at ast.Node) ast.Node {
	tk := old.GetToken()
	if tk == nil && at != nil {
		tk = at.GetToken()
	}
	if tk == nil {
		return ast.Null(token.New("null", "null", &token.Position{}))
	}
	pos := *tk.Position
	return ast.Null(token.New("null", "null", &pos))
}

func aliasName(a *ast.AliasNode) string {
	if a.Value == nil {
		return ""
	}
	return a.Value.String()
}

// keyPath is a path as a message shows it: inside a job, from the job
// ("source.query.fields[1]"); elsewhere from the top ("server.listen").
func keyPath(path string) string {
	if strings.HasPrefix(path, "jobs[") {
		if _, rest, ok := strings.Cut(path, "]."); ok {
			return rest
		}
	}
	return path
}

// fieldCache holds yamlFields by type: computing them for every mapping
// of every job was a tenth of a large load.
var fieldCache sync.Map // reflect.Type -> map[string]field

// A field is a key of a mapping decoded into a struct: its Go type, and
// the words for what it takes when the type does not say it, from the
// field's want tag (`want:"a duration such as 90s, 15m or 2h"`).
type field struct {
	typ  reflect.Type
	want string
}

func yamlFields(t reflect.Type) map[string]field {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]field)
	}
	out := map[string]field{}
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
		out[name] = field{typ: f.Type, want: f.Tag.Get("want")}
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
func suggest(key string, fields map[string]field) string {
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
