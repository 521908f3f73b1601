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
	Precision  int    `json:"precision,omitempty"`
	Scale      int    `json:"scale,omitempty"`
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
// a Decimal carries "precision" and "scale" (a scale of 0 left out);
// a pivot column carries "pivot" (formats.Pivot's JSON). The same schema
// always encodes to the same bytes, and a schema without local or
// decimal columns to the bytes it had before those existed.
func (s Schema) MarshalJSON() ([]byte, error) {
	out := schemaJSON{Version: schemaJSONVersion, Fields: make([]fieldJSON, len(s.Fields))}
	for i, f := range s.Fields {
		if int(f.Type) >= len(typeNames) {
			return nil, fmt.Errorf("schema field %q: unknown type %d", f.Name, f.Type)
		}
		out.Fields[i] = fieldJSON{Name: f.Name, Label: f.Label, LookMLType: f.LookMLType, Category: f.Category, Type: f.Type.String(), Local: f.IsLocal(), Pivot: f.Pivot}
		if f.Type == Decimal {
			out.Fields[i].Precision, out.Fields[i].Scale = f.Precision, f.Scale
		}
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
		if t == Decimal {
			if f.Precision < 1 || f.Precision > MaxDecimalPrecision || f.Scale < 0 || f.Scale > f.Precision {
				return fmt.Errorf("decode schema: field %q: DECIMAL(%d,%d) is not a valid size", f.Name, f.Precision, f.Scale)
			}
			fields[i].Precision, fields[i].Scale = f.Precision, f.Scale
		}
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
	// FromSize and ToSize are a Decimal's precision and scale.
	FromSize, ToSize [2]int `json:"-"`
}

func (c Change) String() string {
	switch c.Kind {
	case ColumnAdded:
		return fmt.Sprintf("column %q added (%s)", c.Column, typeLabel(c.To, c.ToLocal, c.ToSize))
	case ColumnRemoved:
		return fmt.Sprintf("column %q removed (was %s)", c.Column, typeLabel(c.From, c.FromLocal, c.FromSize))
	}
	return fmt.Sprintf("column %q changed type from %s to %s", c.Column, typeLabel(c.From, c.FromLocal, c.FromSize), typeLabel(c.To, c.ToLocal, c.ToSize))
}

func typeLabel(t Type, local bool, size [2]int) string {
	switch {
	case local && t == Timestamp:
		return "TIMESTAMP (wall clock, no time zone)"
	case t == Decimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", size[0], size[1])
	}
	return t.String()
}

// size is a Decimal's precision and scale, zero for other types.
func (f Field) size() [2]int {
	if f.Type != Decimal {
		return [2]int{}
	}
	return [2]int{f.Precision, f.Scale}
}

// Diff lists how cur differs from prev, matching columns by Field.Name:
// first the columns of prev that are gone or changed type, in prev's
// order, then the columns new in cur, in cur's order. Labels, LookML types
// that map to the same Type, categories and column order are not changes;
// a timestamp that switches between an instant and a wall-clock time
// (Field.Local), and a Decimal whose precision or scale changes, are a
// TypeChanged. Equal schemas give nil.
func Diff(prev, cur Schema) []Change {
	curField := make(map[string]Field, len(cur.Fields))
	for _, f := range cur.Fields {
		if _, dup := curField[f.Name]; !dup {
			curField[f.Name] = f
		}
	}
	prevNames := make(map[string]bool, len(prev.Fields))
	var out []Change
	for _, f := range prev.Fields {
		if prevNames[f.Name] {
			continue
		}
		prevNames[f.Name] = true
		c, ok := curField[f.Name]
		switch {
		case !ok:
			out = append(out, Change{Kind: ColumnRemoved, Column: f.Name, From: f.Type, FromLocal: f.IsLocal(), FromSize: f.size()})
		case c.Type != f.Type || c.IsLocal() != f.IsLocal() || c.size() != f.size():
			out = append(out, Change{Kind: TypeChanged, Column: f.Name, From: f.Type, To: c.Type, FromLocal: f.IsLocal(), ToLocal: c.IsLocal(),
				FromSize: f.size(), ToSize: c.size()})
		}
	}
	for _, f := range cur.Fields {
		if !prevNames[f.Name] {
			prevNames[f.Name] = true
			out = append(out, Change{Kind: ColumnAdded, Column: f.Name, To: f.Type, ToLocal: f.IsLocal(), ToSize: f.size()})
		}
	}
	return out
}
