package parquetenc

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// orderedGroup is a parquet group node whose fields keep the order they
// were given in. parquet.Group is a map and sorts its fields by name, which
// would lose Looker's column order. Embedding Group supplies the group
// behaviour (Type, repetition, encoding); only the field list is replaced.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func newOrderedGroup(names []string, nodes []parquet.Node) (*orderedGroup, error) {
	g := &orderedGroup{Group: make(parquet.Group, len(names)), fields: make([]parquet.Field, len(names))}
	for i, name := range names {
		if _, dup := g.Group[name]; dup {
			return nil, fmt.Errorf("column name %q is used twice", name)
		}
		if name == "" {
			return nil, fmt.Errorf("column %d has an empty name", i+1)
		}
		g.Group[name] = nodes[i]
		g.fields[i] = &orderedField{Node: nodes[i], name: name}
	}
	return g, nil
}

func (g *orderedGroup) Fields() []parquet.Field { return g.fields }

func (g *orderedGroup) String() string {
	var b strings.Builder
	_ = parquet.PrintSchema(&b, "", g)
	return b.String()
}

// GoType is a struct with one field per column in order. The encoder writes
// parquet.Row values and never maps Go values, so this only has to be a
// sensible answer.
func (g *orderedGroup) GoType() reflect.Type {
	fields := make([]reflect.StructField, len(g.fields))
	for i, f := range g.fields {
		fields[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: f.GoType()}
	}
	return reflect.StructOf(fields)
}

type orderedField struct {
	parquet.Node
	name string
}

func (f *orderedField) Name() string { return f.name }

// Value maps a Go struct of GoType's shape to this field's value.
func (f *orderedField) Value(base reflect.Value) reflect.Value {
	if base.Kind() == reflect.Struct {
		for i := range base.NumField() {
			if base.Type().Field(i).Tag.Get("parquet") == f.name {
				return base.Field(i)
			}
		}
	}
	return reflect.Value{}
}
