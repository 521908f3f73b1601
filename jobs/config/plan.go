package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/compress"
	"github.com/lookerexport/exporter/formats/csvenc"
)

// Plan is how a job turns a Looker result into files: the job keys
// format, compression, result_format and csv_header, resolved once when
// the config loads (see planRules). The runner switches on these values
// and never re-derives them from strings.
type Plan struct {
	Format      formats.Format
	Compression formats.Compression // as configured, defaults filled in
	// ResultFormat is the Looker result_format the run asks for (also
	// set in Job.Run.ResultFormat, which lookerapi reads).
	ResultFormat string
	// Read is how the result body is read.
	Read Read
	// Text reports a text result (csv, json, html, ...): bytes that are
	// not UTF-8 are written as U+FFFD and counted. Binary results (xlsx,
	// png, jpg) are copied untouched.
	Text bool
	// Stream is the codec around each whole file: Compression for text
	// formats, none for parquet, which compresses its pages itself.
	Stream formats.Compression
	// Header is the header row of format csv.
	Header csvenc.Header
	// PageVersion is the data page version of format parquet (job key
	// parquet_page_version): 0 (unset) or 1 for v1 pages, which every
	// reader takes, or 2 (see parquetenc.Options.DataPageVersion).
	PageVersion int
	// Passthrough: Looker's csv is the file, copied byte for byte and
	// decoded on the side only to validate and count it. A split run
	// re-encodes instead, to repeat the header in every part, so it never
	// passes through.
	Passthrough bool
	// ContentType is the MIME type of the objects written; "" for format
	// raw uncompressed: the type Looker sent (see ObjectType).
	ContentType string
	// When is the job's send condition (job key when): a run whose
	// condition does not hold publishes nothing and is recorded skipped.
	When When
	// MinRows fails a run with fewer rows, publishing nothing (job key
	// min_rows; 0: no minimum).
	MinRows int64
	// Render: the file is a document Looker renders (format pdf, png,
	// jpg) through a render task, copied as is (see render.go).
	Render bool
}

// When is a send condition, checked after the rows have streamed and
// before anything is published (Looker's scheduled-plan require_results,
// require_no_results and require_change).
type When uint8

// Send conditions. The zero value is WhenAny.
const (
	WhenAny       When = iota // always publish (the default)
	WhenResults               // publish only a result with rows
	WhenNoResults             // publish only a result without rows
	WhenChanged               // publish only a result whose rows differ from the last published run's
)

var whenWords = []string{WhenAny: "any", WhenResults: "results", WhenNoResults: "no_results", WhenChanged: "changed"}

func (w When) String() string {
	if int(w) < len(whenWords) {
		return whenWords[w]
	}
	return fmt.Sprintf("When(%d)", w)
}

// Conditional reports whether a run may end without publishing: a send
// condition or a minimum row count. Such runs hold every data file
// uncommitted until the decision (publish.Options.Hold).
func (p Plan) Conditional() bool { return p.When != WhenAny || p.MinRows > 0 }

// Read is how a run reads the Looker result body.
type Read uint8

// Readers.
const (
	ReadBytes  Read = iota // copied as is (format raw), never parsed
	ReadCSV                // Looker csv, labels in the header row
	ReadJSON               // Looker json: rows of objects keyed by field
	ReadJSONBI             // Looker json_bi: metadata with types, then rows
)

var readers = map[string]Read{"csv": ReadCSV, "json": ReadJSON, "json_bi": ReadJSONBI}

// binaryResults are the Looker result formats that are not text.
var binaryResults = []string{"xlsx", "png", "jpg"}

// ObjectType is the MIME type to store an object under, given the one
// Looker sent with the result (used for format raw only).
func (p Plan) ObjectType(lookerType string) string {
	switch {
	case p.ContentType != "":
		return p.ContentType
	case lookerType != "":
		return lookerType
	}
	return "application/octet-stream"
}

