package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/state"
)

// warehouseQuery selects LookML number fields: ids, quantities and money.
const warehouseQuery = "source: {query: {model: thelook, view: orders, fields: [orders.id, orders.quantity, orders.amount, orders.discount, orders.created_date, users.name]}}\n"

const warehouseTypes = `types:
  orders.id: INT64
  orders.quantity: INT64
  orders.amount: NUMERIC(18,2)
  orders.discount: DECIMAL(6,2)
`

// arrowFile opens a Parquet file with arrow-go, closed with the test.
func arrowFile(t *testing.T, data []byte) *pqarrow.FileReader {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	require.NoError(t, err)
	t.Cleanup(func() { pf.Close() })
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	return fr
}

// arrowSchema reads a Parquet file's schema as arrow-go maps it.
func arrowSchema(t *testing.T, data []byte) *arrow.Schema {
	t.Helper()
	s, err := arrowFile(t, data).Schema()
	require.NoError(t, err)
	return s
}

// bigQueryTypeOf is the BigQuery type a column of this arrow type loads as.
func bigQueryTypeOf(t *testing.T, dt arrow.DataType) (typ string, precision, scale int32) {
	t.Helper()
	switch dt := dt.(type) {
	case *arrow.Int64Type:
		return "INT64", 0, 0
	case *arrow.Float64Type:
		return "FLOAT64", 0, 0
	case *arrow.BooleanType:
		return "BOOL", 0, 0
	case *arrow.StringType:
		return "STRING", 0, 0
	case *arrow.Date32Type:
		return "DATE", 0, 0
	case *arrow.TimestampType:
		if dt.TimeZone == "" {
			return "DATETIME", 0, 0
		}
		return "TIMESTAMP", 0, 0
	case arrow.DecimalType:
		if dt.GetScale() <= 9 && dt.GetPrecision()-dt.GetScale() <= 29 {
			return "NUMERIC", dt.GetPrecision(), dt.GetScale()
		}
		return "BIGNUMERIC", dt.GetPrecision(), dt.GetScale()
	}
	t.Fatalf("arrow type %s has no BigQuery type here", dt)
	return "", 0, 0
}

// TestNumberIsDoubleWithoutTypes: without types:, every LookML number is
// DOUBLE, as LookML says nothing more.
func TestNumberIsDoubleWithoutTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, 50)
	job := b.job(t, "orders", warehouseQuery+"format: parquet\ndestination: '$DIR/{{ .Job }}/orders.parquet'")
	run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	s := arrowSchema(t, b.readBack(t, run.URIs[0]))
	for _, name := range []string{"orders_id", "orders_quantity", "orders_amount"} {
		f, ok := s.FieldsByName(name)
		require.True(t, ok, name)
		require.Equal(t, arrow.PrimitiveTypes.Float64, f[0].Type, name)
	}
}

