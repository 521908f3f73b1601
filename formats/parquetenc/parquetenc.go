// Package parquetenc encodes rows as a Parquet file with parquet-go.
package parquetenc

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/uncompressed"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/lookertext"
)

// Defaults for Options.
const (
	// DefaultRowGroupBytes bounds a row group's buffered size (compressed
	// pages plus values not yet paged). The whole row group stays in memory
	// until it is written, so this is the main term of the encoder's memory:
	// measured on 2M rows of the 15-column orders Look, the Go heap of an
	// `exporter run` peaks at 27 MiB with 8 MiB row groups and 4 MiB of page
	// buffers, against 38 MiB with 16 and 8 (process RSS 70 against 81 MiB,
	// 36 of them the binary's own pages), whatever the number of rows. A
	// row group of 8 MiB compressed still holds some 170,000 such rows.
	DefaultRowGroupBytes = 8 << 20
	// maxPageBufferBytes and minPageBufferBytes clamp the per-column page
	// buffer, chosen as 4 MiB / columns so wide results stay bounded too.
	maxPageBufferBytes = 256 << 10
	minPageBufferBytes = 32 << 10
)

// Options configures the encoder. The zero value is valid.
type Options struct {
	// Columns are the output column names, one per schema field; nil means
	// formats.ColumnNames(schema, formats.NameUnderscore). Names must be
	// unique and non-empty.
	Columns []string
	// Location is the zone Looker rendered the result's times in (the
	// query's time zone), where zone-less times are read; nil means UTC.
	// Wall-clock columns (formats.Field.Local) are not read in it.
	Location *time.Location
	// Compression is the page codec: Snappy (the default, also for "";
	// s2's fast Snappy encoder), Zstd (fastest level), Gzip (best speed) or
	// None.
	Compression formats.Compression
	// RowGroupBytes bounds a row group (see DefaultRowGroupBytes); 0 means
	// the default. The bound is checked every batch of rows, so a row
	// group can exceed it by one batch.
	RowGroupBytes int64
	// PageBufferBytes is the uncompressed size at which a column's page is
	// cut; 0 means 4 MiB / columns, clamped to [32 KiB, 256 KiB].
	PageBufferBytes int
	// Dictionary chooses which String columns are dictionary encoded;
	// "" means DictionaryAuto.
	Dictionary Dictionary
	// DataPageVersion is 1 (the default, also for 0) or 2. Version 1 pages
	// are what every warehouse reads (Spark's vectorized reader before 3.3
	// fails on v2 pages); v2 pages let a reader skip a page's levels
	// without decompressing it, for readers that know them.
	DataPageVersion int
}

// Dictionary is a dictionary-encoding policy for String columns.
type Dictionary string

// Dictionary policies.
const (
	// DictionaryAuto encodes a String column with a dictionary when the
	// first batch of rows (up to 4096) holds few distinct values in it: at
	// most one per dictSampleRatio non-null values, and at most
	// dictMaxDistinct (status, country, names drawn from small sets; not
	// emails, ids or free text). A dictionary on a high-cardinality column
	// costs about 50% more encoding time for nothing (PERF-NOTES), so the
	// sample decides. A dictionary that grows past dictMaxBytes in a row
	// group anyway falls back to plain pages for the rest of that row group.
	DictionaryAuto Dictionary = "auto"
	// DictionaryNone writes every column with plain pages.
	DictionaryNone Dictionary = "none"
	// DictionaryAll dictionary-encodes every String column (bounded by
	// dictMaxBytes like DictionaryAuto).
	DictionaryAll Dictionary = "all"
)

const (
	dictSampleRatio = 8
	dictMaxDistinct = 4096
	dictMaxBytes    = 1 << 20
)

