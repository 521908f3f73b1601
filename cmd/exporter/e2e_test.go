package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

const e2eRows = 321

// fixture is a sandbox, a temp dir and a config file pointing at them.
type fixture struct {
	srv  *lookertest.Server
	dir  string
	conf string
}

func newFixture(t *testing.T, jobsYAML string) *fixture {
	t.Helper()
	srv := lookertest.NewServer(lookertest.Options{Rows: e2eRows})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	y := fmt.Sprintf("looker:\n  base_url: %s\n  client_id: %s\n  client_secret: %s\nstate:\n  dsn: %s\njobs:\n%s",
		srv.URL(), srv.ClientID(), srv.ClientSecret(), filepath.Join(dir, "state.db"), strings.ReplaceAll(jobsYAML, "$DIR", dir))
	conf := filepath.Join(dir, "jobs.yaml")
	require.NoError(t, os.WriteFile(conf, []byte(y), 0o600))
	return &fixture{srv: srv, dir: dir, conf: conf}
}

// exec runs the CLI and returns its exit code, stdout and stderr.
func exec(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func (f *fixture) runs(t *testing.T) []state.Run {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(f.dir, "state.db"))
	require.NoError(t, err)
	defer st.Close()
	runs, err := st.ListRuns(context.Background(), state.ListOptions{})
	require.NoError(t, err)
	return runs
}

var sources = []struct {
	name string
	yaml string
	src  lookerapi.Source
}{
	{"look", `{look_id: "42"}`, lookerapi.Source{LookID: "42"}},
	{"query_id", `{query_id: 123}`, lookerapi.Source{QueryID: "123"}},
	{"slug", `{query_slug: AbC123xyz}`, lookerapi.Source{QuerySlug: "AbC123xyz"}},
	{"inline", `{query: {model: thelook, view: orders, fields: [orders.id, orders.created_date, orders.created_time, users.name, orders.amount, orders.is_first_purchase, orders.discount, orders.note, orders.count]}}`,
		lookerapi.Source{Query: &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.id", "orders.created_date", "orders.created_time", "users.name", "orders.amount", "orders.is_first_purchase", "orders.discount", "orders.note", "orders.count"}}}},
	{"sql", `{sql: {connection: warehouse, sql: "SELECT * FROM orders"}}`, lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "warehouse", SQL: "SELECT * FROM orders"}}},
}

var outputs = []struct {
	name string
	yaml string // job keys
	ext  string
}{
	{"csv", "format: csv", "csv"},
	{"csv_gzip", "format: csv\n    compression: gzip", "csv.gz"},
	{"csv_names", "format: csv\n    csv_header: names", "csv"},
	{"jsonl", "format: jsonl", "jsonl"},
	{"jsonl_zstd_json", "format: jsonl\n    result_format: json\n    compression: zstd", "jsonl.zst"},
	{"parquet", "format: parquet", "parquet"},
	{"parquet_zstd", "format: parquet\n    compression: zstd", "parquet"},
}

