package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stillClock is a scheduler clock whose timers never fire: jobs run only
// when the test asks (Run now), never by the schedule.
type stillClock struct{ now time.Time }

func (c stillClock) Now() time.Time { return c.now }
func (c stillClock) After(d time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	}
	return ch, func() {}
}

func (c stillClock) AfterFunc(time.Duration, func()) func() bool { return func() bool { return true } }

// webhookSink receives alert webhooks.
type webhookSink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []map[string]any
	raw  []string
	recv chan struct{}
}

func newWebhookSink(t *testing.T) *webhookSink {
	w := &webhookSink{recv: make(chan struct{}, 100)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		w.mu.Lock()
		w.got = append(w.got, m)
		w.raw = append(w.raw, string(b))
		w.mu.Unlock()
		w.recv <- struct{}{}
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// daemon is `exporter serve` in process: the real app wiring (runner,
// metrics, notifier, status server) on the Looker sandbox, SQLite and
// local files, with a scheduler that never fires by itself.
type daemon struct {
	looker  *lookertest.Server
	base    string
	token   string
	dir     string
	logs    *syncBuffer
	hooks   *webhookSink
	hookURL string
	app     *app
	sched   *jobs.Scheduler
	listen  string
	reloads chan os.Signal // SIGHUP, as main delivers it
	// stop stops the daemon as SIGTERM does and returns runDaemon's error;
	// later calls return the first call's.
	stop func() error
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// startDaemon starts the daemon on the test config; configure, if given,
// adjusts the scheduler before it runs.
func startDaemon(t *testing.T, listen string, configure ...func(*jobs.Scheduler)) *daemon {
	t.Helper()
	d := &daemon{looker: lookertest.NewServer(lookertest.Options{Rows: e2eRows}), dir: t.TempDir(), logs: &syncBuffer{}, token: "bearer-" + randomHex(t, 16),
		listen: listen, reloads: make(chan os.Signal, 1)}
	t.Cleanup(d.looker.Close)
	d.hooks = newWebhookSink(t)
	d.hookURL = d.hooks.srv.URL + "/hooks/secret-" + randomHex(t, 8)
	path := filepath.Join(d.dir, "daemon.yaml")
	require.NoError(t, os.WriteFile(path, []byte(d.configYAML(daemonJobs)), 0o600))
	env := map[string]string{"LOOKER_SECRET": d.looker.ClientSecret(), "EXPORTER_TOKEN": d.token, "HOOK_URL": d.hookURL}
	loadOpts := config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	cfg, err := config.Load(path, loadOpts)
	require.NoError(t, err)

	core := zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(d.logs), zapcore.DebugLevel),
		zaptest.NewLogger(t).Core(),
	)
	log := zap.New(core)
	ctx, cancel := context.WithCancel(withReloads(context.Background(), d.reloads))
	// The run's clock is the wall clock (query slots and retries wait on
	// it); the scheduler's never fires, so only Run now starts runs.
	a, err := newApp(ctx, cfg, log, nil)
	require.NoError(t, err)
	a.loadOpts = loadOpts
	d.app = a
	sched := &jobs.Scheduler{Runner: a.runner, Jobs: cfg.Jobs, Log: log.Named("scheduler"), Clock: stillClock{now: time.Now()}}
	for _, c := range configure {
		c(sched)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d.base = "http://" + ln.Addr().String()
	d.sched = sched
	drain := 10 * time.Second
	if sched.DrainTimeout != 0 {
		drain = sched.DrainTimeout
	}
	started := make(chan *web.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- runDaemon(ctx, a, sched, drain, daemonOptions{listener: ln, started: started})
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("daemon stopped at start: %v", err)
	}
	d.stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		require.NoError(t, d.stop())
		require.NoError(t, a.Close(context.Background()))
	})
	return d
}

// daemonJobs are the jobs startDaemon configures.
const daemonJobs = `  - name: orders_csv
    description: The Look as CSV
    source: {look_id: "42"}
    format: csv
    destination: $DIR/csv/{{ .RunID }}.csv
  - name: orders_jsonl
    schedule: "*/15 * * * 1-5"
    timezone: UTC
    source: {query_id: "123"}
    format: jsonl
    compression: zstd
    destination: $DIR/jsonl/{{ .RunID }}.jsonl.zst
`

// configYAML is the daemon's config file with jobs ($DIR: its directory).
func (d *daemon) configYAML(jobs string) string {
	return fmt.Sprintf(`looker:
  base_url: %s
  client_id: %s
  client_secret: ${LOOKER_SECRET}
state:
  dsn: %s
server:
  listen: %q
  token: ${EXPORTER_TOKEN}
  log_lines: 50
  external_url: https://exporter.example.com/status/
notify:
  - name: oncall
    url: ${HOOK_URL}
defaults:
  schedule: "0 6 * * *"
  timezone: Europe/Berlin
jobs:
%s`, d.looker.URL(), d.looker.ClientID(), filepath.Join(d.dir, "state.db"), d.listen, strings.ReplaceAll(jobs, "$DIR", d.dir))
}

