package formats

import (
	"encoding/json"
	"fmt"
)

// schemaJSONVersion is the version of Schema's JSON form.
const schemaJSONVersion = 1

type schemaJSON struct {
	Version int         `json:"version"`
	Fields  []fieldJSON `json:"fields"`
}

type fieldJSON struct {
	Name       string `json:"name"`
	Label      string `json:"label,omitempty"`
	LookMLType string `json:"lookml_type,omitempty"`
	Category   string `json:"category,omitempty"`
	Type       string `json:"type"`
	Local      bool   `json:"local,omitempty"`
	Pivot      *Pivot `json:"pivot,omitempty"`
}

// MarshalJSON is the stable form a run's schema is stored in:
//
//	{"version":1,"fields":[{"name":"orders.id","label":"Orders ID",
//	  "lookml_type":"int","category":"dimension","type":"INT64"}, ...]}
//
// Fields keep their order; "type" is Type.String() (STRING, INT64, DOUBLE,
// BOOLEAN, DATE, TIMESTAMP); empty label, lookml_type and category are
// left out; a wall-clock timestamp (Field.IsLocal) carries "local": true;
// a pivot column carries "pivot" (formats.Pivot's JSON). The same schema
// always encodes to the same bytes, and a schema without local columns to
// the bytes it had before "local" existed.
func (s Schema) MarshalJSON() ([]byte, error) {
	out := schemaJSON{Version: schemaJSONVersion, Fields: make([]fieldJSON, len(s.Fields))}
	for i, f := range s.Fields {
		if int(f.Type) >= len(typeNames) {
			return nil, fmt.Errorf("schema field %q: unknown type %d", f.Name, f.Type)
		}
		out.Fields[i] = fieldJSON{Name: f.Name, Label: f.Label, LookMLType: f.LookMLType, Category: f.Category, Type: f.Type.String(), Local: f.IsLocal(), Pivot: f.Pivot}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the form MarshalJSON writes. An unknown version or
// type is an error.
func (s *Schema) UnmarshalJSON(b []byte) error {
	var in schemaJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("decode schema: %w", err)
	}
	if in.Version != schemaJSONVersion {
		return fmt.Errorf("decode schema: version %d is not supported (want %d)", in.Version, schemaJSONVersion)
	}
	fields := make([]Field, len(in.Fields))
	for i, f := range in.Fields {
		t, err := ParseType(f.Type)
		if err != nil {
			return fmt.Errorf("decode schema: field %q: %w", f.Name, err)
		}
		fields[i] = Field{Name: f.Name, Label: f.Label, LookMLType: f.LookMLType, Category: f.Category, Type: t, Local: f.Local && t == Timestamp, Pivot: f.Pivot}
	}
	s.Fields = fields
	return nil
}

// ParseType is the inverse of Type.String.
func ParseType(name string) (Type, error) {
	for t, n := range typeNames {
		if n == name {
			return Type(t), nil
		}
	}
	return 0, fmt.Errorf("unknown column type %q", name)
}

// ChangeKind says how a column changed between two schemas.
type ChangeKind string

// Kinds of schema change.
const (
	ColumnAdded   ChangeKind = "added"
	ColumnRemoved ChangeKind = "removed"
	// TypeChanged: the column's type changed, or a timestamp switched
	// between an instant and a wall-clock time (Field.Local).
	TypeChanged ChangeKind = "type_changed"
)

// Change is one difference between two schemas.
type Change struct {
	Kind      ChangeKind `json:"kind"`
	Column    string     `json:"column"` // Field.Name
	From      Type       `json:"-"`      // previous type (removed, type_changed)
	To        Type       `json:"-"`      // current type (added, type_changed)
	FromLocal bool       `json:"-"`      // the previous type was a wall-clock timestamp
	ToLocal   bool       `json:"-"`      // the current type is a wall-clock timestamp
}

func (c Change) String() string {
	switch c.Kind {
	case ColumnAdded:
		return fmt.Sprintf("column %q added (%s)", c.Column, typeLabel(c.To, c.ToLocal))
	case ColumnRemoved:
		return fmt.Sprintf("column %q removed (was %s)", c.Column, typeLabel(c.From, c.FromLocal))
	}
	return fmt.Sprintf("column %q changed type from %s to %s", c.Column, typeLabel(c.From, c.FromLocal), typeLabel(c.To, c.ToLocal))
}

func typeLabel(t Type, local bool) string {
	if local && t == Timestamp {
		return "TIMESTAMP (wall clock, no time zone)"
	}
	return t.String()
}

// Diff lists how cur differs from prev, matching columns by Field.Name:
// first the columns of prev that are gone or changed type, in prev's
// order, then the columns new in cur, in cur's order. Labels, LookML types
// that map to the same Type, categories and column order are not changes;
// a timestamp that switches between an instant and a wall-clock time
// (Field.Local) is a TypeChanged. Equal schemas give nil.
func Diff(prev, cur Schema) []Change {
	curType := make(map[string]Type, len(cur.Fields))
	curLocal := make(map[string]bool, len(cur.Fields))
	for _, f := range cur.Fields {
		if _, dup := curType[f.Name]; !dup {
			curType[f.Name] = f.Type
			curLocal[f.Name] = f.IsLocal()
		}
	}
	prevNames := make(map[string]bool, len(prev.Fields))
	var out []Change
	for _, f := range prev.Fields {
		if prevNames[f.Name] {
			continue
		}
		prevNames[f.Name] = true
		t, ok := curType[f.Name]
		switch {
		case !ok:
			out = append(out, Change{Kind: ColumnRemoved, Column: f.Name, From: f.Type, FromLocal: f.IsLocal()})
		case t != f.Type || curLocal[f.Name] != f.IsLocal():
			out = append(out, Change{Kind: TypeChanged, Column: f.Name, From: f.Type, To: t, FromLocal: f.IsLocal(), ToLocal: curLocal[f.Name]})
		}
	}
	for _, f := range cur.Fields {
		if !prevNames[f.Name] {
			prevNames[f.Name] = true
			out = append(out, Change{Kind: ColumnAdded, Column: f.Name, To: f.Type, ToLocal: f.IsLocal()})
		}
	}
	return out
}
