package lookertest

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// contentTypes are the result formats the server renders and their
// Content-Type (see NOTES §3.2: clients must not rely on these).
var contentTypes = map[string]string{
	"csv":        "text/csv; charset=utf-8",
	"txt":        "text/plain;charset=utf-8",
	"json":       "application/json",
	"json_label": "application/json",
	"json_bi":    "application/json",
	"sql":        "application/sql",
}

// encoder renders a result one row at a time into a reused buffer, so a
// body of any size costs a constant amount of memory.
type encoder struct {
	format string
	res    *result
	plain  []*fieldDef // unpivoted columns (csv order)
	meas   []*fieldDef // pivoted measures (csv order)
	keys   [][]byte    // pre-encoded `"key":` per field for the json formats
	pkeys  [][]byte    // pre-encoded `"pivot key":`
	buf    []byte
	val    []byte
	rows   int
	// quoteEmpty writes an empty string as "" in csv
	// (!Options.BareEmptyStrings).
	quoteEmpty bool
}

func newEncoder(format string, res *result) *encoder {
	e := &encoder{format: format, res: res}
	for _, f := range res.defs {
		if res.pivots.pivoted(f) {
			e.meas = append(e.meas, f)
		} else {
			e.plain = append(e.plain, f)
		}
	}
	if format == "json" || format == "json_bi" || format == "json_label" {
		e.keys = make([][]byte, len(res.defs))
		for i, f := range res.defs {
			k := f.Name
			if format == "json_label" {
				k = f.Label
			}
			e.keys[i] = append(appendJSONString(nil, k), ':')
		}
		if res.pivots != nil {
			for _, k := range res.pivots.keys {
				e.pkeys = append(e.pkeys, append(appendJSONString(nil, k), ':'))
			}
		}
	}
	return e
}

// value renders f in row: the raw value in the result's zone, formatted
// with apply_formatting. quoted reports a JSON string (formatted numbers
// are strings).
func (e *encoder) value(f *fieldDef, row int) (v []byte, null, quoted bool) {
	v, null = f.appendValue(e.val[:0], row, e.res.loc)
	e.val = v
	if null || !f.numeric {
		return v, null, !f.numeric
	}
	if e.res.formatting {
		v = formatNumber(nil, v, f.valueFormat)
		return v, false, true
	}
	return v, false, false
}

// appendSep appends a csv (comma) or txt (tab) field that is not null.
func (e *encoder) appendField(b []byte, sep byte, v []byte) []byte {
	if sep == ',' && len(v) == 0 && e.quoteEmpty {
		return append(b, `""`...) // see Options.BareEmptyStrings
	}
	if sep == ',' {
		return appendCSV(b, v)
	}
	return appendTxt(b, v)
}

// header returns the bytes before the first row. meta is the json_bi
// metadata object (already encoded) and is used only by json_bi.
func (e *encoder) header(meta []byte) []byte {
	b := e.buf[:0]
	switch e.format {
	case "csv", "txt":
		sep := byte(',')
		if e.format == "txt" {
			sep = '\t'
		}
		if p := e.res.pivots; p != nil {
			for pi, pf := range p.fields {
				n := 0
				for i := range e.plain {
					if n > 0 {
						b = append(b, sep)
					}
					n++
					if i == len(e.plain)-1 {
						b = e.appendField(b, sep, []byte(pf.Label))
					}
				}
				for k := range p.keys {
					for range e.meas {
						if n > 0 {
							b = append(b, sep)
						}
						n++
						b = e.appendField(b, sep, []byte(p.values[k][pi]))
					}
				}
				b = append(b, '\n')
			}
		}
		n := 0
		for _, f := range e.plain {
			if n > 0 {
				b = append(b, sep)
			}
			n++
			b = e.appendField(b, sep, []byte(f.Label))
		}
		if p := e.res.pivots; p != nil {
			for range p.keys {
				for _, f := range e.meas {
					if n > 0 {
						b = append(b, sep)
					}
					n++
					b = e.appendField(b, sep, []byte(f.Label))
				}
			}
		}
		b = append(b, '\n')
	case "json", "json_label":
		b = append(b, '[')
	case "json_bi":
		b = append(b, `{"metadata":`...)
		b = append(b, meta...)
		b = append(b, `,"rows":[`...)
	}
	e.buf = b
	return b
}

