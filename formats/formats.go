// Package formats turns Looker results into export files.
//
// The seam is row based: a RowReader decodes a Looker result body (csv,
// json, json_bi) one row at a time into a reused Row; a RowWriter encodes
// rows into an output format (CSV, JSON lines, Parquet) on an io.Writer.
// Implementations live in subpackages (formats/lookerdec, formats/csvenc,
// formats/jsonl, formats/parquetenc, formats/compress); cmd/exporter and
// jobs wire them by name. Copy moves the rows from a RowReader to a
// RowWriter, decoding and encoding on two goroutines with bounded memory.
// A run's Schema has a stable JSON form (Schema.MarshalJSON), and Diff
// lists the column changes between two runs' schemas.
package formats

import (
	"fmt"
	"strconv"
	"strings"
)

// Type is the output type of a column.
type Type uint8

// Output types. The mapping from LookML types is TypeForLookML.
const (
	String Type = iota
	Int64
	Double
	Bool
	Date      // calendar date, no time zone
	Timestamp // instant, microsecond precision, UTC-adjusted (wall clock when Field.Local)
	// Decimal is an exact decimal number of Field.Precision digits,
	// Field.Scale of them after the point. No LookML type maps to it: it
	// is set per column (see ColumnType).
	Decimal
)

var typeNames = [...]string{String: "STRING", Int64: "INT64", Double: "DOUBLE", Bool: "BOOLEAN", Date: "DATE", Timestamp: "TIMESTAMP", Decimal: "DECIMAL"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", t)
}

// Field describes one column of a result.
type Field struct {
	Name       string // Looker field name, e.g. "orders.created_date"
	Label      string // Looker label, e.g. "Orders Created Date"
	LookMLType string // LookML type as Looker reports it, e.g. "date_date", "count", "yesno"
	Category   string // "dimension", "measure", "table_calculation", ...
	Type       Type   // output type
	// Local marks a Timestamp column whose values are wall-clock times in
	// no zone: a LookML field with convert_tz: no, which Looker renders as
	// the database stores it instead of converting it to the query's time
	// zone. Encoders keep the wall clock rather than read it as an instant
	// (Parquet: TIMESTAMP(MICROS, isAdjustedToUTC=false); JSON lines:
	// "2006-01-02T15:04:05" without offset; CSV: as Looker sent it). It is
	// ignored on other types.
	Local bool
	// Pivot is set on the columns of a pivoted measure, nil elsewhere.
	Pivot *Pivot
	// Precision and Scale size a Decimal column: Precision digits in all
	// (1 to MaxDecimalPrecision), Scale of them after the point. Zero on
	// other types.
	Precision, Scale int
}

// TypeName is the column's type as written in types: and in the stored
// schema: Type.String(), "DECIMAL(18,2)" for a Decimal.
func (f Field) TypeName() string {
	if f.Type == Decimal {
		return fmt.Sprintf("DECIMAL(%d,%d)", f.Precision, f.Scale)
	}
	return f.Type.String()
}

// IsLocal reports whether f is a wall-clock timestamp (see Field.Local).
func (f Field) IsLocal() bool { return f.Local && f.Type == Timestamp }

// MarkLocal returns s with Local set on the Timestamp columns of the
// named fields (a pivot column by its Pivot.Measure), as the client
// reports convert_tz: no fields. s is not modified.
func MarkLocal(s Schema, fields []string) Schema {
	if len(fields) == 0 {
		return s
	}
	local := make(map[string]bool, len(fields))
	for _, f := range fields {
		local[f] = true
	}
	out := Schema{Fields: make([]Field, len(s.Fields))}
	copy(out.Fields, s.Fields)
	for i, f := range out.Fields {
		name := f.Name
		if f.Pivot != nil {
			name = f.Pivot.Measure
		}
		if f.Type == Timestamp && local[name] {
			out.Fields[i].Local = true
		}
	}
	return out
}