// formatRule is what one output format allows and implies.
type formatRule struct {
	// compressions are the codecs it takes; the first is the default.
	compressions []formats.Compression
	// results are the Looker result formats it converts; the first is the
	// default. nil: any, passed through (format raw), and required.
	results []string
	// badResult is the problem when result_format is not among results.
	badResult func(resultFormat string) string
	// pages: compression applies to the pages inside the file (parquet),
	// not to a stream around it.
	pages bool
	// contentType is the MIME type of an uncompressed file; "" for raw.
	contentType string
}

// planRules is the one table of which format, compression and
// result_format go together. Validation and the runner both read it
// (through Plan).
var planRules = map[formats.Format]formatRule{
	formats.CSV: {
		compressions: []formats.Compression{formats.None, formats.Gzip, formats.Zstd},
		results:      []string{"csv", "json_bi"},
		badResult: func(rf string) string {
			return fmt.Sprintf("format csv reads Looker csv (or json_bi for csv_header: names), not %q; use format raw to save other formats", rf)
		},
		contentType: "text/csv; charset=utf-8",
	},
	formats.JSONL: {
		compressions: []formats.Compression{formats.None, formats.Gzip, formats.Zstd},
		results:      []string{"json_bi", "json"},
		badResult: func(rf string) string {
			return fmt.Sprintf("format jsonl reads Looker json or json_bi, not %q", rf)
		},
		contentType: "application/x-ndjson",
	},
	formats.Parquet: {
		compressions: []formats.Compression{formats.Snappy, formats.Zstd, formats.Gzip, formats.None},
		results:      []string{"json_bi"},
		badResult: func(string) string {
			return "format parquet needs Looker json_bi (it carries the field types); remove result_format"
		},
		pages:       true,
		contentType: "application/vnd.apache.parquet",
	},
	formats.Raw: {
		compressions: []formats.Compression{formats.None, formats.Gzip, formats.Zstd},
	},
}

var csvHeaders = []csvenc.Header{csvenc.HeaderLabels, csvenc.HeaderNames, csvenc.HeaderNone}

