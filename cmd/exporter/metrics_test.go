package main

import (
	"bytes"
	"maps"
	"net/http"
	"os"
	osexec "os/exec"
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
	promtool, err := osexec.LookPath("promtool")
	if err != nil {
		msg := "promtool is needed: install it with `apt-get install -y prometheus` (.ci/run does)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	body := scrapeAfterRuns(t)
	cmd := osexec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	require.NoError(t, err, "promtool check metrics:\n%s", out.String())
	require.Empty(t, out.String(), "promtool check metrics has findings")
}
