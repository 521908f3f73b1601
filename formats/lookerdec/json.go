package lookerdec

import (
	"fmt"
	"io"
	"slices"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/internal/lookertext"
)

// NewJSON returns a reader of a Looker "json" result: an array of objects
// keyed by field name ("orders.created_date").
//
// With a nil schema the schema is the first row's keys, in order, with
// empty labels, typed from the first row's values: an integer literal is
// Int64, another number Double, true/false Bool, anything else String. (A
// column whose first value is an integer and a later one a fraction then
// fails in a typed encoder; pass the schema from the query's field metadata
// when it is known.) A result with no rows then has an empty schema.
//
// Values: strings unescaped, numbers as their literal, booleans as "true"
// or "false", null as a null cell, and a nested object or array (a pivoted
// measure) as its compact JSON text. A key missing from a row is null; a
// key not in the schema, or repeated in a row, is an error naming the row.
// A row {"looker_error": "..."} ends the result with a *LookerError.
//
// NewJSON reads up to the end of the first row before it returns.
func NewJSON(r io.Reader, schema *formats.Schema) (formats.RowReader, error) {
	s := newJSONScanner(r, "json")
	d := &jsonRows{s: s}
	c, err := s.next("a JSON array of rows")
	if err != nil {
		return nil, err
	}
	if c == '{' {
		return nil, d.topLevelObject()
	}
	if err := s.expect('[', "'[' starting the array of rows"); err != nil {
		return nil, err
	}
	if schema != nil {
		d.setSchema(*schema)
		return d, nil
	}
	c, err = s.next("a row or ']'")
	if err != nil {
		return nil, err
	}
	if c == ']' {
		d.setSchema(formats.Schema{Fields: []formats.Field{}})
		return d, nil
	}
	s.row = 1
	if err := s.readObject(); err != nil {
		return nil, err
	}
	if err := s.lookerError(); err != nil {
		return nil, err
	}
	fields := make([]formats.Field, len(s.members))
	names := make(map[string]bool, len(s.members))
	for i, m := range s.members {
		if names[string(s.key(m))] {
			return nil, &DecodeError{Format: s.format, Row: 1, Offset: s.base + int64(s.pos),
				Msg: fmt.Sprintf("key %q appears twice in the row", s.key(m))}
		}
		names[string(s.key(m))] = true
		t := formats.String
		switch m.kind {
		case kindNumber:
			t = formats.Double
			if lookertext.IsIntLiteral(s.value(m)) {
				t = formats.Int64
			}
		case kindTrue, kindFalse:
			t = formats.Bool
		}
		fields[i] = formats.Field{Name: string(s.key(m)), Type: t}
	}
	d.setSchema(formats.Schema{Fields: fields})
	if err := d.fillRow(); err != nil {
		return nil, err
	}
	d.pending = true
	d.started = true
	return d, nil
}

// topLevelObject explains a body that is an object instead of an array:
// usually an error document.
func (d *jsonRows) topLevelObject() error {
	if err := d.s.readObject(); err != nil {
		return err
	}
	if err := d.s.lookerError(); err != nil {
		return err
	}
	for _, m := range d.s.members {
		if string(d.s.key(m)) == "message" {
			return fmt.Errorf("decode looker json: the body is an error document, not rows: %q", d.s.value(m))
		}
	}
	return fmt.Errorf("decode looker json: the body is an object, expected an array of rows (was the result format json_bi?)")
}

// jsonRows turns row objects into formats.Rows; NewJSON and NewJSONBI share
// it.
type jsonRows struct {
	s       *jsonScanner
	schema  formats.Schema
	index   map[string]int
	row     formats.Row
	kinds   []byte   // value kind per column for the current row
	seen    []uint32 // generation stamps to detect repeated keys
	gen     uint32
	started bool  // the first row was read
	pending bool  // d.row holds a row not yet returned
	err     error // sticky: io.EOF or the first error
	// after runs once the array's closing ']' is consumed; it reads what
	// follows the array and checks the end of the body.
	after func() error
}

func (d *jsonRows) setSchema(schema formats.Schema) {
	d.schema = schema
	d.index = make(map[string]int, len(schema.Fields))
	for i, f := range schema.Fields {
		if _, dup := d.index[f.Name]; !dup {
			d.index[f.Name] = i
		}
	}
	d.row = make(formats.Row, len(schema.Fields))
	d.kinds = make([]byte, len(schema.Fields))
	d.seen = make([]uint32, len(schema.Fields))
}