// New returns a Parquet encoder writing to w.
//
// A schema of more than formats.MaxColumns fields is refused with an error
// matching formats.ErrTooManyColumns (parquet-go fails on 65,535 columns).
// Every column is optional (nulls allowed) and in schema order. Types:
// String -> BYTE_ARRAY (STRING), Int64 -> INT64, Double -> DOUBLE, Bool ->
// BOOLEAN, Date -> INT32 (DATE), Timestamp -> INT64 (TIMESTAMP(MICROS,
// isAdjustedToUTC=true)), times read in Options.Location (see
// lookertext.Timestamps for the DST rule); a wall-clock Timestamp
// (formats.Field.Local) -> INT64 (TIMESTAMP(MICROS, isAdjustedToUTC=false))
// holding the wall clock as Looker sent it, in no zone (a value with an
// offset is then an error); Decimal -> DECIMAL(precision, scale) on INT32
// (precision up to 9), INT64 (up to 18) or a FIXED_LEN_BYTE_ARRAY of the
// fewest bytes the precision needs (without min/max statistics: see
// start), its values read exactly (lookertext.ParseDecimal: never
// rounded; too many decimal places or digits is an error). Values are parsed as jsonl does
// (Bool takes Yes/No, true/false, 1/0); a value that does not parse is an
// error naming the row, the column and the value, and the encoder then
// refuses further rows. Column chunk and page statistics are written.
//
// The file is one every warehouse reads: data pages v1 (Options
// DataPageVersion 2 for v2), values PLAIN or RLE_DICTIONARY (String
// columns chosen by Options.Dictionary; a dictionary page is PLAIN),
// definition levels RLE. No DELTA_* encoding is ever written.
//
// Rows are batched and handed to parquet-go's low-level writer; a row group
// is cut when its buffered size reaches Options.RowGroupBytes. Close writes
// the last row group and the footer and never closes w. An empty result is
// a valid file with the schema and no row groups.
func New(w io.Writer, schema formats.Schema, opts Options) (formats.RowWriter, error) {
	n := len(schema.Fields)
	if err := formats.CheckColumns(n); err != nil {
		return nil, fmt.Errorf("parquet encoder: %w", err)
	}
	cols := opts.Columns
	if cols == nil {
		cols = formats.ColumnNames(schema, formats.NameUnderscore)
	}
	if len(cols) != n {
		return nil, fmt.Errorf("parquet encoder: %d column names for %d fields", len(cols), n)
	}
	var codec compress.Codec
	switch opts.Compression {
	case "", formats.Snappy:
		codec = fastSnappy{}
	case formats.Zstd: // made below, sized to the pages
	case formats.Gzip:
		codec = &gzip.Codec{Level: gzip.BestSpeed}
	case formats.None:
		codec = &uncompressed.Codec{}
	default:
		return nil, fmt.Errorf("parquet encoder: unknown compression %q: use snappy, zstd, gzip or none", opts.Compression)
	}
	switch opts.Dictionary {
	case "":
		opts.Dictionary = DictionaryAuto
	case DictionaryAuto, DictionaryNone, DictionaryAll:
	default:
		return nil, fmt.Errorf("parquet encoder: unknown dictionary policy %q: use auto, none or all", opts.Dictionary)
	}
	switch opts.DataPageVersion {
	case 0:
		opts.DataPageVersion = 1
	case 1, 2:
	default:
		return nil, fmt.Errorf("parquet encoder: data page version %d: use 1 or 2", opts.DataPageVersion)
	}
	rgBytes := opts.RowGroupBytes
	if rgBytes <= 0 {
		rgBytes = DefaultRowGroupBytes
	}
	pageBytes := opts.PageBufferBytes
	if pageBytes <= 0 {
		pageBytes = (4 << 20) / max(n, 1)
		pageBytes = min(max(pageBytes, minPageBufferBytes), maxPageBufferBytes)
	}
	if opts.Compression == formats.Zstd {
		z, err := newZstdPages(pageBytes)
		if err != nil {
			return nil, fmt.Errorf("parquet encoder: %w", err)
		}
		codec = z
	}
	// Rows per batch: about 256 KiB of cells (4,096 rows of 12 columns).
	// Each batch is one hand-off between the decoding goroutine and the
	// two that encode, which on 2 cores shared with other work cost a
	// wait each: 2M rows to zstd Parquet took 3.45 s with 1,024-row
	// batches and 3.1 s with 4,096, for about 2 MiB more peak RSS.
	rows := max(64, min(4096, (256<<10)/max(n, 1)))
	e := &encoder{
		out:       w,
		codec:     codec,
		pageBytes: pageBytes,
		dict:      opts.Dictionary,
		pageVer:   opts.DataPageVersion,
		cols:      cols,
		types:     make([]formats.Type, n),
		local:     make([]bool, n),
		dec:       make([]decimalCol, n),
		ts:        make([]*lookertext.Timestamps, n),
		vals:      make([][]parquet.Value, n),
		batchRows: rows,
		rgBytes:   rgBytes,
	}
	for i, f := range schema.Fields {
		if f.Type > formats.Decimal {
			return nil, fmt.Errorf("parquet encoder: column %q has unsupported type %v", cols[i], f.Type)
		}
		if f.Type == formats.Decimal && (f.Precision < 1 || f.Precision > formats.MaxDecimalPrecision || f.Scale < 0 || f.Scale > f.Precision) {
			return nil, fmt.Errorf("parquet encoder: column %q: %s is not a valid decimal size (precision 1 to %d, scale 0 to precision)", cols[i], f.TypeName(), formats.MaxDecimalPrecision)
		}
	}
	for i, f := range schema.Fields {
		e.types[i] = f.Type
		e.local[i] = f.IsLocal()
		if f.Type == formats.Decimal {
			e.dec[i] = decimalCol{precision: f.Precision, scale: f.Scale, size: decimalBytes(f.Precision)}
		}
	}
	if _, err := e.schema(nil); err != nil { // check names now; encodings come with the first batch
		return nil, err
	}
	e.nulls = make([]parquet.Value, n)
	e.fixed = make([][]byte, n)
	// The batches start empty and grow as rows arrive (see newBatch): a
	// small result allocates for its rows only.
	e.cur, e.spare = newBatch(n), newBatch(n)
	for i := range e.vals {
		e.vals[i] = make([]parquet.Value, rowsPerWrite)
		e.nulls[i] = parquet.Value{}.Level(0, 0, i)
		if e.types[i] == formats.Timestamp {
			e.ts[i] = lookertext.NewTimestamps(opts.Location)
		}
	}
	return e, nil
}