// reload rewrites the config file with jobs, delivers SIGHUP as main
// does, and waits until the daemon has logged the reload's outcome.
func (d *daemon) reload(t *testing.T, jobs string) {
	t.Helper()
	before := strings.Count(d.logs.String(), `"config reload`)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "daemon.yaml"), []byte(d.configYAML(jobs)), 0o600))
	d.reloads <- syscall.SIGHUP
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(d.logs.String(), `"config reload`) == before {
		require.True(t, time.Now().Before(deadline), "the daemon did not reload")
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// do sends a request; auth adds the bearer token.
func (d *daemon) do(t *testing.T, method, path string, auth bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, d.base+path, nil)
	require.NoError(t, err)
	if auth {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// runNow starts a run through the API and waits for its outcome.
func (d *daemon) runNow(t *testing.T, job string) web.RunInfo {
	t.Helper()
	return d.waitRun(t, d.startRunNow(t, job))
}

// startRunNow starts a run through the API and returns its id.
func (d *daemon) startRunNow(t *testing.T, job string) string {
	t.Helper()
	code, body := d.do(t, http.MethodPost, "/api/v1/jobs/"+job+"/run", true)
	require.Equal(t, http.StatusAccepted, code, body)
	var started struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	require.NotEmpty(t, started.RunID)
	return started.RunID
}

// waitRun polls the API until the run is finished and its log is saved.
func (d *daemon) waitRun(t *testing.T, id string) web.RunInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := d.do(t, http.MethodGet, "/api/v1/runs/"+id, true)
		require.Equal(t, http.StatusOK, code, body)
		var ri web.RunInfo
		require.NoError(t, json.Unmarshal([]byte(body), &ri))
		if ri.FinishedAt != nil && !ri.InFlight {
			_, logBody := d.do(t, http.MethodGet, "/api/v1/runs/"+id+"/log", true)
			if strings.Contains(logBody, `"run succeeded"`) || strings.Contains(logBody, `"run failed"`) {
				return ri
			}
		}
		require.True(t, time.Now().Before(deadline), "run %s did not finish in time: %s", id, body)
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// waitHooks waits for n webhooks in total.
func (d *daemon) waitHooks(t *testing.T, n int) []map[string]any {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		d.hooks.mu.Lock()
		got := len(d.hooks.got)
		d.hooks.mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-d.hooks.recv:
		case <-timeout:
			t.Fatalf("got %d webhooks, want %d", got, n)
		}
	}
	d.hooks.mu.Lock()
	defer d.hooks.mu.Unlock()
	return append([]map[string]any(nil), d.hooks.got...)
}

func (d *daemon) failNextLook() {
	d.looker.FailNext(lookertest.Fault{Status: http.StatusNotFound, PathPrefix: "/looks/"})
}

