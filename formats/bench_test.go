package formats_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/compress"
	"github.com/lookerexport/exporter/formats/csvenc"
	"github.com/lookerexport/exporter/formats/internal/fixture"
	"github.com/lookerexport/exporter/formats/jsonl"
	"github.com/lookerexport/exporter/formats/lookerdec"
	"github.com/lookerexport/exporter/formats/parquetenc"
)

// The conversion benchmarks run over the 12-column Looker-shaped dataset of
// fixture.LookerBody (the PERF-NOTES dataset), 1M rows, generated once per
// test binary into a temporary file (deleted by TestMain) and read back
// from it, so the input is streamed, never held in memory, and its
// generation is not timed. Each reports rows/s, MB/s of Looker input and
// peak-heap-MiB (fixture.HeapPeak: the absolute peak of live plus
// unswept heap during the conversion, sampled every millisecond) and
// peak-live-MiB (the largest heap a GC found live: the figure that does
// not depend on where GCs fall).
//
//	go test ./formats -run '^$' -bench . -benchmem
//
// BenchmarkFlatHeap/rows=10M needs EXPORTER_BENCH_10M=1 (or -formats.10m).

var tenM = flag.Bool("formats.10m", false, "also run the 10M-row benchmark")

const benchRows = 1_000_000

var inputs struct {
	once  sync.Once
	dir   string
	mu    sync.Mutex
	files map[string]string
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if inputs.dir != "" {
		os.RemoveAll(inputs.dir)
	}
	// Copy must never leave its reading goroutine behind.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
		code = 1
	}
	os.Exit(code)
}

// input returns the path of the 1M-row body in format, generating it the
// first time.
func input(b *testing.B, format string) string {
	b.Helper()
	inputs.once.Do(func() {
		dir, err := os.MkdirTemp("", "formats-bench-")
		if err != nil {
			b.Fatal(err)
		}
		inputs.dir, inputs.files = dir, map[string]string{}
	})
	inputs.mu.Lock()
	defer inputs.mu.Unlock()
	if p, ok := inputs.files[format]; ok {
		return p
	}
	p := filepath.Join(inputs.dir, fmt.Sprintf("looker-%d.%s", benchRows, format))
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, fixture.LookerBody(format, benchRows)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	inputs.files[format] = p
	return p
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// pipeline is one conversion: decode body, encode to out.
type pipeline func(ctx context.Context, body io.Reader, out io.Writer) (int64, error)

func decoder(format string, body io.Reader) (formats.RowReader, error) {
	switch format {
	case "csv":
		return lookerdec.NewCSV(body)
	case "json":
		s := fixture.LookerSchema() // typed from the explore's metadata
		return lookerdec.NewJSON(body, &s)
	default:
		return lookerdec.NewJSONBI(body)
	}
}

// toParquet converts a body to snappy Parquet with Copy's options.
func toParquet(format string, copts formats.CopyOptions, popts parquetenc.Options) pipeline {
	return func(ctx context.Context, body io.Reader, out io.Writer) (int64, error) {
		dec, err := decoder(format, body)
		if err != nil {
			return 0, err
		}
		schema := dec.Schema()
		if format == "csv" { // Looker CSV has no types: the explore's metadata gives them
			schema = fixture.LookerSchema()
		}
		enc, err := parquetenc.New(out, schema, popts)
		if err != nil {
			return 0, err
		}
		n, err := formats.Copy(ctx, enc, dec, copts)
		if err != nil {
			return n, err
		}
		return n, enc.Close()
	}
}

// toText converts a body to a compressed text format.
func toText(format string, out formats.Format, c formats.Compression) pipeline {
	return func(ctx context.Context, body io.Reader, w io.Writer) (int64, error) {
		dec, err := decoder(format, body)
		if err != nil {
			return 0, err
		}
		zw, err := compress.NewWriter(w, c)
		if err != nil {
			return 0, err
		}
		var enc formats.RowWriter
		if out == formats.CSV {
			enc = csvenc.New(zw, dec.Schema(), csvenc.Options{Header: csvenc.HeaderLabels})
		} else {
			enc = jsonl.New(zw, dec.Schema(), jsonl.Options{})
		}
		n, err := formats.Copy(ctx, enc, dec, formats.CopyOptions{})
		if err != nil {
			return n, err
		}
		if err := enc.Close(); err != nil {
			return n, err
		}
		return n, zw.Close()
	}
}

// run times p over a body from open and reports the metrics.
func run(b *testing.B, rows int, open func() (io.ReadCloser, error), p pipeline) {
	b.ReportAllocs()
	var peak, live uint64
	var in, out int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f, err := open()
		if err != nil {
			b.Fatal(err)
		}
		cr := &countingReader{r: f}
		cw := &countingWriter{}
		stop := fixture.HeapPeak()
		b.StartTimer()
		n, err := p(context.Background(), cr, cw)
		b.StopTimer()
		p, l := stop()
		peak, live = max(peak, p), max(live, l)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if n != int64(rows) {
			b.Fatalf("converted %d rows, want %d", n, rows)
		}
		in, out = cr.n, cw.n
		b.StartTimer()
	}
	b.SetBytes(in)
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(live)/(1<<20), "peak-live-MiB")
	b.ReportMetric(float64(out)/(1<<20), "out-MiB")
}

