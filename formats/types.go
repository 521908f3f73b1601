package formats

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// MaxDecimalPrecision is the most digits a Decimal column holds (38: a
// 16-byte Parquet DECIMAL, BigQuery's NUMERIC and BIGNUMERIC up to 38
// digits).
// lookertext.MaxDecimalPrecision, its parser's bound, is the same.
const MaxDecimalPrecision = 38

// ColumnType is a type set for a column instead of the one its LookML
// type implies (a job's types:). A column's type never depends on the
// values of a run: it comes from LookML (TypeForLookML) or from here.
type ColumnType struct {
	Type Type
	// Precision and Scale size a Decimal.
	Precision, Scale int
	// Local marks DATETIME: a Timestamp kept as the wall clock Looker sent
	// (Field.Local).
	Local bool
}

// String is the canonical spelling ParseColumnType reads back.
func (c ColumnType) String() string {
	switch {
	case c.Type == Decimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", c.Precision, c.Scale)
	case c.Type == Timestamp && c.Local:
		return "DATETIME"
	}
	return c.Type.String()
}

// columnTypeWords are the type names ParseColumnType knows, BigQuery's
// and Parquet's spellings alike.
var columnTypeWords = map[string]ColumnType{
	"STRING":    {Type: String},
	"INT64":     {Type: Int64},
	"INTEGER":   {Type: Int64},
	"DOUBLE":    {Type: Double},
	"FLOAT64":   {Type: Double},
	"FLOAT":     {Type: Double},
	"BOOL":      {Type: Bool},
	"BOOLEAN":   {Type: Bool},
	"DATE":      {Type: Date},
	"TIMESTAMP": {Type: Timestamp},
	"DATETIME":  {Type: Timestamp, Local: true},
	// BigQuery's NUMERIC without parameters.
	"NUMERIC": {Type: Decimal, Precision: 38, Scale: 9},
}

// ParseColumnType reads a column type as written in a job's types:
// (case-insensitive): STRING; INT64 (INTEGER); FLOAT64 (DOUBLE, FLOAT);
// BOOL (BOOLEAN); DATE; TIMESTAMP (an instant; a convert_tz: no field
// stays a wall clock); DATETIME (a wall-clock time in no zone, as Looker
// sent it); DECIMAL(p,s), NUMERIC(p,s) or BIGNUMERIC(p,s), all the same
// exact decimal of p digits (1 to MaxDecimalPrecision), s after the point
// (0 to p); DECIMAL(p) is DECIMAL(p,0); NUMERIC alone is NUMERIC(38,9),
// as in BigQuery.
func ParseColumnType(s string) (ColumnType, error) {
	w := strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if t, ok := columnTypeWords[w]; ok {
		return t, nil
	}
	for _, prefix := range []string{"DECIMAL(", "NUMERIC(", "BIGNUMERIC("} {
		args, ok := strings.CutPrefix(w, prefix)
		if !ok {
			continue
		}
		args, ok = strings.CutSuffix(args, ")")
		if !ok {
			break
		}
		ps, ss, hasScale := strings.Cut(args, ",")
		p, err := strconv.Atoi(ps)
		if err != nil {
			break
		}
		sc := 0
		if hasScale {
			if sc, err = strconv.Atoi(ss); err != nil {
				break
			}
		}
		switch {
		case p < 1 || p > MaxDecimalPrecision:
			return ColumnType{}, fmt.Errorf("type %q: precision %d must be 1 to %d", s, p, MaxDecimalPrecision)
		case sc < 0 || sc > p:
			return ColumnType{}, fmt.Errorf("type %q: scale %d must be 0 to the precision, %d", s, sc, p)
		}
		return ColumnType{Type: Decimal, Precision: p, Scale: sc}, nil
	}
	return ColumnType{}, fmt.Errorf("type %q is not one of STRING, INT64, FLOAT64, BOOL, DATE, TIMESTAMP, DATETIME, NUMERIC(p,s) (also DECIMAL(p,s), BIGNUMERIC(p,s), precision up to %d)", s, MaxDecimalPrecision)
}

// ApplyTypes returns s with the types of the named fields set: types maps
// a Looker field name (Field.Name, or a pivoted measure's name, which
// sets every column of the measure) to its type. A name that matches no
// column is an error naming it, so that a misspelt field does not leave a
// column typed by LookML unnoticed. s is not modified.
func ApplyTypes(s Schema, types map[string]ColumnType) (Schema, error) {
	if len(types) == 0 {
		return s, nil
	}
	out := Schema{Fields: slices.Clone(s.Fields)}
	used := make(map[string]bool, len(types))
	for i, f := range out.Fields {
		name := f.Name
		t, ok := types[name]
		if !ok && f.Pivot != nil {
			name = f.Pivot.Measure
			t, ok = types[name]
		}
		if !ok {
			continue
		}
		used[name] = true
		f.Type, f.Precision, f.Scale = t.Type, 0, 0
		if t.Type == Decimal {
			f.Precision, f.Scale = t.Precision, t.Scale
		}
		if t.Local {
			f.Local = true
		}
		out.Fields[i] = f
	}
	var unknown []string
	for _, name := range slices.Sorted(maps.Keys(types)) {
		if !used[name] {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) > 0 {
		return Schema{}, fmt.Errorf("types: %s matches no column of the result (its fields: %s)", strings.Join(unknown, ", "), strings.Join(fieldNames(s), ", "))
	}
	return out, nil
}

// fieldNames lists the field names of s, a pivoted measure once.
func fieldNames(s Schema) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range s.Fields {
		name := f.Name
		if f.Pivot != nil {
			name = f.Pivot.Measure
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}
