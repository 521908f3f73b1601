package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/compress"
	"github.com/lookerexport/exporter/formats/csvenc"
	"github.com/lookerexport/exporter/formats/jsonl"
	"github.com/lookerexport/exporter/formats/lookerdec"
	"github.com/lookerexport/exporter/formats/parquetenc"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks/publish"
)

// convert streams a Looker result body into out in the job's format: one
// file, or parts of at most job.Output's limits, each a complete file
// with its own header, footer and compressed stream (see
// publish.Splitter). It adds the rows it converts to rows as it goes
// (which may hold the rows of earlier files already) and records the
// schema and the content hash of the rows (formats.Digest) into info. It
// commits the data files but not out itself.
//
// zone is where Looker's zone-less datetimes are read: the zone Looker
// rendered them in (or a SQL Runner job's sql_timezone); nil when nobody
// could say, which fails a result that has datetime columns rather than
// guess.
func convert(ctx context.Context, job *config.Job, res *lookerapi.Result, out *publish.Set, rows *atomic.Int64, info *outputInfo, zone *time.Location) error {
	plan := job.Plan
	var body io.Reader = res.Body
	localFields := res.LocalFields
	if plan.Text {
		// One policy for every format: bytes that are not UTF-8 become
		// U+FFFD, counted (see outputInfo.invalidUTF8).
		utf := formats.NewUTF8Reader(body)
		defer func() { info.invalidUTF8 = utf.Replaced() }()
		body = utf
	}
	if plan.Read == config.ReadBytes {
		f, err := out.Next(ctx)
		if err != nil {
			return err
		}
		if _, err := copyCtx(ctx, f, body, plan.Stream); err != nil {
			return fmt.Errorf("copy %s result: %w", plan.ResultFormat, err)
		}
		return f.Commit(0) // raw results are not parsed: rows unknown
	}
	limits := publish.Limits{MaxRows: job.Output.MaxRowsPerFile, MaxBytes: job.Output.MaxBytesPerFile}

	// Byte-true passthrough: see config.Plan.Passthrough.
	if plan.Passthrough {
		f, err := out.Next(ctx)
		if err != nil {
			return err
		}
		zw, err := compress.NewWriter(f, plan.Stream)
		if err != nil {
			return err
		}
		before := rows.Load() // rows may count earlier files too (a dashboard's tiles)
		pt, err := passthrough(ctx, zw, body, localFields, rows)
		if err != nil {
			return err
		}
		info.schema, info.digest = pt.schema, pt.digest
		info.columns = formats.ColumnNames(info.schema, formats.NameLabel)
		if err := zw.Close(); err != nil {
			return fmt.Errorf("finish %s compression: %w", plan.Stream, err)
		}
		return f.Commit(rows.Load() - before)
	}

	dec, err := decoder(plan, body, res)
	if err != nil {
		return err
	}
	schema, err := columnTypes(job, formats.MarkLocal(dec.Schema(), localFields))
	if err != nil {
		return err
	}
	if zone == nil {
		for _, f := range schema.Fields {
			if f.Type == formats.Timestamp && !f.IsLocal() {
				return fmt.Errorf("column %s holds datetimes but Looker did not say which time zone it rendered them in; set query_timezone on the job", f.Name)
			}
		}
		zone = time.UTC // no datetimes to read
	}
	cols := formats.ColumnNames(schema, formats.NameStyle(job.ColumnNames))
	info.schema, info.columns = schema, cols
	if plan.Format == formats.CSV && plan.Header == csvenc.HeaderLabels {
		info.columns = formats.ColumnNames(schema, formats.NameLabel)
	}
	enc := publish.NewSplitter(ctx, out, limits, func(w io.Writer) (publish.Encoder[formats.Row], error) {
		return newEncoder(plan, w, schema, cols, zone)
	})
	info.digest = formats.NewDigest(schema)
	// parquetenc writes its batches on goroutines of its own while the
	// next one fills: the rows go to it directly, without Copy's second
	// goroutine and its copy of every row; SHA-256 gets a goroutine of its
	// own, off the decoding one, which is then the longest path.
	batches := 0 // Copy's default: decode and encode on two goroutines
	if plan.Format == formats.Parquet {
		batches = 1
		wait := info.digest.Concurrent()
		defer wait() // before the caller reads the digest's Sum
	}
	if err := drain(ctx, info.digest.Reader(dec), enc, rows, batches); err != nil {
		return err
	}
	return enc.Close()
}

