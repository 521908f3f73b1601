package lookerdec

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

func TestJSONInferredSchema(t *testing.T) {
	t.Parallel()
	body := `[
 {"orders.id": 1, "orders.amount": 12.50, "orders.paid": true, "users.name": "Zoë \"Z\" \u00e9\ud83c\udf89\n", "orders.note": null, "orders.pivot": {"a": [1, "x\"y"]}},
 {"orders.id": -7, "orders.amount": 1e3, "orders.paid": false, "users.name": "", "orders.note": "tab\there\\/"},
 {"users.name": null, "orders.id": 3}
]`
	for how, mk := range readers(body) {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			r, err := NewJSON(mk(), nil)
			require.NoError(t, err)
			require.Equal(t, []formats.Field{
				{Name: "orders.id", Type: formats.Int64},
				{Name: "orders.amount", Type: formats.Double},
				{Name: "orders.paid", Type: formats.Bool},
				{Name: "users.name", Type: formats.String},
				{Name: "orders.note", Type: formats.String},
				{Name: "orders.pivot|a", Type: formats.String, Pivot: &formats.Pivot{Measure: "orders.pivot", Key: "a", Values: []string{"a"}}},
			}, r.Schema().Fields)
			got, err := readAll(r)
			require.NoError(t, err)
			requireRows(t, [][]cell{
				{s("1"), s("12.50"), s("true"), s("Zoë \"Z\" é🎉\n"), nil, s(`[1,"x\"y"]`)},
				{s("-7"), s("1e3"), s("false"), s(""), s("tab\there\\/"), nil},
				{s("3"), nil, nil, nil, nil, nil},
			}, got)
		})
	}
}

func TestJSONGivenSchema(t *testing.T) {
	t.Parallel()
	schema := &formats.Schema{Fields: []formats.Field{
		{Name: "a.x", Label: "A X", Type: formats.Int64},
		{Name: "a.y", Label: "A Y", Type: formats.String},
	}}
	r, err := NewJSON(strings.NewReader(`[{"a.y":"1","a.x":2},{}]`), schema)
	require.NoError(t, err)
	require.Equal(t, *schema, r.Schema())
	got, err := readAll(r)
	require.NoError(t, err)
	requireRows(t, [][]cell{{s("2"), s("1")}, {nil, nil}}, got)

	r, err = NewJSON(strings.NewReader(` [ ] `), schema)
	require.NoError(t, err)
	got, err = readAll(r)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestJSONZeroRows(t *testing.T) {
	t.Parallel()
	r, err := NewJSON(strings.NewReader("[]\n"), nil)
	require.NoError(t, err)
	require.Empty(t, r.Schema().Fields)
	_, err = r.Next()
	require.ErrorIs(t, err, io.EOF)
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		rowsOK  int
		row     int
		message string
	}{
		{name: "empty", body: "", message: "the body ends"},
		{name: "not json", body: "<html>", message: "expected '[' starting the array"},
		{name: "error document", body: `{"message":"Not found","documentation_url":"x"}`, message: `"Not found"`},
		{name: "unknown key", body: `[{"a":1},{"a":2,"b":3}]`, rowsOK: 1, row: 2, message: `unknown key "b"`},
		{name: "repeated key", body: `[{"a":1,"a":2}]`, row: 1, message: `appears twice`},
		{name: "truncated", body: `[{"a":1},{"a":2},{"a":`, rowsOK: 2, row: 3, message: "truncated"},
		{name: "truncated string", body: `[{"a":"abc`, row: 1, message: "inside a string"},
		{name: "bad token", body: `[{"a":1},{"a":tru}]`, rowsOK: 1, row: 2, message: "expected true"},
		{name: "bad number", body: `[{"a":1},{"a":01}]`, rowsOK: 1, row: 2, message: "invalid number"},
		{name: "missing comma", body: `[{"a":1}{"a":2}]`, rowsOK: 1, row: 1, message: "expected ',' or ']'"},
		{name: "control char", body: "[{\"a\":\"x\ty\"}]", row: 1, message: "control character"},
		{name: "bad escape", body: `[{"a":"\x"}]`, row: 1, message: "invalid escape"},
		{name: "trailing data", body: `[{"a":1}] x`, rowsOK: 1, row: 1, message: "after the end"},
		{name: "bad nested", body: `[{"a":[1,}]`, row: 1, message: "nested"},
		{name: "mismatched nesting", body: `[{"a":[1}]`, row: 1, message: "mismatched"},
	}
	for _, tt := range tests {
		for how, mk := range readers(tt.body) {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				t.Parallel()
				r, err := NewJSON(mk(), nil)
				if err == nil {
					var got [][]cell
					got, err = readAll(r)
					require.Len(t, got, tt.rowsOK)
				}
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.message)
				var de *DecodeError
				if errors.As(err, &de) {
					require.Equal(t, tt.row, de.Row)
				}
			})
		}
	}
}