type encoder struct {
	out       io.Writer
	codec     compress.Codec
	pageBytes int
	dict      Dictionary
	pageVer   int             // data page version, 1 or 2
	w         *parquet.Writer // created with the first batch
	dictCols  []bool          // columns written with a dictionary
	cols      []string
	types     []formats.Type
	local     []bool                   // wall-clock timestamps (formats.Field.Local)
	dec       []decimalCol             // Decimal columns' sizes; zero elsewhere
	ts        []*lookertext.Timestamps // per Timestamp column: a reader is not shared between goroutines
	// vals[i] holds rowsPerWrite values of column i on their way to its
	// column writer: parquet-go's column writers take values column by
	// column, with no row-to-column pass, and two goroutines write the
	// columns (see writeColumns).
	vals [][]parquet.Value
	// cur is the batch WriteRow fills while the other one is written on
	// two goroutines of its own (see handOff); spare is that other one
	// once written, nil while it is.
	cur, spare *batch
	flushing   chan flushed    // the written batch, while one is; else nil
	fixed      [][]byte        // a column's FIXED_LEN_BYTE_ARRAY decimals of the batch
	nulls      []parquet.Value // each column's null, levels set
	batchRows  int             // rows per batch
	rows       int64           // rows accepted
	rgBytes    int64
	rgBase     int64 // w.Size() when the current row group started
	err        error
	closed     bool
}

