// Package csvenc encodes rows as RFC 4180 CSV.
package csvenc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/lookerexport/exporter/formats"
)

// Header selects the header row.
type Header string

// Header rows.
const (
	HeaderNames  Header = "names"  // output column names (Options.Columns); the default
	HeaderLabels Header = "labels" // Looker labels, falling back to the field name
	HeaderNone   Header = "none"   // no header row
)

// Options configures the encoder. The zero value is valid.
type Options struct {
	// Header is the header row; "" means HeaderNames.
	Header Header
	// Columns are the output column names, one per schema field; nil means
	// formats.ColumnNames(schema, formats.NameUnderscore).
	Columns []string
	// CRLF ends records with \r\n instead of \n.
	CRLF bool
}

// New returns a CSV encoder writing to w.
//
// Values are written as their text, as Looker sent them: times stay in
// the query's time zone, and wall-clock times (formats.Field.Local) are
// unchanged too. A field is quoted when it contains a
// comma, a quote, \r or \n (quotes doubled), and an empty non-null string
// is written as "" so that readers which tell the two apart (BigQuery,
// DuckDB) keep it distinct from null, which is written as nothing. The
// header is written with the first row, or on Close when there are no rows.
// Invalid options (an unknown header, a column count that differs from the
// schema) are reported by the first WriteRow or Close. Output is buffered;
// Close flushes it and never closes w.
func New(w io.Writer, schema formats.Schema, opts Options) formats.RowWriter {
	e := &encoder{w: bufio.NewWriterSize(w, 64<<10), n: len(schema.Fields), eol: "\n"}
	if opts.CRLF {
		e.eol = "\r\n"
	}
	var header []string
	switch opts.Header {
	case "", HeaderNames:
		header = opts.Columns
		if header == nil {
			header = formats.ColumnNames(schema, formats.NameUnderscore)
		}
	case HeaderLabels:
		header = formats.ColumnNames(schema, formats.NameLabel)
	case HeaderNone:
	default:
		e.err = fmt.Errorf("csv encoder: unknown header %q: use %q, %q or %q", opts.Header, HeaderNames, HeaderLabels, HeaderNone)
		return e
	}
	if opts.Columns != nil && len(opts.Columns) != len(schema.Fields) {
		e.err = fmt.Errorf("csv encoder: %d column names for %d fields", len(opts.Columns), len(schema.Fields))
		return e
	}
	e.header = header
	e.needHeader = opts.Header != HeaderNone
	return e
}

type encoder struct {
	w          *bufio.Writer
	n          int
	eol        string
	header     []string
	needHeader bool
	rows       int
	err        error
	closed     bool
}

func (e *encoder) writeHeader() {
	e.needHeader = false
	for i, h := range e.header {
		if i > 0 {
			e.w.WriteByte(',')
		}
		e.field([]byte(h), false)
	}
	e.w.WriteString(e.eol)
}

// WriteRow writes one record. It fails if the row has the wrong number of
// cells or the underlying writer failed.
func (e *encoder) WriteRow(row formats.Row) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return fmt.Errorf("csv encoder: WriteRow after Close")
	}
	if e.needHeader {
		e.writeHeader()
	}
	e.rows++
	if len(row) != e.n {
		e.err = fmt.Errorf("csv encoder: row %d has %d cells, the schema has %d columns", e.rows, len(row), e.n)
		return e.err
	}
	for i, c := range row {
		if i > 0 {
			e.w.WriteByte(',')
		}
		if !c.Null {
			e.field(c.Value, true)
		}
	}
	if _, err := e.w.WriteString(e.eol); err != nil {
		e.err = fmt.Errorf("csv encoder: write row %d: %w", e.rows, err)
	}
	return e.err
}

func (e *encoder) field(v []byte, quoteEmpty bool) {
	if len(v) == 0 {
		if quoteEmpty {
			e.w.WriteString(`""`)
		}
		return
	}
	if !needsQuotes(v) {
		e.w.Write(v)
		return
	}
	e.w.WriteByte('"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		e.w.Write(v[:i+1])
		e.w.WriteByte('"')
		v = v[i+1:]
	}
	e.w.Write(v)
	e.w.WriteByte('"')
}

func needsQuotes(v []byte) bool {
	for _, c := range v {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

// Close writes the header if no row did, and flushes. It never closes the
// underlying writer. Calling it again returns nil.
func (e *encoder) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if e.err != nil {
		return e.err
	}
	if e.needHeader {
		e.writeHeader()
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("csv encoder: flush: %w", err)
		return e.err
	}
	return nil
}
