package parquetenc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/fixture"
	"github.com/lookerexport/exporter/formats/lookerdec"
)

// encode writes rows with the encoder and returns the file.
func encode(t *testing.T, c fixture.Case, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(&buf, c.Schema, opts)
	require.NoError(t, err)
	for _, row := range c.Rows {
		require.NoError(t, w.WriteRow(row))
	}
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close twice")
	return buf.Bytes()
}

// readBack reads a file with arrow-go, an independent implementation, and
// returns the column names, the file reader and the values as the fixture
// expects them.
func readBack(t *testing.T, data []byte) (*file.Reader, []string, [][]any) {
	t.Helper()
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	require.NoError(t, err)
	t.Cleanup(func() { rdr.Close() })
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
	for c := 0; c < int(tbl.NumCols()); c++ {
		col := tbl.Column(c)
		names[c] = col.Name()
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				if chunk.IsNull(i) {
					rows[r][c] = nil
					r++
					continue
				}
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
					typ := a.DataType().(*arrow.TimestampType)
					require.Equal(t, arrow.Microsecond, typ.Unit)
					switch typ.TimeZone {
					case "": // isAdjustedToUTC=false: a wall clock in no zone
						rows[r][c] = fixture.Wall(a.Value(i).ToTime(typ.Unit).UTC().Format(fixture.WallLayout))
					case "UTC":
						rows[r][c] = a.Value(i).ToTime(typ.Unit).UTC()
					default:
						t.Fatalf("column %s: unexpected time zone %q", col.Name(), typ.TimeZone)
					}
				default:
					t.Fatalf("column %s: unexpected arrow type %T", col.Name(), chunk)
				}
				r++
			}
		}
		require.Equal(t, len(rows), r)
	}
	return rdr, names, rows
}

func requireValues(t *testing.T, want, got [][]any) {
	t.Helper()
	require.Len(t, got, len(want))
	for r := range want {
		for c := range want[r] {
			w, g := want[r][c], got[r][c]
			if wt, ok := w.(time.Time); ok {
				gt, ok := g.(time.Time)
				require.True(t, ok, "row %d col %d: got %v, want time %v", r+1, c, g, w)
				require.True(t, wt.Equal(gt), "row %d col %d: got %v, want %v", r+1, c, gt, wt)
				continue
			}
			require.Equal(t, w, g, "row %d col %d", r+1, c)
		}
	}
}

func TestRoundTripTyped(t *testing.T) {
	t.Parallel()
	for _, codec := range []formats.Compression{"", formats.Snappy, formats.Zstd, formats.Gzip, formats.None} {
		t.Run(string(codec), func(t *testing.T) {
			t.Parallel()
			c := fixture.Typed()
			data := encode(t, c, Options{Location: c.Location, Compression: codec})
			rdr, names, got := readBack(t, data)
			require.Equal(t, []string{"orders_id", "orders_amount", "orders_is_paid", "orders_created_date", "orders_created_time", "users_name"}, names)
			requireValues(t, c.Want, got)

			sc := rdr.MetaData().Schema
			for i := range sc.NumColumns() {
				col := sc.Column(i)
				require.Equal(t, names[i], col.Name(), "file schema order")
				require.Equal(t, 1, int(col.MaxDefinitionLevel()), "column %s is optional", col.Name())
			}
			require.IsType(t, schema.StringLogicalType{}, sc.Column(5).LogicalType())
			require.IsType(t, schema.DateLogicalType{}, sc.Column(3).LogicalType())
			ts, ok := sc.Column(4).LogicalType().(schema.TimestampLogicalType)
			require.True(t, ok, "%T", sc.Column(4).LogicalType())
			require.True(t, ts.IsAdjustedToUTC())
			require.Equal(t, schema.TimeUnitMicros, ts.TimeUnit())

			wantCodec := map[formats.Compression]compress.Compression{"": compress.Codecs.Snappy, formats.Snappy: compress.Codecs.Snappy,
				formats.Zstd: compress.Codecs.Zstd, formats.Gzip: compress.Codecs.Gzip, formats.None: compress.Codecs.Uncompressed}[codec]
			cc, err := rdr.MetaData().RowGroup(0).ColumnChunk(0)
			require.NoError(t, err)
			require.Equal(t, wantCodec, cc.Compression())
			ok, err = cc.StatsSet()
			require.NoError(t, err)
			require.True(t, ok, "statistics are written")
			stats, err := cc.Statistics()
			require.NoError(t, err)
			require.Equal(t, int64(2), stats.NullCount())
		})
	}
}

