package lookertest

import "strings"

// pivotKeySep joins the values of several pivot fields into one pivot key
// ("complete|FIELD|Yes"), as Looker's JsonBiPivots.key and the keys of
// pivoted json values do (observed; the spec says only "Pivot Column
// Value").
const pivotKeySep = "|FIELD|"

// pivotPlan is the pivot columns of a pivoted query: every combination of
// the pivot fields' values, in order. The sandbox pivots only on
// dimensions with few values (fieldDef.enum).
//
// What Looker documents (spec JsonBi, JsonBiMetadata.pivots, JsonBiPivots
// {key, data, sort_values, is_total}; JsonBiFields.pivots) is modelled as
// declared. The shapes of json rows and csv headers are not documented;
// the sandbox sends:
//   - json, json_bi rows: a pivoted measure is an object keyed by pivot
//     key, e.g. "orders.count": {"complete": 3, "pending": null}. Some
//     Looker versions are reported to nest it once more under the pivot
//     field's name ({"orders.status": {"complete": 3}}); not modelled.
//   - csv, txt: one header row per pivot field (its label in the last
//     unpivoted column, then the pivot value above each pivoted column),
//     then the usual label row; pivoted columns come after the unpivoted
//     ones, grouped by pivot key, measures in query order.
//
// Measures are per-row synthetic values: in row i a pivoted measure has
// its value under row i's pivot key and null under the others.
type pivotPlan struct {
	fields []*fieldDef
	keys   []string   // pivot keys
	values [][]string // values of each key, by pivot field
	index  map[string]int
}

// newPivotPlan returns the plan for fields, or nil when there are none.
func newPivotPlan(fields []*fieldDef) *pivotPlan {
	if len(fields) == 0 {
		return nil
	}
	p := &pivotPlan{fields: fields, values: [][]string{nil}, index: map[string]int{}}
	for _, f := range fields {
		var next [][]string
		for _, prefix := range p.values {
			for _, v := range f.enum {
				next = append(next, append(append([]string(nil), prefix...), v))
			}
		}
		p.values = next
	}
	for i, vals := range p.values {
		k := strings.Join(vals, pivotKeySep)
		p.keys = append(p.keys, k)
		p.index[k] = i
	}
	return p
}

// keyOf is the index of row's pivot key.
func (p *pivotPlan) keyOf(row int) int {
	var parts []string
	for _, f := range p.fields {
		v, _ := f.appendValue(nil, row, nil)
		parts = append(parts, string(v))
	}
	return p.index[strings.Join(parts, pivotKeySep)]
}

// jsonBiPivots is JsonBiMetadata.pivots for p.
func (p *pivotPlan) jsonBiPivots() []map[string]any {
	out := []map[string]any{}
	if p == nil {
		return out
	}
	for i, k := range p.keys {
		data := map[string]string{}
		for j, f := range p.fields {
			data[f.Name] = p.values[i][j]
		}
		out = append(out, map[string]any{"key": k, "data": data, "sort_values": data, "is_total": false})
	}
	return out
}

// pivoted reports whether column f is spread over the pivot columns.
func (p *pivotPlan) pivoted(f *fieldDef) bool {
	return p != nil && f.Category == "measure"
}
