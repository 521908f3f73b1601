package lookerdec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/lookerexport/exporter/formats"
)

const (
	// A decoder reads its first initialBufferBytes, and grows its buffer
	// to readBufferBytes once the body turns out longer: a small result
	// (a burst of many small runs) allocates 4 KiB, not 64.
	initialBufferBytes = 4 << 10
	readBufferBytes    = 64 << 10
	// maxRecordBytes bounds one CSV record or one JSON row (and the json_bi
	// metadata), so a malformed body (an unterminated quote, say) fails
	// instead of growing memory with the size of the result.
	maxRecordBytes = 64 << 20
)

var errTooLong = fmt.Errorf("a single record is longer than %d MiB (unterminated quoted field?)", maxRecordBytes>>20)

// NewCSV returns a reader of a Looker "csv" result: RFC 4180, a header row
// of field labels, then one record per row.
//
// The schema has one String field per header column, with Name and Label
// both set to the header text (Looker CSV carries no field names). The
// header must exist: an empty body is an error, and so is a header of more
// than formats.MaxColumns columns (an error matching
// formats.ErrTooManyColumns, returned before anything per column is
// allocated). Blank lines before it are
// skipped. A UTF-8 byte order mark
// before the header is dropped. Records end in \n or \r\n; a quoted field
// may hold commas, doubled quotes and line breaks. An empty field, quoted or
// not, is a null cell: Looker CSV cannot tell null from "". A blank line is
// skipped when the header has more than one column (with one column it is a
// row holding one null). Every record must have as many fields as the
// header.
//
// NewCSV reads the header before it returns.
func NewCSV(r io.Reader) (formats.RowReader, error) {
	d, err := readCSVHeader(r)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// NewTypedCSV returns a reader of a Looker "csv" result whose columns are
// known from elsewhere (the query's fields and their explore, see
// lookerapi.RunOptions.TypedCSV): schema, one field per column in order.
// The header must have as many columns as schema (the labels are the
// client's to check). It reads as NewCSV does, with one difference: in a
// String column a quoted empty field ("") is an empty string, and only a
// field with nothing in it is null; Looker writes an empty string as ""
// and a null as nothing when its CSV writer quotes empty strings (Ruby's
// CSV does). A writer that does not quote them cannot tell the two apart,
// and both are then null. In columns of other types an empty field is
// null either way.
func NewTypedCSV(r io.Reader, schema formats.Schema) (formats.RowReader, error) {
	d, err := readCSVHeader(r)
	if err != nil {
		return nil, err
	}
	if got := len(d.schema.Fields); got != len(schema.Fields) {
		return nil, &DecodeError{Format: "csv", Line: d.recLine, Msg: fmt.Sprintf("the header has %d columns; the query has %d fields", got, len(schema.Fields))}
	}
	d.schema = schema
	d.emptyString = make([]bool, len(schema.Fields))
	for i, f := range schema.Fields {
		d.emptyString[i] = f.Type == formats.String
	}
	return d, nil
}

func readCSVHeader(r io.Reader) (*csvReader, error) {
	d := &csvReader{r: r, buf: make([]byte, initialBufferBytes)}
	ok, blank, err := d.readRecord()
	for ok && blank && err == nil { // blank lines before the header
		ok, blank, err = d.readRecord()
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &DecodeError{Format: "csv", Line: 1, Msg: "the body is empty: expected a header row of column labels"}
	}
	if err := formats.CheckColumns(d.width); err != nil {
		return nil, fmt.Errorf("decode looker csv header: %w", err)
	}
	fields := make([]formats.Field, len(d.cells))
	for i, c := range d.cells {
		label := c.Value
		if i == 0 {
			label = bytes.TrimPrefix(label, []byte("\xef\xbb\xbf"))
		}
		fields[i] = formats.Field{Name: string(label), Label: string(label), Type: formats.String}
	}
	d.schema = formats.Schema{Fields: fields}
	return d, nil
}

type csvReader struct {
	r        io.Reader
	buf      []byte
	pos, end int   // unread input is buf[pos:end]
	base     int64 // body offset of buf[0]
	eof      bool
	rerr     error // read error, returned once the buffered input is used up
	line     int   // lines consumed so far
	row      int   // data rows returned so far
	schema   formats.Schema
	cells    formats.Row // the fields of the current record, at most formats.MaxColumns+1
	width    int         // how many fields the current record has
	scratch  []byte      // unescaped quoted fields of the current record
	err      error       // sticky: io.EOF or the first error
	// emptyString marks the columns where a quoted empty field is an
	// empty string, not null (NewTypedCSV).
	emptyString []bool

	recLine   int   // first line of the last record read
	recOffset int64 // body offset of the last record read
}

func (d *csvReader) Schema() formats.Schema { return d.schema }

func (d *csvReader) Next() (formats.Row, error) {
	if d.err != nil {
		return nil, d.err
	}
	for {
		ok, blank, err := d.readRecord()
		if err != nil {
			d.err = err
			return nil, err
		}
		if !ok {
			d.err = io.EOF
			return nil, io.EOF
		}
		if blank && len(d.schema.Fields) > 1 {
			continue
		}
		d.row++
		if d.width != len(d.schema.Fields) {
			d.err = &DecodeError{Format: "csv", Row: d.row, Line: d.recLine, Offset: d.recOffset,
				Msg: fmt.Sprintf("has %d fields, the header has %d", d.width, len(d.schema.Fields))}
			return nil, d.err
		}
		return d.cells, nil
	}
}

// readRecord parses the next record into d.cells. ok is false at the end of
// the body; blank reports a record that was an empty line.
func (d *csvReader) readRecord() (ok, blank bool, err error) {
	for {
		if d.pos == d.end && d.eof {
			return false, false, nil
		}
		data := d.buf[d.pos:d.end]
		n, more, perr := d.parseRecord(data, d.eof)
		if perr != nil {
			return false, false, perr
		}
		if !more {
			blank = n <= 2 && d.width == 1 && d.cells[0].Null && data[0] != '"'
			d.recLine, d.recOffset = d.line+1, d.base+int64(d.pos)
			d.line += bytes.Count(data[:n], []byte{'\n'})
			d.pos += n
			return true, blank, nil
		}
		if err := d.fill(); err != nil {
			return false, false, err
		}
	}
}

// fill reads more input, keeping the unread bytes.
func (d *csvReader) fill() error {
	// The record is parsed again from its start after the refill, so read
	// at least as much as is already buffered: the re-parsing then costs
	// O(record) in total, not O(record²) when the body trickles in.
	return fillBuffer(&d.r, &d.buf, &d.pos, &d.end, &d.base, &d.eof, &d.rerr, d.end-d.pos, func(err error) error {
		if errors.Is(err, errTooLong) {
			return &DecodeError{Format: "csv", Row: d.row + 1, Line: d.line + 1, Offset: d.base + int64(d.pos), Msg: err.Error()}
		}
		return fmt.Errorf("read looker csv body at row %d: %w", d.row+1, err)
	})
}

// fillBuffer moves buf[pos:end] to the front of buf, grows buf to
// readBufferBytes once initialBufferBytes of the body are consumed, and
// further when the unread part fills more than half of it, and reads at
// least minRead bytes (at least one), or up to a full buffer, or to the
// end of the body (then it sets eof). Errors pass through wrap.
func fillBuffer(r *io.Reader, buf *[]byte, pos, end *int, base *int64, eof *bool, rerr *error, minRead int, wrap func(error) error) error {
	if *rerr != nil {
		return *rerr
	}
	// The body is longer than a small one once a first buffer's worth of
	// it is consumed.
	long := *base+int64(*pos) >= initialBufferBytes
	if *pos > 0 {
		copy(*buf, (*buf)[*pos:*end])
		*base += int64(*pos)
		*end -= *pos
		*pos = 0
	}
	if size := len(*buf); (*end > size/2 && size < maxRecordBytes) || (long && size < readBufferBytes) {
		nb := make([]byte, min(max(2*size, readBufferBytes), maxRecordBytes))
		copy(nb, (*buf)[:*end])
		*buf = nb
	}
	if *end == len(*buf) {
		*rerr = wrap(errTooLong)
		return *rerr
	}
	got := 0
	for empty := 0; ; {
		n, err := (*r).Read((*buf)[*end:])
		*end += n
		got += n
		switch {
		case err == io.EOF:
			*eof = true
			return nil
		case err != nil:
			*rerr = wrap(err)
			if got > 0 {
				return nil
			}
			return *rerr
		case got > 0 && (got >= minRead || *end == len(*buf)):
			return nil
		case n == 0:
			if empty++; empty >= 100 {
				*rerr = wrap(io.ErrNoProgress)
				return *rerr
			}
		}
	}
}

// parseRecord parses one record from the start of data into d.cells and
// returns the bytes it spans. more reports that data ends inside the record
// and more input is needed (never when atEOF). Cells point into data or
// d.scratch.
func (d *csvReader) parseRecord(data []byte, atEOF bool) (n int, more bool, err error) {
	d.cells = d.cells[:0]
	d.width = 0
	d.scratch = d.scratch[:0]
	i := 0
	for {
		if i < len(data) && data[i] == '"' {
			// Quoted field.
			j := i + 1
			seg := j
			sstart := len(d.scratch)
			escaped := false
			var k int
			for {
				k = bytes.IndexByte(data[j:], '"')
				if k < 0 {
					if !atEOF {
						return 0, true, nil
					}
					return 0, false, d.errAt(data, i, "quoted field has no closing '\"'")
				}
				k += j
				if k+1 < len(data) && data[k+1] == '"' {
					d.scratch = append(d.scratch, data[seg:k+1]...)
					escaped = true
					j = k + 2
					seg = j
					continue
				}
				if k+1 == len(data) && !atEOF {
					return 0, true, nil
				}
				break
			}
			v := data[i+1 : k]
			if escaped {
				d.scratch = append(d.scratch, data[seg:k]...)
				v = d.scratch[sstart:]
			}
			d.add(formats.Cell{Value: v, Null: len(v) == 0 && !(d.width < len(d.emptyString) && d.emptyString[d.width])})
			next := k + 1
			if next == len(data) { // atEOF
				return next, false, nil
			}
			switch data[next] {
			case ',':
				i = next + 1
				if i == len(data) {
					if !atEOF {
						return 0, true, nil
					}
					d.add(formats.Cell{Null: true})
					return i, false, nil
				}
				continue
			case '\n':
				return next + 1, false, nil
			case '\r':
				if next+1 < len(data) && data[next+1] == '\n' {
					return next + 2, false, nil
				}
				if next+1 == len(data) {
					if !atEOF {
						return 0, true, nil
					}
					return next + 1, false, nil
				}
			}
			return 0, false, d.errAt(data, next, fmt.Sprintf("unexpected %q after the closing quote of a quoted field", data[next]))
		}
		// Unquoted field.
		j := unquotedEnd(data, i)
		if j == len(data) {
			if !atEOF {
				return 0, true, nil
			}
			d.add(unquoted(data[i:j]))
			return j, false, nil
		}
		switch data[j] {
		case ',':
			d.add(unquoted(data[i:j]))
			i = j + 1
			if i == len(data) {
				if !atEOF {
					return 0, true, nil
				}
				d.add(formats.Cell{Null: true})
				return i, false, nil
			}
		case '\n':
			d.add(unquoted(data[i:j]))
			return j + 1, false, nil
		default: // '"'
			return 0, false, d.errAt(data, j, "bare '\"' in an unquoted field (a field holding quotes must be quoted)")
		}
	}
}

// fieldEnd marks the bytes that end an unquoted field (or make it an
// error): one load per byte instead of three comparisons.
var fieldEnd = [256]bool{',': true, '\n': true, '"': true}

// unquotedEnd returns the index of the first byte of data from i on that
// ends an unquoted field (fieldEnd), or len(data). It tests eight bytes
// at a time: the validating side of a passthrough spends most of its
// time here (BenchmarkPassthroughDecode).
func unquotedEnd(data []byte, i int) int {
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		if m := zeroBytes(x^(ones*',')) | zeroBytes(x^(ones*'\n')) | zeroBytes(x^(ones*'"')); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(data) && !fieldEnd[data[i]] {
		i++
	}
	return i
}

const ones = 0x0101010101010101

// zeroBytes sets the high bit of the first zero byte of x (in memory
// order, little endian) and maybe of later bytes: a borrow may mark a
// byte above a zero one, never one below it, so the lowest mark is exact.
func zeroBytes(x uint64) uint64 { return (x - ones) &^ x & (ones * 0x80) }

// add appends a field to the current record. Past formats.MaxColumns+1
// fields it only counts them: a record that wide is an error, and keeping
// its cells would let one line of commas grow memory.
func (d *csvReader) add(c formats.Cell) {
	d.width++
	if len(d.cells) <= formats.MaxColumns {
		d.cells = append(d.cells, c)
	}
}

// unquoted returns the cell of an unquoted field, dropping the \r of a \r\n
// line end.
func unquoted(v []byte) formats.Cell {
	if n := len(v); n > 0 && v[n-1] == '\r' {
		v = v[:n-1]
	}
	return formats.Cell{Value: v, Null: len(v) == 0}
}

func (d *csvReader) errAt(data []byte, i int, msg string) error {
	row := d.row + 1
	if d.schema.Fields == nil {
		row = 0 // the header
	}
	return &DecodeError{
		Format:  "csv",
		Row:     row,
		Line:    d.line + 1 + bytes.Count(data[:i], []byte{'\n'}),
		Offset:  d.base + int64(d.pos) + int64(i),
		Snippet: snippet(data, i, 32),
		Msg:     msg,
	}
}