func TestColumnOrderIsSchemaOrder(t *testing.T) {
	t.Parallel()
	c := fixture.Case{Schema: formats.Schema{Fields: []formats.Field{
		{Name: "z.last", Type: formats.String}, {Name: "a.first", Type: formats.Int64}, {Name: "m.middle", Type: formats.Bool},
	}}, Rows: []formats.Row{{{Value: []byte("z")}, {Value: []byte("1")}, {Value: []byte("Yes")}}}}
	_, names, got := readBack(t, encode(t, c, Options{}))
	require.Equal(t, []string{"z_last", "a_first", "m_middle"}, names)
	require.Equal(t, [][]any{{"z", int64(1), true}}, got)

	_, names, _ = readBack(t, encode(t, c, Options{Columns: []string{"Zed", "Ay", "Em"}}))
	require.Equal(t, []string{"Zed", "Ay", "Em"}, names)
}

func TestZeroAndOneRow(t *testing.T) {
	t.Parallel()
	c := fixture.Typed()
	for _, n := range []int{0, 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			c := c
			c.Rows, c.Want = c.Rows[:n], c.Want[:n]
			rdr, names, got := readBack(t, encode(t, c, Options{Location: c.Location}))
			require.Len(t, names, 6)
			require.Equal(t, int64(n), rdr.NumRows())
			requireValues(t, c.Want, got)
		})
	}
}

func TestWideRow(t *testing.T) {
	t.Parallel()
	c := fixture.Wide(200, 300)
	_, names, got := readBack(t, encode(t, c, Options{}))
	require.Len(t, names, 200)
	require.Equal(t, "view_field_000", names[0])
	require.Equal(t, "view_field_199", names[199])
	requireValues(t, c.Want, got)
}

func TestMultipleRowGroups(t *testing.T) {
	t.Parallel()
	c := fixture.Wide(12, 20000)
	data := encode(t, c, Options{RowGroupBytes: 128 << 10})
	rdr, _, got := readBack(t, data)
	require.Greater(t, rdr.NumRowGroups(), 3)
	var total int64
	for i := range rdr.NumRowGroups() {
		n := rdr.MetaData().RowGroup(i).NumRows()
		require.Positive(t, n)
		total += n
	}
	require.Equal(t, int64(20000), total)
	requireValues(t, c.Want, got)
}

func TestBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ   formats.Type
		value string
		msg   string
	}{
		{formats.Int64, "12.5", "not an integer"},
		{formats.Int64, "1,000", "not an integer"},
		{formats.Int64, "99999999999999999999", "out of int64 range"},
		{formats.Double, "abc", "not a number"},
		{formats.Bool, "maybe", "not a boolean"},
		{formats.Date, "2026-02-30", "not a date"},
		{formats.Date, "01/02/2026", "not a date"},
		{formats.Timestamp, "2026-03-01 25:00:00", "not a timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String()+"/"+tt.value, func(t *testing.T) {
			t.Parallel()
			sch := formats.Schema{Fields: []formats.Field{{Name: "v.ok", Type: formats.String}, {Name: "v.bad", Type: tt.typ}}}
			w, err := New(io.Discard, sch, Options{})
			require.NoError(t, err)
			require.NoError(t, w.WriteRow(formats.Row{{Value: []byte("a")}, {Null: true}}))
			// Values are converted a batch at a time: the error comes
			// with the batch (here at Close), naming the value's row.
			err = w.WriteRow(formats.Row{{Value: []byte("b")}, {Value: []byte(tt.value)}})
			if err == nil {
				err = w.Close()
			}
			require.Error(t, err)
			var ve *formats.ValueError
			require.ErrorAs(t, err, &ve)
			require.EqualValues(t, 2, ve.Row)
			require.Contains(t, err.Error(), "row 2")
			require.Contains(t, err.Error(), `column "v_bad"`)
			require.Contains(t, err.Error(), fmt.Sprintf("%q", tt.value))
			require.Contains(t, err.Error(), tt.msg)
			require.Equal(t, err, w.WriteRow(formats.Row{{Value: []byte("c")}, {Null: true}}), "errors are sticky")
			require.Equal(t, err, w.Close())
			require.Equal(t, err, w.Close(), "Close repeats its error")
		})
	}
}

