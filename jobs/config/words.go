package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// typeWords is the one place that words a type mismatch: what the key
// takes (want, or the words for t when want is empty) and what was
// written. The checker (keys.go) calls it for every value of the wrong
// kind, before decoding.
func typeWords(t reflect.Type, want string, found ast.Node) string {
	if want == "" {
		want = expected(t)
	}
	return "expected " + want + ", found " + foundWords(found)
}

var (
	idType       = reflect.TypeFor[ID]()
	rowLimitType = reflect.TypeFor[RowLimit]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	jobType      = reflect.TypeFor[rawJob]()
	notifyType   = reflect.TypeFor[rawNotify]()
	sourceType   = reflect.TypeFor[rawSource]()
)

// expected words what a Go type of the raw config takes.
func expected(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case idType:
		return "a Looker id (a number or a string)"
	case rowLimitType:
		return "a number, -1 or saved"
	case byteSizeType:
		return `a size such as 512MiB or 2GB, or a number of bytes`
	case jobType:
		return "a job (a mapping with name, schedule, source, ...)"
	case notifyType:
		return "a webhook (a mapping with name, url, on)"
	case sourceType:
		return "a mapping with one of look_id, query_id, query_slug, query, sql, dashboard_id"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		switch e := t.Elem(); {
		case e == jobType:
			return "a list of jobs"
		case e == notifyType:
			return "a list of webhooks"
		case e.Kind() == reflect.String:
			return "a list of strings"
		default:
			return "a list"
		}
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "a mapping of names to strings"
		}
		return "a mapping"
	case reflect.Struct:
		if fields := yamlFields(t); len(fields) <= 5 {
			names := make([]string, 0, len(fields))
			for name := range fields {
				names = append(names, name)
			}
			sort.Strings(names)
			return "a mapping with " + strings.Join(names, ", ")
		}
		return "a mapping"
	}
	return t.String()
}

// foundWords describes what was written: a list, a mapping, "yes", the
// number 4.5.
func foundWords(n ast.Node) string {
	n = unwrap(n)
	switch n := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.StringNode:
		return fmt.Sprintf("%q", truncate(n.Value, 40))
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + truncate(n.GetToken().Value, 40)
	case *ast.BoolNode:
		return n.GetToken().Value
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.AliasNode:
		return "an alias"
	}
	return strings.ToLower(n.Type().String())
}

// unwrap looks through anchors (&a value) and tags (!!str value).
func unwrap(n ast.Node) ast.Node {
	for {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			n = x.Value
		default:
			return n
		}
	}
}

// wantWords is what a key of type t takes, said for the value v written
// there when that helps: a number too large for it.
func wantWords(t reflect.Type, v ast.Node) string {
	if t.Kind() < reflect.Int || t.Kind() > reflect.Int64 {
		return ""
	}
	tooBig := false
	switch x := v.(type) {
	case *ast.IntegerNode:
		tooBig = true
	case *ast.StringNode: // the parser keeps integers too large for int64 as strings
		_, err := strconv.ParseInt(x.Value, 10, 64)
		tooBig = errors.Is(err, strconv.ErrRange)
	}
	if tooBig {
		return fmt.Sprintf("a whole number from %d to %d", int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1)
	}
	return ""
}

// leafScalar reads a value for the leaf unmarshalers (ID, RowLimit,
// ByteSize): a string or an integer, as written; ok is false for anything
// else, which the checker has reported and replaced with null before the
// decoder calls them. It reads the node, never bytes: goccy/go-yaml
// re-formats the whole document for every value given to a []byte
// UnmarshalYAML, which made loading quadratic.
func leafScalar(n ast.Node) (v string, ok bool) {
	switch x := unwrap(n).(type) {
	case nil, *ast.NullNode:
		return "", true
	case *ast.StringNode:
		return x.Value, true
	case *ast.IntegerNode:
		return fmt.Sprint(x.Value), true
	}
	return "", false
}