// TestRunEverySourceAndFormat runs `exporter run` for each source kind and
// output format against the sandbox and reads every output back, value by
// value, with independent readers (encoding/csv, encoding/json, arrow-go).
func TestRunEverySourceAndFormat(t *testing.T) {
	t.Parallel()
	var jobsYAML strings.Builder
	for _, s := range sources {
		for _, o := range outputs {
			fmt.Fprintf(&jobsYAML, "  - name: %s_%s\n    schedule: '@daily'\n    timezone: Europe/Berlin\n    source: %s\n    %s\n    destination: '$DIR/out/%s/{{ .Job }}/dt={{ date \"2006-01-02\" }}/data.%s'\n",
				s.name, o.name, s.yaml, o.yaml, s.name, o.ext)
		}
	}
	f := newFixture(t, jobsYAML.String())
	at := "2026-11-27T06:00:00Z"
	for _, s := range sources {
		for _, o := range outputs {
			t.Run(s.name+"/"+o.name, func(t *testing.T) {
				t.Parallel()
				job := s.name + "_" + o.name
				code, stdout, stderr := exec(t, context.Background(), "run", "--config", f.conf, job, "--at", at, "--log-format", "json")
				require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
				path := filepath.Join(f.dir, "out", s.name, job, "dt=2026-11-27", "data."+o.ext)
				require.Contains(t, stdout, "wrote file://"+path)
				fields, err := f.srv.Fields(sandboxSource(t, s.src))
				require.NoError(t, err)
				loc := time.UTC // the zone Looker rendered in (the sandbox application zone), not the job Berlin zone
				switch o.name {
				case "csv", "csv_gzip", "csv_names":
					checkCSV(t, path, fields, o.name == "csv_names")
				case "jsonl", "jsonl_zstd_json":
					checkJSONL(t, path, fields, loc, o.name == "jsonl_zstd_json" && s.name == "sql")
				default:
					checkParquet(t, path, fields, loc)
				}
			})
		}
	}
}

func open(t *testing.T, path string) io.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		return zr
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		return zr
	}
	return bytes.NewReader(b)
}

func underscore(name string) string { return strings.ReplaceAll(name, ".", "_") }

func checkCSV(t *testing.T, path string, fields []lookertest.Field, names bool) {
	t.Helper()
	recs, err := csv.NewReader(open(t, path)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, e2eRows+1)
	for i, fl := range fields {
		want := fl.Label
		if names {
			want = underscore(fl.Name)
		}
		require.Equal(t, want, recs[0][i])
	}
	for r := 0; r < e2eRows; r++ {
		for i, fl := range fields {
			v, _ := lookertest.Value(fl.Name, r)
			require.Equal(t, v, recs[r+1][i], "row %d field %s", r, fl.Name)
		}
	}
}

// checkJSONL checks a JSON lines export against the sandbox's values.
// Whether it read Looker's typed csv, json_bi or json, the columns are
// typed by the query's fields (booleans are booleans and times instants),
// except json with untyped: a SQL Runner result in json, whose columns
// no metadata types, keeps its text.
func checkJSONL(t *testing.T, path string, fields []lookertest.Field, loc *time.Location, untyped bool) {
	t.Helper()
	sc := bufio.NewScanner(open(t, path))
	sc.Buffer(nil, 1<<20)
	r := 0
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var obj map[string]any
		require.NoError(t, dec.Decode(&obj))
		require.Len(t, obj, len(fields))
		for _, fl := range fields {
			got, ok := obj[underscore(fl.Name)]
			require.True(t, ok, "row %d lacks %s", r, fl.Name)
			text, null := lookertest.Value(fl.Name, r)
			if null {
				require.Nil(t, got, "row %d field %s", r, fl.Name)
				continue
			}
			typ := formats.TypeForLookML(fl.Type)
			switch {
			case typ == formats.Int64 || typ == formats.Double:
				n, ok := got.(json.Number)
				require.True(t, ok, "row %d field %s: %T %v is not a number", r, fl.Name, got, got)
				requireSameNumber(t, text, string(n))
			case typ == formats.Bool && !untyped:
				require.Equal(t, text == "Yes", got, "row %d field %s", r, fl.Name)
			case typ == formats.Timestamp && !untyped:
				want, err := time.ParseInLocation("2006-01-02 15:04:05", text, loc)
				require.NoError(t, err)
				gotT, err := time.Parse(time.RFC3339Nano, got.(string))
				require.NoError(t, err)
				require.True(t, want.Equal(gotT), "row %d field %s: want %s got %s", r, fl.Name, want, gotT)
			default:
				require.Equal(t, text, got, "row %d field %s", r, fl.Name)
			}
		}
		r++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, e2eRows, r)
}