func TestDaemonMetricsAfterSuccessAndFailure(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "127.0.0.1:9464")

	d.failNextLook()
	failed := d.runNow(t, "orders_csv")
	require.Equal(t, "failed", failed.Status)
	ok := d.runNow(t, "orders_csv")
	require.Equal(t, "succeeded", ok.Status)
	require.EqualValues(t, e2eRows, ok.Rows)
	st, err := os.Stat(filepath.Join(d.dir, "csv", ok.ID+".csv"))
	require.NoError(t, err)
	require.Equal(t, st.Size(), ok.Bytes)

	code, body := d.do(t, http.MethodGet, "/metrics", false)
	require.Equal(t, http.StatusOK, code)
	m := parseMetrics(t, body)
	require.Equal(t, 1.0, m[`exporter_runs_total{export_job="orders_csv",outcome="failed"}`])
	require.Equal(t, 1.0, m[`exporter_runs_total{export_job="orders_csv",outcome="succeeded"}`])
	require.Equal(t, 0.0, m[`exporter_runs_total{export_job="orders_jsonl",outcome="succeeded"}`])
	require.Equal(t, float64(e2eRows), m[`exporter_rows_exported_total{export_job="orders_csv"}`])
	require.Equal(t, float64(st.Size()), m[`exporter_bytes_exported_total{export_job="orders_csv"}`])
	require.Equal(t, float64(ok.ScheduledTime.Unix()), m[`exporter_last_success_timestamp_seconds{export_job="orders_csv"}`])
	require.Equal(t, 0.0, m[`exporter_last_success_timestamp_seconds{export_job="orders_jsonl"}`])
	require.Equal(t, 2.0, m[`exporter_run_duration_seconds_count{export_job="orders_csv",outcome="failed"}`]+m[`exporter_run_duration_seconds_count{export_job="orders_csv",outcome="succeeded"}`])
	require.Equal(t, 0.0, m[`exporter_runs_in_flight{export_job="orders_csv"}`])
	require.GreaterOrEqual(t, m[`exporter_looker_requests_total{endpoint="look",status="404"}`], 1.0, body)
	require.GreaterOrEqual(t, m[`exporter_looker_requests_total{endpoint="run_query",status="200"}`], 1.0, body)
	next := m[`exporter_next_run_timestamp_seconds{export_job="orders_csv"}`]
	require.Greater(t, next, float64(time.Now().Unix()))

	// The failure alert, then the recovery alert, in that order.
	hooks := d.waitHooks(t, 2)
	require.Equal(t, "failure", hooks[0]["event"])
	require.Equal(t, failed.ID, hooks[0]["run_id"])
	require.Contains(t, hooks[0]["error"], "404")
	require.Equal(t, "https://exporter.example.com/status/runs/"+failed.ID, hooks[0]["url"], "alerts link to the run at server.external_url")
	require.Equal(t, "recovery", hooks[1]["event"])
	require.Equal(t, ok.ID, hooks[1]["run_id"])

	// The CLI reads the same store.
	conf := filepath.Join(d.dir, "cli.yaml")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, "looker: {base_url: %s, client_id: x, client_secret: y}\nstate: {dsn: %s}\ndefaults: {schedule: '0 6 * * *', timezone: Europe/Berlin}\njobs:\n  - {name: orders_csv, source: {look_id: '42'}, format: csv, destination: /tmp/x.csv}\n",
		d.looker.URL(), filepath.Join(d.dir, "state.db")), 0o600))
	code, out, errOut := exec(t, context.Background(), "history", "orders_csv", "--config", conf, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var hist []web.RunInfo
	require.NoError(t, json.Unmarshal([]byte(out), &hist))
	require.Len(t, hist, 2)
	require.Equal(t, ok.ID, hist[0].ID)
	require.Equal(t, failed.ID, hist[1].ID)
	code, out, errOut = exec(t, context.Background(), "logs", failed.ID, "--config", conf)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "FAILED")
	require.Contains(t, out, "run started")
	require.Contains(t, out, "ERROR run failed")
	require.Contains(t, out, `error_class="permanent"`)
	code, out, errOut = exec(t, context.Background(), "jobs", "--config", conf)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "every day at 06:00")
	require.Contains(t, out, "Europe/Berlin")
	require.Contains(t, out, "succeeded")
}

// parseMetrics reads the text exposition format into "name{labels}" ->
// value (labels as Prometheus prints them, sorted by name).
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		var v float64
		_, err := fmt.Sscan(line[i+1:], &v)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}

// TestReloadReachesEveryListener: one config reload (SIGHUP) reaches the
// scheduler, the metrics, the notifier and the status page. A removed job
// leaves the page, the API (Run now of it: 404), the scheduler and every
// metrics series; an added job appears everywhere; a changed schedule
// shows its new next run on the page, the API and /metrics alike. The
// reload is one log line and one count.
func TestReloadReachesEveryListener(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "127.0.0.1:9464")
	code, body := d.do(t, http.MethodGet, "/api/v1/jobs", true)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"orders_jsonl"`)
	require.Equal(t, "succeeded", d.runNow(t, "orders_jsonl").Status) // series with values

	// orders_jsonl removed, orders_csv moved to 18:30 UTC, nightly_parquet added.
	d.reload(t, `  - name: orders_csv
    schedule: "30 18 * * *"
    timezone: UTC
    source: {look_id: "42"}
    format: csv
    destination: $DIR/csv/{{ .RunID }}.csv
  - name: nightly_parquet
    schedule: "0 2 * * *"
    timezone: UTC
    source: {query_id: "123"}
    format: parquet
    destination: $DIR/pq/{{ .RunID }}.parquet
