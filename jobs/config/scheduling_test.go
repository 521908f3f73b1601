package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
)

const schedHeader = "looker: {base_url: https://x.cloud.looker.com, client_id: a, client_secret: b}\n"

func TestSchedulingKeys(t *testing.T) {
	t.Parallel()
	y := schedHeader + `state: {driver: postgres, dsn: "postgres://e@db/e", retention: 720h}
scheduler: {max_concurrent_runs: 4, lease: 90s, replica: pod-a}
defaults: {retries: {max_attempts: 5}}
jobs:
  - name: a
    schedule: '@hourly'
    source: {look_id: '1'}
    format: csv
    destination: /tmp/a.csv
  - name: b
    schedule: '@hourly'
    overlap: queue
    catchup: all
    catchup_window: 6h
    retries: {max_attempts: 2, backoff: 1m, max_backoff: 5m}
    source:
      query:
        model: m
        view: v
        fields: [v.a]
        filters: {v.created_date: '{{ .PrevScheduledTime.Format "2006-01-02" }} to {{ .ScheduledTime.Format "2006-01-02" }}'}
    format: csv
    destination: /tmp/b-{{ .LastSuccessTime.Format "20060102" }}.csv
`
	cfg, err := config.Parse("s.yaml", []byte(y), env(nil))
	require.NoError(t, err)
	require.Equal(t, config.State{Driver: "postgres", DSN: "postgres://e@db/e", Retention: 720 * time.Hour}, cfg.State)
	require.Equal(t, config.Scheduler{MaxConcurrentRuns: 4, Lease: 90 * time.Second, Replica: "pod-a", DatagroupPoll: config.DefaultDatagroupPoll}, cfg.Scheduler)
	a := cfg.Job("a")
	require.Equal(t, config.OverlapSkip, a.Overlap)
	require.Equal(t, config.CatchupLatest, a.Catchup)
	require.Equal(t, 24*time.Hour, a.CatchupWindow)
	require.Equal(t, config.Retries{MaxAttempts: 5, Backoff: 30 * time.Second, MaxBackoff: 10 * time.Minute}, a.Retries)
	b := cfg.Job("b")
	require.Equal(t, config.OverlapQueue, b.Overlap)
	require.Equal(t, config.CatchupAll, b.Catchup)
	require.Equal(t, 6*time.Hour, b.CatchupWindow)
	require.Equal(t, config.Retries{MaxAttempts: 2, Backoff: time.Minute, MaxBackoff: 5 * time.Minute}, b.Retries)

	d := config.SampleData(b)
	d.ScheduledTime = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	d.PrevScheduledTime = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	src, err := config.RenderSource(b.Source, d)
	require.NoError(t, err)
	require.Equal(t, "2026-11-26 to 2026-11-27", src.Query.Filters["v.created_date"])
	require.Contains(t, b.Source.Query.Filters["v.created_date"], "{{", "the job's source is not modified")
}

func TestSchedulingKeyProblems(t *testing.T) {
	t.Parallel()
	y := schedHeader + `state: {retention: 5m}
scheduler: {max_concurrent_runs: -1, lease: 10ms}
jobs:
  - name: a
    schedule: '@hourly'
    overlap: sometimes
    catchup: everything
    catchup_window: -1h
    retries: {max_attempts: 0, backoff: 1m, max_backoff: 10s}
    source: {sql: {connection: c, sql: "SELECT 1 WHERE d > '{{ .Nope }}'"}}
    format: csv
    destination: /tmp/a.csv
`
	_, err := config.Parse("s.yaml", []byte(y), env(nil))
	require.Error(t, err)
	for _, want := range []string{
		"s.yaml:2: state.retention",
		"s.yaml:3: scheduler.max_concurrent_runs",
		"s.yaml:3: scheduler.lease",
		`s.yaml:7: job "a": overlap "sometimes"`,
		`s.yaml:8: job "a": catchup "everything"`,
		`s.yaml:9: job "a": catchup_window`,
		`job "a": retries.max_attempts must be at least 1`,
		`job "a": retries.max_backoff 10s is shorter`,
		`s.yaml:11: job "a": source sql template`,
	} {
		require.Contains(t, err.Error(), want)
	}
}

func TestRenderSourceSQL(t *testing.T) {
	t.Parallel()
	src := lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "c", SQL: "SELECT * FROM t WHERE ts >= '{{ .LastSuccessTime.UTC.Format \"2006-01-02 15:04\" }}' -- {{ .Job }}"}}
	d := config.TemplateData{Job: "j", LastSuccessTime: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	got, err := config.RenderSource(src, d)
	require.NoError(t, err)
	require.Equal(t, "SELECT * FROM t WHERE ts >= '2026-01-02 03:04' -- j", got.SQL.SQL)
	plain := lookerapi.Source{LookID: "42"}
	got, err = config.RenderSource(plain, d)
	require.NoError(t, err)
	require.Equal(t, plain, got)
}
