package lookertest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Field describes one column a run returns.
type Field struct {
	Name     string // "orders.id" for explore fields; the SQL column name ("id") for SQL Runner results
	Label    string // csv header, e.g. "Orders Created Date"
	Type     string // LookML type, e.g. "number", "date_date", "yesno", "count"
	Category string // "dimension" or "measure"
}

// fieldDef is a field of the sample explore thelook/orders.
type fieldDef struct {
	Field
	view       string // view name, e.g. "orders"
	viewLabel  string // "Orders"
	labelShort string // "Created Date"
	column     string // SQL Runner column name, e.g. "created_date"
	numeric    bool   // json carries it as a JSON number
	expression string // a table calculation's expression
	// convertTZ is LookML convert_tz of a time field: its values are
	// converted to the query time zone. false for convert_tz: no.
	convertTZ bool
	// valueFormat is the field's LookML value_format (Excel-style, e.g.
	// "#,##0.00"); "" for none. Used with apply_formatting=true.
	valueFormat string
	// enum lists every value of a dimension with few values: the pivot
	// columns it makes.
	enum []string
	// appendValue appends the unformatted value of row (0-based) as Looker
	// renders it in zone loc to dst and reports whether it is null (then
	// nothing is appended). Only converted time fields look at loc.
	appendValue func(dst []byte, row int, loc *time.Location) ([]byte, bool)
}

// timeframe reports whether f is a dimension group timeframe (a date or
// time value).
func (f *fieldDef) timeframe() bool { return strings.HasPrefix(f.Type, "date_") }

const (
	modelName      = "thelook"
	exploreName    = "orders"
	connectionName = "warehouse"
)

// baseTime is orders.created_time of row 0; each row is 97 s later.
var baseTime = time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC).Unix()

var firstNames = []string{"Alice", "Bob", "Carla", "Dmitri", "Émile", "Fatima", "Gao", "Hannah", "Ivan", "José",
	"Kenji", "Łukasz", "María", "Noah", "Olivia", "Priya", "Quinn", "Renée", "Søren", "Tomás", "Uma", "Zoë"}
var lastNames = []string{"Anderson", "Brown", "Chen", "Dubois", "Evans", "García", "Hansen", "Ito", "Jones",
	"Kowalski", "Lopez", "Müller", "Nakamura", "O'Brien", "Patel", "Rossi", "Smith", "Tanaka", "Weiß"}

// asciiNames are the e-mail local parts matching firstNames/lastNames.
var asciiFirst = []string{"alice", "bob", "carla", "dmitri", "emile", "fatima", "gao", "hannah", "ivan", "jose",
	"kenji", "lukasz", "maria", "noah", "olivia", "priya", "quinn", "renee", "soren", "tomas", "uma", "zoe"}
var asciiLast = []string{"anderson", "brown", "chen", "dubois", "evans", "garcia", "hansen", "ito", "jones",
	"kowalski", "lopez", "muller", "nakamura", "obrien", "patel", "rossi", "smith", "tanaka", "weiss"}

var countries = []string{"Argentina", "Australia", "Austria", "Belgium", "Brazil", "Bulgaria", "Canada", "Chile",
	"China", "Colombia", "Côte d'Ivoire", "Croatia", "Czechia", "Denmark", "Egypt", "Estonia", "Finland", "France",
	"Germany", "Greece", "Hungary", "Iceland", "India", "Indonesia", "Ireland", "Israel", "Italy", "Japan", "Kenya",
	"Korea, Republic of", "Mexico", "Morocco", "Netherlands", "New Zealand", "Nigeria", "Norway", "Peru", "Poland",
	"Portugal", "Romania", "Singapore", "South Africa", "Spain", "Sweden", "Switzerland", "Thailand", "Türkiye",
	"United Kingdom", "United States", "Viet Nam"}

var statuses = []string{"complete", "pending", "processing", "shipped", "cancelled"}