func requireSameNumber(t *testing.T, want, got string) {
	t.Helper()
	w, err := strconv.ParseFloat(want, 64)
	require.NoError(t, err)
	g, err := strconv.ParseFloat(got, 64)
	require.NoError(t, err)
	require.Equal(t, w, g)
}

func checkParquet(t *testing.T, path string, fields []lookertest.Field, loc *time.Location) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	require.NoError(t, err)
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	tbl, err := fr.ReadTable(context.Background())
	require.NoError(t, err)
	defer tbl.Release()
	require.Equal(t, int64(e2eRows), tbl.NumRows())
	require.Equal(t, int64(len(fields)), tbl.NumCols())
	for c, fl := range fields {
		col := tbl.Column(c)
		require.Equal(t, underscore(fl.Name), col.Name(), "column order follows Looker's")
		typ := formats.TypeForLookML(fl.Type)
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				text, null := lookertest.Value(fl.Name, r)
				require.Equal(t, null, chunk.IsNull(i), "row %d field %s null", r, fl.Name)
				if !null {
					checkArrowValue(t, chunk, i, typ, text, loc, fmt.Sprintf("row %d field %s", r, fl.Name))
				}
				r++
			}
		}
		require.Equal(t, e2eRows, r)
	}
}

func checkArrowValue(t *testing.T, chunk arrow.Array, i int, typ formats.Type, text string, loc *time.Location, where string) {
	t.Helper()
	switch typ {
	case formats.Int64:
		a, ok := chunk.(*array.Int64)
		require.True(t, ok, "%s: %s is not INT64", where, chunk.DataType())
		require.Equal(t, text, strconv.FormatInt(a.Value(i), 10), where)
	case formats.Double:
		a, ok := chunk.(*array.Float64)
		require.True(t, ok, "%s: %s is not DOUBLE", where, chunk.DataType())
		w, err := strconv.ParseFloat(text, 64)
		require.NoError(t, err)
		require.False(t, math.IsNaN(a.Value(i)))
		require.Equal(t, w, a.Value(i), where)
	case formats.Bool:
		a, ok := chunk.(*array.Boolean)
		require.True(t, ok, "%s: %s is not BOOLEAN", where, chunk.DataType())
		require.Equal(t, text == "Yes", a.Value(i), where)
	case formats.Date:
		a, ok := chunk.(*array.Date32)
		require.True(t, ok, "%s: %s is not DATE", where, chunk.DataType())
		require.Equal(t, text, a.Value(i).ToTime().Format("2006-01-02"), where)
	case formats.Timestamp:
		a, ok := chunk.(*array.Timestamp)
		require.True(t, ok, "%s: %s is not TIMESTAMP", where, chunk.DataType())
		tt := chunk.DataType().(*arrow.TimestampType)
		require.Equal(t, arrow.Microsecond, tt.Unit, where)
		want, err := time.ParseInLocation("2006-01-02 15:04:05", text, loc)
		require.NoError(t, err)
		require.Equal(t, want.UnixMicro(), int64(a.Value(i)), where)
	default:
		a, ok := chunk.(*array.String)
		require.True(t, ok, "%s: %s is not STRING", where, chunk.DataType())
		require.Equal(t, text, a.Value(i), where)
	}
}

// sandboxSource is src as the sandbox names it (lookertest has its own
// Query type, written from the spec, with the same JSON names).
func sandboxSource(t testing.TB, src lookerapi.Source) lookertest.Source {
	t.Helper()
	out := lookertest.Source{LookID: src.LookID, QueryID: src.QueryID, QuerySlug: src.QuerySlug}
	if src.Query != nil {
		b, err := json.Marshal(src.Query)
		require.NoError(t, err)
		out.Query = new(lookertest.Query)
		require.NoError(t, json.Unmarshal(b, out.Query))
	}
	if src.SQL != nil {
		out.SQLSlug, out.SQL = src.SQL.Slug, src.SQL.SQL
	}
	return out
}
