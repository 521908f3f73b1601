package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite golden files")

func encode(t *testing.T, c fixture.Case, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	w := New(&buf, c.Schema, opts)
	for _, row := range c.Rows {
		require.NoError(t, w.WriteRow(row))
	}
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close twice")
	return buf.String()
}

// parseLine decodes one JSON object keeping key order and numbers as
// json.Number.
func parseLine(t *testing.T, line string) ([]string, []any) {
	t.Helper()
	require.True(t, utf8.ValidString(line), "output is valid UTF-8")
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	var vals []any
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var v any
		require.NoError(t, dec.Decode(&v))
		vals = append(vals, v)
	}
	_, err = dec.Token()
	require.NoError(t, err)
	require.False(t, dec.More())
	return keys, vals
}

// typed converts a decoded JSON value to the fixture's expected form.
func typed(t *testing.T, typ formats.Type, v any) any {
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

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []fixture.Case{fixture.Typed(), fixture.Wide(200, 50)} {
		out := encode(t, c, Options{Location: c.Location})
		require.True(t, strings.HasSuffix(out, "\n"))
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, len(c.Rows))
		names := formats.ColumnNames(c.Schema, formats.NameUnderscore)
		for i, line := range lines {
			keys, vals := parseLine(t, line)
			require.Equal(t, names, keys, "keys in schema order")
			for j, v := range vals {
				got := typed(t, c.Schema.Fields[j].Type, v)
				want := c.Want[i][j]
				if wt, ok := want.(time.Time); ok {
					require.True(t, wt.Equal(got.(time.Time)), "row %d col %d: %v != %v", i+1, j, got, wt)
					continue
				}
				require.Equal(t, want, got, "row %d col %d", i+1, j)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	c := fixture.Typed()
	got := encode(t, c, Options{Location: c.Location, Columns: []string{"id", "amount", "paid", "date", "time", "name"}})
	path := filepath.Join("testdata", "typed.jsonl")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func TestValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  formats.Type
		in   string
		want string // the JSON value, or "error: ..." for an error
	}{
		{formats.Int64, "007", "7"},
		{formats.Int64, "+7", "7"},
		{formats.Int64, "-0", "-0"},
		{formats.Int64, "1.5", "error: not an integer"},
		{formats.Double, "1.50", "1.50"},
		{formats.Double, ".5", "0.5"},
		{formats.Double, "+2", "2"},
		{formats.Double, "1.", "1"},
		{formats.Double, "NaN", "error: no JSON form"},
		{formats.Double, "Inf", "error: no JSON form"},
		{formats.Double, "12 apples", "error: not a number"},
		{formats.Bool, "Yes", "true"},
		{formats.Bool, "no", "false"},
		{formats.Bool, "1", "true"},
		{formats.Bool, "Y", "error: not a boolean"},
		{formats.Date, "2026-03-01", `"2026-03-01"`},
		{formats.Date, "2026-3-1", "error: not a date"},
		{formats.Timestamp, "2026-03-01 10:15:00", `"2026-03-01T10:15:00Z"`},
		{formats.Timestamp, "2026-03-01 10:15:00.000100", `"2026-03-01T10:15:00.0001Z"`},
		{formats.Timestamp, "yesterday", "error: not a timestamp"},
		{formats.String, "", `""`},
		{formats.String, "\u2028\x00\"\\\xff", `"\u2028\u0000\"\\\ufffd"`},
		{formats.String, "<b>&amp;</b>", `"<b>&amp;</b>"`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%q", tt.typ, tt.in), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			w := New(&buf, formats.Schema{Fields: []formats.Field{{Name: "v.x", Type: tt.typ}}}, Options{})
			require.NoError(t, w.WriteRow(formats.Row{{Null: true}}))
			err := w.WriteRow(formats.Row{{Value: []byte(tt.in)}})
			if msg, ok := strings.CutPrefix(tt.want, "error: "); ok {
				require.ErrorContains(t, err, msg)
				require.ErrorContains(t, err, `row 2, column "v_x"`)
				require.ErrorContains(t, err, fmt.Sprintf("%q", tt.in))
				require.Equal(t, err, w.Close())
				require.Equal(t, "", buf.String(), "Close after a failed row reports the error and writes nothing more")
				return
			}
			require.NoError(t, err)
			require.NoError(t, w.Close())
			require.Equal(t, `{"v_x":null}`+"\n"+`{"v_x":`+tt.want+"}\n", buf.String())
			require.True(t, json.Valid([]byte(strings.Split(buf.String(), "\n")[1])))
		})
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	c := fixture.Typed()
	c.Rows = nil
	require.Equal(t, "", encode(t, c, Options{}))
	require.Equal(t, "{}\n", encode(t, fixture.Case{Rows: []formats.Row{{}}}, Options{}))
}

func TestKeysEscaped(t *testing.T) {
	t.Parallel()
	c := fixture.Case{
		Schema: formats.Schema{Fields: []formats.Field{{Name: "a", Label: `Say "hi"`}, {Name: "b", Label: "Zoë"}}},
		Rows:   []formats.Row{{{Value: []byte("1")}, {Null: true}}},
	}
	out := encode(t, c, Options{Columns: formats.ColumnNames(c.Schema, formats.NameLabel)})
	require.Equal(t, `{"Say \"hi\"":"1","Zoë":null}`+"\n", out)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	sch := formats.Schema{Fields: []formats.Field{{Name: "a"}, {Name: "b"}}}
	w := New(&bytes.Buffer{}, sch, Options{Columns: []string{"x"}})
	require.ErrorContains(t, w.WriteRow(formats.Row{{}, {}}), "1 column names for 2 fields")
	w = New(&bytes.Buffer{}, sch, Options{})
	require.ErrorContains(t, w.WriteRow(formats.Row{{}}), "row 1 has 1 cells")
	boom := errors.New("disk full")
	w = New(bufio.NewWriterSize(errWriter{boom}, 16), sch, Options{})
	for range 10000 {
		if err := w.WriteRow(formats.Row{{Value: []byte("1")}, {Value: []byte("2")}}); err != nil {
			require.ErrorIs(t, err, boom)
			return
		}
	}
	require.ErrorIs(t, w.Close(), boom)
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

// TestQueryZone: times are read in the zone Looker rendered them in
// (Options.Location, New York here), giving the true UTC instants around
// both DST changes; a convert_tz: no column is written as its wall clock
// without offset.
func TestQueryZone(t *testing.T) {
	t.Parallel()
	c, berlin := fixture.QueryZone()
	out := encode(t, c, Options{Location: c.Location, Columns: []string{"zoned", "local"}})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, len(c.Rows))
	for i, line := range lines {
		_, vals := parseLine(t, line)
		if c.Want[i][0] == nil {
			require.Equal(t, []any{nil, nil}, vals)
			continue
		}
		got, err := time.Parse(time.RFC3339Nano, vals[0].(string))
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(vals[0].(string), "Z"), "zoned values are UTC: %s", vals[0])
		require.True(t, c.Want[i][0].(time.Time).Equal(got), "row %d: %v, want %v", i+1, got, c.Want[i][0])
		require.False(t, berlin[i].Equal(got), "row %d differs from a reading in Berlin", i+1)
		require.Equal(t, string(c.Want[i][1].(fixture.Wall)), vals[1], "row %d", i+1)
	}
	require.Equal(t, `{"zoned":"2026-03-08T07:30:00Z","local":"2026-03-08T02:30:00"}`, lines[3])
	require.Equal(t, `{"zoned":"2026-07-01T16:00:00.123456Z","local":"2026-07-01T12:00:00.123456"}`, lines[6])
	require.Equal(t, `{"zoned":"2027-01-01T04:59:59.5Z","local":"2026-12-31T23:59:59.5"}`, lines[11])

	w := New(io.Discard, c.Schema, Options{})
	require.ErrorContains(t, w.WriteRow(formats.Row{{Null: true}, {Value: []byte("2026-03-01 10:15:00Z")}}),
		`column "orders_created_local_time": value "2026-03-01 10:15:00Z": has a time zone offset, but the field is a wall-clock time`)
}

