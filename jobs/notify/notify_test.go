package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/notify"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/sqlite"
)

// receiver is a webhook endpoint that answers with the queued statuses
// (then 200) and hands each body to the test.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   chan []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, bodies: make(chan []byte, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		if status == http.StatusOK {
			r.bodies <- b
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case b := <-r.bodies:
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m), string(b))
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook arrived")
		return nil
	}
}

// manualClock fires timers only when advanced.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []manualTimer
	waits  chan time.Duration // each After call's duration
}

type manualTimer struct {
	at time.Time
	ch chan time.Time
}

func newManualClock(now time.Time) *manualClock {
	return &manualClock{now: now, waits: make(chan time.Duration, 1000)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waits <- d
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, manualTimer{at: c.now.Add(d), ch: ch})
	}
	return ch, func() {}
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	return jobs.AfterFuncVia(c.After, d, f)
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if !tm.at.After(c.now) {
			tm.ch <- c.now
			continue
		}
		kept = append(kept, tm)
	}
	c.timers = kept
}

type bundle struct {
	looker *lookertest.Server
	store  state.Store
	runner *jobs.Runner
	job    *config.Job
}

func setup(t *testing.T, jobKeys string) *bundle {
	t.Helper()
	srv := lookertest.NewServer(lookertest.Options{Rows: 50})
	t.Cleanup(srv.Close)
	log := zaptest.NewLogger(t)
	client, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), VerifySSL: true}, log)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(context.Background()) })
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	y := fmt.Sprintf("looker: {base_url: %s, client_id: x, client_secret: y}\njobs:\n  - {name: orders, schedule: '0 6 * * *', source: {look_id: '42'}, format: csv, destination: '%s/{{ .RunID }}.csv'%s}\n", srv.URL(), dir, jobKeys)
	cfg, err := config.Parse("test.yaml", []byte(y), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	local := localfs.New(log)
	r := &jobs.Runner{Looker: client, Sinks: jobs.SinkForScheme(nil, local), Store: store, Log: log}
	return &bundle{looker: srv, store: store, runner: r, job: cfg.Jobs[0]}
}

// run makes one attempt of the job through the one door, as Run now does.
func (b *bundle) run(ctx context.Context, scheduled time.Time) (state.Run, error) {
	return (&jobs.Trigger{Runner: b.runner}).Run(ctx, b.job, scheduled, jobs.TriggerOptions{NoRetry: true})
}

func hook(url, format string, on ...string) config.Notify {
	if len(on) == 0 {
		on = []string{config.EventFailure, config.EventRecovery, config.EventStale}
	}
	return config.Notify{Name: "test", URL: config.Secret(url), Format: format, On: on}
}

func start(t *testing.T, n *notify.Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
}

// An injected failure sends the failure webhook, a second failure sends
// nothing, and the next success sends the recovery webhook.
func TestFailureThenRecovery(t *testing.T) {
	t.Parallel()
	for _, format := range []string{config.FormatJSON, config.FormatSlack} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			rcv := newReceiver(t)
			n := notify.New(notify.Options{Hooks: []config.Notify{hook(rcv.srv.URL+"/hook", format)}, Store: b.store, Log: zaptest.NewLogger(t), StatusURL: "http://status.example/"})
			b.runner.Observers = []jobs.Observer{n}
			start(t, n)
			ctx := context.Background()
			at := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

			b.looker.FailNext(lookertest.Fault{Status: http.StatusForbidden, PathPrefix: "/looks/", Count: 2})
			failed, err := b.run(ctx, at)
			require.Error(t, err)
			_, err = b.run(ctx, at)
			require.Error(t, err)
			ok, err := b.run(ctx, at)
			require.NoError(t, err)

			first, second := rcv.next(t), rcv.next(t)
			if format == config.FormatSlack {
				require.Len(t, first, 1)
				// Cause first: Slack's preview is truncated, so the cause
				// comes right after the job, the run's details after it.
				require.Contains(t, first["text"], ":red_circle: exporter job orders failed: 403 ")
				require.Contains(t, first["text"], "(run "+failed.ID+", attempt 1, permanent)")
				require.Contains(t, first["text"], "http://status.example/runs/"+failed.ID)
				require.Contains(t, second["text"], "exporter job orders recovered")
				require.Contains(t, second["text"], ok.ID)
			} else {
				require.Equal(t, "failure", first["event"])
				require.Equal(t, failed.ID, first["run_id"])
				require.Equal(t, "permanent", first["error_class"])
				require.Contains(t, first["error"], "403")
				require.Equal(t, "recovery", second["event"])
				require.Equal(t, ok.ID, second["run_id"])
				require.EqualValues(t, 50, second["rows"])
			}
			select {
			case b := <-rcv.bodies:
				t.Fatalf("unexpected third webhook: %s", b)
			default:
			}
		})
	}
}

