package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestValidateReportsEveryProblem is the golden test of `exporter validate`
// on a config with an unknown key, a bad cron expression, a bad time zone
// and a missing secret.
func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := exec(t, context.Background(), "validate", "--config", "testdata/invalid.yaml")
	require.Equal(t, exitFailed, code)
	require.Empty(t, stdout)
	golden := filepath.Join("testdata", "validate.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(stderr), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), stderr)
	for _, line := range []string{":4: ", ":10: ", ":11: ", ":15: "} {
		require.Contains(t, stderr, "testdata/invalid.yaml"+line)
	}
}

func TestValidateExampleConfig(t *testing.T) {
	t.Setenv("LOOKERSDK_CLIENT_ID", "id")
	t.Setenv("LOOKERSDK_CLIENT_SECRET", "example-secret-value")
	code, stdout, stderr := exec(t, context.Background(), "validate", "--config", "../../config.example.yaml")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "OK, 6 job(s)")
	require.Contains(t, stdout, "datagroup thelook::orders_etl")
	require.Contains(t, stdout, "orders_daily")
	require.Regexp(t, `overview_tiles .* dashboard 12 +parquet/snappy`, stdout)
	require.Regexp(t, `overview_pdf .* dashboard 12 +pdf `, stdout)
	require.NotContains(t, stdout+stderr, "example-secret-value")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "  - {name: j, schedule: '@daily', source: {look_id: '42'}, format: csv, destination: '$DIR/x.csv'}\n")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "j"}, "--config is required"},
		{[]string{"run", "--config", f.conf, "nope"}, `no job "nope"`},
		{[]string{"run", "--config", f.conf, "j", "--at", "yesterday"}, "use RFC 3339"},
		{[]string{"run", "--config", f.conf}, "accepts 1 arg"},
		{[]string{"validate", "--config", "testdata/does-not-exist.yaml"}, "no such file"},
		{[]string{"bogus"}, "unknown command"},
		{[]string{"run", "--config", f.conf, "j", "--log-level", "loud"}, "--log-level"},
	}
	for _, tt := range tests {
		code, _, stderr := exec(t, context.Background(), tt.args...)
		require.NotEqual(t, 0, code, tt.args)
		require.Contains(t, stderr, tt.want, tt.args)
	}
}

func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"validate", "run", "serve", "demo", "version", "check", "backfill", "jobs", "history", "logs", "healthcheck"} {
		code, stdout, _ := exec(t, context.Background(), cmd, "--help")
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "Examples:", cmd)
		require.Contains(t, stdout, "exporter "+cmd, cmd)
	}
}

// TestRunExitCodes checks that `exporter run` exits with the run's outcome.
func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `  - {name: ok, schedule: '@daily', source: {look_id: "42"}, format: csv, destination: '$DIR/ok.csv'}
  - {name: missing, schedule: '@daily', source: {look_id: "404"}, format: csv, destination: '$DIR/missing.csv'}
  - {name: flaky, schedule: '@daily', source: {look_id: "42"}, format: parquet, destination: '$DIR/flaky.parquet'}
`)
	code, stdout, stderr := exec(t, context.Background(), "run", "--config", f.conf, "ok")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "succeeded, 321 rows")

	code, _, stderr = exec(t, context.Background(), "run", "--config", f.conf, "missing")
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "404")

	f.srv.DropNextRun(100) // one attempt: the job's retries would succeed (TestRunRetriesUnderTheJobsPolicy)
	code, _, stderr = exec(t, context.Background(), "run", "--config", f.conf, "flaky", "--no-retry")
	require.Equal(t, exitTempFail, code)
	require.Contains(t, stderr, "unexpected EOF")
	require.NoFileExists(t, filepath.Join(f.dir, "flaky.parquet"))

	runs := f.runs(t)
	require.Len(t, runs, 3)
	byJob := map[string]state.Run{}
	for _, r := range runs {
		byJob[r.Job] = r
	}
	require.Equal(t, state.Succeeded, byJob["ok"].Status)
	require.Equal(t, state.Failed, byJob["missing"].Status)
	require.Equal(t, "permanent", byJob["missing"].ErrorClass)
	require.Equal(t, state.Failed, byJob["flaky"].Status)
	require.Equal(t, "retryable", byJob["flaky"].ErrorClass)
}