// row returns the encoding of row.
func (e *encoder) row(row int) []byte {
	b := e.buf[:0]
	key := -1
	if e.res.pivots != nil {
		key = e.res.pivots.keyOf(row)
	}
	switch e.format {
	case "csv", "txt":
		sep := byte(',')
		if e.format == "txt" {
			sep = '\t'
		}
		n := 0
		for _, f := range e.plain {
			if n > 0 {
				b = append(b, sep)
			}
			n++
			if v, null, _ := e.value(f, row); !null {
				b = e.appendField(b, sep, v)
			}
		}
		if p := e.res.pivots; p != nil {
			for k := range p.keys {
				for _, f := range e.meas {
					if n > 0 {
						b = append(b, sep)
					}
					n++
					if k != key {
						continue
					}
					if v, null, _ := e.value(f, row); !null {
						b = e.appendField(b, sep, v)
					}
				}
			}
		}
		b = append(b, '\n')
	case "json", "json_bi", "json_label":
		if e.rows > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n{"...)
		for i, f := range e.res.defs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, e.keys[i]...)
			if !e.res.pivots.pivoted(f) {
				b = e.appendJSONValue(b, f, row)
				continue
			}
			b = append(b, '{')
			for k := range e.pkeys {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, e.pkeys[k]...)
				if k == key {
					b = e.appendJSONValue(b, f, row)
				} else {
					b = append(b, "null"...)
				}
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	e.rows++
	e.buf = b
	return b
}

func (e *encoder) appendJSONValue(b []byte, f *fieldDef, row int) []byte {
	v, null, quoted := e.value(f, row)
	switch {
	case null:
		return append(b, "null"...)
	case quoted:
		return appendJSONString(b, string(v))
	default:
		return append(b, v...)
	}
}

// footer returns the bytes after the last row.
func (e *encoder) footer() []byte {
	switch e.format {
	case "json", "json_label":
		return []byte("\n]\n")
	case "json_bi":
		return []byte("\n]}\n")
	}
	return nil
}

// inBandBody is the body of an error sent inside a 200 response (see
// InBandVariant for the shapes and their sources).
func inBandBody(format string, ib inBandError, res *result) []byte {
	obj := append(append([]byte(`{"looker_error":`), appendJSONString(nil, ib.message)...), '}')
	switch ib.variant {
	case InBandObject:
		return append(obj, '\n')
	case InBandText:
		return []byte(ib.message + "\n")
	}
	switch format {
	case "json", "json_label":
		return append(append([]byte("["), obj...), "]\n"...)
	case "json_bi":
		b := append([]byte(`{"metadata":`), res.meta()...)
		b = append(b, `,"rows":[`...)
		return append(append(b, obj...), "]}\n"...)
	case "csv":
		return append(appendCSV([]byte("looker_error\n"), []byte(ib.message)), '\n')
	case "txt":
		return append(appendTxt([]byte("looker_error\n"), []byte(ib.message)), '\n')
	}
	return []byte(ib.message + "\n")
}

// appendCSV appends v as one RFC 4180 field: quoted when it holds a comma,
// a double quote, CR or LF, with inner quotes doubled.
func appendCSV(dst, v []byte) []byte {
	plain := true
	for _, c := range v {
		if csvSpecial[c] {
			plain = false
			break
		}
	}
	if plain {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// appendTxt appends v with tabs, CR and LF replaced by spaces: txt has no
// quoting.
func appendTxt(dst, v []byte) []byte {
	for _, c := range v {
		if c == '\t' || c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (UTF-8 kept as is).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"':
			dst = append(dst, '\\', '"')
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// jsonBiField is JsonBiField of the spec (every key required).
type jsonBiField struct {
	SQL               *string `json:"sql"`
	View              *string `json:"view"`
	DimensionGroup    *string `json:"dimension_group"`
	Category          string  `json:"category"`
	FieldGroupLabel   *string `json:"field_group_label"`
	Name              string  `json:"name"`
	Type              string  `json:"type"`
	ViewLabel         *string `json:"view_label"`
	Label             string  `json:"label"`
	FieldGroupVariant string  `json:"field_group_variant"`
	Hidden            bool    `json:"hidden"`
	Description       *string `json:"description"`
}

// jsonBiMetadata encodes JsonBiMetadata for fields (every key required).
func jsonBiMetadata(fields []*fieldDef, pivots *pivotPlan, sqlText string, filters map[string]string, sqlRunner bool) []byte {
	type bqMeta struct {
		TotalBytesProcessed int64 `json:"total_bytes_processed"`
		BackendCacheHit     bool  `json:"backend_cache_hit"`
	}
	type biFields struct {
		Dimensions        []jsonBiField `json:"dimensions"`
		Measures          []jsonBiField `json:"measures"`
		Pivots            []jsonBiField `json:"pivots"`
		TableCalculations []any         `json:"table_calculations"`
	}
	type metadata struct {
		BigQueryMetadata bqMeta            `json:"big_query_metadata"`
		Fields           biFields          `json:"fields"`
		Pivots           []map[string]any  `json:"pivots"`
		HasSubtotals     bool              `json:"has_subtotals"`
		HasTotals        bool              `json:"has_totals"`
		ColumnsTruncated string            `json:"columns_truncated"`
		FilterExpression *string           `json:"filter_expression"`
		Filters          map[string]string `json:"filters"`
		SQL              *string           `json:"sql"`
	}
	m := metadata{
		Fields:           biFields{Dimensions: []jsonBiField{}, Measures: []jsonBiField{}, Pivots: []jsonBiField{}, TableCalculations: []any{}},
		Pivots:           pivots.jsonBiPivots(),
		ColumnsTruncated: "false",
		Filters:          map[string]string{},
		SQL:              &sqlText,
	}
	for k, v := range filters {
		m.Filters[k] = v
	}
	biField := func(f *fieldDef) jsonBiField {
		bf := jsonBiField{
			Category:          f.Category,
			Name:              f.Name,
			Type:              f.Type,
			Label:             f.Label,
			FieldGroupVariant: f.labelShort,
		}
		if !sqlRunner {
			s := "${TABLE}." + f.column
			bf.SQL = &s
			v, vl := f.view, f.viewLabel
			bf.View, bf.ViewLabel = &v, &vl
			if f.timeframe() {
				g := "created"
				bf.DimensionGroup = &g
			}
		} else {
			bf.FieldGroupVariant = f.Label
		}
		return bf
	}
	for _, f := range fields {
		switch f.Category {
		case "table_calculation":
			m.Fields.TableCalculations = append(m.Fields.TableCalculations, map[string]any{
				"name": f.Name, "label": f.Label, "align": "right", "expression": f.expression,
				"value_format": nil, "measure": false,
			})
		case "measure":
			m.Fields.Measures = append(m.Fields.Measures, biField(f))
		default:
			m.Fields.Dimensions = append(m.Fields.Dimensions, biField(f))
		}
	}
	if pivots != nil {
		for _, f := range pivots.fields {
			m.Fields.Pivots = append(m.Fields.Pivots, biField(f))
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("lookertest: encode json_bi metadata: " + err.Error()) // static types; cannot fail
	}
	return b
}

// generatedSQL is the SQL a query on thelook/orders would run.
func generatedSQL(fields, pivots []*fieldDef, limit int) string {
	var b strings.Builder
	b.WriteString("SELECT\n")
	i := 0
	for _, f := range append(pivots[:len(pivots):len(pivots)], fields...) {
		if f.Category == "table_calculation" {
			continue // computed by Looker after the query, not in the SQL
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		i++
		b.WriteString("    ")
		switch {
		case f.Type == "count":
			b.WriteString("COUNT(DISTINCT orders.id)")
		case f.Type == "sum":
			b.WriteString("COALESCE(SUM(orders.amount), 0)")
		default:
			b.WriteString(f.view + "." + f.column)
		}
		b.WriteString(` AS "` + f.Name + `"`)
	}
	b.WriteString("\nFROM public.orders AS orders\nLEFT JOIN public.users AS users ON orders.user_id = users.id\n" +
		"LEFT JOIN public.products AS products ON orders.product_id = products.id\n")
	if limit >= 0 {
		b.WriteString("LIMIT " + strconv.Itoa(limit) + "\n")
	}
	return b.String()
}