// schema builds the file schema; dict marks the columns to dictionary
// encode (nil: none).
func (e *encoder) schema(dict []bool) (*parquet.Schema, error) {
	nodes := make([]parquet.Node, len(e.types))
	for i, t := range e.types {
		var leaf parquet.Node
		switch t {
		case formats.String:
			leaf = parquet.String()
		case formats.Int64:
			leaf = parquet.Leaf(parquet.Int64Type)
		case formats.Double:
			leaf = parquet.Leaf(parquet.DoubleType)
		case formats.Bool:
			leaf = parquet.Leaf(parquet.BooleanType)
		case formats.Date:
			leaf = parquet.Date()
		case formats.Timestamp:
			leaf = parquet.TimestampAdjusted(parquet.Microsecond, !e.local[i])
		case formats.Decimal:
			d := e.dec[i]
			switch {
			case d.precision <= 9:
				leaf = parquet.Decimal(d.scale, d.precision, parquet.Int32Type)
			case d.precision <= 18:
				leaf = parquet.Decimal(d.scale, d.precision, parquet.Int64Type)
			default:
				leaf = parquet.Decimal(d.scale, d.precision, parquet.FixedLenByteArrayType(d.size))
			}
		}
		// Every encoding is set: parquet-go's default for BYTE_ARRAY is
		// DELTA_LENGTH_BYTE_ARRAY, which Spark's vectorized reader before
		// 3.3 cannot read. PLAIN (with RLE levels) and RLE_DICTIONARY are
		// read everywhere.
		if dict != nil && dict[i] {
			leaf = parquet.Encoded(leaf, &parquet.RLEDictionary)
		} else {
			leaf = parquet.Encoded(leaf, &parquet.Plain)
		}
		nodes[i] = parquet.Optional(leaf)
	}
	root, err := newOrderedGroup(e.cols, nodes)
	if err != nil {
		return nil, fmt.Errorf("parquet encoder: %w", err)
	}
	return parquet.NewSchema("looker_result", root), nil
}

// start creates the parquet writer, choosing the dictionary columns from
// the rows of the first batch, e.cur (see DictionaryAuto).
func (e *encoder) start() error {
	e.dictCols = make([]bool, len(e.types))
	for i, t := range e.types {
		if t != formats.String {
			continue
		}
		switch e.dict {
		case DictionaryAll:
			e.dictCols[i] = true
		case DictionaryAuto:
			e.dictCols[i] = e.cur.fewDistinct(i)
		}
	}
	schema, err := e.schema(e.dictCols)
	if err != nil {
		return err
	}
	options := []parquet.WriterOption{
		schema,
		parquet.Compression(e.codec),
		parquet.PageBufferSize(e.pageBytes),
		parquet.DataPageVersion(e.pageVer),
		parquet.DataPageStatistics(true),
		parquet.DictionaryMaxBytes(dictMaxBytes),
		parquet.CreatedBy("lookerexport", "", ""),
	}
	for i, d := range e.dec {
		// parquet-go orders FIXED_LEN_BYTE_ARRAY bounds as unsigned bytes,
		// which puts negative decimals above positive ones: such a
		// column gets no min/max rather than wrong ones a reader would
		// skip row groups by.
		if e.types[i] == formats.Decimal && d.precision > 18 {
			options = append(options, parquet.SkipPageBounds(e.cols[i]), parquet.SkipPageStatistics(e.cols[i]))
		}
	}
	config, err := parquet.NewWriterConfig(options...)
	if err != nil {
		return fmt.Errorf("parquet encoder: configure writer: %w", err)
	}
	e.w = parquet.NewWriter(e.out, config)
	return nil
}