func (d *jsonRows) Schema() formats.Schema { return d.schema }

func (d *jsonRows) Next() (formats.Row, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.pending {
		d.pending = false
		return d.row, nil
	}
	row, err := d.next()
	if err != nil {
		d.err = err
		return nil, err
	}
	return row, nil
}

func (d *jsonRows) next() (formats.Row, error) {
	s := d.s
	c, err := s.next("a row or ']'")
	if err != nil {
		return nil, err
	}
	if c == ']' {
		s.pos++
		return nil, d.finish()
	}
	if d.started {
		if c != ',' {
			return nil, s.errorf("expected ',' or ']' after a row, found %q", c)
		}
		s.pos++
	}
	d.started = true
	s.row++
	if err := s.readObject(); err != nil {
		return nil, err
	}
	if err := s.lookerError(); err != nil {
		return nil, err
	}
	if err := d.fillRow(); err != nil {
		return nil, err
	}
	return d.row, nil
}

func (d *jsonRows) finish() error {
	if d.after != nil {
		if err := d.after(); err != nil {
			return err
		}
	}
	if err := d.s.atEnd(); err != nil {
		return err
	}
	return io.EOF
}

// fillRow maps the members of the object just read onto d.row.
func (d *jsonRows) fillRow() error {
	s := d.s
	d.gen++
	if d.gen == 0 { // wrapped: reset the stamps
		clear(d.seen)
		d.gen = 1
	}
	for i := range d.row {
		d.row[i] = formats.Cell{Null: true}
		d.kinds[i] = kindNull
	}
	for j, m := range s.members {
		key := s.key(m)
		idx := -1
		if j < len(d.schema.Fields) && d.schema.Fields[j].Name == string(key) {
			idx = j // keys usually come in schema order
		} else if i, ok := d.index[string(key)]; ok {
			idx = i
		}
		if idx < 0 {
			return &DecodeError{Format: s.format, Row: s.row, Offset: s.base + int64(s.pos),
				Msg: fmt.Sprintf("unknown key %q: not a field of the result (%d fields)", key, len(d.schema.Fields))}
		}
		if d.seen[idx] == d.gen {
			return &DecodeError{Format: s.format, Row: s.row, Offset: s.base + int64(s.pos),
				Msg: fmt.Sprintf("key %q appears twice in the row", key)}
		}
		d.seen[idx] = d.gen
		d.kinds[idx] = m.kind
		if m.kind != kindNull {
			d.row[idx] = formats.Cell{Value: s.value(m)}
		}
	}
	return nil
}

