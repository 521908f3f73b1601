// Package compress wraps an io.Writer in the stream codec of a text export
// (CSV, JSON lines). Parquet compresses its pages itself (see
// formats/parquetenc) and is not wrapped.
package compress

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/lookerexport/exporter/formats"
)

// NewWriter returns a writer that compresses into w with codec c:
//
//   - formats.Gzip: klauspost/compress/gzip at gzip.BestSpeed (level 1).
//   - formats.Zstd: klauspost/compress/zstd at zstd.SpeedFastest (about
//     zstd -1), on the caller's goroutine. The exporter's pipelines
//     already overlap their stages (decode and encode, or the body and its
//     validation, on goroutines of their own), and a second compressing
//     goroutine only made them compete on two cores: with it, JSON ->
//     JSON lines (zstd) ran at 724-765k rows/s instead of 895-899k
//     (BenchmarkJSONToJSONLZstd), and a csv.zst passthrough reached
//     0.49-0.52 of a plain download instead of 0.57-0.58 (BenchmarkPassthrough).
//     Only with both cores free of other work (BenchmarkPassthroughWire)
//     was it faster, by 5%, for 10% more CPU.
//   - formats.None or "": no compression; writes go straight to w.
//
// Snappy is not a stream codec for files and is rejected. Close flushes and
// finishes the stream (the gzip or zstd trailer) but never closes w.
func NewWriter(w io.Writer, c formats.Compression) (io.WriteCloser, error) {
	switch c {
	case "", formats.None:
		return nopCloser{w}, nil
	case formats.Gzip:
		zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err != nil {
			return nil, fmt.Errorf("start gzip stream: %w", err)
		}
		return zw, nil
	case formats.Zstd:
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("start zstd stream: %w", err)
		}
		return zw, nil
	}
	return nil, fmt.Errorf("unknown compression %q for a text export: use none, gzip or zstd", c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Extension returns the file name suffix of codec c: ".gz", ".zst", or ""
// for none (and for codecs that are not stream codecs).
func Extension(c formats.Compression) string {
	switch c {
	case formats.Gzip:
		return ".gz"
	case formats.Zstd:
		return ".zst"
	}
	return ""
}

// ContentType returns the MIME type of a file compressed with c, or "" when
// c is none: then the format's own type applies. Objects are stored with
// this type and no Content-Encoding, so GCS serves the compressed bytes as
// they are rather than decompressing them on download.
func ContentType(c formats.Compression) string {
	switch c {
	case formats.Gzip:
		return "application/gzip"
	case formats.Zstd:
		return "application/zstd"
	}
	return ""
}