`)
	reloaded := strings.Count(d.logs.String(), `"msg":"config reloaded"`)
	require.Equal(t, 1, reloaded, "one reload, one line")
	require.Contains(t, d.logs.String(), `"added":["nightly_parquet"],"removed":["orders_jsonl"]`)

	// The scheduler.
	require.Equal(t, []string{"orders_csv", "nightly_parquet"}, jobNames(d.sched.CurrentJobs()))

	// The status page and the API.
	code, body = d.do(t, http.MethodGet, "/api/v1/jobs", true)
	require.Equal(t, http.StatusOK, code, body)
	var api struct{ Jobs []web.JobInfo }
	require.NoError(t, json.Unmarshal([]byte(body), &api))
	require.Len(t, api.Jobs, 2)
	require.Equal(t, "orders_csv", api.Jobs[0].Name)
	require.Equal(t, "nightly_parquet", api.Jobs[1].Name)
	next := d.sched.CurrentJobs()[0].Schedule.Next(d.sched.Clock.Now())
	require.Equal(t, 18, next.UTC().Hour())
	require.NotEmpty(t, api.Jobs[0].NextRuns)
	require.Equal(t, next.UTC().Format(time.RFC3339), api.Jobs[0].NextRuns[0])
	code, body = d.do(t, http.MethodPost, "/api/v1/jobs/orders_jsonl/run", true)
	require.Equal(t, http.StatusNotFound, code, body)
	_, page := d.do(t, http.MethodGet, "/", false)
	require.NotContains(t, page, "<strong>orders_jsonl</strong>", "not in the jobs table (its runs stay in the history)")
	require.Contains(t, page, "<strong>nightly_parquet</strong>")
	require.Equal(t, "succeeded", d.runNow(t, "nightly_parquet").Status)

	// The metrics.
	code, body = d.do(t, http.MethodGet, "/metrics", false)
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, `export_job="orders_jsonl"`, "a removed job keeps no series")
	m := parseMetrics(t, body)
	require.Equal(t, float64(next.Unix()), m[`exporter_next_run_timestamp_seconds{export_job="orders_csv"}`])
	require.Equal(t, 1.0, m[`exporter_runs_total{export_job="nightly_parquet",outcome="succeeded"}`])
	require.Equal(t, 1.0, m[`exporter_config_reloads_total{result="success"}`])
	require.Equal(t, 0.0, m[`exporter_config_reloads_total{result="failure"}`])

	// A config with problems changes nothing, and is counted.
	d.reload(t, "  - name: broken\n")
	require.Contains(t, d.logs.String(), `"msg":"config reload rejected; the running jobs stay as they are: fix the file and send SIGHUP again"`)
	require.Equal(t, []string{"orders_csv", "nightly_parquet"}, jobNames(d.sched.CurrentJobs()))
	_, body = d.do(t, http.MethodGet, "/metrics", false)
	m = parseMetrics(t, body)
	require.Equal(t, 1.0, m[`exporter_config_reloads_total{result="failure"}`])
	require.Equal(t, 0.0, m[`exporter_config_last_reload_successful`])
}

func jobNames(js []*config.Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.Name)
	}
	return out
}

// TestRunWaitingForAQuerySlotSaysSo: when every Looker query slot of the
// API user is taken (here by other replicas, straight in the shared state
// store), a run waits, and its page, the API and its log say so; it runs
// once a slot frees.
func TestRunWaitingForAQuerySlotSaysSo(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "127.0.0.1:0")
	ctx := context.Background()
	key := "looker-queries " + d.looker.URL() + " " + d.looker.ClientID()
	var holders []string
	for i := range lookerapi.DefaultMaxConcurrentQueries {
		h := fmt.Sprint("other-replica ", i)
		ok, err := d.app.store.AcquireSlot(ctx, key, h, lookerapi.DefaultMaxConcurrentQueries, time.Now(), time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		holders = append(holders, h)
	}
	code, body := d.do(t, http.MethodPost, "/api/v1/jobs/orders_csv/run", true)
	require.Equal(t, http.StatusAccepted, code, body)
	var started struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &started))
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body = d.do(t, http.MethodGet, "/api/v1/runs/"+started.RunID, true)
		var ri web.RunInfo
		require.NoError(t, json.Unmarshal([]byte(body), &ri))
		if ri.WaitingForSlot {
			break
		}
		require.True(t, time.Now().Before(deadline), "the run never said it waits: %s", body)
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	_, page := d.do(t, http.MethodGet, "/", true)
	require.Contains(t, page, "waiting for a Looker query slot")
	_, page = d.do(t, http.MethodGet, "/runs/"+started.RunID, true)
	require.Contains(t, page, `id="waiting"`)
	require.Zero(t, d.looker.Requests("run_query")+d.looker.Requests("run_look"), "no query reached Looker")

	for _, h := range holders[:1] {
		require.NoError(t, d.app.store.ReleaseSlot(ctx, key, h))
	}
	ri := d.waitRun(t, started.RunID)
	require.Equal(t, "succeeded", ri.Status)
	require.False(t, ri.WaitingForSlot)
	_, logBody := d.do(t, http.MethodGet, "/api/v1/runs/"+started.RunID+"/log", true)
	require.Contains(t, logBody, "waiting for a free query slot")
}