// columnTypes sets the job's types: on the result's columns. Every key
// must name a column of a query's result; a dashboard's keys apply to the
// tiles that have the field, so a key may match no column of one tile.
func columnTypes(job *config.Job, schema formats.Schema) (formats.Schema, error) {
	types := job.Types
	if len(types) == 0 {
		return schema, nil
	}
	if job.Source.DashboardID != "" {
		types = make(map[string]formats.ColumnType, len(job.Types))
		for _, f := range schema.Fields {
			name := f.Name
			if f.Pivot != nil {
				name = f.Pivot.Measure
			}
			if t, ok := job.Types[name]; ok {
				types[name] = t
			}
		}
	}
	return formats.ApplyTypes(schema, types)
}

// newEncoder starts one complete file of the plan's format on w,
// compressed as planned. Closing the encoder ends the file and the
// compressed stream, never w.
func newEncoder(plan config.Plan, w io.Writer, schema formats.Schema, cols []string, zone *time.Location) (formats.RowWriter, error) {
	if plan.Format == formats.Parquet {
		return parquetenc.New(w, schema, parquetenc.Options{Columns: cols, Location: zone, Compression: plan.Compression, DataPageVersion: plan.PageVersion})
	}
	zw, err := compress.NewWriter(w, plan.Stream)
	if err != nil {
		return nil, err
	}
	var enc formats.RowWriter
	switch plan.Format {
	case formats.CSV:
		enc = csvenc.New(zw, schema, csvenc.Options{Header: plan.Header, Columns: cols})
	case formats.JSONL:
		enc = jsonl.New(zw, schema, jsonl.Options{Columns: cols, Location: zone})
	default:
		return nil, fmt.Errorf("format %q is not supported", plan.Format)
	}
	return &compressedEncoder{RowWriter: enc, zw: zw, plan: plan}, nil
}

// compressedEncoder ends the compressed stream after the encoder.
type compressedEncoder struct {
	formats.RowWriter
	zw   io.WriteCloser
	plan config.Plan
}

func (c *compressedEncoder) Close() error {
	if err := c.RowWriter.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", c.plan.Format, err)
	}
	if err := c.zw.Close(); err != nil {
		return fmt.Errorf("finish %s compression: %w", c.plan.Stream, err)
	}
	return nil
}

// decoder reads the result body as planned, or as typed csv when the run
// took csv for json_bi (lookerapi.RunOptions.TypedCSV). A json result is
// typed by the query's fields when the client knows them
// (lookerapi.Result.Fields), so that no column takes its type from the
// values of one run.
func decoder(plan config.Plan, body io.Reader, res *lookerapi.Result) (formats.RowReader, error) {
	if res.Format == "csv" && res.Fields != nil && plan.Read != config.ReadCSV {
		dec, err := lookerdec.NewTypedCSV(body, typedSchema(res.Fields))
		if err != nil {
			return nil, fmt.Errorf("read csv result: %w", err)
		}
		return dec, nil
	}
	var dec formats.RowReader
	var err error
	switch plan.Read {
	case config.ReadCSV:
		dec, err = lookerdec.NewCSV(body)
	case config.ReadJSON:
		var schema *formats.Schema // nil: the first row types the columns
		if res.Fields != nil {
			s := typedSchema(res.Fields)
			schema = &s
		}
		dec, err = lookerdec.NewJSON(body, schema)
	case config.ReadJSONBI:
		dec, err = lookerdec.NewJSONBI(body)
	default:
		return nil, fmt.Errorf("cannot convert Looker %s results to %s", plan.ResultFormat, plan.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s result: %w", plan.ResultFormat, err)
	}
	return dec, nil
}

// typedSchema is the schema of a result whose fields the client knows:
// typed as json_bi's metadata types them (formats.LookMLField).
func typedSchema(fields []lookerapi.Field) formats.Schema {
	s := formats.Schema{Fields: make([]formats.Field, len(fields))}
	for i, f := range fields {
		s.Fields[i] = formats.LookMLField(f.Name, f.Label, f.Type, f.Category)
	}
	return s
}

// drain reads every row from dec into enc (when not nil), counting rows,
// with formats.Copy: batches is CopyOptions.Batches (0: decode and encode
// on two goroutines with bounded batches; 1: on the caller's). Its errors
// say "read result: ..." or "write row N: ...".
func drain(ctx context.Context, dec formats.RowReader, enc formats.RowWriter, rows *atomic.Int64, batches int) error {
	var counted int64
	_, err := formats.Copy(ctx, enc, dec, formats.CopyOptions{Batches: batches, Progress: func(n int64) {
		rows.Add(n - counted)
		counted = n
	}})
	return err
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
