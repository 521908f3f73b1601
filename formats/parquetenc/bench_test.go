package parquetenc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/fixture"
	"github.com/lookerexport/exporter/formats/lookerdec"
)

// BenchmarkCSVToParquet converts a 100k-row Looker-shaped CSV (12 columns,
// see fixture.LookerCSV), held in memory, to snappy Parquet on one
// goroutine and reports rows/s and the peak heap (fixture.HeapPeak, input
// included). The 1M-row pipelined benchmarks are in package formats.
func BenchmarkCSVToParquet(b *testing.B) {
	const rows = 100_000
	input := fixture.LookerCSV(rows)
	schema := fixture.LookerSchema()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	var peak uint64
	var out int64
	b.ResetTimer()
	for range b.N {
		stop := fixture.HeapPeak()
		n, err := convert(bytes.NewReader(input), io.Discard, schema)
		if p, _ := stop(); p > peak {
			peak = p
		}
		if err != nil {
			b.Fatal(err)
		}
		out = n
	}
	if out != rows {
		b.Fatalf("converted %d rows, want %d", out, rows)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func convert(in io.Reader, out io.Writer, schema formats.Schema) (int64, error) {
	return convertWith(in, out, schema, Options{})
}

func convertWith(in io.Reader, out io.Writer, schema formats.Schema, opts Options) (int64, error) {
	r, err := lookerdec.NewCSV(in)
	if err != nil {
		return 0, err
	}
	w, err := New(out, schema, opts)
	if err != nil {
		return 0, err
	}
	var n int64
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if err := w.WriteRow(row); err != nil {
			return n, err
		}
		n++
	}
	return n, w.Close()
}

// BenchmarkPageVersions compares, side by side, the default file (data
// pages v1, PLAIN strings) with v2 pages (Options.DataPageVersion 2), on
// the input of BenchmarkCSVToParquet, and reports the file size.
func BenchmarkPageVersions(b *testing.B) {
	const rows = 100_000
	input := fixture.LookerCSV(rows)
	schema := fixture.LookerSchema()
	for _, v := range []int{1, 2} {
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			b.SetBytes(int64(len(input)))
			var out countWriter
			for range b.N {
				out = 0
				if _, err := convertWith(bytes.NewReader(input), &out, schema, Options{DataPageVersion: v}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(out)/(1<<20), "file-MiB")
		})
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestLookerCSVToParquet converts the benchmark's input end to end and
// checks the row count and a few values, so the benchmark measures a
// working path.
func TestLookerCSVToParquet(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	n, err := convert(bytes.NewReader(fixture.LookerCSV(2000)), &buf, fixture.LookerSchema())
	if err != nil {
		t.Fatal(err)
	}
	rdr, names, got := readBack(t, buf.Bytes())
	if n != 2000 || rdr.NumRows() != 2000 || len(names) != 12 || names[0] != "orders_id" || names[11] != "orders_note" {
		t.Fatalf("rows %d/%d, names %v", n, rdr.NumRows(), names)
	}
	if got[0][0] != int64(1) || got[1999][0] != int64(2000) {
		t.Fatalf("ids %v %v", got[0][0], got[1999][0])
	}
	var nullNotes, nullDiscount int
	for _, row := range got {
		if row[11] == nil {
			nullNotes++
		}
		if row[10] == nil {
			nullDiscount++
		}
	}
	if nullNotes < 400 || nullNotes > 800 || nullDiscount < 100 || nullDiscount > 300 {
		t.Fatalf("null notes %d, null discounts %d: fixture proportions off", nullNotes, nullDiscount)
	}
}