// fewDistinct reports whether column i of the batch has at most one
// distinct non-null value per dictSampleRatio non-null values, and at most
// dictMaxDistinct of them. A column with no non-null value in the sample
// stays plain.
func (b *batch) fewDistinct(i int) bool {
	seen := make(map[string]struct{})
	nonNull := 0
	for _, c := range b.raw[i] {
		if c.start < 0 {
			continue
		}
		nonNull++
		if _, ok := seen[string(b.text(c))]; !ok {
			if len(seen) >= dictMaxDistinct {
				return false
			}
			seen[string(b.text(c))] = struct{}{}
		}
	}
	return nonNull > 0 && len(seen)*dictSampleRatio <= nonNull
}

// WriteRow adds one row to the current batch: its values' bytes, column
// by column. They are converted when the batch is written (see
// writeColumns), on two goroutines.
func (e *encoder) WriteRow(row formats.Row) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return fmt.Errorf("parquet encoder: WriteRow after Close")
	}
	if len(row) != len(e.types) {
		e.err = fmt.Errorf("parquet encoder: row %d has %d cells, the schema has %d columns", e.rows+1, len(row), len(e.types))
		return e.err
	}
	b := e.cur
	if b.n == 0 {
		b.first = e.rows + 1
	}
	for i, c := range row {
		if c.Null {
			b.raw[i] = append(b.raw[i], rawCell{start: -1})
			continue
		}
		start := len(b.arena)
		b.arena = append(b.arena, c.Value...)
		b.raw[i] = append(b.raw[i], rawCell{start: start, end: len(b.arena)})
	}
	b.n++
	e.rows++
	if b.n == e.batchRows {
		return e.handOff()
	}
	return nil
}

// batch is rows as WriteRow took them, column by column.
type batch struct {
	raw   [][]rawCell // per column
	arena []byte      // the values' bytes (rows are not retained)
	n     int         // rows
	first int64       // the encoder's row number of the first row
}

// newBatch returns an empty batch of cols columns. Its columns grow as
// WriteRow appends to them and keep their capacity across reset, so a
// result smaller than a batch allocates for its own rows, not batchRows
// (12 columns: 768 KiB of cells a batch, besides the values' bytes),
// and a larger one stops allocating once its first two batches are full.
func newBatch(cols int) *batch {
	return &batch{raw: make([][]rawCell, cols)}
}

func (b *batch) reset() {
	for i := range b.raw {
		b.raw[i] = b.raw[i][:0]
	}
	b.arena, b.n = b.arena[:0], 0
}

// flushed is a batch written on its own goroutines, and how it went.
type flushed struct {
	b     *batch
	n     int         // its rows
	fault *valueFault // the first value that did not parse
	err   error
}

// valueFault is a value of a batch that does not fit its column.
type valueFault struct {
	row   int64 // the encoder's row number
	col   int
	value []byte
	err   error
}

// handOff starts writing the full batch on goroutines of its own and
// gives WriteRow the other one, once that is written: decoding the next
// rows (on the caller's goroutine) overlaps converting and encoding these
// (on two more), with two batches of memory.
func (e *encoder) handOff() error {
	if err := e.waitFlush(); err != nil {
		return err
	}
	if e.w == nil {
		if err := e.start(); err != nil {
			e.err = err
			return err
		}
	}
	b := e.cur
	e.cur, e.spare = e.spare, nil
	e.flushing = make(chan flushed, 1)
	go func() { e.flushing <- e.flush(b) }()
	return nil
}

// waitFlush waits for the batch being written, if any, and takes its
// outcome: the batch back as spare, or the encoder's error.
func (e *encoder) waitFlush() error {
	if e.flushing == nil {
		return nil
	}
	f := <-e.flushing
	e.flushing = nil
	if f.fault != nil {
		return e.fail(f.fault.row, f.fault.col, f.fault.value, f.fault.err)
	}
	if f.err != nil {
		e.err = f.err
		return e.err
	}
	f.b.reset()
	e.spare = f.b
	// The row group is cut here, on the caller's goroutine: the flush
	// goroutines touch only the column writers' memory, never the output,
	// so a run that stops on an error while one is busy leaves nothing
	// writing to a file being discarded.
	if e.w.Size()-e.rgBase >= e.rgBytes {
		if err := e.w.Flush(); err != nil {
			e.err = fmt.Errorf("parquet encoder: write row group ending at row %d: %w", f.b.first+int64(f.n)-1, err)
			return e.err
		}
		e.rgBase = e.w.Size()
	}
	return nil
}