// TestDemo is the README's first command: it exits 0 and writes the files.
func TestDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, stdout, stderr := exec(t, context.Background(), "demo", "--dir", dir, "--rows", "2000")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	for _, job := range []string{"orders_csv", "orders_csv_gzip", "orders_jsonl", "orders_parquet", "orders_sql"} {
		require.Contains(t, stdout, job)
		matches, err := filepath.Glob(filepath.Join(dir, job, "dt=*", "orders.*"))
		require.NoError(t, err)
		require.Len(t, matches, 1, job)
		fi, err := os.Stat(matches[0])
		require.NoError(t, err)
		require.Positive(t, fi.Size())
	}
	require.Equal(t, 5, strings.Count(stdout, "succeeded  2,000"))

	// The dashboard: one file per data tile, all printed; the PDF too.
	for _, tile := range []string{"orders-by-day-101", "orders-export-102", "orders-with-amounts-104", "all-statuses-105"} {
		matches, err := filepath.Glob(filepath.Join(dir, "overview_tiles", "dt=*", tile+".parquet"))
		require.NoError(t, err)
		require.Len(t, matches, 1, tile)
		require.Contains(t, stdout, matches[0], "the demo prints every tile's file")
	}
	manifests, err := filepath.Glob(filepath.Join(dir, "overview_tiles", "dt=*", "_manifest.json"))
	require.NoError(t, err)
	require.Len(t, manifests, 1)
	require.Contains(t, mustRead(t, manifests[0]), `"title": "Orders with amounts"`)
	pdfs, err := filepath.Glob(filepath.Join(dir, "overview_pdf", "dt=*", "overview.pdf"))
	require.NoError(t, err)
	require.Len(t, pdfs, 1)
	require.Contains(t, stdout, pdfs[0])
	require.True(t, strings.HasPrefix(mustRead(t, pdfs[0]), "%PDF"))
	require.Regexp(t, `orders_complete +look 42 +csv +succeeded`, stdout)

	// The status page token for demo --serve is in a private file, never printed.
	fi, err := os.Stat(filepath.Join(dir, ".demo-token"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	token := strings.TrimSpace(mustRead(t, filepath.Join(dir, ".demo-token")))
	require.Len(t, token, 48)
	require.NotContains(t, stdout+stderr, token)
}

// TestSecretsNeverAppear runs the CLI through successes and failures at
// debug level and checks that neither the client secret nor any access
// token the sandbox issued appears in anything it printed.
func TestSecretsNeverAppear(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `  - {name: ok, schedule: '@daily', source: {look_id: "42"}, format: jsonl, destination: '$DIR/ok.jsonl'}
  - {name: missing, schedule: '@daily', source: {query_slug: nope}, format: csv, destination: '$DIR/missing.csv'}
  - {name: drop, schedule: '@daily', source: {look_id: "42"}, format: parquet, destination: '$DIR/drop.parquet'}
`)
	var out strings.Builder
	record := func(code int, stdout, stderr string) {
		out.WriteString(stdout)
		out.WriteString(stderr)
	}
	ctx := context.Background()
	for _, format := range []string{"json", "console"} {
		common := []string{"--config", f.conf, "--log-level", "debug", "--log-format", format}
		record(exec(t, ctx, append([]string{"run", "ok"}, common...)...))
		record(exec(t, ctx, append([]string{"run", "missing"}, common...)...))
		f.srv.DropNextRun(10)
		record(exec(t, ctx, append([]string{"run", "drop"}, common...)...))
		f.srv.FailNext(lookertest.Fault{Status: 503, Count: 1})
		record(exec(t, ctx, append([]string{"run", "ok"}, common...)...))
		f.srv.ExpireTokens()
		record(exec(t, ctx, append([]string{"run", "ok"}, common...)...))
		record(exec(t, ctx, "validate", "--config", f.conf))
	}
	// A wrong secret is a secret too.
	bad := strings.Replace(mustRead(t, f.conf), f.srv.ClientSecret(), "wrong-secret-0123456789", 1)
	badConf := filepath.Join(f.dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badConf, []byte(bad), 0o600))
	code, stdout, stderr := exec(t, ctx, "run", "--config", badConf, "ok", "--log-level", "debug")
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "LOOKERSDK_CLIENT_SECRET", "the error says what to check")
	record(code, stdout, stderr)

	all := out.String()
	require.Contains(t, all, "run succeeded")
	require.Contains(t, all, "run failed")
	require.NotContains(t, all, f.srv.ClientSecret())
	require.NotContains(t, all, "wrong-secret-0123456789")
	tokens := f.srv.Tokens()
	require.NotEmpty(t, tokens)
	for _, tok := range tokens {
		require.NotContains(t, all, tok)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// TestValidateWithIncludes: validate reads the files include: names,
// lists their jobs, and reports a problem in one with that file's name
// and line.
func TestValidateWithIncludes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600))
	}
	job := func(name string) string {
		return "  - {name: " + name + ", schedule: '@daily', source: {look_id: 1}, format: csv, destination: " + name + ".csv}\n"
	}
	write("main.yaml", "looker: {base_url: https://x.looker.com, client_id: a, client_secret: b}\ninclude: [jobs.d/*.yaml]\njobs:\n"+job("main_job"))
	write("jobs.d/a.yaml", "jobs:\n"+job("team_a"))
	conf := filepath.Join(dir, "main.yaml")

	code, stdout, stderr := exec(t, context.Background(), "validate", "--config", conf)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "OK, 2 job(s)")
	require.Contains(t, stdout, "team_a")

	write("jobs.d/b.yaml", "jobs:\n"+job("team_b")+job("team_a")+"  - {name: bad, limit: [1]}\n")
	code, stdout, stderr = exec(t, context.Background(), "validate", "--config", conf)
	require.Equal(t, exitFailed, code)
	require.Empty(t, stdout)
	b := filepath.Join(dir, "jobs.d", "b.yaml")
	require.Contains(t, stderr, b+`:3: job "team_a": duplicate job name; the first is in `+filepath.Join(dir, "jobs.d", "a.yaml")+":2")
	require.Contains(t, stderr, b+`:4: job "bad": limit: expected a number, -1 or saved, found a list`)
}
