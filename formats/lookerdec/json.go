package lookerdec

import (
	"bytes"
	"errors"
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
// or "false", null as a null cell, and a nested array as its compact JSON
// text. A nested object is a pivoted measure (see formats.Pivot): with a
// nil schema each key of the first row's object becomes a column typed from
// its value, named by formats.PivotName (the key split on "|FIELD|" gives
// the values); with a given schema, fields with a Pivot take their values
// from the object of Pivot.Measure under Pivot.Key. An object whose only
// member is another object under a key that is not a pivot key (the pivot
// fields' name) is unwrapped. A pivot key missing from a row is null; an
// unknown one is an error. A key missing from a row is null; a
// key not in the schema, or repeated in a row, is an error naming the row.
// A row {"looker_error": "..."} ends the result with a *LookerError.
//
// A result wider than formats.MaxColumns (a given schema, or the columns
// of the first row, pivots included) is an error matching
// formats.ErrTooManyColumns, returned before anything is allocated per
// column.
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
		if err := formats.CheckColumns(len(schema.Fields)); err != nil {
			return nil, fmt.Errorf("decode looker json: %w", err)
		}
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
	members := slices.Clone(s.members)
	if err := d.checkFirstRowWidth(members); err != nil {
		return nil, err
	}
	fields := make([]formats.Field, 0, len(s.members))
	names := make(map[string]bool, len(s.members))
	for _, m := range members {
		if names[string(s.key(m))] {
			return nil, &DecodeError{Format: s.format, Row: 1, Offset: s.base + int64(s.pos),
				Msg: fmt.Sprintf("key %q appears twice in the row", s.key(m))}
		}
		names[string(s.key(m))] = true
		if m.kind == kindRaw && s.value(m)[0] == '{' {
			// A pivoted measure: one column per pivot key of the first row.
			measure := string(s.key(m))
			if err := d.pivotObject(s.key(m), s.value(m), func(string) bool { return false }); err != nil {
				return nil, err
			}
			for _, pm := range d.sub.members {
				p := formats.Pivot{Measure: measure, Key: string(d.sub.key(pm))}
				if p.Key == formats.RowTotalKey {
					p.Total = true
				} else {
					p.Values = pivotValues(p.Key)
				}
				name := formats.PivotName(p)
				if names[name] {
					name = measure + "|" + p.Key
				}
				names[name] = true
				fields = append(fields, formats.Field{Name: name, Type: inferType(pm.kind, d.sub.value(pm)), Pivot: &p})
			}
			continue
		}
		fields = append(fields, formats.Field{Name: string(s.key(m)), Type: inferType(m.kind, s.value(m))})
	}
	d.setSchema(formats.Schema{Fields: fields})
	if err := d.fillRow(); err != nil {
		return nil, err
	}
	d.pending = true
	d.started = true
	return d, nil
}

// checkFirstRowWidth counts the columns the first row makes (one per key,
// one per pivot of a pivoted measure) and fails beyond formats.MaxColumns,
// before anything is allocated per column.
func (d *jsonRows) checkFirstRowWidth(members []member) error {
	s := d.s
	width := s.width
	if width <= formats.MaxColumns {
		for _, m := range members {
			if m.kind == kindRaw && s.value(m)[0] == '{' {
				if err := d.pivotObject(s.key(m), s.value(m), func(string) bool { return false }); err != nil {
					return err
				}
				width += d.sub.width - 1
			}
		}
	}
	if width > formats.MaxColumns {
		return fmt.Errorf("decode looker %s: first row: %w", s.format, &formats.ColumnsError{Columns: width, AtLeast: s.dropped})
	}
	return nil
}