func fileInput(b *testing.B, format string) func() (io.ReadCloser, error) {
	p := input(b, format)
	return func() (io.ReadCloser, error) { return os.Open(p) }
}

// utf8Checked puts a formats.UTF8Reader in front of p's body, as the
// exporter does for every text result.
func utf8Checked(p pipeline) pipeline {
	return func(ctx context.Context, body io.Reader, out io.Writer) (int64, error) {
		return p(ctx, formats.NewUTF8Reader(body), out)
	}
}

// BenchmarkCSVToParquet is the headline: Looker CSV to snappy Parquet.
// "pipelined" is formats.Copy's default (decode and encode on two
// goroutines, adaptive dictionaries); "serial" is the same on one
// goroutine; "nodict" pipelined without dictionaries; "utf8" pipelined
// behind a UTF8Reader.
func BenchmarkCSVToParquet(b *testing.B) {
	for _, c := range []struct {
		name  string
		copts formats.CopyOptions
		popts parquetenc.Options
	}{
		{"pipelined", formats.CopyOptions{}, parquetenc.Options{}},
		{"serial", formats.CopyOptions{Batches: 1}, parquetenc.Options{}},
		{"nodict", formats.CopyOptions{}, parquetenc.Options{Dictionary: parquetenc.DictionaryNone}},
	} {
		b.Run(c.name, func(b *testing.B) {
			run(b, benchRows, fileInput(b, "csv"), toParquet("csv", c.copts, c.popts))
		})
	}
	b.Run("utf8", func(b *testing.B) {
		run(b, benchRows, fileInput(b, "csv"), utf8Checked(toParquet("csv", formats.CopyOptions{}, parquetenc.Options{})))
	})
}

func BenchmarkJSONToParquet(b *testing.B) {
	run(b, benchRows, fileInput(b, "json"), toParquet("json", formats.CopyOptions{}, parquetenc.Options{}))
}

func BenchmarkJSONBIToParquet(b *testing.B) {
	run(b, benchRows, fileInput(b, "json_bi"), toParquet("json_bi", formats.CopyOptions{}, parquetenc.Options{}))
}

func BenchmarkJSONToJSONLZstd(b *testing.B) {
	run(b, benchRows, fileInput(b, "json"), toText("json", formats.JSONL, formats.Zstd))
}

func BenchmarkCSVToCSVGzip(b *testing.B) {
	run(b, benchRows, fileInput(b, "csv"), toText("csv", formats.CSV, formats.Gzip))
}

// BenchmarkFlatHeap converts CSV to Parquet with the body generated on the
// fly (no file: 10M rows would be 1.7 GB), at 1M and 10M rows, to show the
// peak heap does not grow with the result. The generator runs on the
// decoding goroutine, so rows/s here is lower than BenchmarkCSVToParquet's.
func BenchmarkFlatHeap(b *testing.B) {
	for _, rows := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("rows=%dM", rows/1_000_000), func(b *testing.B) {
			if rows > benchRows && !*tenM && os.Getenv("EXPORTER_BENCH_10M") == "" {
				b.Skip("set EXPORTER_BENCH_10M=1 (or pass -formats.10m) to run the 10M-row benchmark")
			}
			open := func() (io.ReadCloser, error) { return io.NopCloser(fixture.LookerBody("csv", rows)), nil }
			run(b, rows, open, toParquet("csv", formats.CopyOptions{}, parquetenc.Options{}))
		})
	}
}
