package formats_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

// sliceReader yields rows from memory.
type sliceReader struct {
	schema formats.Schema
	rows   []formats.Row
}

func (s *sliceReader) Schema() formats.Schema { return s.schema }

func (s *sliceReader) Next() (formats.Row, error) {
	if len(s.rows) == 0 {
		return nil, io.EOF
	}
	r := s.rows[0]
	s.rows = s.rows[1:]
	return r, nil
}

func cells(vs ...string) formats.Row {
	r := make(formats.Row, len(vs))
	for i, v := range vs {
		if v == "<null>" {
			r[i] = formats.Cell{Null: true}
			continue
		}
		r[i] = formats.Cell{Value: []byte(v)}
	}
	return r
}

var digestSchema = formats.Schema{Fields: []formats.Field{
	{Name: "orders.id", Label: "Orders ID", Type: formats.Int64},
	{Name: "orders.status", Label: "Orders Status", Type: formats.String},
}}

// digestOf reads rows through a Digest's Reader, as a run does.
func digestOf(t *testing.T, s formats.Schema, rows ...formats.Row) string {
	t.Helper()
	d := formats.NewDigest(s)
	r := d.Reader(&sliceReader{schema: s, rows: rows})
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	return d.Sum()
}

// TestDigest: the same rows hash the same; any difference in a value, a
// null, the rows, their order or the columns changes the digest.
func TestDigest(t *testing.T) {
	t.Parallel()
	base := digestOf(t, digestSchema, cells("1", "complete"), cells("2", "<null>"))
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, base)
	require.Equal(t, base, digestOf(t, digestSchema, cells("1", "complete"), cells("2", "<null>")), "same rows, same digest")

	renamed := formats.Schema{Fields: append([]formats.Field{}, digestSchema.Fields...)}
	renamed.Fields[1].Name = "orders.state"
	retyped := formats.Schema{Fields: append([]formats.Field{}, digestSchema.Fields...)}
	retyped.Fields[0].Type = formats.String
	cases := []struct {
		name string
		got  string
	}{
		{"a value", digestOf(t, digestSchema, cells("1", "complete"), cells("2", "pending"))},
		{"null is not empty", digestOf(t, digestSchema, cells("1", "complete"), cells("2", ""))},
		{"bytes move between cells", digestOf(t, digestSchema, cells("1c", "omplete"), cells("2", "<null>"))},
		{"a row less", digestOf(t, digestSchema, cells("1", "complete"))},
		{"a row more", digestOf(t, digestSchema, cells("1", "complete"), cells("2", "<null>"), cells("3", "x"))},
		{"row order", digestOf(t, digestSchema, cells("2", "<null>"), cells("1", "complete"))},
		{"a column renamed", digestOf(t, renamed, cells("1", "complete"), cells("2", "<null>"))},
		{"a column retyped", digestOf(t, retyped, cells("1", "complete"), cells("2", "<null>"))},
		{"no rows", digestOf(t, digestSchema)},
	}
	seen := map[string]string{base: "base"}
	for _, c := range cases {
		prev, dup := seen[c.got]
		require.False(t, dup, "%s hashes like %s", c.name, prev)
		seen[c.got] = c.name
	}
}