// flush hands batch b to the column writers, which keep the pages in
// memory until the row group is written (see waitFlush). While it runs,
// nothing else touches e.w.
func (e *encoder) flush(b *batch) flushed {
	f := flushed{b: b, n: b.n}
	if b.n > 0 {
		fault, err := e.writeColumns(b)
		if err != nil {
			err = fmt.Errorf("parquet encoder: write rows up to row %d: %w", b.first+int64(b.n)-1, err)
		}
		f.fault, f.err = fault, err
	}
	return f
}

// rawCell is a value of a batch as Looker sent it: its arena[start:end],
// or null when start is negative.
type rawCell struct{ start, end int }

// text is a non-null value of the batch as Looker sent it.
func (b *batch) text(c rawCell) []byte { return b.arena[c.start:c.end:c.end] }

// convertRows turns rows from to to-1 of column i of the batch into
// parquet values in vals[:to-from]. It touches nothing another column's
// conversion does (its own timestamp reader and decimal bytes), so two
// run side by side. On a value that does not parse it returns the
// value's row in the batch.
func (e *encoder) convertRows(b *batch, i, from, to int, vals []parquet.Value) (int, error) {
	for r := from; r < to; r++ {
		c := b.raw[i][r]
		if c.start < 0 {
			vals[r-from] = e.nulls[i]
			continue
		}
		text := b.text(c)
		kind, ptr, u64 := parquet.ByteArray, unsafe.SliceData(text), uint64(len(text))
		switch e.types[i] {
		case formats.String:
		case formats.Int64:
			x, err := lookertext.ParseInteger(text)
			if err != nil {
				return r, err
			}
			kind, ptr, u64 = parquet.Int64, nil, uint64(x)
		case formats.Double:
			x, err := lookertext.ParseFloat(text)
			if err != nil {
				return r, err
			}
			kind, ptr, u64 = parquet.Double, nil, math.Float64bits(x)
		case formats.Bool:
			x, err := lookertext.ParseBool(text)
			if err != nil {
				return r, err
			}
			kind, ptr, u64 = parquet.Boolean, nil, 0
			if x {
				u64 = 1
			}
		case formats.Date:
			x, err := lookertext.ParseDate(text)
			if err != nil {
				return r, err
			}
			kind, ptr, u64 = parquet.Int32, nil, uint64(x)
		case formats.Timestamp:
			var x int64
			var err error
			if e.local[i] {
				x, err = lookertext.ParseWall(text)
			} else {
				x, err = e.ts[i].Parse(text)
			}
			if err != nil {
				return r, err
			}
			kind, ptr, u64 = parquet.Int64, nil, uint64(x)
		case formats.Decimal:
			d := e.dec[i]
			x, err := lookertext.ParseDecimal(text, d.precision, d.scale)
			if err != nil {
				return r, err
			}
			switch {
			case d.precision <= 9:
				kind, ptr, u64 = parquet.Int32, nil, uint64(int32(x.Int64()))
			case d.precision <= 18:
				kind, ptr, u64 = parquet.Int64, nil, uint64(x.Int64())
			default:
				start := len(e.fixed[i])
				e.fixed[i] = x.AppendBigEndian(e.fixed[i], d.size)
				kind, ptr, u64 = parquet.FixedLenByteArray, &e.fixed[i][start], uint64(d.size)
			}
		}
		putLeveled(&vals[r-from], kind, ptr, u64, i)
	}
	return -1, nil
}

