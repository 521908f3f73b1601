package formats_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/fixture"
)

func TestSchemaJSON(t *testing.T) {
	t.Parallel()
	s := formats.Schema{Fields: []formats.Field{
		{Name: "orders.id", Label: "Orders ID", LookMLType: "int", Category: "dimension", Type: formats.Int64},
		{Name: "x", Type: formats.String},
		{Name: "orders.count|complete", Label: "Orders Count | complete", LookMLType: "count", Category: "measure", Type: formats.Int64,
			Pivot: &formats.Pivot{Measure: "orders.count", Key: "complete", Values: []string{"complete"}}},
	}}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"version":1,"fields":[
		{"name":"orders.id","label":"Orders ID","lookml_type":"int","category":"dimension","type":"INT64"},
		{"name":"x","type":"STRING"},
		{"name":"orders.count|complete","label":"Orders Count | complete","lookml_type":"count","category":"measure","type":"INT64",
		 "pivot":{"measure":"orders.count","key":"complete","values":["complete"]}}]}`, string(b))
	var back formats.Schema
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, s, back)
	b2, err := json.Marshal(back)
	require.NoError(t, err)
	require.Equal(t, string(b), string(b2), "stable bytes")

	for _, typ := range []formats.Type{formats.String, formats.Int64, formats.Double, formats.Bool, formats.Date, formats.Timestamp} {
		got, err := formats.ParseType(typ.String())
		require.NoError(t, err)
		require.Equal(t, typ, got)
	}
	for _, bad := range []string{`{"version":2,"fields":[]}`, `{"version":1,"fields":[{"name":"a","type":"INT32"}]}`, `[]`} {
		require.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
	_, err = json.Marshal(formats.Schema{Fields: []formats.Field{{Name: "a", Type: 99}}})
	require.Error(t, err)

	big := fixture.LookerSchema()
	b, err = json.Marshal(big)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, big, back)
}

func TestDiff(t *testing.T) {
	t.Parallel()
	f := func(name string, typ formats.Type) formats.Field { return formats.Field{Name: name, Type: typ} }
	prev := formats.Schema{Fields: []formats.Field{f("a", formats.Int64), f("b", formats.String), f("c", formats.Date), f("d", formats.Double)}}
	tests := []struct {
		name string
		cur  formats.Schema
		want []formats.Change
	}{
		{"same", prev, nil},
		{"relabelled and reordered are not changes", formats.Schema{Fields: []formats.Field{
			{Name: "d", Label: "D!", LookMLType: "sum", Type: formats.Double}, f("c", formats.Date), f("b", formats.String), f("a", formats.Int64)}}, nil},
		{"added, removed, retyped", formats.Schema{Fields: []formats.Field{
			f("e", formats.Bool), f("a", formats.Double), f("c", formats.Date), f("f", formats.Timestamp)}}, []formats.Change{
			{Kind: formats.TypeChanged, Column: "a", From: formats.Int64, To: formats.Double},
			{Kind: formats.ColumnRemoved, Column: "b", From: formats.String},
			{Kind: formats.ColumnRemoved, Column: "d", From: formats.Double},
			{Kind: formats.ColumnAdded, Column: "e", To: formats.Bool},
			{Kind: formats.ColumnAdded, Column: "f", To: formats.Timestamp},
		}},
		{"everything gone", formats.Schema{}, []formats.Change{
			{Kind: formats.ColumnRemoved, Column: "a", From: formats.Int64},
			{Kind: formats.ColumnRemoved, Column: "b", From: formats.String},
			{Kind: formats.ColumnRemoved, Column: "c", From: formats.Date},
			{Kind: formats.ColumnRemoved, Column: "d", From: formats.Double},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, formats.Diff(prev, tt.cur))
		})
	}
	require.Equal(t, []formats.Change{{Kind: formats.ColumnAdded, Column: "a", To: formats.Int64}, {Kind: formats.ColumnAdded, Column: "b", To: formats.String}, {Kind: formats.ColumnAdded, Column: "c", To: formats.Date}, {Kind: formats.ColumnAdded, Column: "d", To: formats.Double}},
		formats.Diff(formats.Schema{}, prev))
	require.Equal(t, `column "a" changed type from INT64 to DOUBLE`, formats.Change{Kind: formats.TypeChanged, Column: "a", From: formats.Int64, To: formats.Double}.String())
	require.Equal(t, `column "e" added (BOOLEAN)`, formats.Change{Kind: formats.ColumnAdded, Column: "e", To: formats.Bool}.String())
	require.Equal(t, `column "b" removed (was STRING)`, formats.Change{Kind: formats.ColumnRemoved, Column: "b", From: formats.String}.String())
}

// TestSchemaJSONLocal: a wall-clock timestamp carries "local": true; other
// fields encode as before the flag existed.
func TestSchemaJSONLocal(t *testing.T) {
	t.Parallel()
	s := formats.Schema{Fields: []formats.Field{
		{Name: "orders.created_time", Type: formats.Timestamp},
		{Name: "orders.created_local_time", Type: formats.Timestamp, Local: true},
		{Name: "orders.note", Type: formats.String, Local: true}, // Local means nothing on a STRING
	}}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, `{"version":1,"fields":[{"name":"orders.created_time","type":"TIMESTAMP"},`+
		`{"name":"orders.created_local_time","type":"TIMESTAMP","local":true},{"name":"orders.note","type":"STRING"}]}`, string(b))
	var back formats.Schema
	require.NoError(t, json.Unmarshal(b, &back))
	require.False(t, back.Fields[0].Local)
	require.True(t, back.Fields[1].Local)
	require.False(t, back.Fields[2].Local)
}

func TestDiffLocal(t *testing.T) {
	t.Parallel()
	zoned := formats.Field{Name: "t", Type: formats.Timestamp}
	local := formats.Field{Name: "t", Type: formats.Timestamp, Local: true}
	tests := []struct {
		name      string
		prev, cur formats.Field
		want      []formats.Change
		text      string
	}{
		{"zoned to local", zoned, local, []formats.Change{{Kind: formats.TypeChanged, Column: "t", From: formats.Timestamp, To: formats.Timestamp, ToLocal: true}},
			`column "t" changed type from TIMESTAMP to TIMESTAMP (wall clock, no time zone)`},
		{"local to zoned", local, zoned, []formats.Change{{Kind: formats.TypeChanged, Column: "t", From: formats.Timestamp, To: formats.Timestamp, FromLocal: true}},
			`column "t" changed type from TIMESTAMP (wall clock, no time zone) to TIMESTAMP`},
		{"local to string", local, formats.Field{Name: "t", Type: formats.String, Local: true}, []formats.Change{{Kind: formats.TypeChanged, Column: "t", From: formats.Timestamp, To: formats.String, FromLocal: true}},
			`column "t" changed type from TIMESTAMP (wall clock, no time zone) to STRING`},
		{"local stays local", local, local, nil, ""},
		{"Local on a string is no change", formats.Field{Name: "t", Type: formats.String}, formats.Field{Name: "t", Type: formats.String, Local: true}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := formats.Diff(formats.Schema{Fields: []formats.Field{tt.prev}}, formats.Schema{Fields: []formats.Field{tt.cur}})
			require.Equal(t, tt.want, got)
			if tt.text != "" {
				require.Equal(t, tt.text, got[0].String())
			}
		})
	}
	require.Equal(t, `column "t" added (TIMESTAMP (wall clock, no time zone))`, formats.Diff(formats.Schema{}, formats.Schema{Fields: []formats.Field{local}})[0].String())
}

func TestMarkLocal(t *testing.T) {
	t.Parallel()
	s := formats.Schema{Fields: []formats.Field{
		{Name: "orders.created_local_time", Type: formats.Timestamp},
		{Name: "orders.created_time", Type: formats.Timestamp},
		{Name: "orders.created_local_date", Type: formats.Date},
		{Name: "orders.last_local|complete", Type: formats.Timestamp, Pivot: &formats.Pivot{Measure: "orders.last_local", Key: "complete"}},
	}}
	got := formats.MarkLocal(s, []string{"orders.created_local_time", "orders.created_local_date", "orders.last_local"})
	require.Equal(t, []bool{true, false, false, true}, []bool{got.Fields[0].Local, got.Fields[1].Local, got.Fields[2].Local, got.Fields[3].Local})
	require.False(t, s.Fields[0].Local, "the schema passed is not modified")
}
