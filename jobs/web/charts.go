package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// charts draws the run duration and rows of runs (newest first) as inline
// SVG, oldest on the left. Only numbers and fixed words go into the SVG.
func charts(runs []RunInfo) []template.HTML {
	var pts []RunInfo
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].FinishedAt != nil {
			pts = append(pts, runs[i])
		}
	}
	if len(pts) < 2 {
		return nil
	}
	dur := make([]float64, len(pts))
	rows := make([]float64, len(pts))
	failed := make([]bool, len(pts))
	for i, r := range pts {
		dur[i] = r.DurationSeconds
		rows[i] = float64(r.Rows)
		failed[i] = r.Status != "succeeded"
	}
	span := fmt.Sprintf("%s to %s", pts[0].StartedAt.UTC().Format("Jan 2 15:04"), pts[len(pts)-1].StartedAt.UTC().Format("Jan 2 15:04 MST"))
	return []template.HTML{
		svgChart("Run duration", dur, failed, func(v float64) string {
			return (time.Duration(v * float64(time.Second))).Round(time.Millisecond).String()
		}, span),
		svgChart("Rows per run", rows, failed, func(v float64) string { return humanize.Comma(int64(v)) }, span),
	}
}

func svgChart(title string, vals []float64, failed []bool, label func(float64) string, span string) template.HTML {
	const w, h, left, right, top, bottom = 600.0, 180.0, 70.0, 10.0, 28.0, 24.0
	max := 0.0
	for _, v := range vals {
		max = math.Max(max, v)
	}
	if max == 0 {
		max = 1
	}
	x := func(i int) float64 { return left + (w-left-right)*float64(i)/float64(len(vals)-1) }
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-v/max) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="16" class="ct">%s</text>`, left, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="grid"/>`, left, top, w-right, top)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="cl" text-anchor="end">%s</text>`, left-6, top+4, template.HTMLEscapeString(label(max)))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="cl" text-anchor="end">0</text>`, left-6, h-bottom+4)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="cl">%s</text>`, left, h-6, template.HTMLEscapeString(span))
	b.WriteString(`<polyline class="line" points="`)
	for i, v := range vals {
		fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(v))
	}
	b.WriteString(`"/>`)
	for i, v := range vals {
		class := "ok"
		if failed[i] {
			class = "bad"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" class="%s"><title>%s</title></circle>`, x(i), y(v), class, template.HTMLEscapeString(label(v)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped labels only
}
