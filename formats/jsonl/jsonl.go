// Package jsonl encodes rows as JSON lines: one object per line, keys in
// schema order, values typed by the schema.
package jsonl

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/lookertext"
)

// Options configures the encoder. The zero value is valid.
type Options struct {
	// Columns are the output keys, one per schema field; nil means
	// formats.ColumnNames(schema, formats.NameUnderscore).
	Columns []string
	// Location is the zone Looker rendered the result's times in (the
	// query's time zone), where zone-less times are read; nil means UTC.
	// Wall-clock columns (formats.Field.Local) are not read in it.
	Location *time.Location
}

// New returns a JSON lines encoder writing to w.
//
// Values by column type:
//   - Int64: the integer, as a number (a valid integer literal is copied,
//     "+7" or "007" are normalised, and an exact integer in another
//     spelling, "12.0" or "1.2e1", is written 12); anything else, "12.5"
//     among it, is an error: nothing is rounded.
//   - Double: the literal when it is a JSON number; other text that
//     strconv.ParseFloat accepts (".5", "1e3", "+2") is rewritten; NaN,
//     infinities and non-numbers are errors.
//   - Bool: Yes/No, true/false (any case), 1/0 -> true/false.
//   - Date: "YYYY-MM-DD" checked and written as that string.
//   - Timestamp: an RFC 3339 string in UTC ("2026-03-01T10:15:00Z", with
//     microseconds when non-zero), read from Looker's
//     "YYYY-MM-DD HH:MM:SS[.ffffff]" in Options.Location or from a value
//     with an offset (see lookertext.Timestamps for the DST rule).
//   - Timestamp of a wall-clock field (formats.Field.Local): the wall clock
//     as Looker sent it, "2026-03-01T10:15:00" (with up to six fraction
//     digits when non-zero), no offset; a value with an offset is an error.
//   - Decimal: a JSON string holding the exact number with exactly Scale
//     decimals ("12.50", "-0.05"), read from any decimal literal that fits
//     the column ("12.5", "1.25e1"); too many decimal places or digits is
//     an error, never rounded. A string, not a number: JSON readers
//     (BigQuery's among them for NUMERIC and BIGNUMERIC, Snowflake,
//     Python's json) may read a number through a float64 and lose digits;
//     every warehouse casts the string exactly.
//   - String: a JSON string; invalid UTF-8 becomes U+FFFD.
//   - null cells: null, whatever the type.
//
// Errors name the row, the column and the value. Invalid options are
// reported by the first WriteRow or Close. Output goes through a
// bufio.Writer; Close flushes it and never closes w.
func New(w io.Writer, schema formats.Schema, opts Options) formats.RowWriter {
	e := &encoder{w: bufio.NewWriterSize(w, 64<<10), types: make([]formats.Type, len(schema.Fields)),
		ts: lookertext.NewTimestamps(opts.Location)}
	cols := opts.Columns
	if cols == nil {
		cols = formats.ColumnNames(schema, formats.NameUnderscore)
	}
	if len(cols) != len(schema.Fields) {
		e.err = fmt.Errorf("jsonl encoder: %d column names for %d fields", len(cols), len(schema.Fields))
		return e
	}
	e.cols = cols
	e.keys = make([][]byte, len(cols))
	for i, c := range cols {
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		e.keys[i] = append(appendString([]byte{sep}, []byte(c)), ':')
		e.types[i] = schema.Fields[i].Type
		if schema.Fields[i].IsLocal() {
			e.types[i] = localTimestamp
		}
		if f := schema.Fields[i]; f.Type == formats.Decimal {
			if f.Precision < 1 || f.Precision > formats.MaxDecimalPrecision || f.Scale < 0 || f.Scale > f.Precision {
				e.err = fmt.Errorf("jsonl encoder: column %q: %s is not a valid decimal size (precision 1 to %d, scale 0 to precision)", c, f.TypeName(), formats.MaxDecimalPrecision)
				return e
			}
			if e.dec == nil {
				e.dec = make([][2]int, len(cols))
			}
			e.dec[i] = [2]int{f.Precision, f.Scale}
		}
	}
	return e
}

