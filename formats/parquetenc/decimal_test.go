package parquetenc

import (
	"bytes"
	"context"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
)

// decimalCase has a DECIMAL column on each physical type (INT32 up to 9
// digits, INT64 up to 18, FIXED_LEN_BYTE_ARRAY beyond) and an INT64 set
// over LookML's number, with the exact texts arrow-go must read back.
func decimalCase() (formats.Schema, []formats.Row, [][]string) {
	schema := formats.Schema{Fields: []formats.Field{
		{Name: "orders.id", LookMLType: "number", Type: formats.Int64},
		{Name: "orders.rate", Type: formats.Decimal, Precision: 5, Scale: 2},
		{Name: "orders.amount", Type: formats.Decimal, Precision: 18, Scale: 2},
		{Name: "orders.big", Type: formats.Decimal, Precision: 38, Scale: 10},
		{Name: "orders.whole", Type: formats.Decimal, Precision: 20, Scale: 0},
	}}
	rows := [][]string{
		{"1", "1.5", "12.50", "0.0000000001", "1"},
		{"9007199254740993", "-999.99", "-9999999999999999.99", "-9999999999999999999999999999.9999999999", "-99999999999999999999"},
		{"-42", "0", "1.25e3", "1e27", "99999999999999999999"},
		{"", "", "", "", ""},
		{"7", "-0.01", "0.10", "-0.5", "-1"},
	}
	want := [][]string{
		{"1", "1.50", "12.50", "0.0000000001", "1"},
		{"9007199254740993", "-999.99", "-9999999999999999.99", "-9999999999999999999999999999.9999999999", "-99999999999999999999"},
		{"-42", "0.00", "1250.00", "1000000000000000000000000000.0000000000", "99999999999999999999"},
		{"", "", "", "", ""},
		{"7", "-0.01", "0.10", "-0.5000000000", "-1"},
	}
	var out []formats.Row
	for _, r := range rows {
		row := make(formats.Row, len(r))
		for i, v := range r {
			row[i] = formats.Cell{Value: []byte(v), Null: v == ""}
		}
		out = append(out, row)
	}
	return schema, out, want
}

