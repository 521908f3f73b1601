package formats_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/csvenc"
	"github.com/lookerexport/exporter/formats/internal/fixture"
	"github.com/lookerexport/exporter/formats/jsonl"
	"github.com/lookerexport/exporter/formats/lookerdec"
	"github.com/lookerexport/exporter/formats/parquetenc"
)

// lookmlFor is a LookML type that maps to t.
var lookmlFor = map[formats.Type]string{
	formats.String: "string", formats.Int64: "int", formats.Double: "number",
	formats.Bool: "yesno", formats.Date: "date_date", formats.Timestamp: "date_time",
}

// jsonValue renders a Looker text cell as Looker's json does: numbers
// as numbers when they are JSON numbers, everything else as a string.
func jsonValue(t formats.Type, c formats.Cell) string {
	if c.Null {
		return "null"
	}
	if t == formats.Int64 || t == formats.Double {
		var n json.Number
		if json.Unmarshal(c.Value, &n) == nil {
			return string(c.Value)
		}
	}
	b, _ := json.Marshal(string(c.Value))
	return string(b)
}

// jsonBIBody renders a case as a Looker json_bi body.
func jsonBIBody(c fixture.Case) string {
	var b strings.Builder
	b.WriteString(`{"metadata":{"fields":{"dimensions":[`)
	for i, f := range c.Schema.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":%q,"label":%q,"type":%q,"category":"dimension"}`, f.Name, f.Label, lookmlFor[f.Type])
	}
	b.WriteString(`],"measures":[],"pivots":[],"table_calculations":[]},"pivots":[]},"rows":[`)
	for r, row := range c.Rows {
		if r > 0 {
			b.WriteString(",\n")
		}
		b.WriteByte('{')
		for i, cell := range row {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", c.Schema.Fields[i].Name, jsonValue(c.Schema.Fields[i].Type, cell))
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.String()
}

// convert decodes body with dec through formats.Copy into enc's format.
func convertAll(t *testing.T, dec formats.RowReader, format formats.Format, loc *time.Location) []byte {
	t.Helper()
	var out bytes.Buffer
	var enc formats.RowWriter
	schema := dec.Schema()
	switch format {
	case formats.Parquet:
		var err error
		enc, err = parquetenc.New(&out, schema, parquetenc.Options{Location: loc})
		require.NoError(t, err)
	case formats.JSONL:
		enc = jsonl.New(&out, schema, jsonl.Options{Location: loc})
	case formats.CSV:
		enc = csvenc.New(&out, schema, csvenc.Options{})
	}
	// Tiny batches so that rows cross batch boundaries.
	_, err := formats.Copy(context.Background(), enc, dec, formats.CopyOptions{BatchRows: 2, Batches: 2})
	require.NoError(t, err)
	require.NoError(t, enc.Close())
	return out.Bytes()
}

// readParquet reads a file with arrow-go into the fixture's value forms.
func readParquet(t *testing.T, data []byte) ([]string, [][]any) {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	require.NoError(t, err)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	names := make([]string, tbl.NumCols())
	rows := make([][]any, tbl.NumRows())
	for i := range rows {
		rows[i] = make([]any, tbl.NumCols())
	}
	for c := range int(tbl.NumCols()) {
		col := tbl.Column(c)
		names[c] = col.Name()
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := range chunk.Len() {
				if !chunk.IsNull(i) {
					switch a := chunk.(type) {
					case *array.String:
						rows[r][c] = a.Value(i)
					case *array.Int64:
						rows[r][c] = a.Value(i)
					case *array.Float64:
						rows[r][c] = a.Value(i)
					case *array.Boolean:
						rows[r][c] = a.Value(i)
					case *array.Date32:
						d := a.Value(i).ToTime()
						rows[r][c] = fixture.Date{Y: d.Year(), M: int(d.Month()), D: d.Day()}
					case *array.Timestamp:
						rows[r][c] = a.Value(i).ToTime(arrow.Microsecond).UTC()
					default:
						t.Fatalf("column %s: unexpected arrow type %T", col.Name(), chunk)
					}
				}
				r++
			}
		}
	}
	return names, rows
}

// readJSONL parses JSON lines into the fixture's value forms.
func readJSONL(t *testing.T, data []byte, schema formats.Schema) ([]string, [][]any) {
	t.Helper()
	var names []string
	var rows [][]any
	for line := range strings.Lines(string(data)) {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		_, err := dec.Token()
		require.NoError(t, err)
		var keys []string
		var row []any
		for i := 0; dec.More(); i++ {
			k, err := dec.Token()
			require.NoError(t, err)
			keys = append(keys, k.(string))
			var v any
			require.NoError(t, dec.Decode(&v))
			row = append(row, fromJSON(t, schema.Fields[i].Type, v))
		}
		names = keys
		rows = append(rows, row)
	}
	return names, rows
}

