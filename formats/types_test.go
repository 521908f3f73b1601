package formats_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

func TestParseColumnType(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]formats.ColumnType{
		"STRING": {Type: formats.String}, "int64": {Type: formats.Int64}, "INTEGER": {Type: formats.Int64},
		"DOUBLE": {Type: formats.Double}, "float64": {Type: formats.Double}, "BOOL": {Type: formats.Bool}, "boolean": {Type: formats.Bool},
		"DATE": {Type: formats.Date}, "TIMESTAMP": {Type: formats.Timestamp}, "DATETIME": {Type: formats.Timestamp, Local: true},
		"DECIMAL(18,2)": {Type: formats.Decimal, Precision: 18, Scale: 2}, "numeric( 18 , 2 )": {Type: formats.Decimal, Precision: 18, Scale: 2},
		"BIGNUMERIC(38,20)": {Type: formats.Decimal, Precision: 38, Scale: 20}, "DECIMAL(9)": {Type: formats.Decimal, Precision: 9},
		"NUMERIC": {Type: formats.Decimal, Precision: 38, Scale: 9},
	} {
		got, err := formats.ParseColumnType(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		again, err := formats.ParseColumnType(got.String())
		require.NoError(t, err)
		require.Equal(t, got, again, "String() reads back")
	}
	for in, msg := range map[string]string{
		"VARCHAR": "is not one of STRING", "DECIMAL": "is not one of", "DECIMAL(0,0)": "precision 0 must be 1 to 38",
		"DECIMAL(39,2)": "precision 39 must be 1 to 38", "DECIMAL(5,6)": "scale 6 must be 0 to the precision, 5",
		"DECIMAL(a,b)": "is not one of", "BIGNUMERIC": "is not one of", "DECIMAL(18,2": "is not one of",
	} {
		_, err := formats.ParseColumnType(in)
		require.ErrorContains(t, err, msg, in)
	}
}

func TestApplyTypes(t *testing.T) {
	t.Parallel()
	pivot := func(key string) *formats.Pivot {
		return &formats.Pivot{Measure: "orders.total", Key: key, Values: []string{key}}
	}
	s := formats.Schema{Fields: []formats.Field{
		{Name: "orders.id", LookMLType: "number", Type: formats.Double},
		{Name: "orders.amount", LookMLType: "sum", Type: formats.Double},
		{Name: "orders.created_time", LookMLType: "date_time", Type: formats.Timestamp},
		{Name: "orders.total|a", Type: formats.Double, Pivot: pivot("a")},
		{Name: "orders.total|b", Type: formats.Double, Pivot: pivot("b")},
	}}
	got, err := formats.ApplyTypes(s, map[string]formats.ColumnType{
		"orders.id":           {Type: formats.Int64},
		"orders.amount":       {Type: formats.Decimal, Precision: 18, Scale: 2},
		"orders.created_time": {Type: formats.Timestamp, Local: true},
		"orders.total":        {Type: formats.Int64},
	})
	require.NoError(t, err)
	require.Equal(t, formats.Int64, got.Fields[0].Type)
	require.Equal(t, "DECIMAL(18,2)", got.Fields[1].TypeName())
	require.True(t, got.Fields[2].IsLocal())
	require.Equal(t, formats.Int64, got.Fields[3].Type)
	require.Equal(t, formats.Int64, got.Fields[4].Type)
	require.Equal(t, formats.Double, s.Fields[0].Type, "the input is not modified")

	_, err = formats.ApplyTypes(s, map[string]formats.ColumnType{"orders.idd": {Type: formats.Int64}})
	require.EqualError(t, err, `types: "orders.idd" matches no column of the result (its fields: orders.id, orders.amount, orders.created_time, orders.total)`)
}

func TestSchemaJSONDecimal(t *testing.T) {
	t.Parallel()
	s := formats.Schema{Fields: []formats.Field{{Name: "a", Type: formats.Decimal, Precision: 18, Scale: 2}, {Name: "b", Type: formats.Decimal, Precision: 5}}}
	data, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{"version":1,"fields":[{"name":"a","type":"DECIMAL","precision":18,"scale":2},{"name":"b","type":"DECIMAL","precision":5}]}`, string(data))
	var back formats.Schema
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, s, back)
	require.ErrorContains(t, json.Unmarshal([]byte(`{"version":1,"fields":[{"name":"a","type":"DECIMAL","precision":50}]}`), &back), "DECIMAL(50,0) is not a valid size")

	scaled := formats.Schema{Fields: []formats.Field{{Name: "a", Type: formats.Decimal, Precision: 18, Scale: 4}, {Name: "b", Type: formats.Decimal, Precision: 5}}}
	changes := formats.Diff(s, scaled)
	require.Len(t, changes, 1)
	require.Equal(t, `column "a" changed type from DECIMAL(18,2) to DECIMAL(18,4)`, changes[0].String())
}

func TestBigQuerySchema(t *testing.T) {
	t.Parallel()
	s := formats.Schema{Fields: []formats.Field{
		{Name: "orders.id", Label: "Orders ID", Type: formats.Int64},
		{Name: "orders.amount", Type: formats.Decimal, Precision: 18, Scale: 2},
		{Name: "orders.big", Type: formats.Decimal, Precision: 38, Scale: 20},
		{Name: "orders.ratio", Type: formats.Double},
		{Name: "orders.paid", Type: formats.Bool},
		{Name: "orders.day", Type: formats.Date},
		{Name: "orders.at", Type: formats.Timestamp},
		{Name: "orders.local_at", Type: formats.Timestamp, Local: true},
		{Name: "users.name", Label: "Users Name", Type: formats.String},
	}}
	data, err := formats.BigQuerySchema(s, formats.ColumnNames(s, formats.NameUnderscore))
	require.NoError(t, err)
	require.JSONEq(t, `[
	  {"name":"orders_id","type":"INT64","mode":"NULLABLE","description":"Orders ID (orders.id)"},
	  {"name":"orders_amount","type":"NUMERIC","mode":"NULLABLE","precision":"18","scale":"2","description":"orders.amount"},
	  {"name":"orders_big","type":"BIGNUMERIC","mode":"NULLABLE","precision":"38","scale":"20","description":"orders.big"},
	  {"name":"orders_ratio","type":"FLOAT64","mode":"NULLABLE","description":"orders.ratio"},
	  {"name":"orders_paid","type":"BOOL","mode":"NULLABLE","description":"orders.paid"},
	  {"name":"orders_day","type":"DATE","mode":"NULLABLE","description":"orders.day"},
	  {"name":"orders_at","type":"TIMESTAMP","mode":"NULLABLE","description":"orders.at"},
	  {"name":"orders_local_at","type":"DATETIME","mode":"NULLABLE","description":"orders.local_at"},
	  {"name":"users_name","type":"STRING","mode":"NULLABLE","description":"Users Name (users.name)"}]`, string(data))
	_, err = formats.BigQuerySchema(s, formats.ColumnNames(s, formats.NameField))
	require.ErrorContains(t, err, `field orders.id: column name "orders.id" holds '.'`)
}
