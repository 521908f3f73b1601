package formats

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BigQuerySchemaName is the file a run writes next to its manifest when
// asked (job key bigquery_schema): the output's columns as a BigQuery
// table schema, for `bq load --schema=_schema.bigquery.json`.
const BigQuerySchemaName = "_schema.bigquery.json"

// MaxBigQueryName is the longest column name BigQuery takes.
const MaxBigQueryName = 300

// bigQueryReservedPrefixes are the column name prefixes BigQuery
// refuses, compared case-insensitively.
var bigQueryReservedPrefixes = []string{"_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLIDENTIFIER", "_CHANGE_SEQUENCE_NUMBER", "_CHANGE_TYPE", "_CHANGE_TIMESTAMP"}

// CheckBigQueryName returns an error saying why name is not a column name
// BigQuery loads from Parquet or JSON (letters, digits and underscores,
// not starting with a digit, at most MaxBigQueryName characters, no
// reserved prefix), or nil.
func CheckBigQueryName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("column name is empty")
	case len(name) > MaxBigQueryName:
		return fmt.Errorf("column name %.40q... is %d characters long; BigQuery takes at most %d", name, len(name), MaxBigQueryName)
	case name[0] >= '0' && name[0] <= '9':
		return fmt.Errorf("column name %q starts with a digit", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Errorf("column name %q holds %q: BigQuery names are letters, digits and underscores", name, r)
		}
	}
	if p := reservedPrefix(name); p != "" {
		return fmt.Errorf("column name %q starts with %s, which BigQuery reserves", name, p)
	}
	return nil
}

func reservedPrefix(name string) string {
	for _, p := range bigQueryReservedPrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return p
		}
	}
	return ""
}

// BigQueryField is one column of a BigQuery table schema, in the JSON
// form `bq load --schema` and the API's TableFieldSchema read. Precision
// and Scale are strings, as in the API.
type BigQueryField struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Mode        string `json:"mode"`
	Precision   string `json:"precision,omitempty"`
	Scale       string `json:"scale,omitempty"`
	Description string `json:"description,omitempty"`
}

// maxBigQueryDescription is the longest column description BigQuery takes.
const maxBigQueryDescription = 1024

// BigQueryType is the BigQuery type of a column as the encoders write it:
// STRING, INT64, FLOAT64, BOOL, DATE, TIMESTAMP, DATETIME (a wall-clock
// Timestamp, Field.Local), NUMERIC for a Decimal that fits it (scale at
// most 9, at most 29 digits before the point), else BIGNUMERIC. precision
// and scale are set for Decimal only.
func BigQueryType(f Field) (typ string, precision, scale int) {
	switch f.Type {
	case String:
		return "STRING", 0, 0
	case Int64:
		return "INT64", 0, 0
	case Double:
		return "FLOAT64", 0, 0
	case Bool:
		return "BOOL", 0, 0
	case Date:
		return "DATE", 0, 0
	case Timestamp:
		if f.IsLocal() {
			return "DATETIME", 0, 0
		}
		return "TIMESTAMP", 0, 0
	case Decimal:
		if f.Scale <= 9 && f.Precision-f.Scale <= 29 {
			return "NUMERIC", f.Precision, f.Scale
		}
		return "BIGNUMERIC", f.Precision, f.Scale
	}
	return "STRING", 0, 0
}

// BigQuerySchema is the BigQuery table schema of an output: one NULLABLE
// field per column, named cols[i] (the output column names), typed by
// BigQueryType, described by the Looker label and field name. Every name
// must pass CheckBigQueryName (column_names underscore guarantees it).
// The result is the JSON array `bq load --schema` reads, indented, with a
// final newline.
func BigQuerySchema(s Schema, cols []string) ([]byte, error) {
	if len(cols) != len(s.Fields) {
		return nil, fmt.Errorf("bigquery schema: %d column names for %d fields", len(cols), len(s.Fields))
	}
	out := make([]BigQueryField, len(s.Fields))
	for i, f := range s.Fields {
		if err := CheckBigQueryName(cols[i]); err != nil {
			return nil, fmt.Errorf("bigquery schema: field %s: %w", f.Name, err)
		}
		typ, p, sc := BigQueryType(f)
		bf := BigQueryField{Name: cols[i], Type: typ, Mode: "NULLABLE", Description: describe(f)}
		if f.Type == Decimal {
			bf.Precision, bf.Scale = strconv.Itoa(p), strconv.Itoa(sc)
		}
		out[i] = bf
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bigquery schema: %w", err)
	}
	return append(data, '\n'), nil
}

// describe is a column's description: "Label (field.name)", or the field
// name without a label, cut to what BigQuery takes.
func describe(f Field) string {
	d := f.Name
	if f.Label != "" && f.Label != f.Name {
		d = f.Label + " (" + f.Name + ")"
	}
	if len(d) > maxBigQueryDescription {
		cut := maxBigQueryDescription
		for cut > 0 && !utf8.RuneStart(d[cut]) {
			cut--
		}
		d = d[:cut]
	}
	return d
}