// orList writes a list for a message: "a, b or c".
func orList[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// resolvePlan fills j.Plan (and j.Run.ResultFormat) from the job's keys,
// reporting every combination planRules does not allow. Passthrough is
// settled in validateOutput, once splitting is known.
func (l *loader) resolvePlan(p, name string, r *rawJob, j *Job) {
	bad := func(key, format string, args ...any) {
		l.addAt(p+"."+key, name, format, args...)
	}
	pl := Plan{Format: formats.Format(r.Format), Compression: formats.Compression(r.Compression), ResultFormat: r.ResultFormat}
	defer func() {
		l.resolveCondition(p, name, r, &pl)
		j.Plan, j.Run.ResultFormat = pl, pl.ResultFormat
		j.Run.DecodesJSON = pl.Read == ReadJSON || pl.Read == ReadJSONBI
		// Left to its default, json_bi may give way to Looker's csv typed
		// by the query's fields: a third of the bytes. A job that names
		// result_format gets exactly that.
		j.Run.TypedCSV = pl.Read == ReadJSONBI && r.ResultFormat == ""
	}()

	pl.Header = csvenc.Header(r.CSVHeader)
	if pl.Header == "" {
		pl.Header = csvenc.HeaderLabels
	}
	if !slices.Contains(csvHeaders, pl.Header) {
		bad("csv_header", "csv_header %q is not one of labels (Looker's header, file passed through byte for byte), names, none", r.CSVHeader)
	}

	if l.resolveRender(p, name, r, j, &pl) {
		return
	}
	rule, ok := planRules[pl.Format]
	switch {
	case pl.Format == "":
		bad("format", "format is required: csv, jsonl, parquet, raw, or pdf, png, jpg (renders)")
		return
	case !ok:
		bad("format", "format %q is not supported; use csv, jsonl, parquet, raw, or pdf, png, jpg (renders)", r.Format)
		return
	}
	if pl.Compression == "" {
		pl.Compression = rule.compressions[0]
	}
	if !slices.Contains(rule.compressions, pl.Compression) {
		bad("compression", "compression %q does not apply to %s; use %s", r.Compression, pl.Format, orList(rule.compressions))
	}
	pl.Stream, pl.ContentType = pl.Compression, rule.contentType
	if rule.pages {
		pl.Stream = formats.None
	}
	if ct := compress.ContentType(pl.Stream); ct != "" {
		pl.ContentType = ct // stored as a compressed file, not with a Content-Encoding
	}

	if rule.results == nil { // raw
		if pl.ResultFormat == "" {
			bad("result_format", "format raw needs result_format: the Looker format to save as is (csv, json, json_bi, txt, xlsx, html, md, ...)")
		}
		pl.Read, pl.Text = ReadBytes, !slices.Contains(binaryResults, pl.ResultFormat)
		return
	}
	if pl.ResultFormat == "" {
		pl.ResultFormat = rule.results[0]
		if pl.Format == formats.CSV && pl.Header == csvenc.HeaderNames {
			pl.ResultFormat = "json_bi" // field names come with json_bi only
		}
	}
	switch {
	case !slices.Contains(rule.results, pl.ResultFormat):
		bad("result_format", "%s", rule.badResult(pl.ResultFormat))
	case pl.Format == formats.CSV && pl.Header == csvenc.HeaderNames && pl.ResultFormat != "json_bi":
		bad("csv_header", "csv_header names needs field names, which Looker csv does not carry; remove result_format")
	}
	pl.Read, pl.Text = readers[pl.ResultFormat], true
	switch v := r.ParquetPageVersion; {
	case v == nil:
	case pl.Format != formats.Parquet:
		bad("parquet_page_version", "parquet_page_version applies to format parquet only")
	case *v != 1 && *v != 2:
		bad("parquet_page_version", "parquet_page_version %d is not 1 (data pages v1, which every reader takes, the default) or 2 (v2 pages: Spark's vectorized reader before 3.3 cannot read them)", *v)
	default:
		pl.PageVersion = *v
	}
	pl.Passthrough = pl.Format == formats.CSV && pl.ResultFormat == "csv" && pl.Header == csvenc.HeaderLabels
}

// resolveCondition fills pl.When and pl.MinRows from the job keys when
// and min_rows. Both need the rows counted, which format raw never does.
func (l *loader) resolveCondition(p, name string, r *rawJob, pl *Plan) {
	bad := func(key, format string, args ...any) {
		l.addAt(p+"."+key, name, format, args...)
	}
	if r.When != "" {
		i := slices.Index(whenWords, r.When)
		if i < 0 {
			bad("when", "when %q is not one of any (always publish, the default), results (only a result with rows), no_results (only an empty result), changed (only a result that differs from the last published run)", r.When)
		} else {
			pl.When = When(i)
		}
	}
	if r.MinRows != nil {
		if *r.MinRows < 0 {
			bad("min_rows", "min_rows %d must be 0 or more: the fewest rows a run may publish", *r.MinRows)
		} else {
			pl.MinRows = *r.MinRows
		}
	}
	if pl.When == WhenNoResults && pl.MinRows > 0 {
		bad("min_rows", "min_rows %d contradicts when: no_results, which publishes only empty results; remove one of them", pl.MinRows)
	}
	if pl.Format == formats.Raw && pl.Conditional() {
		key := "when"
		if pl.When == WhenAny {
			key = "min_rows"
		}
		bad(key, "%s needs the rows of the result, which format raw copies without reading; use format csv, jsonl or parquet", key)
	}
	if pl.Conditional() && (pl.Render || r.Source.DashboardID != "") {
		key := "when"
		if pl.When == WhenAny {
			key = "min_rows"
		}
		what := "a rendered document (format " + string(pl.Format) + ") has no rows to count"
		if !pl.Render {
			what = "a dashboard's tiles are not checked by it yet"
		}
		bad(key, "%s needs the rows of one result, and %s; remove %s", key, what, key)
	}
}
