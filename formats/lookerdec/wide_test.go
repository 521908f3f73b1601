package lookerdec

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

// genReader streams prefix, item(0) ... item(n-1) joined by sep, then
// suffix, producing each piece when it is read: wide bodies are never held
// in memory whole.
type genReader struct {
	pending      []byte
	prefix       string
	sep, suffix  string
	item         func(i int) string
	i, n         int
	started, end bool
}

func newGen(prefix string, n int, item func(int) string, sep, suffix string) *genReader {
	return &genReader{prefix: prefix, n: n, item: item, sep: sep, suffix: suffix}
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		switch {
		case !g.started:
			g.started = true
			g.pending = append(g.pending, g.prefix...)
		case g.i < g.n:
			if g.i > 0 {
				g.pending = append(g.pending, g.sep...)
			}
			g.pending = append(g.pending, g.item(g.i)...)
			g.i++
		case !g.end:
			g.end = true
			g.pending = append(g.pending, g.suffix...)
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

// TestTooManyColumns: a result wider than formats.MaxColumns fails with an
// error that says how wide it is and what to do, for every decoder (and
// the bodies are streamed: nothing builds a 70,000-column string).
func TestTooManyColumns(t *testing.T) {
	t.Parallel()
	const wide = 70000
	field := func(i int) string { return fmt.Sprintf(`{"name":"v.f%d","label":"F %d","type":"string"}`, i, i) }
	tests := []struct {
		name  string
		body  func() io.Reader
		open  func(io.Reader) (formats.RowReader, error)
		width string // how the error states the width
	}{
		{
			name: "csv header",
			body: func() io.Reader {
				return newGen("", wide, func(i int) string { return fmt.Sprintf("Field %d", i) }, ",", "\n1,2\n")
			},
			open:  NewCSV,
			width: "70,000 columns",
		},
		{
			name:  "csv header of empty labels",
			body:  func() io.Reader { return newGen("", wide, func(int) string { return "" }, ",", "\n") },
			open:  NewCSV,
			width: "70,000 columns",
		},
		{
			name: "json first row",
			body: func() io.Reader {
				return newGen("[{", wide, func(i int) string { return fmt.Sprintf(`"v.f%d":%d`, i, i) }, ",", "}]")
			},
			open:  func(r io.Reader) (formats.RowReader, error) { return NewJSON(r, nil) },
			width: "70,000 columns",
		},
		{
			name: "json first row with a pivoted measure",
			body: func() io.Reader {
				return newGen(`[{"v.d":1,"v.count":{`, wide, func(i int) string { return fmt.Sprintf(`"p%d":%d`, i, i) }, ",", "}}]")
			},
			open:  func(r io.Reader) (formats.RowReader, error) { return NewJSON(r, nil) },
			width: "70,001 columns",
		},
		{
			name: "json given schema",
			body: func() io.Reader { return newGen("[", 0, nil, "", "]") },
			open: func(r io.Reader) (formats.RowReader, error) {
				s := formats.Schema{Fields: make([]formats.Field, formats.MaxColumns+1)}
				return NewJSON(r, &s)
			},
			width: "10,001 columns",
		},
		{
			name: "json_bi dimensions",
			body: func() io.Reader {
				return newGen(`{"metadata":{"fields":{"dimensions":[`, wide, field, ",", `]}},"rows":[]}`)
			},
			open:  NewJSONBI,
			width: "70,000 columns",
		},
		{
			name: "json_bi pivots times measures",
			body: func() io.Reader {
				// 7 measures × 10,000 pivots = 70,000 columns, from a small metadata.
				return newGen(`{"metadata":{"fields":{"measures":[`+field(1)+`,`+field(2)+`,`+field(3)+`,`+field(4)+`,`+field(5)+`,`+field(6)+`,`+field(7)+
					`],"pivots":[{"name":"v.p","type":"string"}]},"pivots":[`, 10000,
					func(i int) string { return fmt.Sprintf(`{"key":"%d","data":{"v.p":"%d"}}`, i, i) }, ",", `]},"rows":[]}`)
			},
			open:  NewJSONBI,
			width: "70,000 columns",
		},
		{
			name: "json_bi measure table calculations",
			body: func() io.Reader {
				return newGen(`{"metadata":{"fields":{"dimensions":[`+field(0)+`],"table_calculations":[{"name":"tc","measure":true}],"pivots":[{"name":"v.p"}]},"pivots":[`, 10000,
					func(i int) string { return fmt.Sprintf(`{"key":"%d"}`, i) }, ",", `]},"rows":[]}`)
			},
			open:  NewJSONBI,
			width: "10,001 columns",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := tt.open(tt.body())
			require.Nil(t, r)
			require.ErrorIs(t, err, formats.ErrTooManyColumns)
			var ce *formats.ColumnsError
			require.True(t, errors.As(err, &ce))
			require.ErrorContains(t, err, "the result has "+tt.width+"; the exporter handles at most 10,000: select fewer fields")
		})
	}
}

// TestWideRowsCapped: data rows wider than the result fail without
// keeping every field of the row.
func TestWideRowsCapped(t *testing.T) {
	t.Parallel()
	const wide = 70000
	t.Run("csv", func(t *testing.T) {
		t.Parallel()
		r, err := NewCSV(newGen("A,B\n", wide, func(i int) string { return "x" }, ",", "\n"))
		require.NoError(t, err)
		_, err = r.Next()
		require.ErrorContains(t, err, "row 1 (line 2, byte 4): has 70000 fields, the header has 2")
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		s := formats.Schema{Fields: []formats.Field{{Name: "a"}}}
		r, err := NewJSON(newGen("[{", wide, func(i int) string { return fmt.Sprintf(`"a%d":1`, i) }, ",", "}]"), &s)
		require.NoError(t, err)
		_, err = r.Next()
		require.ErrorContains(t, err, "the row has 70000 keys; the result has 1 fields")
	})
	t.Run("json pivot", func(t *testing.T) {
		t.Parallel()
		s := formats.Schema{Fields: []formats.Field{{Name: "m|x", Pivot: &formats.Pivot{Measure: "m", Key: "x"}}}}
		r, err := NewJSON(newGen(`[{"m":{`, wide, func(i int) string { return fmt.Sprintf(`"a%d":1`, i) }, ",", "}}]"), &s)
		require.NoError(t, err)
		_, err = r.Next()
		require.ErrorContains(t, err, `pivoted measure "m": 70000 pivot keys, more than the result's 1 pivots`)
	})
}

// TestMaxColumnsAccepted: exactly formats.MaxColumns columns decode.
func TestMaxColumnsAccepted(t *testing.T) {
	t.Parallel()
	r, err := NewJSON(newGen("[{", formats.MaxColumns, func(i int) string { return fmt.Sprintf(`"v.f%d":%d`, i, i) }, ",", "}]"), nil)
	require.NoError(t, err)
	require.Len(t, r.Schema().Fields, formats.MaxColumns)
	row, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, "9999", string(row[9999].Value))

	r, err = NewCSV(newGen("", formats.MaxColumns, func(i int) string { return fmt.Sprint(i) }, ",", "\n"))
	require.NoError(t, err)
	require.Len(t, r.Schema().Fields, formats.MaxColumns)
}
