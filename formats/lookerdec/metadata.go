package lookerdec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lookerexport/exporter/formats"
)

type biField struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Category string `json:"category"`
}

type biTableCalc struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	TypeHint string `json:"_type_hint"`
	Measure  bool   `json:"measure"`
}

type biPivot struct {
	Key     string                     `json:"key"`
	Data    map[string]json.RawMessage `json:"data"`
	IsTotal bool                       `json:"is_total"`
}

type biMetadata struct {
	Fields struct {
		Dimensions        []biField     `json:"dimensions"`
		Measures          []biField     `json:"measures"`
		Pivots            []biField     `json:"pivots"`
		TableCalculations []biTableCalc `json:"table_calculations"`
	} `json:"fields"`
	Pivots []biPivot `json:"pivots"`
}

// width is the number of columns the metadata describes: the dimensions,
// and each measure and measure-like table calculation once per pivot (once
// without pivots), plus the other table calculations.
func (m *biMetadata) width() int {
	perMeasure := max(len(m.Pivots), 1)
	n := len(m.Fields.Dimensions) + len(m.Fields.Measures)*perMeasure
	for _, tc := range m.Fields.TableCalculations {
		if tc.Measure {
			n += perMeasure
		} else {
			n++
		}
	}
	return n
}

// pivots returns the result's pivot columns: values from each pivot's
// data in pivot field order, or from its key.
func (m *biMetadata) pivots() ([]formats.Pivot, error) {
	var out []formats.Pivot
	seen := make(map[string]bool, len(m.Pivots))
	for i, p := range m.Pivots {
		if seen[p.Key] {
			return nil, fmt.Errorf("pivot %d: key %q is listed twice", i+1, p.Key)
		}
		seen[p.Key] = true
		fp := formats.Pivot{Key: p.Key, Total: p.IsTotal || p.Key == formats.RowTotalKey}
		if !fp.Total {
			fp.Values = pivotValues(p.Key)
			if len(m.Fields.Pivots) > 0 && len(p.Data) > 0 {
				fp.Values = fp.Values[:0:0]
				for _, f := range m.Fields.Pivots {
					fp.Values = append(fp.Values, rawText(p.Data[f.Name]))
				}
			}
		}
		out = append(out, fp)
	}
	return out, nil
}

// pivotValues splits a pivot key into its values: Looker joins the values
// of several pivot fields with "|FIELD|".
func pivotValues(key string) []string { return strings.Split(key, "|FIELD|") }

// rawText is a JSON value as text: a string unquoted, null empty, anything
// else as its JSON text.
func rawText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

// pivotFields returns the columns of a pivoted measure, one per pivot.
func pivotFields(f formats.Field, pivots []formats.Pivot) []formats.Field {
	out := make([]formats.Field, len(pivots))
	for i, p := range pivots {
		p.Measure = f.Name
		p.Values = slices.Clone(p.Values)
		col := f
		col.Pivot = &p
		col.Name = formats.PivotName(p)
		col.Label = formats.PivotLabel(cmp.Or(f.Label, f.Name), p)
		out[i] = col
	}
	return out
}

// biSchema builds the schema from the json_bi metadata object.
func biSchema(meta []byte) (formats.Schema, error) {
	var m biMetadata
	if err := json.Unmarshal(meta, &m); err != nil {
		return formats.Schema{}, err
	}
	if err := formats.CheckColumns(m.width()); err != nil {
		return formats.Schema{}, err
	}
	pivots, err := m.pivots()
	if err != nil {
		return formats.Schema{}, err
	}
	var fields []formats.Field
	seen := make(map[string]bool)
	add1 := func(f formats.Field) error {
		if f.Name == "" {
			return fmt.Errorf("field %d has no name", len(fields)+1)
		}
		if seen[f.Name] && f.Pivot != nil { // pivot values holding "|": name by key
			f.Name = f.Pivot.Measure + "|" + f.Pivot.Key
		}
		if seen[f.Name] {
			return fmt.Errorf("field %q is listed twice", f.Name)
		}
		seen[f.Name] = true
		fields = append(fields, f)
		return nil
	}
	// add adds a field, or its pivot columns when it is pivoted.
	add := func(f formats.Field, pivoted bool) error {
		if !pivoted || len(pivots) == 0 {
			return add1(f)
		}
		if f.Name == "" {
			return fmt.Errorf("field %d has no name", len(fields)+1)
		}
		if seen[f.Name] {
			return fmt.Errorf("field %q is listed twice", f.Name)
		}
		seen[f.Name] = true
		for _, col := range pivotFields(f, pivots) {
			if err := add1(col); err != nil {
				return err
			}
		}
		return nil
	}
	for _, group := range []struct {
		list     []biField
		category string
	}{{m.Fields.Dimensions, "dimension"}, {m.Fields.Measures, "measure"}} {
		for _, f := range group.list {
			cat := f.Category
			if cat == "" {
				cat = group.category
			}
			f := formats.LookMLField(f.Name, f.Label, f.Type, cat)
			if err := add(f, group.category == "measure"); err != nil {
				return formats.Schema{}, err
			}
		}
	}
	for _, tc := range m.Fields.TableCalculations {
		// Without a type or hint the column is String (TypeForLookML of
		// ""), never typed from the values: a run's values must not change
		// a column's type. The job's types: sets it.
		t := tc.Type
		if t == "" {
			t = tc.TypeHint
		}
		if err := add(formats.LookMLField(tc.Name, tc.Label, t, "table_calculation"), tc.Measure); err != nil {
			return formats.Schema{}, err
		}
	}
	if fields == nil {
		fields = []formats.Field{}
	}
	return formats.Schema{Fields: fields}, nil
}