func TestJSONLookerError(t *testing.T) {
	t.Parallel()
	r, err := NewJSON(strings.NewReader(`[{"a":1},{"looker_error":"Query timed out"}]`), nil)
	require.NoError(t, err)
	_, err = r.Next()
	require.NoError(t, err)
	_, err = r.Next()
	var le *LookerError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 2, le.Row)
	require.Equal(t, "Query timed out", le.Message)

	_, err = NewJSON(strings.NewReader(`{"looker_error":"bad field"}`), nil)
	require.ErrorAs(t, err, &le)
	require.Equal(t, "bad field", le.Message)
}

const biBody = `{
 "metadata": {
  "big_query_metadata": {"total_bytes_processed": 10, "nested": [{"x": "]}"}]},
  "fields": {
   "measures": [{"name": "orders.count", "label": "Orders Count", "type": "count", "category": "measure", "sql": "COUNT(*)"}],
   "dimensions": [
    {"name": "orders.created_date", "label": "Orders Created Date", "type": "date_date", "category": "dimension", "hidden": false},
    {"name": "users.name", "label": "Users Name", "type": "string", "category": "dimension"}
   ],
   "pivots": [],
   "table_calculations": [
    {"name": "ratio", "label": "Ratio", "expression": "1/2", "measure": true},
    {"name": "flag", "label": "Flag", "expression": "yes"},
    {"name": "word", "label": "Word"},
    {"name": "typed", "label": "Typed", "type": "yesno"}
   ]
  },
  "pivots": []
 },
 "rows": [
  {"orders.created_date": "2026-03-01", "users.name": "Ann", "orders.count": 5, "ratio": 0.5, "flag": true, "word": "hi", "typed": "Yes"},
  {"orders.created_date": null, "users.name": "Bo", "orders.count": 0, "ratio": 1, "flag": false, "word": null}
 ],
 "has_totals": false
}`

func TestJSONBI(t *testing.T) {
	t.Parallel()
	for how, mk := range readers(biBody) {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			r, err := NewJSONBI(mk())
			require.NoError(t, err)
			require.Equal(t, []formats.Field{
				{Name: "orders.created_date", Label: "Orders Created Date", LookMLType: "date_date", Category: "dimension", Type: formats.Date},
				{Name: "users.name", Label: "Users Name", LookMLType: "string", Category: "dimension", Type: formats.String},
				{Name: "orders.count", Label: "Orders Count", LookMLType: "count", Category: "measure", Type: formats.Int64},
				{Name: "ratio", Label: "Ratio", Category: "table_calculation", Type: formats.String}, // untyped: String, whatever its values
				{Name: "flag", Label: "Flag", Category: "table_calculation", Type: formats.String},
				{Name: "word", Label: "Word", Category: "table_calculation", Type: formats.String},
				{Name: "typed", Label: "Typed", LookMLType: "yesno", Category: "table_calculation", Type: formats.Bool},
			}, r.Schema().Fields)
			got, err := readAll(r)
			require.NoError(t, err)
			requireRows(t, [][]cell{
				{s("2026-03-01"), s("Ann"), s("5"), s("0.5"), s("true"), s("hi"), s("Yes")},
				{nil, s("Bo"), s("0"), s("1"), s("false"), nil, nil},
			}, got)
		})
	}
}