// fail makes the encoder's error a *formats.ValueError for the value v of
// row and column col: reported at the encoder's current row, e.rows.
func (e *encoder) fail(row int64, col int, v []byte, err error) error {
	typ := e.types[col].String()
	if d := e.dec[col]; e.types[col] == formats.Decimal {
		typ = fmt.Sprintf("DECIMAL(%d,%d)", d.precision, d.scale)
	}
	e.err = fmt.Errorf("parquet encoder: %w", &formats.ValueError{Row: row, Behind: e.rows - row, Column: e.cols[col], Type: typ, Value: v, Err: err})
	return e.err
}

// writeColumns converts the batch and hands it to the row group's column
// writers, on two goroutines taking columns in turn: each column's
// conversion and writer (its buffer, pages, dictionary and compression)
// is its own, so they parse, encode and compress side by side while the
// caller waits, which puts the second core to work on the part of a
// conversion that costs the most. A column gets its values in slices of
// 64 rows, as parquet-go's own row writer hands them over, so pages are
// cut where they would be. A value that does not parse fails the batch
// with the first such value, by row then column.
func (e *encoder) writeColumns(b *batch) (*valueFault, error) {
	cws := e.w.ColumnWriters()
	bad := make([]int, len(cws)) // the batch row of a value that does not parse; -1
	errs := make([]error, len(cws))
	var next atomic.Int32
	work := func() error {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(cws) {
				return nil
			}
			// Converted and written rowsPerWrite values at a time, so
			// that they are still in the cache when the column writer
			// takes them, and a batch holds no values besides its cells.
			e.fixed[i] = e.fixed[i][:0]
			for from := 0; from < len(b.raw[i]); from += rowsPerWrite {
				to := min(from+rowsPerWrite, len(b.raw[i]))
				if bad[i], errs[i] = e.convertRows(b, i, from, to, e.vals[i]); errs[i] != nil {
					break
				}
				if _, err := cws[i].WriteRowValues(e.vals[i][:to-from]); err != nil {
					return fmt.Errorf("column %q: %w", e.cols[i], err)
				}
			}
		}
	}
	var err error
	if len(cws) < 2 {
		err = work()
	} else {
		done := make(chan error, 1)
		go func() { done <- work() }()
		err = work()
		if err2 := <-done; err == nil {
			err = err2
		}
	}
	col := -1
	for i := range errs {
		if errs[i] != nil && (col < 0 || bad[i] < bad[col]) {
			col = i
		}
	}
	if col >= 0 {
		return &valueFault{row: b.first + int64(bad[col]), col: col, value: slices.Clone(b.text(b.raw[col][bad[col]])), err: errs[col]}, nil
	}
	return nil, err
}

// rowsPerWrite is how many values a column writer takes at a time.
const rowsPerWrite = 64

// Close writes the buffered rows, the last row group and the footer. It
// never closes the underlying writer. Calling it again returns the first
// call's error, or nil.
func (e *encoder) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	if e.err != nil {
		if e.flushing != nil { // let the batch's goroutines end; the first error stands
			<-e.flushing
			e.flushing = nil
		}
		return e.err
	}
	if err := e.waitFlush(); err != nil {
		return err
	}
	if e.w == nil { // fewer rows than a batch
		if err := e.start(); err != nil {
			e.err = err
			return err
		}
	}
	e.flushing = make(chan flushed, 1)
	e.flushing <- e.flush(e.cur)
	if err := e.waitFlush(); err != nil {
		return err
	}
	if err := e.w.Close(); err != nil {
		e.err = fmt.Errorf("parquet encoder: write footer: %w", err)
		return e.err
	}
	return nil
}

// decimalCol is the size of a Decimal column and the width of its
// FIXED_LEN_BYTE_ARRAY (precision above 18).
type decimalCol struct {
	precision, scale, size int
}

// decimalBytes is the fewest bytes whose two's complement holds every
// integer of precision digits: ceil((ceil(precision × log2 10) + 1) / 8).
func decimalBytes(precision int) int {
	bits := int(math.Ceil(float64(precision)*math.Log2(10))) + 1
	return (bits + 7) / 8
}
