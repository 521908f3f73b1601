package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

// parseJob parses one job written on its own lines (keys indented by 4).
func parseJob(keys string) (*config.Config, error) {
	y := "looker: {base_url: https://x.cloud.looker.com, client_id: a, client_secret: b}\njobs:\n  - name: j\n    schedule: '@daily'\n" + keys
	return config.Parse("t.yaml", []byte(y), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
}

// TestSourceFiltersKeys reads source.filters and filter_expression of saved
// sources and dashboards, renders their templates with the run's times,
// and reports misuse in the user's words with the file and line.
func TestSourceFiltersKeys(t *testing.T) {
	t.Parallel()
	cfg, err := parseJob(`    source:
      look_id: 42
      filters: {orders.created_date: '{{ .PrevScheduledTime.Format "2006-01-02" }} to {{ .ScheduledTime.Format "2006-01-02" }}', orders.status: complete}
      filter_expression: '$${orders.amount} > {{ .Attempt }}'
    format: csv
    destination: /tmp/x/{{ date "2006-01-02" }}.csv
`)
	require.NoError(t, err)
	j := cfg.Jobs[0]
	require.Equal(t, "complete", j.Run.Filters["orders.status"])
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	spec, err := j.RenderRun(config.TemplateData{ScheduledTime: at, PrevScheduledTime: at.AddDate(0, 0, -1), Attempt: 2})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"orders.created_date": "2026-03-01 to 2026-03-02", "orders.status": "complete"}, spec.Run.Filters)
	require.Equal(t, "${orders.amount} > 2", spec.Run.FilterExpression)
	require.Contains(t, j.Run.Filters["orders.created_date"], "{{", "the job keeps its templates")

	cfg, err = parseJob(`    source: {dashboard_id: "thelook::orders_overview", filters: {Date: '{{ date "2006-01-02" }}'}}
    format: parquet
    destination: /tmp/x/{{ date "2006-01-02" }}/{{ .Tile }}.parquet
`)
	require.NoError(t, err)
	j = cfg.Jobs[0]
	require.True(t, j.TileFiles())
	require.Empty(t, j.Run.Filters)
	spec, err = j.RenderRun(config.TemplateData{ScheduledTime: at})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"Date": "2026-03-02"}, spec.DashboardFilters)

	for _, tc := range []struct{ name, keys, want string }{
		{"filters on an inline query", `    source: {query: {model: m, view: v, fields: [a]}, filters: {a: b}}
    format: csv
    destination: /tmp/x.csv`, `t.yaml:5: job "j": source.filters goes inside source.query for an inline query (source.query.filters)`},
		{"filters on sql", `    source: {sql: {connection: c, sql: select 1}, filter_expression: x}
    format: csv
    destination: /tmp/x.csv`, `t.yaml:5: job "j": source.filter_expression does not apply to SQL Runner queries`},
		{"filter_expression on a dashboard", `    source: {dashboard_id: 7, filter_expression: x}
    format: csv
    destination: /tmp/x/{{ .Tile }}.csv`, `t.yaml:5: job "j": source.filter_expression does not apply to a dashboard`},
		{"a broken template", `    source:
      look_id: 42
      filters: {orders.created_date: '{{ .Nope }}'}
    format: csv
    destination: /tmp/x.csv`, `t.yaml:7: job "j": source filters.orders.created_date template:`},
		{"two sources", `    source: {look_id: 1, dashboard_id: 7}
    format: csv
    destination: /tmp/x.csv`, `t.yaml:5: job "j": source has 2 of look_id, query_id, query_slug, query, sql, dashboard_id; keep exactly one`},
		{"a dashboard without .Tile", `    source: {dashboard_id: 7}
    format: csv
    destination: /tmp/x/{{ date "2006" }}.csv`, `t.yaml:7: job "j": a dashboard job writes one file per data tile: put {{ .Tile }} in the destination's file name`},
		{".Tile in a directory", `    source: {dashboard_id: 7}
    format: csv
    destination: /tmp/x/{{ .Tile }}/data.csv`, `t.yaml:7: job "j": {{ .Tile }} must be in the file name, not in a directory`},
		{".Tile for a Look", `    source: {look_id: 7}
    format: csv
    destination: /tmp/x/{{ .Tile }}.csv`, `t.yaml:7: job "j": {{ .Tile }} names a dashboard tile's file; this job writes one file (source look 7, format csv): remove it`},
		{"a split dashboard", `    source: {dashboard_id: 7}
    format: csv
    max_rows_per_file: 10
    destination: /tmp/x/{{ .Tile }}.csv`, `t.yaml:7: job "j": a dashboard job writes each tile as one file and is not split`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseJob(tc.keys + "\n")
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestRenderKeys reads format pdf, png and jpg with render: and refuses
// what a render cannot do, in the user's words with the file and line.
func TestRenderKeys(t *testing.T) {
	t.Parallel()
	cfg, err := parseJob(`    source: {dashboard_id: 7, filters: {Status: cancelled}}
    format: pdf
    render: {width: 800, height: 600, pdf_paper_size: a4, pdf_landscape: true, long_tables: true}
    destination: /tmp/x/{{ date "2006-01-02" }}.pdf
`)
	require.NoError(t, err)
	j := cfg.Jobs[0]
	require.True(t, j.Plan.Render)
	require.False(t, j.TileFiles())
	require.Equal(t, "application/pdf", j.Plan.ContentType)
	require.Equal(t, int64(800), j.Render.Width)
	require.Equal(t, "a4", j.Render.PDFPaperSize)
	require.True(t, *j.Render.PDFLandscape)

	cfg, err = parseJob(`    source: {look_id: 42}
    format: png
    destination: /tmp/x/{{ date "2006-01-02" }}.png
`)
	require.NoError(t, err)
	require.Equal(t, config.Render{Width: config.DefaultRenderWidth, Height: config.DefaultRenderHeight}, cfg.Jobs[0].Render)
	require.Equal(t, "image/png", cfg.Jobs[0].Plan.ContentType)

	for _, tc := range []struct{ name, keys string }{
		{"render keys with csv", `    source: {look_id: 42}
    format: csv
    render: {width: 10}
    destination: /tmp/x.csv
|t.yaml:7: job "j": render applies to format pdf, png or jpg (a document Looker renders), not csv; remove it`},
		{"compression with pdf", `    source: {dashboard_id: 7}
    format: pdf
    compression: gzip
    destination: /tmp/x.pdf
|t.yaml:7: job "j": compression does not apply to format pdf`},
		{"pdf of a look", `    source: {look_id: 42}
    format: pdf
    destination: /tmp/x.pdf
|t.yaml:6: job "j": Looker renders only dashboards to pdf; render this look 42 to png or jpg`},
		{"inline query png", `    source: {query: {model: m, view: v, fields: [a]}}
    format: png
    destination: /tmp/x.png
|t.yaml:6: job "j": format png renders a dashboard (dashboard_id), a Look (look_id) or a saved query`},
		{"bad paper", `    source: {dashboard_id: 7}
    format: pdf
    render: {pdf_paper_size: b5}
    destination: /tmp/x.pdf
|t.yaml:7: job "j": render.pdf_paper_size "b5" is not one of letter, legal, tabloid, a0, a1, a2, a3, a4 or a5`},
		{"landscape for a look", `    source: {look_id: 42}
    format: png
    render: {pdf_landscape: true, width: 0}
    destination: /tmp/x.png
|t.yaml:7: job "j": render.pdf_landscape applies to dashboards only`},
		{"zero width", `    source: {look_id: 42}
    format: jpg
    render: {width: 0}
    destination: /tmp/x.jpg
|t.yaml:7: job "j": render.width 0 must be between 1 and 20000 pixels`},
		{"split render", `    source: {dashboard_id: 7}
    format: png
    max_rows_per_file: 5
    destination: /tmp/x.png
|t.yaml:7: job "j": format png is one document and cannot be split`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys, want, _ := strings.Cut(tc.keys, "|")
			_, err := parseJob(keys)
			require.Error(t, err)
			require.Contains(t, err.Error(), want)
		})
	}
}

// TestFilterExpressionFieldHint: a Looker field reference left as ${...}
// says how to write it.
func TestFilterExpressionFieldHint(t *testing.T) {
	t.Parallel()
	_, err := parseJob("    source: {look_id: 4, filter_expression: '${orders.amount} > 1'}\n    format: csv\n    destination: /tmp/x.csv\n")
	require.ErrorContains(t, err, `t.yaml:5: invalid environment variable name "orders.amount" in ${orders.amount}; a Looker field in a filter_expression is written $${orders.amount}`)
}
