package config

import (
	"slices"

	"github.com/lookerexport/exporter/formats"
)

// Render is how a job with format pdf, png or jpg asks Looker to render
// its source (job key render). Width and Height are in pixels.
type Render struct {
	Width, Height int64
	PDFPaperSize  string // letter, legal, tabloid, a0..a5; "" sends none (pdf only)
	PDFLandscape  *bool  // dashboards
	LongTables    *bool  // dashboards: expand tables to show every row
}

// Default render size, when the job gives none.
const (
	DefaultRenderWidth  = 1280
	DefaultRenderHeight = 1024
)

type rawRender struct {
	Width        *int64 `yaml:"width"`
	Height       *int64 `yaml:"height"`
	PDFPaperSize string `yaml:"pdf_paper_size"`
	PDFLandscape *bool  `yaml:"pdf_landscape"`
	LongTables   *bool  `yaml:"long_tables"`
}

// renderTypes are the render formats and the MIME types of their files.
var renderTypes = map[formats.Format]string{"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}

var paperSizes = []string{"letter", "legal", "tabloid", "a0", "a1", "a2", "a3", "a4", "a5"}

// resolveRender fills the plan of a render format (pdf, png, jpg) and
// j.Render, and reports whether the format was one. Renders come from
// Looker's render tasks as finished documents: they are copied as they
// are, so they take no compression (PDF, PNG and JPEG are compressed
// already, and a gzipped PDF opens nowhere), no result_format, no
// csv_header and no splitting. Looker renders dashboards to pdf, png and
// jpg, and Looks and saved queries (look_id, query_id, query_slug) to png
// and jpg; pdf_paper_size, pdf_landscape and long_tables apply to
// dashboards. The render key on any other format is an error.
func (l *loader) resolveRender(p, name string, r *rawJob, j *Job, pl *Plan) bool {
	bad := func(key, format string, args ...any) {
		l.addAt(p+"."+key, name, format, args...)
	}
	ct, ok := renderTypes[pl.Format]
	if !ok {
		if r.Render != nil {
			bad("render", "render applies to format pdf, png or jpg (a document Looker renders), not %s; remove it", orNone(r.Format))
		}
		return false
	}
	*pl = Plan{Format: pl.Format, Compression: formats.None, Stream: formats.None, ResultFormat: string(pl.Format),
		Read: ReadBytes, ContentType: ct, Render: true}
	if r.Compression != "" && r.Compression != string(formats.None) {
		bad("compression", "compression does not apply to format %s: Looker sends a finished document, stored as is; remove compression", pl.Format)
	}
	if r.ResultFormat != "" {
		bad("result_format", "result_format does not apply to format %s: the render is the file; remove result_format", pl.Format)
	}
	if r.CSVHeader != "" {
		bad("csv_header", "csv_header applies to format csv only")
	}
	if r.MaxRowsPerFile != nil || r.MaxBytesPerFile != "" {
		key := "max_rows_per_file"
		if r.MaxRowsPerFile == nil {
			key = "max_bytes_per_file"
		}
		bad(key, "format %s is one document and cannot be split; remove %s", pl.Format, key)
	}
	src := j.Source
	dashboard := src.DashboardID != ""
	switch {
	case src.Query != nil || src.SQL != nil:
		bad("format", "format %s renders a dashboard (dashboard_id), a Look (look_id) or a saved query (query_id, query_slug); Looker cannot render an inline or SQL Runner query", pl.Format)
	case pl.Format == "pdf" && !dashboard && (src.LookID != "" || src.QueryID != "" || src.QuerySlug != ""):
		bad("format", "Looker renders only dashboards to pdf; render this %s to png or jpg", src)
	}
	rr := rawRender{}
	if r.Render != nil {
		rr = *r.Render
	}
	j.Render = Render{Width: DefaultRenderWidth, Height: DefaultRenderHeight, PDFPaperSize: rr.PDFPaperSize, PDFLandscape: rr.PDFLandscape, LongTables: rr.LongTables}
	for key, v := range map[string]*int64{"width": rr.Width, "height": rr.Height} {
		if v == nil {
			continue
		}
		if *v < 1 || *v > 20000 {
			bad("render."+key, "render.%s %d must be between 1 and 20000 pixels", key, *v)
		}
		if key == "width" {
			j.Render.Width = *v
		} else {
			j.Render.Height = *v
		}
	}
	if rr.PDFPaperSize != "" {
		switch {
		case pl.Format != "pdf":
			bad("render.pdf_paper_size", "render.pdf_paper_size applies to format pdf only")
		case !slices.Contains(paperSizes, rr.PDFPaperSize):
			bad("render.pdf_paper_size", "render.pdf_paper_size %q is not one of %s", rr.PDFPaperSize, orList(paperSizes))
		}
	}
	if !dashboard {
		for key, set := range map[string]bool{"pdf_landscape": rr.PDFLandscape != nil, "long_tables": rr.LongTables != nil} {
			if set {
				bad("render."+key, "render.%s applies to dashboards only; Looks and queries render as a single visualization", key)
			}
		}
	}
	return true
}

func orNone(s string) string {
	if s == "" {
		return "no format"
	}
	return s
}