// Pivot identifies one column of a pivoted measure. Looker sends a
// pivoted measure as one value per row, an object keyed by pivot key
// ({"orders.count": {"complete": 3, "pending": 1}}); decoders flatten it
// into one column per pivot, in the order of the result's pivots (from
// json_bi metadata, or the first row of a json result), measure by
// measure. Such a column's Field.Name is Measure + "|" + the pivot values
// joined by "|" ("orders.count|complete", "orders.count|complete|2024";
// "orders.count|row_total" for the row total), and its Label the
// measure's label + " | " + the values joined by " | ". ColumnNames derives
// output names from Measure and Values (see NameUnderscore).
type Pivot struct {
	// Measure is the pivoted field's name: the key of the row object.
	Measure string `json:"measure"`
	// Key is Looker's pivot key, the key inside the measure's object:
	// the pivot value, several joined by "|FIELD|", or "$$$_row_total_$$$".
	Key string `json:"key"`
	// Values are the pivot dimensions' values for this column, in pivot
	// field order; empty for the row total.
	Values []string `json:"values,omitempty"`
	// Total marks the row-total column.
	Total bool `json:"total,omitempty"`
}

// RowTotalKey is the pivot key of Looker's row-total column.
const RowTotalKey = "$$$_row_total_$$$"

// PivotName is the Field.Name of a pivot column (see Pivot).
func PivotName(p Pivot) string {
	if p.Total {
		return p.Measure + "|row_total"
	}
	return p.Measure + "|" + strings.Join(p.Values, "|")
}

// PivotLabel is the Field.Label of a pivot column of a measure labelled
// label (see Pivot).
func PivotLabel(label string, p Pivot) string {
	if p.Total {
		return label + " | Row Total"
	}
	return label + " | " + strings.Join(p.Values, " | ")
}

// Schema is the ordered list of columns of a result.
type Schema struct {
	Fields []Field
}

