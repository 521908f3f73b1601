package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/metrics"
	"github.com/lookerexport/exporter/state"
)

type lastSuccesses map[string]time.Time

func (l lastSuccesses) LastChecked(_ context.Context, job string) (state.Run, error) {
	t, ok := l[job]
	if !ok {
		return state.Run{}, state.ErrNotFound
	}
	return state.Run{Job: job, ScheduledTime: t, Status: state.Succeeded}, nil
}

// stillClock is a clock stopped at now; its timers never fire.
type stillClock struct{ now time.Time }

func (c stillClock) Now() time.Time                                 { return c.now }
func (c stillClock) After(time.Duration) (<-chan time.Time, func()) { return nil, func() {} }
func (c stillClock) AfterFunc(time.Duration, func()) func() bool    { return func() bool { return true } }

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code)
	return rec.Body.String()
}

func TestObserverSeries(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	t0 := time.Unix(1_800_000_000, 0)
	require.NoError(t, m.Init(context.Background(), lastSuccesses{"a": t0}, []string{"a", "b"}))

	m.RunStarted(state.Run{Job: "a", Attempt: 1})
	m.RunStarted(state.Run{Job: "a", Attempt: 2})
	body := scrape(t, m)
	require.Contains(t, body, `exporter_runs_in_flight{export_job="a"} 2`)
	require.Contains(t, body, `exporter_retries_total{export_job="a"} 1`)
	require.Contains(t, body, `exporter_last_success_timestamp_seconds{export_job="a"} 1.8e+09`)

	// An older partition succeeding does not move last success backwards.
	m.RunFinished(state.Run{Job: "a", Status: state.Succeeded, ScheduledTime: t0.Add(-time.Hour), StartedAt: t0, FinishedAt: t0.Add(3 * time.Second), Rows: 10, Bytes: 100}, nil)
	m.RunFinished(state.Run{Job: "a", Status: state.Failed, StartedAt: t0, FinishedAt: t0.Add(time.Second)}, errors.New("x"))
	m.LookerRequest("run_look", 0, time.Second)
	m.LookerRequest("run_look", 503, time.Second)
	body = scrape(t, m)
	for _, want := range []string{
		`exporter_runs_in_flight{export_job="a"} 0`,
		`exporter_runs_total{export_job="a",outcome="succeeded"} 1`,
		`exporter_runs_total{export_job="a",outcome="failed"} 1`,
		`exporter_rows_exported_total{export_job="a"} 10`,
		`exporter_bytes_exported_total{export_job="a"} 100`,
		`exporter_last_success_timestamp_seconds{export_job="a"} 1.8e+09`,
		`exporter_last_success_timestamp_seconds{export_job="b"} 0`,
		`exporter_run_duration_seconds_sum{export_job="a",outcome="succeeded"} 3`,
		`exporter_looker_requests_total{endpoint="run_look",status="error"} 1`,
		`exporter_looker_requests_total{endpoint="run_look",status="503"} 1`,
	} {
		require.True(t, strings.Contains(body, want), "missing %s in\n%s", want, body)
	}
}

// TestNextRunFollowsTheSchedulersDST: the next-run series is the fire time
// the scheduler uses. 02:30 in Europe/Berlin on the day clocks jump
// forward fires at the jump (03:00 CEST = 01:00Z), not a day later.
func TestNextRunFollowsTheSchedulersDST(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	s, err := config.ParseSchedule("30 2 * * *", berlin)
	require.NoError(t, err)
	job := &config.Job{Name: "nightly", Schedule: s, ScheduleSpec: "30 2 * * *", Location: berlin}
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	m := metrics.New(metrics.Options{Jobs: []*config.Job{job}, Clock: stillClock{now}})
	want := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	require.Equal(t, want, s.Next(now).UTC())
	require.Contains(t, scrape(t, m), `exporter_next_run_timestamp_seconds{export_job="nightly"} `+strconv.FormatFloat(float64(want.Unix()), 'g', -1, 64)+"\n")
}