// TestDecimalAndIntTypes: columns typed INT64 and DECIMAL(p,s) by types:
// are INT64 and DECIMAL in the file, on INT32, INT64 and
// FIXED_LEN_BYTE_ARRAY by precision, read back by arrow-go as int64 and
// decimals with exactly the values Looker sent, and their statistics
// order negative values right.
func TestDecimalAndIntTypes(t *testing.T) {
	t.Parallel()
	schema, rows, want := decimalCase()
	var buf bytes.Buffer
	w, err := New(&buf, schema, Options{})
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, w.WriteRow(r))
	}
	require.NoError(t, w.Close())

	rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	defer rdr.Close()
	sc := rdr.MetaData().Schema
	physical := []parquet.Type{parquet.Types.Int64, parquet.Types.Int32, parquet.Types.Int64, parquet.Types.FixedLenByteArray, parquet.Types.FixedLenByteArray}
	for i, f := range schema.Fields {
		col := sc.Column(i)
		require.Equal(t, physical[i], col.PhysicalType(), f.Name)
		if f.Type == formats.Decimal {
			require.Equal(t, int32(f.Precision), col.LogicalType().(interface{ Precision() int32 }).Precision(), f.Name)
			require.Equal(t, int32(f.Scale), col.LogicalType().(interface{ Scale() int32 }).Scale(), f.Name)
		}
	}
	require.Equal(t, 9, sc.Column(4).TypeLength(), "20 digits take 9 bytes")
	require.Equal(t, 16, sc.Column(3).TypeLength(), "38 digits take 16 bytes")

	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	require.NoError(t, err)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	for c := range int(tbl.NumCols()) {
		col := tbl.Column(c)
		f := schema.Fields[c]
		if f.Type == formats.Decimal {
			dt, ok := col.DataType().(arrow.DecimalType)
			require.True(t, ok, "%s is %s", f.Name, col.DataType())
			require.Equal(t, int32(f.Precision), dt.GetPrecision())
			require.Equal(t, int32(f.Scale), dt.GetScale())
		} else {
			require.Equal(t, arrow.PrimitiveTypes.Int64, col.DataType())
		}
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := range chunk.Len() {
				got := ""
				if !chunk.IsNull(i) {
					switch a := chunk.(type) {
					case *array.Int64:
						got = big.NewInt(a.Value(i)).String()
					case *array.Decimal128:
						got = fixedPoint(a.Value(i).BigInt(), f.Scale)
					case *array.Decimal256:
						got = fixedPoint(a.Value(i).BigInt(), f.Scale)
					case *array.Decimal64:
						got = fixedPoint(big.NewInt(int64(a.Value(i))), f.Scale)
					case *array.Decimal32:
						got = fixedPoint(big.NewInt(int64(a.Value(i))), f.Scale)
					default:
						t.Fatalf("column %s: arrow type %T", f.Name, chunk)
					}
				}
				require.Equal(t, want[r][c], got, "row %d column %s", r+1, f.Name)
				r++
			}
		}
	}

	// Statistics: arrow-go decodes min and max by the logical type.
	rg := rdr.MetaData().RowGroup(0)
	for c, bounds := range map[int][2]string{3: {"-9999999999999999999999999999.9999999999", "1000000000000000000000000000.0000000000"}, 4: {"-99999999999999999999", "99999999999999999999"}, 2: {"-9999999999999999.99", "1250.00"}} {
		cc, err := rg.ColumnChunk(c)
		require.NoError(t, err)
		st, err := cc.Statistics()
		require.NoError(t, err)
		if st == nil || !st.HasMinMax() {
			continue // no statistics is honest; wrong ones are not
		}
		f := schema.Fields[c]
		var lo, hi string
		switch s := st.(type) {
		case *metadata.FixedLenByteArrayStatistics:
			lo, hi = fixedPoint(twos(s.Min()), f.Scale), fixedPoint(twos(s.Max()), f.Scale)
		case *metadata.Int64Statistics:
			lo, hi = fixedPoint(big.NewInt(s.Min()), f.Scale), fixedPoint(big.NewInt(s.Max()), f.Scale)
		default:
			t.Fatalf("column %s: statistics %T", f.Name, st)
		}
		require.Equal(t, bounds, [2]string{lo, hi}, "column %s statistics", f.Name)
	}
}

// twos reads a big-endian two's complement integer.
func twos(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// fixedPoint writes unscaled × 10^-scale with exactly scale decimals.
func fixedPoint(unscaled *big.Int, scale int) string {
	neg := unscaled.Sign() < 0
	s := new(big.Int).Abs(unscaled).String()
	for len(s) <= scale {
		s = "0" + s
	}
	if scale > 0 {
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// TestDecimalValueErrors: a value that does not fit its DECIMAL is an
// error naming the row, the column and the value; nothing is rounded.
func TestDecimalValueErrors(t *testing.T) {
	t.Parallel()
	schema := formats.Schema{Fields: []formats.Field{{Name: "orders.amount", Type: formats.Decimal, Precision: 18, Scale: 2}}}
	for in, msg := range map[string]string{
		"1.234":             "more than 2 decimal places",
		"12345678901234567": "more than 16 digits before the point",
		"abc":               "not a decimal number",
		"1e-3":              "more than 2 decimal places",
	} {
		w, err := New(&bytes.Buffer{}, schema, Options{})
		require.NoError(t, err)
		require.NoError(t, w.WriteRow(formats.Row{{Value: []byte("1.00")}}))
		err = w.WriteRow(formats.Row{{Value: []byte(in)}})
		if err == nil { // converted with the batch
			err = w.Close()
		}
		require.ErrorContains(t, err, `row 2, column "orders_amount" (DECIMAL(18,2)): value "`+in+`"`)
		require.ErrorContains(t, err, msg)
	}
	_, err := New(&bytes.Buffer{}, formats.Schema{Fields: []formats.Field{{Name: "x", Type: formats.Decimal, Precision: 40}}}, Options{})
	require.ErrorContains(t, err, "DECIMAL(40,0) is not a valid decimal size")
}
