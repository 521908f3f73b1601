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
	fields []*fieldDef
	keys   [][]byte // pre-encoded `"key":` per field for the json formats
	buf    []byte
	val    []byte
	rows   int
}

func newEncoder(format string, fields []*fieldDef) *encoder {
	e := &encoder{format: format, fields: fields}
	if format == "json" || format == "json_bi" || format == "json_label" {
		e.keys = make([][]byte, len(fields))
		for i, f := range fields {
			k := f.Name
			if format == "json_label" {
				k = f.Label
			}
			e.keys[i] = append(appendJSONString(nil, k), ':')
		}
	}
	return e
}

// header returns the bytes before the first row. meta is the json_bi
// metadata object (already encoded) and is used only by json_bi.
func (e *encoder) header(meta []byte) []byte {
	b := e.buf[:0]
	switch e.format {
	case "csv":
		for i, f := range e.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCSV(b, []byte(f.Label))
		}
		b = append(b, '\n')
	case "txt":
		for i, f := range e.fields {
			if i > 0 {
				b = append(b, '\t')
			}
			b = appendTxt(b, []byte(f.Label))
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
	switch e.format {
	case "csv", "txt":
		sep := byte(',')
		if e.format == "txt" {
			sep = '\t'
		}
		for i, f := range e.fields {
			if i > 0 {
				b = append(b, sep)
			}
			v, null := f.appendValue(e.val[:0], row)
			e.val = v
			if null {
				continue
			}
			if sep == ',' {
				b = appendCSV(b, v)
			} else {
				b = appendTxt(b, v)
			}
		}
		b = append(b, '\n')
	case "json", "json_bi", "json_label":
		if e.rows > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n{"...)
		for i, f := range e.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, e.keys[i]...)
			v, null := f.appendValue(e.val[:0], row)
			e.val = v
			switch {
			case null:
				b = append(b, "null"...)
			case f.numeric:
				b = append(b, v...)
			default:
				b = appendJSONString(b, string(v))
			}
		}
		b = append(b, '}')
	}
	e.rows++
	e.buf = b
	return b
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
func jsonBiMetadata(fields []*fieldDef, sqlText string, filters map[string]string, sqlRunner bool) []byte {
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
		Pivots           []any             `json:"pivots"`
		HasSubtotals     bool              `json:"has_subtotals"`
		HasTotals        bool              `json:"has_totals"`
		ColumnsTruncated string            `json:"columns_truncated"`
		FilterExpression *string           `json:"filter_expression"`
		Filters          map[string]string `json:"filters"`
		SQL              *string           `json:"sql"`
	}
	m := metadata{
		Fields:           biFields{Dimensions: []jsonBiField{}, Measures: []jsonBiField{}, Pivots: []jsonBiField{}, TableCalculations: []any{}},
		Pivots:           []any{},
		ColumnsTruncated: "false",
		Filters:          map[string]string{},
		SQL:              &sqlText,
	}
	for k, v := range filters {
		m.Filters[k] = v
	}
	for _, f := range fields {
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
			if f.Type == "date_date" || f.Type == "date_time" {
				g := "created"
				bf.DimensionGroup = &g
			}
		} else {
			bf.FieldGroupVariant = f.Label
		}
		switch f.Category {
		case "table_calculation":
			m.Fields.TableCalculations = append(m.Fields.TableCalculations, map[string]any{
				"name": f.Name, "label": f.Label, "align": "right", "expression": f.expression,
				"value_format": nil, "measure": false,
			})
		case "measure":
			m.Fields.Measures = append(m.Fields.Measures, bf)
		default:
			m.Fields.Dimensions = append(m.Fields.Dimensions, bf)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("lookertest: encode json_bi metadata: " + err.Error()) // static types; cannot fail
	}
	return b
}

// generatedSQL is the SQL a query on thelook/orders would run.
func generatedSQL(fields []*fieldDef, limit int) string {
	var b strings.Builder
	b.WriteString("SELECT\n")
	i := 0
	for _, f := range fields {
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
