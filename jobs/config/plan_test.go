package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/formats/csvenc"
	"github.com/lookerexport/exporter/jobs/config"
)

// planKeys writes the format keys of a job; "" leaves a key out.
func planKeys(format, compression, resultFormat, header string) string {
	var b strings.Builder
	for _, kv := range [][2]string{{"format", format}, {"compression", compression}, {"result_format", resultFormat}, {"csv_header", header}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "    %s: %s\n", kv[0], kv[1])
		}
	}
	return b.String() + "    destination: out/x\n"
}

// planJob loads one job with the given source and keys.
func planJob(t *testing.T, source, keys string) (*config.Job, error) {
	t.Helper()
	y := "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\njobs:\n  - name: j\n    schedule: '@daily'\n    source: " + source + "\n" + keys
	cfg, err := config.Parse("x.yaml", []byte(y), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		return nil, err
	}
	return cfg.Jobs[0], nil
}

// TestPlanMatrix resolves every format x compression x Looker result
// format (x csv_header for csv) x source kind and compares the plans and
// the problems with testdata/plan.golden (written for a Look; every other
// source kind must plan the same). The problem wording is what users
// read: it must not drift.
func TestPlanMatrix(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for _, format := range []string{"", "csv", "jsonl", "parquet", "raw", "xml"} {
		headers := []string{""}
		if format == "csv" {
			headers = []string{"", "labels", "names", "none", "fancy"}
		}
		for _, comp := range []string{"", "none", "gzip", "zstd", "snappy", "lz4"} {
			for _, rf := range []string{"", "csv", "json", "json_bi", "xlsx", "txt"} {
				for _, h := range headers {
					fmt.Fprintf(&b, "format=%s compression=%s result_format=%s csv_header=%s\n", format, comp, rf, h)
					job, err := planJob(t, "{look_id: '1'}", planKeys(format, comp, rf, h))
					for _, src := range []string{"{query_slug: abc}", "{query_id: '7'}", "{query: {model: m, view: v, fields: [v.id]}}", "{sql: {connection: c, sql: 'SELECT 1'}}"} {
						other, oerr := planJob(t, src, planKeys(format, comp, rf, h))
						if err != nil || oerr != nil {
							require.Equal(t, fmt.Sprint(err), fmt.Sprint(oerr), "source %s", src)
							continue
						}
						require.Equal(t, job.Plan, other.Plan, "source %s", src)
					}
					if err != nil {
						for _, line := range strings.Split(err.Error(), "\n") {
							fmt.Fprintf(&b, "  error: %s\n", line)
						}
						continue
					}
					p := job.Plan
					require.Equal(t, p.ResultFormat, job.Run.ResultFormat, "lookerapi asks for the planned result format")
					fmt.Fprintf(&b, "  plan: format=%s compression=%s result_format=%s read=%d text=%t stream=%s header=%s passthrough=%t content_type=%q\n",
						p.Format, p.Compression, p.ResultFormat, p.Read, p.Text, p.Stream, p.Header, p.Passthrough, p.ContentType)
				}
			}
		}
	}
	golden := filepath.Join("testdata", "plan.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), b.String())
}

// TestPlan pins what the runner relies on, case by case.
func TestPlan(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, keys string
		want       config.Plan
	}{
		{"csv passes looker csv through", planKeys("csv", "", "", ""), config.Plan{
			Format: formats.CSV, Compression: formats.None, ResultFormat: "csv", Read: config.ReadCSV, Text: true,
			Stream: formats.None, Header: csvenc.HeaderLabels, Passthrough: true, ContentType: "text/csv; charset=utf-8"}},
		{"csv names reads json_bi", planKeys("csv", "gzip", "", "names"), config.Plan{
			Format: formats.CSV, Compression: formats.Gzip, ResultFormat: "json_bi", Read: config.ReadJSONBI, Text: true,
			Stream: formats.Gzip, Header: csvenc.HeaderNames, ContentType: "application/gzip"}},
		{"split csv is re-encoded", planKeys("csv", "", "", "") + "    max_rows_per_file: 10\n", config.Plan{
			Format: formats.CSV, Compression: formats.None, ResultFormat: "csv", Read: config.ReadCSV, Text: true,
			Stream: formats.None, Header: csvenc.HeaderLabels, ContentType: "text/csv; charset=utf-8"}},
		{"jsonl zstd", planKeys("jsonl", "zstd", "json", ""), config.Plan{
			Format: formats.JSONL, Compression: formats.Zstd, ResultFormat: "json", Read: config.ReadJSON, Text: true,
			Stream: formats.Zstd, Header: csvenc.HeaderLabels, ContentType: "application/zstd"}},
		{"parquet compresses pages, not the file", planKeys("parquet", "gzip", "", ""), config.Plan{
			Format: formats.Parquet, Compression: formats.Gzip, ResultFormat: "json_bi", Read: config.ReadJSONBI, Text: true,
			Stream: formats.None, Header: csvenc.HeaderLabels, ContentType: "application/vnd.apache.parquet"}},
		{"parquet defaults to snappy", planKeys("parquet", "", "", ""), config.Plan{
			Format: formats.Parquet, Compression: formats.Snappy, ResultFormat: "json_bi", Read: config.ReadJSONBI, Text: true,
			Stream: formats.None, Header: csvenc.HeaderLabels, ContentType: "application/vnd.apache.parquet"}},
		{"raw xlsx is binary, Looker's type", planKeys("raw", "", "xlsx", ""), config.Plan{
			Format: formats.Raw, Compression: formats.None, ResultFormat: "xlsx", Read: config.ReadBytes,
			Stream: formats.None, Header: csvenc.HeaderLabels}},
		{"raw gzip is a gzip file", planKeys("raw", "gzip", "txt", ""), config.Plan{
			Format: formats.Raw, Compression: formats.Gzip, ResultFormat: "txt", Read: config.ReadBytes, Text: true,
			Stream: formats.Gzip, Header: csvenc.HeaderLabels, ContentType: "application/gzip"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job, err := outputJob(t, tc.keys)
			require.NoError(t, err)
			require.Equal(t, tc.want, job.Plan)
		})
	}
}

func TestPlanObjectType(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		plan       config.Plan
		looker     string
		wantObject string
	}{
		{"planned type wins", config.Plan{ContentType: "application/gzip"}, "text/csv", "application/gzip"},
		{"raw keeps Looker's type", config.Plan{}, "application/vnd.ms-excel", "application/vnd.ms-excel"},
		{"nobody said", config.Plan{}, "", "application/octet-stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.wantObject, tc.plan.ObjectType(tc.looker))
		})
	}
}