// TestTypesAndBigQuerySchema: types: makes the ids and quantities INT64
// and the money DECIMAL, in Parquet (read back by arrow-go with the
// values Looker sent) and in JSON lines (integers, and decimals as exact
// strings); the _schema.bigquery.json written next to the manifest
// matches the Parquet file column by column.
func TestTypesAndBigQuerySchema(t *testing.T) {
	t.Parallel()
	b := setup(t, 50)
	keys := warehouseQuery + warehouseTypes + "bigquery_schema: true\n"
	job := b.job(t, "orders", keys+"format: parquet\ndestination: '$DIR/{{ .Job }}/orders.parquet'")
	run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, run.Status)
	data := b.readBack(t, run.URIs[0])
	s := arrowSchema(t, data)

	want := map[string]string{"orders_id": "INT64", "orders_quantity": "INT64", "orders_amount": "NUMERIC(18,2)", "orders_discount": "NUMERIC(6,2)",
		"orders_created_date": "DATE", "users_name": "STRING"}
	var bq []formats.BigQueryField
	bqData := b.readBack(t, "file://"+filepath.Join(b.dir, "orders", formats.BigQuerySchemaName))
	require.NoError(t, json.Unmarshal(bqData, &bq))
	require.Len(t, bq, s.NumFields())
	for i, f := range s.Fields() {
		typ, p, sc := bigQueryTypeOf(t, f.Type)
		got := typ
		if p > 0 {
			got = typ + "(" + itoa(p) + "," + itoa(sc) + ")"
		}
		require.Equal(t, want[f.Name], got, "parquet column %s", f.Name)
		require.Equal(t, f.Name, bq[i].Name, "column %d", i)
		require.Equal(t, typ, bq[i].Type, "column %s", f.Name)
		require.Equal(t, "NULLABLE", bq[i].Mode)
		if p > 0 {
			require.Equal(t, itoa(p), bq[i].Precision, f.Name)
			require.Equal(t, itoa(sc), bq[i].Scale, f.Name)
		}
	}
	// The values are Looker's, exactly.
	cols, rows := parquetCells(t, data)
	require.Equal(t, []string{"orders_id", "orders_quantity", "orders_amount", "orders_discount", "orders_created_date", "users_name"}, cols)
	csvJob := b.job(t, "orders_csv", warehouseQuery+"format: csv\ndestination: '$DIR/{{ .Job }}/orders.csv'")
	crun, err := b.run(context.Background(), csvJob, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	text := strings.Split(strings.TrimSpace(string(b.readBack(t, crun.URIs[0]))), "\n")[1:]
	require.Len(t, rows, len(text))
	for r, line := range text {
		cells := strings.Split(line, ",")
		require.Equal(t, cells[0], rows[r][0], "id")
		require.Equal(t, cells[1], rows[r][1], "quantity")
		requireSameNumber(t, cells[2], rows[r][2], "amount")
		if cells[3] == "" {
			require.Equal(t, "(null)", rows[r][3], "discount")
		} else {
			requireSameNumber(t, cells[3], rows[r][3], "discount")
		}
	}

	// The manifest names the types too.
	var m struct {
		Schema []struct{ Name, Type string } `json:"schema"`
	}
	require.NoError(t, json.Unmarshal(b.readBack(t, "file://"+filepath.Join(b.dir, "orders", "_manifest.json")), &m))
	require.Equal(t, "DECIMAL(18,2)", m.Schema[2].Type)

	// JSON lines: the same types.
	jjob := b.job(t, "orders_jsonl", keys+"format: jsonl\ndestination: '$DIR/{{ .Job }}/orders.jsonl'")
	jrun, err := b.run(context.Background(), jjob, scheduled, jobs.RunOptions{})
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(b.readBack(t, jrun.URIs[0])))
	r := 0
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		var obj map[string]any
		require.NoError(t, dec.Decode(&obj))
		require.Equal(t, json.Number(rows[r][0]), obj["orders_id"])
		require.Equal(t, json.Number(rows[r][1]), obj["orders_quantity"])
		amount, ok := obj["orders_amount"].(string)
		require.True(t, ok, "a decimal is a string: %v", obj["orders_amount"])
		require.Regexp(t, `^-?\d+\.\d\d$`, amount, "with the column's 2 decimals")
		requireSameNumber(t, rows[r][2], amount, "amount")
		r++
	}
	require.Equal(t, len(rows), r)
	jbq := b.readBack(t, "file://"+filepath.Join(b.dir, "orders_jsonl", formats.BigQuerySchemaName))
	require.Equal(t, string(bqData), string(jbq), "jsonl and parquet load with the same schema")
}

// TestTypesNamingNoColumnFailTheRun: a types: key that matches no column
// of the result fails the run before anything is published.
func TestTypesNamingNoColumnFailTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	job := b.job(t, "orders", "source: {look_id: '42'}\ntypes: {orders.nope: INT64}\nformat: parquet\ndestination: '$DIR/{{ .Job }}/orders.parquet'")
	run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
	require.Error(t, err)
	require.Equal(t, state.Failed, run.Status)
	require.Contains(t, run.Error, `types: "orders.nope" matches no column of the result`)
	require.Empty(t, b.localFiles(t))
}

// requireSameNumber compares two decimal texts exactly.
func requireSameNumber(t *testing.T, want, got, what string) {
	t.Helper()
	w, ok := new(big.Rat).SetString(want)
	require.True(t, ok, "%s: %q", what, want)
	g, ok := new(big.Rat).SetString(got)
	require.True(t, ok, "%s: %q", what, got)
	require.True(t, w.Cmp(g) == 0, "%s: got %s, want %s", what, got, want)
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestParquetPageVersion: a job writes data pages v1 unless it sets
// parquet_page_version: 2.
func TestParquetPageVersion(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	for keys, want := range map[string]int{"": 1, "parquet_page_version: 2\n": 2} {
		job := b.job(t, "orders", warehouseQuery+keys+"format: parquet\ndestination: '$DIR/{{ .Job }}/v"+strconv.Itoa(want)+".parquet'")
		run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
		require.NoError(t, err)
		pf, err := file.NewParquetReader(bytes.NewReader(b.readBack(t, run.URIs[0])))
		require.NoError(t, err)
		pr, err := pf.RowGroup(0).GetColumnPageReader(0)
		require.NoError(t, err)
		require.True(t, pr.Next())
		switch pr.Page().(type) {
		case *file.DataPageV1:
			require.Equal(t, 1, want)
		case *file.DataPageV2:
			require.Equal(t, 2, want)
		default:
			t.Fatalf("page %T", pr.Page())
		}
		require.NoError(t, pf.Close())
	}
}