// NewJSONBI returns a reader of a Looker "json_bi" result:
//
//	{"metadata": {"fields": {"dimensions": [...], "measures": [...],
//	  "pivots": [...], "table_calculations": [...]}, ...}, "rows": [{...}]}
//
// The metadata must come before the rows (Looker writes it first); rows
// first is an error. Unknown top-level and metadata keys are skipped. The
// schema is the dimensions, then the measures, then the table calculations,
// in metadata order, with Name, Label, LookMLType and Category from the
// metadata and Type = formats.TypeForLookML(type). Pivot fields are not
// columns: with pivots the measure values are nested objects, kept as JSON
// text.
//
// Table calculations carry no type in json_bi. One with a "type" (or
// "_type_hint") key is typed from it; otherwise the first row decides:
// a number makes it Double, a boolean Bool, anything else (string, null,
// missing, no rows) String. String is the safe default: it holds any value.
//
// Rows are decoded as NewJSON does. A {"looker_error": "..."} at the top
// level or as a row is returned as a *LookerError. NewJSONBI reads the
// metadata (and, when a table calculation needs typing, the first row)
// before it returns.
func NewJSONBI(r io.Reader) (formats.RowReader, error) {
	s := newJSONScanner(r, "json_bi")
	d := &jsonRows{s: s}
	if err := s.expect('{', "'{' starting the json_bi document"); err != nil {
		return nil, err
	}
	var meta []byte
	haveMeta := false
	first := true
	for {
		c, err := s.next("a key or '}'")
		if err != nil {
			return nil, err
		}
		if c == '}' {
			s.pos++
			if !haveMeta {
				return nil, s.errorf("the document has no \"metadata\" and no \"rows\"")
			}
			// Metadata without a rows key: no rows.
			schema, _, err := biSchema(meta)
			if err != nil {
				return nil, s.wrapMeta(err)
			}
			d.setSchema(schema)
			d.err = io.EOF
			if err := s.atEnd(); err != nil {
				return nil, err
			}
			return d, nil
		}
		if !first {
			if c != ',' {
				return nil, s.errorf("expected ',' or '}' after a top-level value, found %q", c)
			}
			s.pos++
			if c, err = s.next("a key"); err != nil {
				return nil, err
			}
		}
		first = false
		if c != '"' {
			return nil, s.errorf("expected a quoted key, found %q", c)
		}
		key, err := s.readString(nil)
		if err != nil {
			return nil, err
		}
		if err := s.expect(':', "':' after a key"); err != nil {
			return nil, err
		}
		switch string(key) {
		case "metadata":
			if c, err := s.next("the metadata object"); err != nil {
				return nil, err
			} else if c != '{' {
				return nil, s.errorf("\"metadata\" is not an object")
			}
			if meta, err = s.readRaw(nil); err != nil {
				return nil, err
			}
			haveMeta = true
		case "rows":
			if !haveMeta {
				return nil, s.errorf("\"rows\" comes before \"metadata\": the schema must be known before the rows stream (is this a json_bi body?)")
			}
			schema, untyped, err := biSchema(meta)
			if err != nil {
				return nil, s.wrapMeta(err)
			}
			meta = nil
			d.setSchema(schema)
			d.after = d.biTail
			if err := s.expect('[', "'[' starting \"rows\""); err != nil {
				return nil, err
			}
			if len(untyped) > 0 {
				if err := d.typeFromFirstRow(untyped); err != nil {
					return nil, err
				}
			}
			return d, nil
		case "looker_error":
			v, kind, err := s.readValue(nil)
			if err != nil {
				return nil, err
			}
			if kind == kindNull {
				continue
			}
			return nil, &LookerError{Row: 0, Message: string(v)}
		default:
			s.arena = s.arena[:0]
			if s.arena, _, err = s.readValue(s.arena); err != nil {
				return nil, err
			}
		}
	}
}

func (s *jsonScanner) wrapMeta(err error) error {
	return &DecodeError{Format: s.format, Offset: s.base + int64(s.pos), Msg: "bad metadata: " + err.Error()}
}

// typeFromFirstRow reads the first row (kept for the first Next) and types
// the given columns from its values.
func (d *jsonRows) typeFromFirstRow(cols []int) error {
	c, err := d.s.next("a row or ']'")
	if err != nil {
		return err
	}
	if c == ']' {
		return nil // no rows: the columns stay String
	}
	if _, err := d.next(); err != nil {
		return err
	}
	d.pending = true
	fields := slices.Clone(d.schema.Fields)
	for _, i := range cols {
		switch d.kinds[i] {
		case kindNumber:
			fields[i].Type = formats.Double
		case kindTrue, kindFalse:
			fields[i].Type = formats.Bool
		}
	}
	d.schema.Fields = fields
	return nil
}

// biTail reads the top-level keys after "rows" up to the closing '}'.
func (d *jsonRows) biTail() error {
	s := d.s
	for {
		c, err := s.next("',' or '}' after the rows")
		if err != nil {
			return err
		}
		s.pos++
		if c == '}' {
			return nil
		}
		if c != ',' {
			s.pos--
			return s.errorf("expected ',' or '}' after the rows, found %q", c)
		}
		if c, err = s.next("a key"); err != nil {
			return err
		}
		if c != '"' {
			return s.errorf("expected a quoted key, found %q", c)
		}
		key, err := s.readString(nil)
		if err != nil {
			return err
		}
		if err := s.expect(':', "':' after a key"); err != nil {
			return err
		}
		s.arena = s.arena[:0]
		var kind byte
		if s.arena, kind, err = s.readValue(s.arena); err != nil {
			return err
		}
		if string(key) == "looker_error" && kind != kindNull {
			return &LookerError{Row: s.row + 1, Message: string(s.arena)}
		}
	}
}