func fromJSON(t *testing.T, typ formats.Type, v any) any {
	t.Helper()
	if v == nil {
		return nil
	}
	switch typ {
	case formats.Int64:
		n, err := v.(json.Number).Int64()
		require.NoError(t, err)
		return n
	case formats.Double:
		f, err := v.(json.Number).Float64()
		require.NoError(t, err)
		return f
	case formats.Date:
		d, err := time.Parse(time.DateOnly, v.(string))
		require.NoError(t, err)
		return fixture.Date{Y: d.Year(), M: int(d.Month()), D: d.Day()}
	case formats.Timestamp:
		ts, err := time.Parse(time.RFC3339Nano, v.(string))
		require.NoError(t, err)
		return ts.UTC()
	}
	return v
}

func requireSame(t *testing.T, want, got [][]any) {
	t.Helper()
	require.Len(t, got, len(want))
	for r := range want {
		require.Len(t, got[r], len(want[r]), "row %d", r+1)
		for c := range want[r] {
			if wt, ok := want[r][c].(time.Time); ok {
				gt, ok := got[r][c].(time.Time)
				require.True(t, ok && wt.Equal(gt), "row %d col %d: got %v, want %v", r+1, c, got[r][c], wt)
				continue
			}
			require.Equal(t, want[r][c], got[r][c], "row %d col %d", r+1, c)
		}
	}
}

// TestRoundTripFromLooker runs each case from a Looker json_bi body
// through the decoder, formats.Copy and each encoder, reads the output
// back with an independent reader (arrow-go for Parquet, encoding/json,
// encoding/csv) and checks every value against the source.
func TestRoundTripFromLooker(t *testing.T) {
	t.Parallel()
	typed := fixture.Typed()
	cases := map[string]fixture.Case{
		"typed edge cases": typed, // nulls in every column, "" vs null, unicode, quotes, newlines
		"zero rows":        {Schema: typed.Schema, Location: typed.Location},
		"one row":          {Schema: typed.Schema, Location: typed.Location, Rows: typed.Rows[:1], Want: typed.Want[:1]},
		"wide 300 columns": fixture.Wide(300, 5),
	}
	for name, c := range cases {
		body := jsonBIBody(c)
		for _, format := range []formats.Format{formats.Parquet, formats.JSONL, formats.CSV} {
			t.Run(name+"/"+string(format), func(t *testing.T) {
				t.Parallel()
				dec, err := lookerdec.NewJSONBI(strings.NewReader(body))
				require.NoError(t, err)
				schema := dec.Schema()
				require.Equal(t, c.Schema.Names(), schema.Names())
				out := convertAll(t, dec, format, c.Location)
				wantNames := formats.ColumnNames(schema, formats.NameUnderscore)
				switch format {
				case formats.Parquet:
					names, got := readParquet(t, out)
					require.Equal(t, wantNames, names)
					requireSame(t, c.Want, got)
				case formats.JSONL:
					names, got := readJSONL(t, out, schema)
					if len(c.Rows) > 0 {
						require.Equal(t, wantNames, names)
					}
					requireSame(t, c.Want, got)
				case formats.CSV:
					recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
					require.NoError(t, err)
					require.Equal(t, wantNames, recs[0])
					require.Len(t, recs, len(c.Rows)+1)
					for r, row := range c.Rows {
						for i, cell := range row {
							// CSV carries Looker's text as is; null is empty
							// ("" vs null is csvenc's TestNullVersusEmpty).
							// encoding/csv turns a quoted \r\n into \n (documented).
							want := strings.ReplaceAll(string(cell.Value), "\r\n", "\n")
							require.Equal(t, want, recs[r+1][i], "row %d col %d", r+1, i)
						}
					}
				}
			})
		}
	}
}

