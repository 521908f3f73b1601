package main

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// scrapeAfterRuns starts the daemon, records a failed and a succeeded run
// (so counters and histograms have samples) and returns a /metrics scrape.
func scrapeAfterRuns(t *testing.T) string {
	t.Helper()
	d := startDaemon(t, "127.0.0.1:9464")
	d.failNextLook()
	require.Equal(t, "failed", d.runNow(t, "orders_csv").Status)
	require.Equal(t, "succeeded", d.runNow(t, "orders_csv").Status)
	code, body := d.do(t, http.MethodGet, "/metrics", false)
	require.Equal(t, http.StatusOK, code, body)
	return body
}

// TestMetricsLabelsFollowPrometheusConventions: no series of a live scrape
// carries a label Prometheus sets on the target itself (`job`, `instance`:
// a real Prometheus would rename ours to exported_job, and `sum by (job)`
// would collapse every export job into one series); the export job is
// `export_job`; exporter_build_info names version, revision and Go version.
func TestMetricsLabelsFollowPrometheusConventions(t *testing.T) {
	t.Parallel()
	body := scrapeAfterRuns(t)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	require.NotEmpty(t, families)
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotContains(t, []string{"job", "instance"}, l.GetName(), "%s has a label %q, which Prometheus' target labels override", name, l.GetName())
			}
		}
	}
	m := parseMetrics(t, body)
	require.Equal(t, 1.0, m[`exporter_runs_total{export_job="orders_csv",outcome="succeeded"}`], body)
	require.Equal(t, 1.0, m[`exporter_runs_total{export_job="orders_csv",outcome="failed"}`], body)

	bi := families["exporter_build_info"]
	require.NotNil(t, bi, "exporter_build_info is missing:\n%s", body)
	require.Len(t, bi.GetMetric(), 1)
	require.Equal(t, 1.0, bi.GetMetric()[0].GetGauge().GetValue())
	labels := map[string]string{}
	for _, l := range bi.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	require.Equal(t, []string{"goversion", "revision", "version"}, slices.Sorted(maps.Keys(labels)))
	require.Equal(t, runtime.Version(), labels["goversion"])
	require.NotEmpty(t, labels["version"])
}

// TestPromtoolCheckMetrics: `promtool check metrics` (Prometheus' own
// linter) has nothing to say about a live scrape. promtool comes from
// Debian's prometheus package: the test fails without it in CI and is
// skipped elsewhere, saying how to install it.
func TestPromtoolCheckMetrics(t *testing.T) {
	t.Parallel()
	out, err := promtool(t, scrapeAfterRuns(t), "check", "metrics")
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, out, "promtool check metrics has findings")
}

// promtool runs promtool with stdin. It fails the test without promtool in
// CI and skips it elsewhere, saying how to install it.
func promtool(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	path, err := osexec.LookPath("promtool")
	if err != nil {
		msg := "promtool is needed: install it with `apt-get install -y prometheus` (.ci/run does)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := osexec.Command(path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// TestREADMEPrometheusExamples: the README's alert rules and dashboard
// queries are valid rules and PromQL for `promtool check rules` (each
// dashboard query as a recording rule), and group by export_job, never by
// Prometheus' job.
func TestREADMEPrometheusExamples(t *testing.T) {
	t.Parallel()
	readme := mustRead(t, "../../README.md")
	var rules, queries []string
	for _, m := range regexp.MustCompile("(?s)```(yaml|promql)\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		switch {
		case m[1] == "promql":
			for _, q := range strings.Split(strings.TrimSpace(m[2]), "\n") {
				queries = append(queries, q)
			}
		case strings.HasPrefix(m[2], "groups:") && strings.Contains(m[2], "exporter_"):
			rules = append(rules, m[2])
		}
	}
	require.NotEmpty(t, rules, "the README has no alert rules (a ```yaml block starting with groups:)")
	require.NotEmpty(t, queries, "the README has no dashboard queries (a ```promql block)")
	recording := "groups:\n  - name: dashboard\n    rules:\n"
	for i, q := range queries {
		recording += fmt.Sprintf("      - record: dashboard:q%d\n        expr: %q\n", i, q)
	}
	for _, r := range append(rules, recording) {
		require.NotRegexp(t, `by \([^)]*\bjob\b`, r, "group by export_job")
		file := filepath.Join(t.TempDir(), "rules.yml")
		require.NoError(t, os.WriteFile(file, []byte(r), 0o600))
		out, err := promtool(t, "", "check", "rules", file)
		require.NoError(t, err, "promtool check rules:\n%s\n%s", out, r)
		require.Contains(t, out, "SUCCESS")
	}
}