func TestOptionErrors(t *testing.T) {
	t.Parallel()
	sch := formats.Schema{Fields: []formats.Field{{Name: "a.b", Type: formats.String}, {Name: "a.c", Type: formats.String}}}
	_, err := New(io.Discard, sch, Options{Columns: []string{"x"}})
	require.ErrorContains(t, err, "1 column names for 2 fields")
	_, err = New(io.Discard, sch, Options{Columns: []string{"x", "x"}})
	require.ErrorContains(t, err, `"x" is used twice`)
	_, err = New(io.Discard, sch, Options{Compression: "lz4"})
	require.ErrorContains(t, err, `unknown compression "lz4"`)
	w, err := New(io.Discard, sch, Options{})
	require.NoError(t, err)
	require.ErrorContains(t, w.WriteRow(formats.Row{{Null: true}}), "row 1 has 1 cells")
}

// The encoder must not retain the row: callers reuse its buffers.
func TestRowBuffersReused(t *testing.T) {
	t.Parallel()
	sch := formats.Schema{Fields: []formats.Field{{Name: "a", Type: formats.String}}}
	var buf bytes.Buffer
	w, err := New(&buf, sch, Options{})
	require.NoError(t, err)
	val := []byte("xxxx")
	row := formats.Row{{Value: val}}
	var want [][]any
	for i := range 3000 {
		copy(val, fmt.Sprintf("%04d", i%10000))
		require.NoError(t, w.WriteRow(row))
		want = append(want, []any{fmt.Sprintf("%04d", i)})
	}
	require.NoError(t, w.Close())
	_, _, got := readBack(t, buf.Bytes())
	require.Equal(t, want, got)
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteErrorSurfaces(t *testing.T) {
	t.Parallel()
	c := fixture.Wide(12, 5000)
	w, err := New(&failWriter{n: 1000}, c.Schema, Options{RowGroupBytes: 64 << 10})
	require.NoError(t, err)
	for _, row := range c.Rows {
		if err = w.WriteRow(row); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Close()
	}
	require.ErrorContains(t, err, "disk full")
}

// TestDictionaryPolicy: with DictionaryAuto, low-cardinality string
// columns (status, country, names) get a dictionary and high-cardinality
// ones (email, free text) plain pages; values read back equal either way.
func TestDictionaryPolicy(t *testing.T) {
	t.Parallel()
	input := fixture.LookerCSV(3000)
	for _, tt := range []struct {
		policy Dictionary
		dict   map[string]bool
	}{
		{"", map[string]bool{"users_name": true, "users_email": false, "users_country": true, "orders_status": true, "orders_note": false}},
		{DictionaryNone, map[string]bool{"users_name": false, "users_email": false, "users_country": false, "orders_status": false, "orders_note": false}},
		{DictionaryAll, map[string]bool{"users_name": true, "users_email": true, "users_country": true, "orders_status": true, "orders_note": true}},
	} {
		t.Run(string(tt.policy), func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			r, err := lookerdec.NewCSV(bytes.NewReader(input))
			require.NoError(t, err)
			w, err := New(&buf, fixture.LookerSchema(), Options{Dictionary: tt.policy})
			require.NoError(t, err)
			_, err = formats.Copy(context.Background(), w, r, formats.CopyOptions{})
			require.NoError(t, err)
			require.NoError(t, w.Close())
			rdr, names, got := readBack(t, buf.Bytes())
			require.Len(t, got, 3000)
			rg := rdr.MetaData().RowGroup(0)
			for i, name := range names {
				want, ok := tt.dict[name]
				if !ok {
					continue
				}
				cc, err := rg.ColumnChunk(i)
				require.NoError(t, err)
				require.Equal(t, want, cc.HasDictionaryPage(), "column %s", name)
			}
			// Same values as without dictionaries.
			_, _, plain := readBack(t, encodeCSV(t, input, Options{Dictionary: DictionaryNone}))
			require.Equal(t, plain, got)
		})
	}
	_, err := New(io.Discard, fixture.LookerSchema(), Options{Dictionary: "some"})
	require.ErrorContains(t, err, `unknown dictionary policy "some"`)
}