// localTimestamp is the type of a wall-clock timestamp column, internal
// to the encoder.
const localTimestamp formats.Type = 255

type encoder struct {
	w      *bufio.Writer
	cols   []string
	keys   [][]byte // `{"name":` or `,"name":`
	types  []formats.Type
	dec    [][2]int // precision and scale of Decimal columns; nil without any
	ts     *lookertext.Timestamps
	line   []byte
	rows   int
	err    error
	closed bool
}

// WriteRow encodes one row. The line is built in memory and written only if
// every value is valid, so a failed row leaves no partial line.
func (e *encoder) WriteRow(row formats.Row) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return fmt.Errorf("jsonl encoder: WriteRow after Close")
	}
	e.rows++
	if len(row) != len(e.types) {
		e.err = fmt.Errorf("jsonl encoder: row %d has %d cells, the schema has %d columns", e.rows, len(row), len(e.types))
		return e.err
	}
	b := e.line[:0]
	if len(row) == 0 {
		b = append(b, '{')
	}
	for i, c := range row {
		b = append(b, e.keys[i]...)
		if c.Null {
			b = append(b, "null"...)
			continue
		}
		var err error
		if b, err = e.value(b, i, c.Value); err != nil {
			e.err = fmt.Errorf("jsonl encoder: row %d, column %q: value %q: %w", e.rows, e.cols[i], truncate(c.Value), err)
			return e.err
		}
	}
	b = append(b, '}', '\n')
	e.line = b
	if _, err := e.w.Write(b); err != nil {
		e.err = fmt.Errorf("jsonl encoder: write row %d: %w", e.rows, err)
	}
	return e.err
}

func (e *encoder) value(b []byte, col int, v []byte) ([]byte, error) {
	switch e.types[col] {
	case formats.Int64:
		if lookertext.IsIntLiteral(v) {
			return append(b, v...), nil
		}
		n, err := lookertext.ParseInteger(v)
		if err != nil {
			return b, err
		}
		return strconv.AppendInt(b, n, 10), nil
	case formats.Double:
		if lookertext.ValidJSONNumber(v) {
			return append(b, v...), nil
		}
		f, err := lookertext.ParseFloat(v)
		if err != nil {
			return b, err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, fmt.Errorf("NaN and infinities have no JSON form")
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64), nil
	case formats.Bool:
		x, err := lookertext.ParseBool(v)
		if err != nil {
			return b, err
		}
		return strconv.AppendBool(b, x), nil
	case formats.Date:
		if _, err := lookertext.ParseDate(v); err != nil {
			return b, err
		}
		b = append(b, '"')
		b = append(b, v...)
		return append(b, '"'), nil
	case formats.Timestamp:
		us, err := e.ts.Parse(v)
		if err != nil {
			return b, err
		}
		b = append(b, '"')
		b = lookertext.FormatTimestamp(b, us)
		return append(b, '"'), nil
	case formats.Decimal:
		p, sc := e.dec[col][0], e.dec[col][1]
		d, err := lookertext.ParseDecimal(v, p, sc)
		if err != nil {
			return b, err
		}
		b = append(b, '"')
		b = lookertext.AppendDecimal(b, d, sc)
		return append(b, '"'), nil
	case localTimestamp:
		us, err := lookertext.ParseWall(v)
		if err != nil {
			return b, err
		}
		b = append(b, '"')
		b = lookertext.FormatWall(b, us)
		return append(b, '"'), nil
	}
	return appendString(b, v), nil
}

// Close flushes buffered output. It never closes the underlying writer.
// Calling it again returns nil.
func (e *encoder) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if e.err != nil {
		return e.err
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("jsonl encoder: flush: %w", err)
		return e.err
	}
	return nil
}

func truncate(v []byte) string {
	if len(v) > 64 {
		return string(v[:64]) + "..."
	}
	return string(v)
}

const hexDigits = "0123456789abcdef"

// appendString appends v as a JSON string. Control characters, quotes and
// backslashes are escaped, and U+2028/U+2029 too so the output is safe to
// embed in JavaScript; invalid UTF-8 becomes U+FFFD.
func appendString(b, v []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, v[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, v[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, v[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, v[start:]...)
	return append(b, '"')
}