// Deliveries retry on 5xx with doubling backoff, and never log the URL.
func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	rcv := newReceiver(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	clock := newManualClock(time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC))
	core, logs := observer.New(zapcore.DebugLevel)
	n := notify.New(notify.Options{Hooks: []config.Notify{hook(rcv.srv.URL+"/secret-path-xyz", config.FormatJSON)}, Store: b.store,
		Log: zaptestLogger(core), Clock: clock, Backoff: time.Second, CheckEvery: time.Hour})
	b.runner.Observers = []jobs.Observer{n}
	start(t, n)
	b.looker.FailNext(lookertest.Fault{Status: http.StatusNotFound, PathPrefix: "/looks/"})
	_, err := b.run(context.Background(), clock.Now())
	require.Error(t, err)

	// Backoffs of 1s then 2s, each released by advancing the clock.
	for _, want := range []time.Duration{time.Second, 2 * time.Second} {
		for d := range clock.waits {
			if d == want {
				break
			}
		}
		clock.Advance(want)
	}
	got := rcv.next(t)
	require.Equal(t, "failure", got["event"])
	for _, e := range logs.All() {
		js, _ := json.Marshal(e.ContextMap())
		require.NotContains(t, e.Message+string(js), "secret-path-xyz")
	}
	require.Equal(t, 2, logs.FilterMessage("alert delivery failed; retrying").Len())
}

// staleNotifier is a Notifier of b's job's stale alerts, on a manual
// clock at 2026-03-01 06:00 UTC.
func staleNotifier(t *testing.T, b *bundle) (*notify.Notifier, *receiver, *manualClock) {
	rcv := newReceiver(t)
	clock := newManualClock(time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC))
	n := notify.New(notify.Options{Hooks: []config.Notify{hook(rcv.srv.URL, config.FormatJSON, config.EventStale)}, Jobs: []*config.Job{b.job},
		Store: b.store, Log: zaptest.NewLogger(t), Clock: clock, CheckEvery: time.Minute, StatusURL: "https://status.example"})
	return n, rcv, clock
}

// A job whose last success is older than max_staleness alerts once per
// episode.
func TestStaleness(t *testing.T) {
	t.Parallel()
	b := setup(t, ", max_staleness: 2h")
	n, rcv, clock := staleNotifier(t, b)
	t0 := clock.Now()
	ctx := context.Background()
	_, err := b.run(ctx, t0) // a success scheduled at t0
	require.NoError(t, err)

	n.CheckStaleness(ctx)
	clock.Advance(2 * time.Hour)
	n.CheckStaleness(ctx) // exactly max_staleness: not stale yet
	select {
	case body := <-rcv.bodies:
		t.Fatalf("early stale alert: %s", body)
	default:
	}
	clock.Advance(time.Minute)
	n.CheckStaleness(ctx)
	got := rcv.next(t)
	require.Equal(t, "stale", got["event"])
	require.Equal(t, "orders", got["job"])
	require.Equal(t, "2h0m0s", got["max_staleness"])
	require.Equal(t, t0.Format(time.RFC3339), got["last_success"])
	require.Equal(t, "https://status.example/jobs/orders", got["url"], "a stale alert links to the job's page")
	clock.Advance(time.Hour)
	n.CheckStaleness(ctx) // same episode: no second alert
	select {
	case body := <-rcv.bodies:
		t.Fatalf("repeated stale alert: %s", body)
	default:
	}
	// A new success ends the episode; when it too goes stale, a new alert.
	_, err = b.run(ctx, clock.Now())
	require.NoError(t, err)
	clock.Advance(3 * time.Hour)
	n.CheckStaleness(ctx)
	require.Equal(t, "stale", rcv.next(t)["event"])
}

// A run skipped by its send condition (when: changed, same data) is a
// fresh check: staleness counts from it, not from the last publish.
func TestStalenessCountsChecks(t *testing.T) {
	t.Parallel()
	b := setup(t, ", max_staleness: 2h, when: changed")
	n, rcv, clock := staleNotifier(t, b)
	t0 := clock.Now()
	ctx := context.Background()
	run, err := b.run(ctx, t0)
	require.NoError(t, err)
	require.Equal(t, state.Succeeded, run.Status)
	clock.Advance(time.Hour)
	run, err = b.run(ctx, clock.Now())
	require.NoError(t, err)
	require.Equal(t, state.Skipped, run.Status, "same data: nothing to send")

	clock.Advance(90 * time.Minute) // 2h30 after the publish, 1h30 after the check
	n.CheckStaleness(ctx)
	select {
	case body := <-rcv.bodies:
		t.Fatalf("stale alert for a job checked 90 minutes ago: %s", body)
	default:
	}
	clock.Advance(31 * time.Minute)
	n.CheckStaleness(ctx)
	got := rcv.next(t)
	require.Equal(t, "stale", got["event"])
	require.Equal(t, t0.Add(time.Hour).Format(time.RFC3339), got["last_success"], "counted from the check")
}