func encodeCSV(t *testing.T, input []byte, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	r, err := lookerdec.NewCSV(bytes.NewReader(input))
	require.NoError(t, err)
	w, err := New(&buf, fixture.LookerSchema(), opts)
	require.NoError(t, err)
	_, err = formats.Copy(context.Background(), w, r, formats.CopyOptions{Batches: 1})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestTooManyColumns: parquet-go fails at 65,535 columns; the encoder
// refuses a schema wider than formats.MaxColumns first, and takes one of
// exactly formats.MaxColumns.
func TestTooManyColumns(t *testing.T) {
	t.Parallel()
	wide := func(n int) formats.Schema {
		s := formats.Schema{Fields: make([]formats.Field, n)}
		for i := range s.Fields {
			s.Fields[i] = formats.Field{Name: fmt.Sprintf("v.f%d", i), Type: formats.Int64}
		}
		return s
	}
	_, err := New(io.Discard, wide(70000), Options{})
	require.ErrorIs(t, err, formats.ErrTooManyColumns)
	require.ErrorContains(t, err, "parquet encoder: the result has 70,000 columns; the exporter handles at most 10,000")

	s := wide(formats.MaxColumns)
	row := make(formats.Row, formats.MaxColumns)
	for i := range row {
		row[i] = formats.Cell{Value: []byte(fmt.Sprint(i))}
	}
	data := encode(t, fixture.Case{Schema: s, Rows: []formats.Row{row}}, Options{})
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer rdr.Close()
	require.Equal(t, formats.MaxColumns, rdr.MetaData().Schema.NumColumns())
	cr, err := rdr.RowGroup(0).Column(formats.MaxColumns - 1)
	require.NoError(t, err)
	vals, defs := make([]int64, 1), make([]int16, 1)
	n, _, err := cr.(*file.Int64ColumnChunkReader).ReadBatch(1, vals, defs, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, int64(formats.MaxColumns-1), vals[0])
}

// TestQueryZone: times are read in the zone Looker rendered them in
// (Options.Location, New York here), giving the true UTC instants around
// both DST changes, not those of another zone (Berlin, the job's, say);
// a convert_tz: no column keeps its wall clock as a TIMESTAMP without time
// zone (isAdjustedToUTC=false). Read back with arrow-go value by value.
func TestQueryZone(t *testing.T) {
	t.Parallel()
	c, berlin := fixture.QueryZone()
	data := encode(t, c, Options{Location: c.Location})
	rdr, names, got := readBack(t, data)
	require.Equal(t, []string{"orders_created_time", "orders_created_local_time"}, names)
	requireValues(t, c.Want, got)
	for r := range got {
		if gt, ok := got[r][0].(time.Time); ok {
			require.False(t, gt.Equal(berlin[r]), "row %d: the instant differs from a reading in Berlin", r+1)
		}
	}

	sc := rdr.MetaData().Schema
	zoned, ok := sc.Column(0).LogicalType().(schema.TimestampLogicalType)
	require.True(t, ok)
	require.True(t, zoned.IsAdjustedToUTC())
	local, ok := sc.Column(1).LogicalType().(schema.TimestampLogicalType)
	require.True(t, ok, "%T", sc.Column(1).LogicalType())
	require.False(t, local.IsAdjustedToUTC(), "a wall clock is a timestamp without time zone")
	require.Equal(t, schema.TimeUnitMicros, local.TimeUnit())

	// The arrow schema says the same: no time zone on the local column.
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	as, err := fr.Schema()
	require.NoError(t, err)
	require.Equal(t, "UTC", as.Field(0).Type.(*arrow.TimestampType).TimeZone)
	require.Empty(t, as.Field(1).Type.(*arrow.TimestampType).TimeZone)

	// Berlin gives other instants for the zoned column, the same wall clocks.
	_, _, inBerlin := readBack(t, encode(t, c, Options{Location: berlinZone(t)}))
	for r := range inBerlin {
		if berlin[r].IsZero() {
			continue
		}
		require.True(t, berlin[r].Equal(inBerlin[r][0].(time.Time)), "row %d", r+1)
		require.Equal(t, c.Want[r][1], inBerlin[r][1], "row %d", r+1)
	}
}

func berlinZone(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	return loc
}

func TestLocalTimestampWithOffset(t *testing.T) {
	t.Parallel()
	sch := formats.Schema{Fields: []formats.Field{{Name: "t", Type: formats.Timestamp, Local: true}}}
	w, err := New(io.Discard, sch, Options{})
	require.NoError(t, err)
	err = w.WriteRow(formats.Row{{Value: []byte("2026-03-01T10:15:00+01:00")}})
	if err == nil { // converted with the batch
		err = w.Close()
	}
	require.ErrorContains(t, err, `row 1, column "t" (TIMESTAMP): value "2026-03-01T10:15:00+01:00": has a time zone offset, but the field is a wall-clock time`)
}

// TestBadValueInABatchNamesItsRow: values are converted a batch at a time,
// on goroutines of their own, while the next batch fills; the error comes
// with the next batch handed over, and still names the first bad value,
// by row then column, and Copy's WriteError its row.
func TestBadValueInABatchNamesItsRow(t *testing.T) {
	t.Parallel()
	sch := formats.Schema{Fields: []formats.Field{{Name: "a", Type: formats.Int64}, {Name: "b", Type: formats.Double}, {Name: "c", Type: formats.String}}}
	w, err := New(io.Discard, sch, Options{})
	require.NoError(t, err)
	batch := w.(*encoder).batchRows // the first batch's error comes when the second is handed over
	var rows []formats.Row
	for i := 1; i <= 3*batch; i++ {
		a, b := fmt.Sprint(i), fmt.Sprint(i)+".5"
		switch i {
		case 300:
			b = "x300"
		case 700:
			a = "x700"
		}
		rows = append(rows, formats.Row{{Value: []byte(a)}, {Value: []byte(b)}, {Value: []byte("s")}})
	}
	n, err := formats.Copy(context.Background(), w, fixture.Rows(sch, rows), formats.CopyOptions{})
	require.ErrorContains(t, err, `row 300, column "b" (DOUBLE): value "x300"`)
	var ve *formats.ValueError
	require.ErrorAs(t, err, &ve)
	require.EqualValues(t, 300, ve.Row)
	we, ok := errors.AsType[*formats.WriteError](err)
	require.True(t, ok, "reported when the next batch is handed over, at row %d", 2*batch)
	require.EqualValues(t, 300, we.Row, "Copy names the value's row, not the row it was reported at")
	require.EqualValues(t, 2*batch-1, n)
	require.ErrorIs(t, err, w.Close(), "the encoder's error is sticky")
}

// TestAbandonedEncoderWritesNothingMore: a run that stops on an error
// (its context ended, the body broke) drops its encoder without Close
// while a batch may be being written on the encoder's own goroutines;
// they touch only memory, so nothing reaches the output, which the run is
// discarding, after the encoder was last called.
func TestAbandonedEncoderWritesNothingMore(t *testing.T) { //nolint:paralleltest // it counts the process's goroutines
	sch := formats.Schema{Fields: []formats.Field{{Name: "a", Type: formats.Int64}, {Name: "b", Type: formats.String}}}
	var abandoned atomic.Bool
	var late atomic.Int64
	out := writerFunc(func(p []byte) (int, error) {
		if abandoned.Load() {
			late.Add(int64(len(p)))
		}
		return len(p), nil
	})
	w, err := New(out, sch, Options{RowGroupBytes: 1}) // every batch would end a row group
	require.NoError(t, err)
	before := runtime.NumGoroutine()
	text := bytes.Repeat([]byte("x"), 1024) // a row group of 1 MiB, more than any write buffer
	for i := range 1024 {                   // one batch, handed to the encoder's goroutines
		text[0] = byte(i)
		require.NoError(t, w.WriteRow(formats.Row{{Value: []byte(fmt.Sprint(i))}, {Value: text}}))
	}
	abandoned.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "the flush goroutines end on their own")
	require.Zero(t, late.Load(), "bytes written after the encoder was abandoned")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