// Names returns the field names in order.
func (s Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// TypeForLookML maps a LookML field type to an output type.
//
//	yesno                                   -> Bool
//	date, date_date, *_date (timeframes)    -> Date
//	date_time, datetime, time, *_time, date_raw -> Timestamp
//	count, count_distinct, int, integer, date_year,
//	  date_month_num, date_day_of_month, ... -> Int64
//	number, sum, average, median, ...       -> Double
//	string, tier, zipcode, anything unknown -> String
func TypeForLookML(lookmlType string) Type {
	t := strings.ToLower(strings.TrimSpace(lookmlType))
	switch t {
	case "yesno":
		return Bool
	case "date", "date_date", "date_day":
		return Date
	case "date_time", "datetime", "time", "date_raw", "date_second", "date_minute", "date_millisecond", "date_microsecond":
		return Timestamp
	case "count", "count_distinct", "int", "integer", "date_year", "date_month_num", "date_day_of_month",
		"date_day_of_year", "date_hour_of_day", "date_minute_of_hour", "date_week_of_year", "date_fiscal_year",
		"date_fiscal_quarter_of_year", "date_day_of_week_index", "duration_day", "duration_hour", "duration_minute", "duration_second":
		return Int64
	case "number", "sum", "average", "median", "percentile", "sum_distinct", "average_distinct",
		"median_distinct", "percentile_distinct", "max", "min", "running_total", "percent_of_total", "percent_of_previous":
		return Double
	}
	return String
}

// LookMLField is the column of a Looker field: its name, label, LookML
// type and category, typed by TypeForLookML. Every decoder that knows a
// result's fields (json_bi's metadata, the query's explore) types them
// with it, so that the same field gets the same column whatever Looker
// format carried it.
func LookMLField(name, label, lookmlType, category string) Field {
	return Field{Name: name, Label: label, LookMLType: lookmlType, Category: category, Type: TypeForLookML(lookmlType)}
}

// Cell is one value of a row, in its textual form as Looker sent it:
// unescaped text for strings, the literal for numbers ("12", "3.50"), "Yes"
// or "No" (or true/false) for yesno, "2006-01-02" for dates,
// "2006-01-02 15:04:05" for times. Null marks a missing value. Looker CSV
// cannot tell null from "": its decoder yields an empty cell with Null set,
// since an empty field in a typed column can only mean null.
type Cell struct {
	Value []byte
	Null  bool
}

// Row is one result row, one Cell per schema field, in schema order.
// A Row returned by RowReader.Next is only valid until the next call.
type Row []Cell

// RowReader streams decoded rows.
//
// Schema is known when the reader is returned. Next returns io.EOF after the
// last row; any other error is a decode error that names the row number.
type RowReader interface {
	Schema() Schema
	Next() (Row, error)
}

// RowWriter encodes rows to an output format.
//
// WriteRow must not retain the row after it returns. Close flushes what is
// buffered and writes any footer; it never closes the io.Writer the encoder
// was given. A RowWriter is not safe for concurrent use.
type RowWriter interface {
	WriteRow(Row) error
	Close() error
}

// Format is an output file format.
type Format string

// Output formats.
const (
	CSV     Format = "csv"
	JSONL   Format = "jsonl"
	Parquet Format = "parquet"
	Raw     Format = "raw"
)

// Compression is an output compression codec.
type Compression string

// Codecs. Text formats take None, Gzip or Zstd; Parquet takes None, Snappy,
// Gzip or Zstd as its page compression.
const (
	None   Compression = "none"
	Gzip   Compression = "gzip"
	Zstd   Compression = "zstd"
	Snappy Compression = "snappy"
)

// NameStyle selects how ColumnNames derives output column names.
type NameStyle string

// Column name styles.
const (
	// NameUnderscore turns "orders.created_date" into "orders_created_date":
	// every character outside [A-Za-z0-9_] becomes '_'. A pivot column is
	// the measure's name, "__", and its pivot values so converted and
	// joined by "__": "orders_count__complete",
	// "orders_count__complete__2024", "orders_count__row_total". It is the
	// default, and its names are always valid BigQuery column names (see
	// CheckBigQueryName): a name starting with a digit or a prefix
	// BigQuery reserves (_TABLE_, _FILE_, _PARTITION, ...) gets "col_" in
	// front, and a name is cut to 300 characters, its "_2" suffix
	// included.
	NameUnderscore NameStyle = "underscore"
	// NameField keeps the Looker field name as is ("orders.created_date").
	NameField NameStyle = "field"
	// NameLabel uses the Looker label ("Orders Created Date").
	NameLabel NameStyle = "label"
)

// ParseNameStyle validates a configured name style. The empty string means
// NameUnderscore.
func ParseNameStyle(s string) (NameStyle, error) {
	switch NameStyle(s) {
	case "", NameUnderscore:
		return NameUnderscore, nil
	case NameField, NameLabel:
		return NameStyle(s), nil
	}
	return "", fmt.Errorf("unknown column name style %q: use %q, %q or %q", s, NameUnderscore, NameField, NameLabel)
}

// ColumnNames returns one output column name per schema field, in schema
// order, derived with style (the empty or an unknown style is
// NameUnderscore; check configured values with ParseNameStyle).
//
// NameLabel falls back to the field name when a label is empty; a name that
// would still be empty becomes "column_N" (N is the 1-based position). Names
// are unique: a name equal to an earlier one, compared case-insensitively
// because BigQuery and many Parquet readers fold case, gets the suffix "_2",
// "_3", ... (the first suffix that makes it unique).
func ColumnNames(s Schema, style NameStyle) []string {
	out := make([]string, len(s.Fields))
	seen := make(map[string]struct{}, len(s.Fields))
	for i, f := range s.Fields {
		var name string
		switch style {
		case NameField:
			name = f.Name
		case NameLabel:
			name = f.Label
			if name == "" {
				name = f.Name
			}
		default:
			name = underscoreName(f.Name)
			if p := f.Pivot; p != nil {
				parts := []string{underscoreName(p.Measure)}
				for _, v := range p.Values {
					parts = append(parts, underscoreName(v))
				}
				if p.Total {
					parts = append(parts, "row_total")
				}
				name = strings.Join(parts, "__")
			}
			name = bigQuerySafe(name)
		}
		if name == "" {
			name = fmt.Sprintf("column_%d", i+1)
		}
		unique := name
		for n := 2; ; n++ {
			key := strings.ToLower(unique)
			if _, dup := seen[key]; !dup {
				seen[key] = struct{}{}
				break
			}
			suffix := "_" + strconv.Itoa(n)
			base := name
			if style != NameField && style != NameLabel && len(base)+len(suffix) > MaxBigQueryName {
				base = base[:MaxBigQueryName-len(suffix)]
			}
			unique = base + suffix
		}
		out[i] = unique
	}
	return out
}

// bigQuerySafe makes an underscore name one BigQuery takes (see
// CheckBigQueryName): "col_" before a name that starts with a digit or a
// reserved prefix, and the name cut to MaxBigQueryName characters.
func bigQuerySafe(name string) string {
	if name != "" && (name[0] >= '0' && name[0] <= '9' || reservedPrefix(name) != "") {
		name = "col_" + name
	}
	if len(name) > MaxBigQueryName { // ASCII: bytes are characters
		name = name[:MaxBigQueryName]
	}
	return name
}

func underscoreName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name { // one '_' per rune, not per UTF-8 byte
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