// TestMetricsFollowReload: after a reload a removed job has no series at
// all (no stale gauge; its late run events are dropped), an added job has
// zero-valued series and a next run, and a changed schedule shows its new
// next fire time. Reloads are counted by result.
func TestMetricsFollowReload(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	job := func(name, spec string) *config.Job {
		s, err := config.ParseSchedule(spec, time.UTC)
		require.NoError(t, err)
		return &config.Job{Name: name, Schedule: s, ScheduleSpec: spec, Location: time.UTC}
	}
	ts := func(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) }
	m := metrics.New(metrics.Options{Jobs: []*config.Job{job("kept", "0 6 * * *"), job("gone", "0 7 * * *")}, Clock: stillClock{now}})
	m.RunStarted(state.Run{Job: "gone", Attempt: 1}) // in flight across the reload
	m.RunFinished(state.Run{Job: "kept", Status: state.Succeeded, ScheduledTime: now, Rows: 3}, nil)
	body := scrape(t, m)
	require.Contains(t, body, `exporter_runs_in_flight{export_job="gone"} 1`)
	require.Contains(t, body, `exporter_config_reloads_total{result="failure"} 0`)
	require.Contains(t, body, `exporter_config_last_reload_successful 1`)
	require.Contains(t, body, `exporter_config_last_reload_success_timestamp_seconds `+ts(now)+"\n")

	m.Reload([]*config.Job{job("kept", "30 18 * * *"), job("added", "0 9 * * *")})
	m.ConfigReloaded(true)
	m.RunFinished(state.Run{Job: "gone", Status: state.Failed}, errors.New("late")) // its run ends after the reload
	body = scrape(t, m)
	require.NotContains(t, body, `export_job="gone"`)
	for _, want := range []string{
		`exporter_next_run_timestamp_seconds{export_job="kept"} ` + ts(time.Date(2026, 3, 28, 18, 30, 0, 0, time.UTC)) + "\n",
		`exporter_next_run_timestamp_seconds{export_job="added"} ` + ts(time.Date(2026, 3, 29, 9, 0, 0, 0, time.UTC)) + "\n",
		`exporter_runs_total{export_job="added",outcome="failed"} 0`,
		`exporter_last_success_timestamp_seconds{export_job="added"} 0`,
		`exporter_rows_exported_total{export_job="kept"} 3`, // a kept job keeps its counts
		`exporter_config_reloads_total{result="success"} 1`,
		`exporter_config_last_reload_successful 1`,
	} {
		require.Contains(t, body, want)
	}

	m.ConfigReloaded(false)
	body = scrape(t, m)
	require.Contains(t, body, `exporter_config_reloads_total{result="failure"} 1`)
	require.Contains(t, body, `exporter_config_last_reload_successful 0`)
	require.Contains(t, body, `exporter_config_last_reload_success_timestamp_seconds `+ts(now)+"\n")

	// A job removed, then added back, is counted again.
	m.Reload([]*config.Job{job("gone", "0 7 * * *")})
	m.RunFinished(state.Run{Job: "gone", Status: state.Failed}, errors.New("x"))
	require.Contains(t, scrape(t, m), `exporter_runs_total{export_job="gone",outcome="failed"} 1`)
}

// TestSkippedByConditionIsFresh: a run skipped by its send condition is a
// fresh check for the staleness gauge; a fire skipped for overlap is not.
func TestSkippedByConditionIsFresh(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	t0 := time.Unix(1_800_000_000, 0)
	require.NoError(t, m.Init(t.Context(), lastSuccesses{"a": t0}, []string{"a"}))
	m.RunFinished(state.Run{Job: "a", Status: state.Skipped, ScheduledTime: t0.Add(time.Hour), Error: "skipped: the previous run of the job was still in flight (overlap: skip)"}, nil)
	require.Contains(t, scrape(t, m), `exporter_last_success_timestamp_seconds{export_job="a"} 1.8e+09`)
	m.RunFinished(state.Run{Job: "a", Status: state.Skipped, ErrorClass: state.ClassCondition, ScheduledTime: t0.Add(2 * time.Hour), Rows: 5, Error: "when: changed: same content as run r1 published 2027-01-15T08:00:00Z"}, nil)
	body := scrape(t, m)
	require.Contains(t, body, `exporter_last_success_timestamp_seconds{export_job="a"} 1.8000072e+09`)
	require.Contains(t, body, `exporter_runs_total{export_job="a",outcome="skipped"} 2`)
	require.NotContains(t, body, `exporter_rows_exported_total{export_job="a"} 5`, "nothing was exported")
}

// TestBuildInfo: exporter_build_info is 1 and its labels name the build.
func TestBuildInfo(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{Build: metrics.BuildInfo{Version: "v1.2.3", Revision: "0123abc", GoVersion: "go1.26.0"}})
	require.Contains(t, scrape(t, m), `exporter_build_info{goversion="go1.26.0",revision="0123abc",version="v1.2.3"} 1`+"\n")
}