// pivotBody is a json_bi result pivoted on orders.status, with a row
// total, two measures and a measure-like table calculation; rows cover a
// whole-null measure, a missing pivot key, a null inside, unicode and
// "|" in pivot values, and the pivot-field nesting some versions send.
const pivotBody = `{"metadata":{"fields":{
 "dimensions":[{"name":"orders.created_date","label":"Orders Created Date","type":"date_date","category":"dimension"}],
 "measures":[{"name":"orders.count","label":"Orders Count","type":"count","category":"measure"},
             {"name":"orders.amount","label":"Orders Amount","type":"sum","category":"measure"}],
 "pivots":[{"name":"orders.status","label":"Orders Status","type":"string","category":"dimension"}],
 "table_calculations":[{"name":"share","label":"Share","measure":true,"type":"number"},{"name":"note","label":"Note","measure":false}]},
 "pivots":[{"key":"complete","data":{"orders.status":"complete"},"is_total":false},
           {"key":"東京 a|b","data":{"orders.status":"東京 a|b"},"is_total":false},
           {"key":"$$$_row_total_$$$","data":{},"is_total":true}]},
"rows":[
 {"orders.created_date":"2026-03-01","orders.count":{"complete":3,"東京 a|b":1,"$$$_row_total_$$$":4},"orders.amount":{"complete":10.5,"東京 a|b":null,"$$$_row_total_$$$":10.5},"share":{"complete":0.75,"東京 a|b":0.25,"$$$_row_total_$$$":1},"note":"x"},
 {"orders.created_date":null,"orders.count":{"orders.status":{"complete":0}},"orders.amount":null,"share":{},"note":null}
]}`

func TestPivotRoundTrip(t *testing.T) {
	t.Parallel()
	wantNames := []string{
		"orders_created_date",
		"orders_count__complete", "orders_count_____a_b", "orders_count__row_total",
		"orders_amount__complete", "orders_amount_____a_b", "orders_amount__row_total",
		"share__complete", "share_____a_b", "share__row_total",
		"note",
	}
	want := [][]any{
		{fixture.Date{Y: 2026, M: 3, D: 1}, int64(3), int64(1), int64(4), 10.5, nil, 10.5, 0.75, 0.25, 1.0, "x"},
		{nil, int64(0), nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
	dec, err := lookerdec.NewJSONBI(strings.NewReader(pivotBody))
	require.NoError(t, err)
	schema := dec.Schema()
	require.Equal(t, wantNames, formats.ColumnNames(schema, formats.NameUnderscore))
	require.Equal(t, "orders.count|東京 a|b", schema.Fields[2].Name)
	require.Equal(t, "Orders Count | 東京 a|b", schema.Fields[2].Label)
	require.Equal(t, &formats.Pivot{Measure: "orders.amount", Key: formats.RowTotalKey, Total: true}, schema.Fields[6].Pivot)
	require.Equal(t, formats.Int64, schema.Fields[1].Type)
	require.Equal(t, formats.Double, schema.Fields[7].Type)
	out := convertAll(t, dec, formats.Parquet, time.UTC)
	names, got := readParquet(t, out)
	require.Equal(t, wantNames, names)
	requireSame(t, want, got)

	dec, err = lookerdec.NewJSONBI(strings.NewReader(pivotBody))
	require.NoError(t, err)
	names, got = readJSONL(t, convertAll(t, dec, formats.JSONL, time.UTC), schema)
	require.Equal(t, wantNames, names)
	requireSame(t, want, got)
}

// TestPivotJSONInferred: a json result (no metadata) takes its pivot
// columns from the first row's objects.
func TestPivotJSONInferred(t *testing.T) {
	t.Parallel()
	body := `[{"d":"a","orders.count":{"complete|FIELD|2024":1,"pending|FIELD|2024":2.5}},{"d":"b","orders.count":{"pending|FIELD|2024":3}}]`
	dec, err := lookerdec.NewJSON(strings.NewReader(body), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"d", "orders_count__complete__2024", "orders_count__pending__2024"}, formats.ColumnNames(dec.Schema(), ""))
	require.Equal(t, []string{"d", "orders.count|complete|2024", "orders.count|pending|2024"}, formats.ColumnNames(dec.Schema(), formats.NameField))
	out := convertAll(t, dec, formats.JSONL, time.UTC)
	require.Equal(t, "{\"d\":\"a\",\"orders_count__complete__2024\":1,\"orders_count__pending__2024\":2.5}\n{\"d\":\"b\",\"orders_count__complete__2024\":null,\"orders_count__pending__2024\":3}\n", string(out))
}

func TestPivotErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, body, msg string }{
		{"unknown key", strings.Replace(pivotBody, `{"complete":0}}`, `{"shipped":0}}`, 1), `unknown pivot key "shipped"`},
		{"scalar", strings.Replace(pivotBody, `"orders.amount":null`, `"orders.amount":7`, 1), `expected an object keyed by pivot`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dec, err := lookerdec.NewJSONBI(strings.NewReader(tt.body))
			require.NoError(t, err)
			_, err = formats.Copy(context.Background(), nil, dec, formats.CopyOptions{})
			require.ErrorContains(t, err, tt.msg)
			require.ErrorContains(t, err, "row 2")
			var re *formats.ReadError
			require.ErrorAs(t, err, &re)
			require.EqualValues(t, 2, re.Row)
		})
	}
}