var categories = []string{"Accessories", "Active", "Blazers & Jackets", "Dresses", "Jeans", "Outerwear & Coats",
	"Shorts", "Socks, Hosiery", "Sweaters", "Tops & Tees", "Underwear"}

var notes = []string{
	"Leave at the door",
	"café ☕, \"quoted\"\nsecond line",
	"Größe: \"XL\", Farbe: grün",
	"日本語のメモ, 二行目\nline 2\nline 3",
	"she said \"hi\"",
	"tab\tseparated, and a trailing space ",
	"🎁 gift wrap please",
}

// mix is splitmix64: a cheap deterministic hash of (row, salt).
func mix(row int, salt uint64) uint64 {
	z := uint64(row)*0x9E3779B97F4A7C15 + salt*0xBF58476D1CE4E5B9 + 0x632BE59BD9B9E5F5
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func appendCents(dst []byte, cents uint64) []byte {
	dst = strconv.AppendUint(dst, cents/100, 10)
	dst = append(dst, '.')
	c := cents % 100
	if c < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendUint(dst, c, 10)
}

// Instant is the true instant of orders.created_time in row (0-based): the
// value the database stores (in UTC), before Looker converts it to the
// query time zone.
func Instant(row int) time.Time {
	return time.Unix(baseTime+int64(row)*97, 0).UTC()
}

// appendDate appends t as "2006-01-02" (cheaper than AppendFormat).
func appendDate(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	dst = strconv.AppendInt(dst, int64(y), 10)
	dst = append(append2(append(dst, '-'), int(mo)), '-')
	return append2(dst, d)
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

func pick(list []string, row int, salt uint64) string {
	return list[mix(row, salt)%uint64(len(list))]
}

func dim(view, viewLabel, name, labelShort, typ string, numeric bool, f func([]byte, int, *time.Location) ([]byte, bool)) *fieldDef {
	return &fieldDef{
		Field:       Field{Name: view + "." + name, Label: viewLabel + " " + labelShort, Type: typ, Category: "dimension"},
		view:        view,
		viewLabel:   viewLabel,
		labelShort:  labelShort,
		column:      name,
		numeric:     numeric,
		appendValue: f,
	}
}

func appendDateTime(dst []byte, t time.Time) []byte {
	dst = append(appendDate(dst, t), ' ')
	h, m, sec := t.Clock()
	dst = append(append2(dst, h), ':')
	dst = append(append2(dst, m), ':')
	return append2(dst, sec)
}

// catalog lists the fields of thelook/orders in explore order.
var catalog = []*fieldDef{
	dim("orders", "Orders", "id", "ID", "number", true, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return strconv.AppendInt(dst, int64(row)+1, 10), false
	}),
	timeDim(dim("orders", "Orders", "created_date", "Created Date", "date_date", false, func(dst []byte, row int, loc *time.Location) ([]byte, bool) {
		return appendDate(dst, Instant(row).In(loc)), false
	}), true),
	timeDim(dim("orders", "Orders", "created_time", "Created Time", "date_time", false, func(dst []byte, row int, loc *time.Location) ([]byte, bool) {
		return appendDateTime(dst, Instant(row).In(loc)), false
	}), true),
	// created_local_time is a convert_tz: no datetime: the database stores
	// the store's wall-clock time (here: the UTC wall clock of the order)
	// and Looker renders it as stored, in every query zone
	// (using-time-zone-settings, "convert_tz LookML parameter").
	timeDim(dim("orders", "Orders", "created_local_time", "Created Local Time", "date_time", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return appendDateTime(dst, Instant(row)), false
	}), false),
	dim("users", "Users", "name", "Name", "string", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		u := mix(row, 1)
		dst = append(dst, firstNames[u%uint64(len(firstNames))]...)
		dst = append(dst, ' ')
		return append(dst, lastNames[(u>>16)%uint64(len(lastNames))]...), false
	}),
	dim("users", "Users", "email", "Email", "string", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		u := mix(row, 1)
		dst = append(dst, asciiFirst[u%uint64(len(asciiFirst))]...)
		dst = append(dst, '.')
		dst = append(dst, asciiLast[(u>>16)%uint64(len(asciiLast))]...)
		dst = strconv.AppendUint(dst, (u>>32)%1000, 10)
		return append(dst, "@example.com"...), false
	}),
	withEnum(countries, dim("users", "Users", "country", "Country", "string", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return append(dst, pick(countries, row, 2)...), false
	})),
	withEnum(statuses, dim("orders", "Orders", "status", "Status", "string", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return append(dst, pick(statuses, row, 3)...), false
	})),
	formatted("#,##0.00", dim("orders", "Orders", "amount", "Amount", "number", true, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return appendCents(dst, 100+mix(row, 4)%99900), false
	})),
	dim("orders", "Orders", "quantity", "Quantity", "number", true, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return strconv.AppendUint(dst, 1+mix(row, 5)%5, 10), false
	}),
	withEnum([]string{"No", "Yes"}, dim("orders", "Orders", "is_first_purchase", "Is First Purchase (Yes / No)", "yesno", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		if mix(row, 6)%4 == 0 {
			return append(dst, "Yes"...), false
		}
		return append(dst, "No"...), false
	})),
	dim("orders", "Orders", "discount", "Discount", "number", true, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		h := mix(row, 7)
		if h%10 == 0 {
			return dst, true
		}
		return appendCents(dst, (h>>8)%5000), false
	}),
	dim("orders", "Orders", "note", "Note", "string", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		h := mix(row, 8)
		if h%10 < 3 {
			return dst, true
		}
		if h%50 == 3 {
			return dst, false // an empty string, not null: csv writes it as Options.BareEmptyStrings says
		}
		return append(dst, notes[(h>>8)%uint64(len(notes))]...), false
	}),
	withEnum(categories, dim("products", "Products", "category", "Category", "string", false, func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return append(dst, pick(categories, row, 9)...), false
	})),
	measure("orders", "Orders", "count", "Count", "count", func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return strconv.AppendUint(dst, 1+mix(row, 10)%20, 10), false
	}),
	formatted("#,##0.00", measure("orders", "Orders", "total_amount", "Total Amount", "sum", func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return appendCents(dst, 100+mix(row, 11)%9999900), false
	})),
	// Measures Looker computes in memory after the query, so a result
	// holding one cannot stream (NOTES §9, §13.7). Values are synthetic.
	measure("orders", "Orders", "running_total_count", "Running Total Count", "running_total", func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return strconv.AppendInt(dst, int64(row+1)*5, 10), false
	}),
	measure("orders", "Orders", "percent_of_total_amount", "Percent of Total Amount", "percent_of_total", func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		return appendCents(dst, mix(row, 12)%10000), false
	}),
	measure("orders", "Orders", "percent_of_previous_count", "Percent of Previous Count", "percent_of_previous", func(dst []byte, row int, _ *time.Location) ([]byte, bool) {
		if row == 0 {
			return dst, true
		}
		return appendCents(dst, mix(row, 13)%20000), false
	}),
}

