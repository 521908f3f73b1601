package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/sinks"
)

var update = flag.Bool("update", false, "rewrite golden files")

func env(m map[string]string) config.Options {
	return config.Options{LookupEnv: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("testdata/valid.yaml", env(map[string]string{"TEST_SECRET": "s3cr3t-value"}))
	require.NoError(t, err)
	require.Equal(t, "https://example.cloud.looker.com", cfg.Looker.BaseURL)
	require.Equal(t, "s3cr3t-value", cfg.Looker.ClientSecret.Reveal())
	require.Equal(t, 120*time.Second, cfg.Looker.Timeout)
	require.True(t, cfg.Looker.VerifySSL)
	require.Equal(t, "sqlite", cfg.State.Driver)
	require.Equal(t, "/tmp/x.db", cfg.State.DSN)
	require.Equal(t, config.DefaultListen, cfg.Server.Listen)
	require.Equal(t, []string{"orders_daily", "users", "sql_job"}, cfg.JobNames())

	od := cfg.Job("orders_daily")
	require.Equal(t, "42", od.Source.LookID)
	require.Equal(t, formats.Parquet, od.Plan.Format)
	require.Equal(t, formats.Zstd, od.Plan.Compression, "job value wins over defaults")
	require.Equal(t, "Europe/Berlin", od.Location.String(), "timezone from defaults")
	require.Equal(t, "json_bi", od.Run.ResultFormat)
	require.Equal(t, int64(-1), od.Run.Limit)
	require.False(t, od.Run.SavedLimit)
	require.Equal(t, time.UTC, od.SQLLocation, "sql_timezone defaults to UTC")
	require.Equal(t, sinks.Overwrite, od.IfExists)
	next := od.Schedule.Next(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	require.Equal(t, time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC), next.UTC(), "06:00 Berlin is 05:00 UTC in winter")

	u := cfg.Job("users")
	require.Equal(t, formats.CSV, u.Plan.Format, "format from defaults")
	require.Equal(t, formats.Gzip, u.Plan.Compression)
	require.Equal(t, []string{"orders.id", "orders.created_date"}, u.Source.Query.Fields)
	require.Equal(t, map[string]string{"orders.status": "complete"}, u.Source.Query.Filters)
	dest, err := u.Destination.Render(config.TemplateData{Job: "users", ScheduledTime: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	require.Equal(t, "exports/users/2026-11-27.csv.gz", dest)

	s := cfg.Job("sql_job")
	require.Equal(t, "warehouse", s.Source.SQL.Connection)
	require.Equal(t, "SELECT 1", s.Source.SQL.SQL)
	require.Equal(t, formats.Gzip, s.Plan.Compression, "compression from defaults")
}

func TestValidateGolden(t *testing.T) {
	t.Parallel()
	_, err := config.Load("testdata/invalid.yaml", env(nil))
	require.Error(t, err)
	var ps config.Problems
	require.ErrorAs(t, err, &ps)
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", "invalid.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func TestProblems(t *testing.T) {
	t.Parallel()
	base := "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\n"
	job := func(extra string) string {
		return base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n    format: csv\n    destination: out/x.csv\n" + extra
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"empty", "", []string{"config is empty"}},
		{"syntax", "looker: [", []string{"x.yaml:1"}},
		{"no jobs", base, []string{"no jobs"}},
		{"two sources", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1', query_id: '2'}\n    format: csv\n    destination: x.csv\n", []string{`x.yaml:5: job "j": source has 2`}},
		{"no source", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    format: csv\n    destination: x.csv\n", []string{"source needs exactly one"}},
		{"bad name", base + "jobs:\n  - name: Orders Daily\n    schedule: '@daily'\n    source: {look_id: '1'}\n    format: csv\n    destination: x.csv\n", []string{`x.yaml:3: job "Orders Daily": name "Orders Daily" must match`}},
		{"dup job", job("  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n    format: csv\n    destination: y.csv\n"), []string{`x.yaml:8: job "j": duplicate job name; the first is on line 3`}},
		{"escape", job("") + "", nil},
		{"dotdot", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n    format: csv\n    destination: ../x.csv\n", []string{"x.yaml:7", "must not contain .."}},
		{"bad template", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n    format: csv\n    destination: '{{ .Nope }}/x.csv'\n", []string{"x.yaml:7", "Nope"}},
		{"bad compression", job("    compression: snappy\n"), []string{`compression "snappy" does not apply to csv`}},
		{"raw needs result format", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {look_id: '1'}\n    format: raw\n    destination: x.xlsx\n", []string{"format raw needs result_format"}},
		{"bad limit", job("    limit: 0\n"), []string{"limit 0 is not valid"}},
		{"word limit", job("    limit: lots\n"), []string{"x.yaml:8", "limit lots is not valid", "or saved"}},
		{"saved limit inline", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source:\n      query: {model: m, view: v, fields: [a.b]}\n    format: csv\n    limit: saved\n    destination: x.csv\n", []string{"x.yaml:8", "inline or SQL Runner source has none"}},
		{"bad query zone", job("    query_timezone: Mars/Olympus\n"), []string{"x.yaml:8", `query_timezone "Mars/Olympus" is not an IANA time zone`}},
		{"sql zone on a look", job("    sql_timezone: UTC\n"), []string{"x.yaml:8", "sql_timezone applies to SQL Runner sources only"}},
		{"query zone on sql", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source: {sql: {connection: w, sql: select 1}}\n    format: csv\n    query_timezone: UTC\n    destination: x.csv\n", []string{"x.yaml:7", "use sql_timezone"}},
		{"bad idle timeout", "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b, read_idle_timeout: never}\n", []string{"x.yaml:1", `looker.read_idle_timeout: "never" is not a duration`}},
		{"unknown nested", job("    source2: {}\n"), []string{`x.yaml:8: job "j": unknown key "source2" in the job; did you mean "source"?`}},
		{"unknown in query", base + "jobs:\n  - name: j\n    schedule: '@daily'\n    source:\n      query: {model: m, view: v, fields: [a.b], filter: {}}\n    format: csv\n    destination: x.csv\n", []string{`unknown key "filter" in source.query; did you mean "filters"?`}},
		{"bad timeout", job("    timeout: soon\n"), []string{`"soon" is not a duration`}},
		{"every zero", base + "jobs:\n  - name: j\n    schedule: '@every 0s'\n    source: {look_id: '1'}\n    format: csv\n    destination: x.csv\n", []string{"x.yaml:4", "the interval must be at least 1s"}},
		{"every negative", base + "jobs:\n  - name: j\n    schedule: '@every -1m'\n    source: {look_id: '1'}\n    format: csv\n    destination: x.csv\n", []string{"x.yaml:4", "the interval must be at least 1s"}},
		{"every sub-second", base + "jobs:\n  - name: j\n    schedule: '@every 500ms'\n    source: {look_id: '1'}\n    format: csv\n    destination: x.csv\n", []string{"x.yaml:4", "at least 1s"}},
		{"never fires", base + "jobs:\n  - name: j\n    schedule: '0 0 31 2 *'\n    source: {look_id: '1'}\n    format: csv\n    destination: x.csv\n", []string{"x.yaml:4", "never fires in the next five years"}},
		{"missing creds", "jobs: []\n", []string{"looker.base_url is required", "looker.client_id is required", "looker.client_secret is required"}},
		{"state driver", base + "state: {driver: mysql}\n", []string{`state.driver "mysql" is not supported`}},
		{"duplicate key", job("    format: csv\n"), []string{`x.yaml:8: mapping key "format" already defined at [6:5]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse("x.yaml", []byte(tt.yaml), env(nil))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	y := "looker: {base_url: '${URL:-https://d.looker.com}', client_id: '${ID}', client_secret: 'pre-${S}-$${LIT}'}\njobs:\n  - {name: j, schedule: '@daily', source: {look_id: '1'}, format: csv, destination: x.csv}\n"
	cfg, err := config.Parse("x.yaml", []byte(y), env(map[string]string{"ID": "the-id", "S": "sec"}))
	require.NoError(t, err)
	require.Equal(t, "https://d.looker.com", cfg.Looker.BaseURL)
	require.Equal(t, "the-id", cfg.Looker.ClientID)
	require.Equal(t, "pre-sec-${LIT}", cfg.Looker.ClientSecret.Reveal())

	// The SDK variables fill what the file leaves out.
	cfg, err = config.Parse("x.yaml", []byte("jobs:\n  - {name: j, schedule: '@daily', source: {look_id: '1'}, format: csv, destination: x.csv}\n"),
		env(map[string]string{"LOOKERSDK_BASE_URL": "https://e.looker.com/api/4.0", "LOOKERSDK_CLIENT_ID": "i", "LOOKERSDK_CLIENT_SECRET": "s", "LOOKERSDK_VERIFY_SSL": "false", "LOOKERSDK_TIMEOUT": "30",
			"LOOKERSDK_CA_FILE": "/etc/ssl/looker-ca.pem"}))
	require.NoError(t, err)
	require.Equal(t, "https://e.looker.com", cfg.Looker.BaseURL)
	require.False(t, cfg.Looker.VerifySSL)
	require.Equal(t, "/etc/ssl/looker-ca.pem", cfg.Looker.CAFile)
	require.Equal(t, "/etc/ssl/looker-ca.pem", cfg.Looker.ClientConfig().CAFile)
	require.Equal(t, 30*time.Second, cfg.Looker.Timeout)
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("testdata/valid.yaml", env(map[string]string{"TEST_SECRET": "s3cr3t-value"}))
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := strings.Join([]string{
			sprintf(format, cfg), sprintf(format, *cfg), sprintf(format, cfg.Looker), sprintf(format, cfg.Looker.ClientSecret),
		}, "\n")
		require.NotContains(t, out, "s3cr3t-value", format)
	}
}