// inferType types a column from its first value.
func inferType(kind byte, v []byte) formats.Type {
	switch kind {
	case kindNumber:
		if lookertext.IsIntLiteral(v) {
			return formats.Int64
		}
		return formats.Double
	case kindTrue, kindFalse:
		return formats.Bool
	}
	return formats.String
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
	pivots  map[string]map[string]int // measure name -> pivot key -> column
	sub     *jsonScanner              // parses pivoted measures' objects
	subR    bytes.Reader
	pbuf    []byte // pivot cell values of the current row
	tmp     []byte
	pcells  []pivotRef // where they go
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

// pivotRef places a pivot cell value, d.pbuf[v0:v1], in column col.
type pivotRef struct {
	col, v0, v1 int
	kind        byte
}

func (d *jsonRows) setSchema(schema formats.Schema) {
	d.schema = schema
	d.index = make(map[string]int, len(schema.Fields))
	d.pivots = nil
	for i, f := range schema.Fields {
		if p := f.Pivot; p != nil {
			if d.pivots == nil {
				d.pivots = make(map[string]map[string]int)
			}
			keys := d.pivots[p.Measure]
			if keys == nil {
				keys = make(map[string]int)
				d.pivots[p.Measure] = keys
			}
			if _, dup := keys[p.Key]; !dup {
				keys[p.Key] = i
			}
			continue
		}
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
	d.pbuf, d.pcells = d.pbuf[:0], d.pcells[:0]
	if s.width > len(s.members) {
		return &DecodeError{Format: s.format, Row: s.row, Offset: s.base + int64(s.pos),
			Msg: fmt.Sprintf("the row has %d keys; the result has %d fields", s.width, len(d.schema.Fields))}
	}
	for j, m := range s.members {
		key := s.key(m)
		idx := -1
		if j < len(d.schema.Fields) && d.schema.Fields[j].Name == string(key) && d.schema.Fields[j].Pivot == nil {
			idx = j // keys usually come in schema order
		} else if i, ok := d.index[string(key)]; ok {
			idx = i
		} else if keys, ok := d.pivots[string(key)]; ok {
			if err := d.pivotValues(key, keys, m); err != nil {
				return err
			}
			continue
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
	for _, p := range d.pcells { // d.pbuf no longer moves
		d.kinds[p.col] = p.kind
		if p.kind != kindNull {
			d.row[p.col] = formats.Cell{Value: d.pbuf[p.v0:p.v1:p.v1]}
		}
	}
	return nil
}

// pivotObject parses raw, the JSON text of a pivoted measure's value, into
// d.sub.members: an object keyed by pivot key. An object with a single
// member that is itself an object under a key that is not a pivot key (the
// pivot fields' name, as some Looker versions nest it) is unwrapped.
// isKey tells pivot keys.
func (d *jsonRows) pivotObject(measure, raw []byte, isKey func(string) bool) error {
	if d.sub == nil {
		d.sub = newJSONScanner(nil, d.s.format)
	}
	sub := d.sub
	for depth := 0; ; depth++ {
		d.subR.Reset(raw)
		sub.r, sub.pos, sub.end, sub.base, sub.eof, sub.rerr = &d.subR, 0, 0, 0, false, nil
		sub.row = d.s.row
		if err := sub.readObject(); err != nil {
			msg := err.Error()
			if de, ok := errors.AsType[*DecodeError](err); ok {
				msg = de.Msg
			}
			return &DecodeError{Format: d.s.format, Row: d.s.row, Offset: d.s.base + int64(d.s.pos),
				Msg: fmt.Sprintf("pivoted measure %q: %s", measure, msg)}
		}
		if depth > 0 || len(sub.members) != 1 {
			return nil
		}
		m := sub.members[0]
		if m.kind != kindRaw || isKey(string(sub.key(m))) || sub.value(m)[0] != '{' {
			return nil
		}
		raw = append(d.tmp[:0], sub.value(m)...)
		d.tmp = raw
	}
}

// pivotValues flattens a pivoted measure's value into its columns. A
// missing pivot key is null; an unknown one is an error.
func (d *jsonRows) pivotValues(measure []byte, keys map[string]int, m member) error {
	s := d.s
	errorf := func(format string, args ...any) error {
		return &DecodeError{Format: s.format, Row: s.row, Offset: s.base + int64(s.pos),
			Msg: fmt.Sprintf("pivoted measure %q: ", measure) + fmt.Sprintf(format, args...)}
	}
	switch {
	case m.kind == kindNull:
		return nil
	case m.kind != kindRaw || s.value(m)[0] != '{':
		return errorf("the value is %q, expected an object keyed by pivot", s.value(m))
	}
	if err := d.pivotObject(measure, s.value(m), func(k string) bool { _, ok := keys[k]; return ok }); err != nil {
		return err
	}
	sub := d.sub
	if sub.width > len(keys) {
		return errorf("%d pivot keys, more than the result's %d pivots", sub.width, len(keys))
	}
	for _, pm := range sub.members {
		col, ok := keys[string(sub.key(pm))]
		if !ok {
			return errorf("unknown pivot key %q (%d pivots)", sub.key(pm), len(keys))
		}
		if d.seen[col] == d.gen {
			return errorf("pivot key %q appears twice", sub.key(pm))
		}
		d.seen[col] = d.gen
		v0 := len(d.pbuf)
		d.pbuf = append(d.pbuf, sub.value(pm)...)
		d.pcells = append(d.pcells, pivotRef{col: col, v0: v0, v1: len(d.pbuf), kind: pm.kind})
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
// metadata and Type = formats.TypeForLookML(type). With pivots (metadata
// "pivots", with "fields"."pivots" naming the pivot dimensions), the pivot
// dimensions are not columns; each measure, and each table calculation
// with "measure": true, becomes one column per pivot in the metadata's
// pivot order (formats.Pivot gives the names), and its row value, an object
// keyed by pivot key, is flattened into them as NewJSON does.
//
// Table calculations carry no type in json_bi. One with a "type" (or
// "_type_hint") key is typed from it (formats.TypeForLookML); one without
// is String, whatever its values: String holds any value, and a column's
// type never follows one run's values (a job's types: sets it).
//
// Metadata describing more than formats.MaxColumns columns (pivot columns
// included) is an error matching formats.ErrTooManyColumns, returned
// before anything is allocated per column.
//
// Rows are decoded as NewJSON does. A {"looker_error": "..."} at the top
// level or as a row is returned as a *LookerError. NewJSONBI reads the
// metadata before it returns.
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
			schema, err := biSchema(meta)
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
			schema, err := biSchema(meta)
			if err != nil {
				return nil, s.wrapMeta(err)
			}
			meta = nil
			d.setSchema(schema)
			d.after = d.biTail
			if err := s.expect('[', "'[' starting \"rows\""); err != nil {
				return nil, err
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
	if errors.Is(err, formats.ErrTooManyColumns) {
		return fmt.Errorf("decode looker %s metadata: %w", s.format, err)
	}
	return &DecodeError{Format: s.format, Offset: s.base + int64(s.pos), Msg: "bad metadata: " + err.Error()}
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