func timeDim(d *fieldDef, convertTZ bool) *fieldDef { d.convertTZ = convertTZ; return d }

func formatted(format string, d *fieldDef) *fieldDef { d.valueFormat = format; return d }

func withEnum(values []string, d *fieldDef) *fieldDef { d.enum = values; return d }

func measure(view, viewLabel, name, labelShort, typ string, f func([]byte, int, *time.Location) ([]byte, bool)) *fieldDef {
	d := dim(view, viewLabel, name, labelShort, typ, true, f)
	d.Category = "measure"
	return d
}

// byName finds a field by its view.field name or its SQL Runner column name.
var byName = func() map[string]*fieldDef {
	m := make(map[string]*fieldDef, 2*len(catalog))
	for _, f := range catalog {
		m[f.Name] = f
		if f.Category == "dimension" {
			m[f.column] = f
		}
	}
	return m
}()

// sqlColumns are the columns a SQL Runner query returns: every dimension of
// the explore, named by its column name.
var sqlColumns = func() []*fieldDef {
	var out []*fieldDef
	for _, f := range catalog {
		if f.Category != "dimension" {
			continue
		}
		c := *f
		c.Name = f.column
		c.Label = f.column
		out = append(out, &c)
	}
	return out
}()

// Value is ValueIn(field, row, time.UTC): the value as a query in UTC (the
// default application time zone) and SQL Runner return it.
func Value(field string, row int) (text string, null bool) {
	return ValueIn(field, row, time.UTC)
}

