package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/compress"
	"github.com/lookerexport/exporter/formats/csvenc"
	"github.com/lookerexport/exporter/formats/jsonl"
	"github.com/lookerexport/exporter/formats/lookerdec"
	"github.com/lookerexport/exporter/formats/parquetenc"
	"github.com/lookerexport/exporter/jobs/config"
)

// progressEvery is how many rows pass between progress updates and
// cancellation checks.
const progressEvery = 4096

// convert streams a Looker result body into w in the job's format. It
// counts rows into rows as it goes. It never closes w.
func convert(ctx context.Context, job *config.Job, body io.Reader, w io.Writer, rows *atomic.Int64) error {
	if job.Format == formats.Raw {
		_, err := copyCtx(ctx, w, body, job.Compression)
		if err != nil {
			return fmt.Errorf("copy %s result: %w", job.Run.ResultFormat, err)
		}
		return nil
	}
	var out io.Writer = w
	var zw io.WriteCloser
	if job.Format != formats.Parquet {
		var err error
		if zw, err = compress.NewWriter(w, job.Compression); err != nil {
			return err
		}
		out = zw
	}

	// Byte-true passthrough: Looker's CSV is copied as is, and decoded on
	// the side only to validate and count it.
	if job.Format == formats.CSV && job.Run.ResultFormat == "csv" && job.CSVHeader == "labels" {
		dec, err := lookerdec.NewCSV(io.TeeReader(body, out))
		if err != nil {
			return fmt.Errorf("read csv result: %w", err)
		}
		if err := drain(ctx, dec, nil, rows); err != nil {
			return err
		}
		return zw.Close()
	}

	dec, err := decoder(job, body)
	if err != nil {
		return err
	}
	schema := dec.Schema()
	cols := formats.ColumnNames(schema, formats.NameStyle(job.ColumnNames))
	var enc formats.RowWriter
	switch job.Format {
	case formats.CSV:
		header := map[string]csvenc.Header{"labels": csvenc.HeaderLabels, "names": csvenc.HeaderNames, "none": csvenc.HeaderNone}[job.CSVHeader]
		enc = csvenc.New(out, schema, csvenc.Options{Header: header, Columns: cols})
	case formats.JSONL:
		enc = jsonl.New(out, schema, jsonl.Options{Columns: cols, Location: job.Location})
	case formats.Parquet:
		enc, err = parquetenc.New(out, schema, parquetenc.Options{Columns: cols, Location: job.Location, Compression: job.Compression})
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("format %q is not supported", job.Format)
	}
	if err := drain(ctx, dec, enc, rows); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", job.Format, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("finish %s compression: %w", job.Compression, err)
		}
	}
	return nil
}

func decoder(job *config.Job, body io.Reader) (formats.RowReader, error) {
	var dec formats.RowReader
	var err error
	switch job.Run.ResultFormat {
	case "csv":
		dec, err = lookerdec.NewCSV(body)
	case "json":
		dec, err = lookerdec.NewJSON(body, nil)
	case "json_bi":
		dec, err = lookerdec.NewJSONBI(body)
	default:
		return nil, fmt.Errorf("cannot convert Looker %s results to %s", job.Run.ResultFormat, job.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s result: %w", job.Run.ResultFormat, err)
	}
	return dec, nil
}

// drain reads every row from dec into enc (when not nil), counting rows.
func drain(ctx context.Context, dec formats.RowReader, enc formats.RowWriter, rows *atomic.Int64) error {
	var n int64
	defer func() { rows.Add(n % progressEvery) }()
	for {
		row, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read result: %w", err)
		}
		if enc != nil {
			if err := enc.WriteRow(row); err != nil {
				return fmt.Errorf("row %d: %w", n+1, err)
			}
		}
		n++
		if n%progressEvery == 0 {
			rows.Add(progressEvery)
			if err := context.Cause(ctx); err != nil {
				return err
			}
		}
	}
}

// copyCtx copies a raw result, compressed as asked, checking ctx between
// chunks.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader, c formats.Compression) (int64, error) {
	zw, err := compress.NewWriter(w, c)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 256<<10)
	var total int64
	for {
		if err := context.Cause(ctx); err != nil {
			return total, err
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := zw.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if errors.Is(rerr, io.EOF) {
			return total, zw.Close()
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// contentType is the MIME type of the object a job writes. Compressed text
// is stored as a compressed file (application/gzip, application/zstd), not
// with a Content-Encoding, so warehouses and gsutil read it as written.
func contentType(job *config.Job, lookerType string) string {
	switch job.Compression {
	case formats.Gzip:
		if job.Format != formats.Parquet {
			return "application/gzip"
		}
	case formats.Zstd:
		if job.Format != formats.Parquet {
			return "application/zstd"
		}
	}
	switch job.Format {
	case formats.CSV:
		return "text/csv; charset=utf-8"
	case formats.JSONL:
		return "application/x-ndjson"
	case formats.Parquet:
		return "application/vnd.apache.parquet"
	}
	if lookerType != "" {
		return lookerType
	}
	return "application/octet-stream"
}