// TestDecimalAndIntTypes: an INT64 column set over LookML's number is a
// JSON integer, a DECIMAL(p,s) column a string with exactly s decimals,
// read back by encoding/json as the exact values; a value that does not
// fit is an error naming row, column and value.
func TestDecimalAndIntTypes(t *testing.T) {
	t.Parallel()
	schema := formats.Schema{Fields: []formats.Field{
		{Name: "orders.id", LookMLType: "number", Type: formats.Int64},
		{Name: "orders.amount", Type: formats.Decimal, Precision: 18, Scale: 2},
		{Name: "orders.big", Type: formats.Decimal, Precision: 38, Scale: 10},
	}}
	row := func(vs ...string) formats.Row {
		r := make(formats.Row, len(vs))
		for i, v := range vs {
			r[i] = formats.Cell{Value: []byte(v), Null: v == ""}
		}
		return r
	}
	out := encode(t, fixture.Case{Schema: schema, Rows: []formats.Row{
		row("9007199254740993", "12.5", "-9999999999999999999999999999.9999999999"),
		row("", "", ""),
		row("-1", "1.25e3", "0.1"),
	}}, Options{})
	require.Equal(t, `{"orders_id":9007199254740993,"orders_amount":"12.50","orders_big":"-9999999999999999999999999999.9999999999"}
{"orders_id":null,"orders_amount":null,"orders_big":null}
{"orders_id":-1,"orders_amount":"1250.00","orders_big":"0.1000000000"}
`, out)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var first map[string]any
	require.NoError(t, dec.Decode(&first))
	require.Equal(t, json.Number("9007199254740993"), first["orders_id"])

	out = encode(t, fixture.Case{Schema: schema, Rows: []formats.Row{row("12.0", "1", "1"), row("1.2e1", "1", "1")}}, Options{})
	require.Equal(t, strings.Repeat(`{"orders_id":12,"orders_amount":"1.00","orders_big":"1.0000000000"}`+"\n", 2), out, "an exact integer in any spelling")
	w := New(&bytes.Buffer{}, schema, Options{})
	require.ErrorContains(t, w.WriteRow(row("12.5", "1", "1")), `row 1, column "orders_id": value "12.5": not an integer`)
	w = New(&bytes.Buffer{}, schema, Options{})
	require.NoError(t, w.WriteRow(row("1", "1.00", "1")))
	err := w.WriteRow(row("2", "1.234", "1"))
	require.ErrorContains(t, err, `row 2, column "orders_amount": value "1.234": not a decimal number: more than 2 decimal places (DECIMAL(18,2)); the exporter does not round`)

	w = New(&bytes.Buffer{}, formats.Schema{Fields: []formats.Field{{Name: "x", Type: formats.Decimal, Precision: 0}}}, Options{})
	require.ErrorContains(t, w.WriteRow(row("1")), "DECIMAL(0,0) is not a valid decimal size")
}
