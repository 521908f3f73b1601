package lookerdec

import (
	"encoding/json"
	"fmt"

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
}

type biMetadata struct {
	Fields struct {
		Dimensions        []biField     `json:"dimensions"`
		Measures          []biField     `json:"measures"`
		TableCalculations []biTableCalc `json:"table_calculations"`
	} `json:"fields"`
}

// biSchema builds the schema from the json_bi metadata object. untyped
// lists the table calculation columns whose type the first row decides.
func biSchema(meta []byte) (formats.Schema, []int, error) {
	var m biMetadata
	if err := json.Unmarshal(meta, &m); err != nil {
		return formats.Schema{}, nil, err
	}
	var fields []formats.Field
	seen := make(map[string]bool)
	add := func(f formats.Field) error {
		if f.Name == "" {
			return fmt.Errorf("field %d has no name", len(fields)+1)
		}
		if seen[f.Name] {
			return fmt.Errorf("field %q is listed twice", f.Name)
		}
		seen[f.Name] = true
		fields = append(fields, f)
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
			if err := add(formats.Field{Name: f.Name, Label: f.Label, LookMLType: f.Type, Category: cat, Type: formats.TypeForLookML(f.Type)}); err != nil {
				return formats.Schema{}, nil, err
			}
		}
	}
	var untyped []int
	for _, tc := range m.Fields.TableCalculations {
		t := tc.Type
		if t == "" {
			t = tc.TypeHint
		}
		if t == "" {
			untyped = append(untyped, len(fields))
		}
		if err := add(formats.Field{Name: tc.Name, Label: tc.Label, LookMLType: t, Category: "table_calculation", Type: formats.TypeForLookML(t)}); err != nil {
			return formats.Schema{}, nil, err
		}
	}
	if fields == nil {
		fields = []formats.Field{}
	}
	return formats.Schema{Fields: fields}, untyped, nil
}
