package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

// TestCondition resolves the keys when and min_rows into the plan, and
// pins the wording of every problem with them.
func TestCondition(t *testing.T) {
	t.Parallel()
	csv := planKeys("csv", "", "", "")
	cases := []struct {
		name, keys  string
		wantWhen    config.When
		wantMinRows int64
		wantErr     string // the whole message; "" for none
	}{
		{"default is any", csv, config.WhenAny, 0, ""},
		{"any", csv + "    when: any\n", config.WhenAny, 0, ""},
		{"results", csv + "    when: results\n", config.WhenResults, 0, ""},
		{"no_results", csv + "    when: no_results\n", config.WhenNoResults, 0, ""},
		{"changed", csv + "    when: changed\n    min_rows: 1\n", config.WhenChanged, 1, ""},
		{"min_rows 0", csv + "    min_rows: 0\n", config.WhenAny, 0, ""},
		{"min_rows from the environment's digits", csv + "    min_rows: '12'\n", config.WhenAny, 12, ""},
		{"no_results with min_rows 0", planKeys("parquet", "", "", "") + "    when: no_results\n    min_rows: 0\n", config.WhenNoResults, 0, ""},
		{"unknown when", csv + "    when: sometimes\n", 0, 0,
			`x.yaml:8: job "j": when "sometimes" is not one of any (always publish, the default), results (only a result with rows), no_results (only an empty result), changed (only a result that differs from the last published run)`},
		{"when as YAML reads it, not as Go does", csv + "    when: yes\n", 0, 0,
			`x.yaml:8: job "j": when "yes" is not one of any (always publish, the default), results (only a result with rows), no_results (only an empty result), changed (only a result that differs from the last published run)`},
		{"when is a list", csv + "    when: [results]\n", 0, 0,
			`x.yaml:8: job "j": when: expected a string, found a list`},
		{"negative min_rows", csv + "    min_rows: -1\n", 0, 0,
			`x.yaml:8: job "j": min_rows -1 must be 0 or more: the fewest rows a run may publish`},
		{"min_rows is not a number", csv + "    min_rows: many\n", 0, 0,
			`x.yaml:8: job "j": min_rows: expected a whole number, found "many"`},
		{"no_results contradicts min_rows", csv + "    when: no_results\n    min_rows: 5\n", 0, 0,
			`x.yaml:9: job "j": min_rows 5 contradicts when: no_results, which publishes only empty results; remove one of them`},
		{"raw cannot count rows for when", planKeys("raw", "", "csv", "") + "    when: changed\n", 0, 0,
			`x.yaml:9: job "j": when needs the rows of the result, which format raw copies without reading; use format csv, jsonl or parquet`},
		{"raw cannot count rows for min_rows", planKeys("raw", "", "csv", "") + "    min_rows: 1\n", 0, 0,
			`x.yaml:9: job "j": min_rows needs the rows of the result, which format raw copies without reading; use format csv, jsonl or parquet`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job, err := outputJob(t, tc.keys)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantWhen, job.Plan.When)
			require.Equal(t, tc.wantMinRows, job.Plan.MinRows)
			require.Equal(t, tc.wantWhen != config.WhenAny || tc.wantMinRows > 0, job.Plan.Conditional())
		})
	}
}

func TestWhenString(t *testing.T) {
	t.Parallel()
	for w, s := range map[config.When]string{config.WhenAny: "any", config.WhenResults: "results", config.WhenNoResults: "no_results", config.WhenChanged: "changed", 9: "When(9)"} {
		require.Equal(t, s, w.String())
	}
}

// TestConditionNeedsOneResult: renders have no rows and a dashboard has
// one result per tile, so when and min_rows are refused on them.
func TestConditionNeedsOneResult(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, source, keys, want string }{
		{"render", "{look_id: '1'}", "    format: png\n    destination: out/x.png\n    when: changed\n",
			`x.yaml:8: job "j": when needs the rows of one result, and a rendered document (format png) has no rows to count; remove when`},
		{"dashboard", "{dashboard_id: '12'}", "    format: csv\n    destination: out/{{ .Tile }}.csv\n    min_rows: 1\n",
			`x.yaml:8: job "j": min_rows needs the rows of one result, and a dashboard's tiles are not checked by it yet; remove min_rows`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := planJob(t, tc.source, tc.keys)
			require.EqualError(t, err, tc.want)
		})
	}
}