// ValueIn returns the unformatted value of field in row (0-based; orders.id
// is row+1) as csv and json_bi carry it when Looker renders time values in
// zone loc: numbers like "12.50" or "3", dates "2026-01-02", times
// "2026-01-02 15:04:05" (no offset, NOTES §13.1), yesno "Yes"/"No". A
// convert_tz: no field (orders.created_local_time) ignores loc. null is
// true for a null value (text is then ""). field is a view.field name
// ("orders.amount") or a SQL Runner column name ("amount"). ValueIn panics
// on an unknown field: it is a test helper.
func ValueIn(field string, row int, loc *time.Location) (text string, null bool) {
	f, ok := byName[field]
	if !ok {
		panic(fmt.Sprintf("lookertest: unknown field %q", field))
	}
	b, null := f.appendValue(nil, row, loc)
	return string(b), null
}

// Explore lists every field of the sample explore thelook/orders in order.
func Explore() []Field {
	out := make([]Field, len(catalog))
	for i, f := range catalog {
		out[i] = f.Field
	}
	return out
}

// tableCalcRE is the one table calculation form the sandbox evaluates:
// a numeric field times a constant.
var tableCalcRE = regexp.MustCompile(`^\$\{([a-z_]+\.[a-z_]+)\}\s*\*\s*([0-9]+(?:\.[0-9]+)?)$`)

// tableCalcs parses a query's dynamic_fields into the table calculations
// it defines, by name.
func tableCalcs(dynamic string) (map[string]*fieldDef, error) {
	out := map[string]*fieldDef{}
	if strings.TrimSpace(dynamic) == "" {
		return out, nil
	}
	var list []struct {
		TableCalculation string `json:"table_calculation"`
		Label            string `json:"label"`
		Expression       string `json:"expression"`
	}
	if err := json.Unmarshal([]byte(dynamic), &list); err != nil {
		return nil, &queryError{http.StatusBadRequest, "dynamic_fields is not valid JSON: " + err.Error()}
	}
	for _, tc := range list {
		if tc.TableCalculation == "" {
			continue // a custom field; not modelled
		}
		m := tableCalcRE.FindStringSubmatch(tc.Expression)
		base, ok := byName[m2(m, 1)]
		if m == nil || !ok || !base.numeric {
			return nil, &queryError{http.StatusBadRequest, fmt.Sprintf("lookertest evaluates only table calculations of the form ${view.numeric_field} * number, not %q", tc.Expression)}
		}
		factor, _ := strconv.ParseFloat(m[2], 64)
		out[tc.TableCalculation] = &fieldDef{
			Field:      Field{Name: tc.TableCalculation, Label: tc.Label, Type: "number", Category: "table_calculation"},
			labelShort: tc.Label,
			column:     tc.TableCalculation,
			numeric:    true,
			expression: tc.Expression,
			appendValue: func(dst []byte, row int, loc *time.Location) ([]byte, bool) {
				v, null := base.appendValue(nil, row, loc)
				if null {
					return dst, true
				}
				x, _ := strconv.ParseFloat(string(v), 64)
				return strconv.AppendFloat(dst, math.Round(x*factor*1e6)/1e6, 'f', -1, 64), false
			},
		}
	}
	return out, nil
}

func m2(m []string, i int) string {
	if len(m) > i {
		return m[i]
	}
	return ""
}

func hasTableCalcs(q Query) bool {
	calcs, err := tableCalcs(q.DynamicFields)
	return err == nil && len(calcs) > 0
}
