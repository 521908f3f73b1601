package csvenc

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

// source returns the text of a cell as the encoder should write it after
// CSV parsing: null and "" both read back as "".
func source(c formats.Cell) string { return string(c.Value) }

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []fixture.Case{fixture.Typed(), fixture.Wide(200, 50)} {
		out := encode(t, c, Options{})
		r := csv.NewReader(strings.NewReader(out))
		r.FieldsPerRecord = len(c.Schema.Fields)
		recs, err := r.ReadAll()
		require.NoError(t, err)
		require.Equal(t, formats.ColumnNames(c.Schema, formats.NameUnderscore), recs[0])
		require.Len(t, recs, len(c.Rows)+1)
		for i, row := range c.Rows {
			for j, cell := range row {
				// encoding/csv turns \r\n inside quotes into \n.
				want := strings.ReplaceAll(source(cell), "\r\n", "\n")
				require.Equal(t, want, recs[i+1][j], "row %d col %d", i+1, j)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	c := fixture.Typed()
	golden(t, "typed_names.csv", encode(t, c, Options{}))
	golden(t, "typed_labels_crlf.csv", encode(t, c, Options{Header: HeaderLabels, CRLF: true}))
	golden(t, "typed_noheader.csv", encode(t, c, Options{Header: HeaderNone}))
}

func TestNullVersusEmpty(t *testing.T) {
	t.Parallel()
	c := fixture.Case{
		Schema: formats.Schema{Fields: []formats.Field{{Name: "a"}, {Name: "b"}, {Name: "c"}}},
		Rows:   []formats.Row{{{Null: true}, {Value: []byte{}}, {Value: []byte("x")}}},
	}
	require.Equal(t, "a,b,c\n,\"\",x\n", encode(t, c, Options{}))
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	c := fixture.Case{Schema: formats.Schema{Fields: []formats.Field{
		{Name: "orders.id", Label: "Orders ID"}, {Name: "orders.note", Label: "Note, \"quoted\""},
	}}}
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "orders_id,orders_note\n"},
		{Options{Header: HeaderNames, Columns: []string{"id", "note"}}, "id,note\n"},
		{Options{Header: HeaderLabels}, "Orders ID,\"Note, \"\"quoted\"\"\"\n"},
		{Options{Header: HeaderNone}, ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, encode(t, c, tt.opts), "zero rows still get the header")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	sch := formats.Schema{Fields: []formats.Field{{Name: "a"}, {Name: "b"}}}
	w := New(&bytes.Buffer{}, sch, Options{Header: "fancy"})
	require.ErrorContains(t, w.WriteRow(formats.Row{{}, {}}), `unknown header "fancy"`)
	require.ErrorContains(t, w.Close(), `unknown header "fancy"`)

	w = New(&bytes.Buffer{}, sch, Options{Columns: []string{"x"}})
	require.ErrorContains(t, w.Close(), "1 column names for 2 fields")

	w = New(&bytes.Buffer{}, sch, Options{})
	require.ErrorContains(t, w.WriteRow(formats.Row{{}}), "row 1 has 1 cells")

	boom := errors.New("disk full")
	w = New(errWriter{boom}, sch, Options{})
	require.NoError(t, w.WriteRow(formats.Row{{Value: []byte("1")}, {Value: []byte("2")}}), "buffered")
	require.ErrorIs(t, w.Close(), boom)
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

// TestTimesAsSent: CSV re-encoding writes times, zoned or wall-clock
// (convert_tz: no), as Looker sent them, in the query's time zone.
func TestTimesAsSent(t *testing.T) {
	t.Parallel()
	c, _ := fixture.QueryZone()
	got := encode(t, c, Options{})
	want := "orders_created_time,orders_created_local_time\n"
	for _, row := range c.Rows {
		if row[0].Null {
			want += ",\n"
			continue
		}
		want += string(row[0].Value) + "," + string(row[1].Value) + "\n"
	}
	require.Equal(t, want, got)
	require.Contains(t, got, "2026-03-08 02:30:00,2026-03-08 02:30:00\n")
}