func TestJSONBINoRows(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"metadata":{"fields":{"dimensions":[{"name":"a.b","type":"number"}],"table_calculations":[{"name":"t"}]}},"rows":[]}`,
		`{"metadata":{"fields":{"dimensions":[{"name":"a.b","type":"number"}],"table_calculations":[{"name":"t"}]}}}`,
	} {
		r, err := NewJSONBI(strings.NewReader(body))
		require.NoError(t, err, body)
		require.Equal(t, []formats.Field{
			{Name: "a.b", LookMLType: "number", Category: "dimension", Type: formats.Double},
			{Name: "t", Category: "table_calculation", Type: formats.String},
		}, r.Schema().Fields)
		_, err = r.Next()
		require.ErrorIs(t, err, io.EOF)
	}
}

func TestJSONBIErrors(t *testing.T) {
	t.Parallel()
	meta := `"metadata":{"fields":{"dimensions":[{"name":"a.b","type":"string"}]}}`
	tests := []struct {
		name    string
		body    string
		rowsOK  int
		message string
		looker  string
	}{
		{name: "rows before metadata", body: `{"rows":[{"a.b":"x"}],` + meta + `}`, message: `"rows" comes before "metadata"`},
		{name: "no metadata", body: `{"x":1}`, message: `no "metadata"`},
		{name: "array body", body: `[{"a.b":1}]`, message: "expected '{'"},
		{name: "bad metadata", body: `{"metadata":{"fields":{"dimensions":{}}},"rows":[]}`, message: "bad metadata"},
		{name: "duplicate field", body: `{"metadata":{"fields":{"dimensions":[{"name":"a"}],"measures":[{"name":"a"}]}},"rows":[]}`, message: "listed twice"},
		{name: "unknown row key", body: `{` + meta + `,"rows":[{"a.b":"x"},{"c":1}]}`, rowsOK: 1, message: `row 2`},
		{name: "truncated rows", body: `{` + meta + `,"rows":[{"a.b":"x"},{"a.b":`, rowsOK: 1, message: "row 2"},
		{name: "looker error row", body: `{` + meta + `,"rows":[{"a.b":"x"},{"looker_error":"boom"}]}`, rowsOK: 1, looker: "boom"},
		{name: "looker error top", body: `{"looker_error":"no access"}`, looker: "no access"},
		{name: "looker error after rows", body: `{` + meta + `,"rows":[{"a.b":"x"}],"looker_error":"late"}`, rowsOK: 1, looker: "late"},
		{name: "trailing garbage", body: `{` + meta + `,"rows":[]} {}`, message: "after the end"},
	}
	for _, tt := range tests {
		for how, mk := range readers(tt.body) {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				t.Parallel()
				r, err := NewJSONBI(mk())
				if err == nil {
					var got [][]cell
					got, err = readAll(r)
					require.Len(t, got, tt.rowsOK)
				}
				require.Error(t, err)
				if tt.looker != "" {
					var le *LookerError
					require.ErrorAs(t, err, &le)
					require.Equal(t, tt.looker, le.Message)
					return
				}
				require.Contains(t, err.Error(), tt.message)
			})
		}
	}
}

var jsonSeeds = []string{
	`[{"a":1,"b":"x","c":true,"d":null,"e":{"p":[1,2]}}]`,
	`[{"a":1},{"a":2.5e-3},{"b":1}]`,
	`[]`, `[`, `{`, `[{"a":"\ud83c\udf89 \ud800 \u00"}]`, `[{"a":[[[[[]]]]]}]`,
	`[{"looker_error":"x"}]`, `{"message":"nope"}`, `[{"a":1}]]`, `[{"a":-}]`,
	`[{"d":"a","m":{"x|FIELD|1":1,"$$$_row_total_$$$":2}},{"m":{"f":{"x|FIELD|1":null}}},{"m":{"y":1}}]`,
}

func FuzzJSONDecoder(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, n := range []int{1, len(body) + 1} {
			r, err := NewJSON(&chunkReader{data: body, n: n}, nil)
			if err != nil {
				continue
			}
			_, _ = readAll(r)
		}
	})
}

var biSeeds = []string{
	biBody,
	`{"metadata":{"fields":{}},"rows":[]}`,
	`{"rows":[],"metadata":{}}`,
	`{"metadata":{"fields":{"dimensions":[{"name":"a"}],"table_calculations":[{"name":"t"}]}},"rows":[{"a":1,"t":2},{"a":{"x":[]}}],"z":[1]}`,
	`{"metadata":{"fields":{"dimensions":[{"name":"a"}]}},"rows":[{"looker_error":"x"}]}`,
	`{"looker_error":"x"}`, `{"metadata":[]}`, `{"metadata":{},`, `{}`,
	`{"metadata":{"fields":{"dimensions":[{"name":"d"}],"measures":[{"name":"m","type":"count"}],"pivots":[{"name":"p"}],"table_calculations":[{"name":"t","measure":true}]},"pivots":[{"key":"a","data":{"p":"a"}},{"key":"b|FIELD|c"},{"key":"$$$_row_total_$$$","is_total":true}]},"rows":[{"d":1,"m":{"a":1,"b|FIELD|c":2},"t":{"p":{"a":true}}},{"m":{"z":1}},{"m":3}]}`,
}

func FuzzJSONBIDecoder(f *testing.F) {
	for _, s := range biSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, n := range []int{1, len(body) + 1} {
			r, err := NewJSONBI(&chunkReader{data: body, n: n})
			if err != nil {
				continue
			}
			_, _ = readAll(r)
		}
	})
}

// TestJSONBIUntypedTableCalcKeepsItsType: a table calculation without a
// type or _type_hint is STRING whatever the first row holds, so that one
// run's values never change a column's type (set it with the job's
// types:); with a _type_hint it is typed from the hint.
func TestJSONBIUntypedTableCalcKeepsItsType(t *testing.T) {
	t.Parallel()
	for _, first := range []string{`1`, `0.5`, `true`, `"x"`, `null`} {
		body := `{"metadata":{"fields":{"dimensions":[{"name":"a.b","type":"string"}],"table_calculations":[{"name":"t"},{"name":"h","_type_hint":"number"},{"name":"m","measure":true}]}},` +
			`"rows":[{"a.b":"1","t":` + first + `,"h":` + first + `,"m":` + first + `}]}`
		r, err := NewJSONBI(strings.NewReader(body))
		require.NoError(t, err, body)
		require.Equal(t, []formats.Field{
			{Name: "a.b", LookMLType: "string", Category: "dimension", Type: formats.String},
			{Name: "t", Category: "table_calculation", Type: formats.String},
			{Name: "h", LookMLType: "number", Category: "table_calculation", Type: formats.Double},
			{Name: "m", Category: "table_calculation", Type: formats.String},
		}, r.Schema().Fields, "first value %s", first)
	}
}