func TestUnreachableWebhookLogsNoURL(t *testing.T) {
	t.Parallel()
	// A webhook that cannot be reached: the error names no URL.
	b := setup(t, "")
	core, logs := observer.New(zapcore.DebugLevel)
	clock := newManualClock(time.Now())
	n := notify.New(notify.Options{Hooks: []config.Notify{hook("http://127.0.0.1:1/hooks/TOPSECRET", config.FormatSlack)}, Store: b.store,
		Log: zaptestLogger(core), Clock: clock, MaxAttempts: 1})
	b.runner.Observers = []jobs.Observer{n}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	b.looker.FailNext(lookertest.Fault{Status: http.StatusNotFound, PathPrefix: "/looks/"})
	_, err := b.run(context.Background(), clock.Now())
	require.Error(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for logs.FilterMessage("alert not delivered; giving up").Len() == 0 {
		require.True(t, time.Now().Before(deadline))
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	cancel()
	require.NoError(t, <-done)
	for _, e := range logs.All() {
		js, _ := json.Marshal(e.ContextMap())
		require.False(t, strings.Contains(e.Message+string(js), "TOPSECRET"), string(js))
	}
}

// TestStalenessFollowsReload: a job removed by a reload stops alerting
// (its stale episode is forgotten); a job added by a reload is checked,
// counting from the reload when it never succeeded.
func TestStalenessFollowsReload(t *testing.T) {
	t.Parallel()
	b := setup(t, ", max_staleness: 2h")
	n, rcv, clock := staleNotifier(t, b)
	ctx := context.Background()
	noAlert := func(why string) {
		t.Helper()
		select {
		case body := <-rcv.bodies:
			t.Fatalf("%s: %s", why, body)
		default:
		}
	}

	clock.Advance(time.Hour)
	added := *b.job
	added.Name = "added"
	n.Reload([]*config.Job{&added}) // orders removed, added added
	clock.Advance(90 * time.Minute)
	n.CheckStaleness(ctx) // orders would be stale (2h30 since start), but is gone; added is 1h30 old
	noAlert("alert for a removed job or before max_staleness")

	clock.Advance(31 * time.Minute)
	n.CheckStaleness(ctx)
	got := rcv.next(t)
	require.Equal(t, "added", got["job"])
	require.Equal(t, "stale", got["event"])
	noAlert("more than the added job's alert")
}

// TestRemovedJobSendsNoFailureAlert: a run of a job that a reload removed
// (in flight at the reload) fails without an alert; added back, the job
// alerts again (its next success is a recovery).
func TestRemovedJobSendsNoFailureAlert(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	rcv := newReceiver(t)
	n := notify.New(notify.Options{Hooks: []config.Notify{hook(rcv.srv.URL, config.FormatJSON)}, Jobs: []*config.Job{b.job}, Store: b.store, Log: zaptest.NewLogger(t)})
	b.runner.Observers = []jobs.Observer{n}
	start(t, n)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

	n.Reload(nil) // the job removed
	b.looker.FailNext(lookertest.Fault{Status: http.StatusForbidden, PathPrefix: "/looks/"})
	_, err := b.run(ctx, at)
	require.Error(t, err)

	n.Reload([]*config.Job{b.job}) // and added back
	ok, err := b.run(ctx, at)
	require.NoError(t, err)
	got := rcv.next(t)
	require.Equal(t, "recovery", got["event"], "the first alert is the recovery: the failure of the removed job sent none")
	require.Equal(t, ok.ID, got["run_id"])
}

// Looker's error text (and a job name) cannot ping a channel or forge a
// link in Slack: &, < and > are escaped there, while the run link stays a
// link. The generic JSON payload carries the text as recorded.
func TestSlackEscapesErrorText(t *testing.T) {
	t.Parallel()
	for _, format := range []string{config.FormatSlack, config.FormatJSON} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			rcv := newReceiver(t)
			n := notify.New(notify.Options{Hooks: []config.Notify{hook(rcv.srv.URL+"/hook", format)}, Store: b.store, Log: zaptest.NewLogger(t), StatusURL: "https://status.example/x/"})
			evil := "Looker said <!channel> see <https://evil.example|your bank> & pay"
			n.RunFinished(state.Run{ID: "01RUN", Job: "orders<&>", Attempt: 1, Status: state.Failed, ErrorClass: "permanent", Error: evil}, nil)
			n.Flush()
			got := rcv.next(t)
			if format == config.FormatJSON {
				require.Equal(t, evil, got["error"])
				require.Equal(t, "https://status.example/x/runs/01RUN", got["url"])
				return
			}
			text, _ := got["text"].(string)
			require.Contains(t, text, "Looker said &lt;!channel&gt; see &lt;https://evil.example|your bank&gt; &amp; pay")
			require.Contains(t, text, "job orders&lt;&amp;&gt; failed")
			require.NotContains(t, text, "<!channel>")
			require.NotContains(t, text, "<https://evil")
			require.Contains(t, text, "<https://status.example/x/runs/01RUN|open run 01RUN>")
		})
	}
}
