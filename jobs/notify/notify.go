// Package notify sends alert webhooks: when a job fails, when it recovers
// (its first success after a failure), and when its last success is older
// than its max_staleness.
//
// A Notifier is a jobs.Observer: RunFinished only queues the run, and the
// Notifier's Run loop decides and delivers, one webhook call at a time, in
// the order runs finished (so a failure alert always precedes its
// recovery). Whether a run is a failure or a recovery is decided against
// the run before it in the state store, so it holds across restarts and
// replicas. A job that keeps failing alerts once; the staleness alert
// covers a job that stays broken.
//
// A Notifier follows config reloads as a jobs.Reloader: staleness is
// checked for the jobs of the latest reload only, and runs of a job the
// reload removed (still in flight then) alert no more, so a removed job
// stops alerting; an added job is stale counting from the reload when it
// never succeeded.
//
// Deliveries are retried on network errors, 429 and 5xx, MaxAttempts times
// with doubling backoff, then dropped with an error log. Webhook URLs are
// secrets (Slack's embed a credential): logs and errors name the webhook,
// never its URL. Payloads carry the run's recorded error, which the Looker
// client has already stripped of tokens.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// Store is the part of state.Store the Notifier reads.
type Store interface {
	ListRuns(ctx context.Context, opts state.ListOptions) ([]state.Run, error)
	LastChecked(ctx context.Context, job string) (state.Run, error)
}

// Options configure New.
type Options struct {
	Hooks []config.Notify
	Jobs  []*config.Job // for max_staleness; Reload replaces them
	Store Store
	Log   *zap.Logger
	Clock jobs.Clock // nil means jobs.RealClock
	// HTTPClient sends the webhooks; nil means one with a 10s timeout.
	HTTPClient *http.Client
	// MaxAttempts per delivery; 0 means 5.
	MaxAttempts int
	// Backoff before the second attempt, doubled after each; 0 means 2s.
	Backoff time.Duration
	// CheckEvery is the staleness check interval; 0 means one minute.
	CheckEvery time.Duration
	// StatusURL, when set, is the status page's external base URL
	// (server.external_url, e.g. https://exporter.example.com): failure and
	// recovery alerts link to the run's page there, stale alerts to the
	// job's.
	StatusURL string
}

// Payload is the generic JSON webhook body, its fields as recorded.
// Slack-format webhooks get {"text": ...}: Text with Slack's control
// characters escaped and the run link as a Slack link.
type Payload struct {
	Event         string     `json:"event"` // failure, recovery, stale
	Job           string     `json:"job"`
	Text          string     `json:"text"` // one line for humans
	RunID         string     `json:"run_id,omitempty"`
	Attempt       int        `json:"attempt,omitempty"`
	Status        string     `json:"status,omitempty"`
	ScheduledTime *time.Time `json:"scheduled_time,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	Rows          int64      `json:"rows,omitempty"`
	ErrorClass    string     `json:"error_class,omitempty"`
	Error         string     `json:"error,omitempty"`
	LastSuccess   *time.Time `json:"last_success,omitempty"` // stale: scheduled time of the last success
	MaxStaleness  string     `json:"max_staleness,omitempty"`
	URL           string     `json:"url,omitempty"` // with server.external_url: the run's page; a stale alert's, the job's

	slack string // Text for Slack: escaped, with the link in Slack's <url|label> form
}

// slackEscape escapes the three characters Slack's mrkdwn reads as
// control (https://api.slack.com/reference/surfaces/formatting#escaping),
// so Looker's error text cannot mention @channel or forge a link.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

func plain(s string) string { return s }

// Notifier decides and delivers alerts. Create it with New, register it
// as a jobs.Observer, and call Run once.
type Notifier struct {
	opts    Options
	clock   jobs.Clock
	log     *zap.Logger
	events  chan *state.Run // pointers: a queue of 1024 Runs would allocate 0.3 MiB up front
	started time.Time

	mu        sync.Mutex
	jobs      []*config.Job
	since     map[string]time.Time // job -> when it was added by a reload
	removed   map[string]bool      // jobs a reload removed
	staleSent map[string]time.Time // job -> the last-success time already alerted as stale
}

// New returns a Notifier.
func New(opts Options) *Notifier {
	if opts.Clock == nil {
		opts.Clock = jobs.RealClock
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 2 * time.Second
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = time.Minute
	}
	opts.StatusURL = strings.TrimRight(opts.StatusURL, "/")
	return &Notifier{
		opts: opts, clock: opts.Clock, log: opts.Log,
		events:    make(chan *state.Run, 1024),
		started:   opts.Clock.Now(),
		jobs:      opts.Jobs,
		since:     map[string]time.Time{},
		removed:   map[string]bool{},
		staleSent: map[string]time.Time{},
	}
}

// Reload implements jobs.Reloader: staleness is checked for jobs from now
// on. A removed job's staleness episode is forgotten; an added job that
// never succeeded counts from now.
func (n *Notifier) Reload(jobs []*config.Job) {
	now := n.clock.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	had := make(map[string]bool, len(n.jobs))
	for _, j := range n.jobs {
		had[j.Name] = true
	}
	keep := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		keep[j.Name] = true
		delete(n.removed, j.Name)
		if !had[j.Name] {
			n.since[j.Name] = now
		}
	}
	for name := range had {
		if !keep[name] {
			n.removed[name] = true
			delete(n.staleSent, name)
			delete(n.since, name)
		}
	}
	n.jobs = jobs
}

// RunStarted implements jobs.Observer.
func (n *Notifier) RunStarted(state.Run) {}

// RunFinished implements jobs.Observer: it queues the run for Run's loop,
// unless a reload removed its job. It never blocks; when the queue is
// full the run is dropped and logged.
func (n *Notifier) RunFinished(run state.Run, _ error) {
	if len(n.opts.Hooks) == 0 {
		return
	}
	n.mu.Lock()
	gone := n.removed[run.Job]
	n.mu.Unlock()
	if gone {
		n.log.Info("no alert: a config reload removed the job", zap.String("job", run.Job), zap.String("run_id", run.ID), zap.String("status", string(run.Status)))
		return
	}
	select {
	case n.events <- &run:
	default:
		n.log.Error("alert queue full; dropping run", zap.String("job", run.Job), zap.String("run_id", run.ID))
	}
}

// Run delivers alerts until ctx is done, checking staleness every
// CheckEvery. Runs queued when ctx ends are still decided and delivered
// (one attempt each), so a failure just before shutdown is not lost.
func (n *Notifier) Run(ctx context.Context) error {
	n.CheckStaleness(ctx)
	next := n.clock.Now().Add(n.opts.CheckEvery)
	for {
		tick, stop := n.clock.After(next.Sub(n.clock.Now()))
		select {
		case <-ctx.Done():
			stop()
			n.drain()
			return nil
		case run := <-n.events:
			stop()
			n.handleRun(ctx, *run)
		case <-tick:
			n.CheckStaleness(ctx)
			next = n.clock.Now().Add(n.opts.CheckEvery)
		}
	}
}

// Flush decides and delivers the alerts of the runs queued so far, within
// 10 s, and returns: for a process that runs jobs without Run's loop
// (`exporter run`), so its failures alert like the daemon's. Do not call it
// while Run is going.
func (n *Notifier) Flush() { n.drain() }

func (n *Notifier) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case run := <-n.events:
			n.handleRun(ctx, *run)
		default:
			return
		}
	}
}

// handleRun decides whether run is a failure or a recovery, comparing it
// with the job's previous finished run in the store.
func (n *Notifier) handleRun(ctx context.Context, run state.Run) {
	var event string
	switch run.Status {
	case state.Failed, state.Succeeded:
	default:
		return // interrupted and skipped runs are neither
	}

	prev, err := n.previous(ctx, run)
	if err != nil {
		n.log.Error("alert: read previous run failed; deciding as if there were none", zap.String("job", run.Job), zap.String("run_id", run.ID), zap.Error(err))
	}
	switch {
	case run.Status == state.Failed && (prev == nil || prev.Status != state.Failed):
		event = config.EventFailure
	case run.Status == state.Succeeded && prev != nil && prev.Status == state.Failed:
		event = config.EventRecovery
	default:
		return
	}
	p := Payload{Event: event, Job: run.Job, RunID: run.ID, Attempt: run.Attempt, Status: string(run.Status),
		ScheduledTime: timePtr(run.ScheduledTime), FinishedAt: timePtr(run.FinishedAt), Rows: run.Rows,
		ErrorClass: run.ErrorClass, Error: run.Error, URL: n.pageURL("/runs/", run.ID)}
	text := func(esc func(string) string) string {
		if event == config.EventFailure {
			// Cause first: a truncated preview still shows what went wrong.
			return fmt.Sprintf(":red_circle: exporter job %s failed: %s (run %s, attempt %d, %s)", esc(run.Job), esc(firstLine(run.Error)), esc(run.ID), run.Attempt, esc(run.ErrorClass))
		}
		return fmt.Sprintf(":large_green_circle: exporter job %s recovered: run %s succeeded, %d rows", esc(run.Job), esc(run.ID), run.Rows)
	}
	p.Text, p.slack = text(plain), text(slackEscape)
	if p.URL != "" {
		p.Text += " " + p.URL
		p.slack += " <" + p.URL + "|open run " + slackEscape(run.ID) + ">"
	}
	n.send(ctx, p)
}

// previous returns the job's latest finished (succeeded or failed) run
// created before run, or nil.
func (n *Notifier) previous(ctx context.Context, run state.Run) (*state.Run, error) {
	runs, err := n.opts.Store.ListRuns(ctx, state.ListOptions{Job: run.Job, Limit: 50})
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if r.ID >= run.ID || (r.Status != state.Failed && r.Status != state.Succeeded) {
			continue
		}
		return &r, nil
	}
	return nil, nil
}

// CheckStaleness alerts, once per episode, for each job with a
// max_staleness whose last success (its scheduled time) is older than that
// (a run skipped by its send condition counts: state.Run.Checked);
// a job that never succeeded counts from the Notifier's start. Run calls
// it every CheckEvery.
func (n *Notifier) CheckStaleness(ctx context.Context) {
	now := n.clock.Now()
	n.mu.Lock()
	jobs := n.jobs
	n.mu.Unlock()
	for _, j := range jobs {
		if j.MaxStaleness <= 0 {
			continue
		}
		n.mu.Lock()
		ref, added := n.since[j.Name]
		n.mu.Unlock()
		if !added {
			ref = n.started
		}
		var last *time.Time
		run, err := n.opts.Store.LastChecked(ctx, j.Name)
		switch {
		case errors.Is(err, state.ErrNotFound):
		case err != nil:
			n.log.Error("alert: read last success failed", zap.String("job", j.Name), zap.Error(err))
			continue
		default:
			ref = run.ScheduledTime
			last = timePtr(run.ScheduledTime)
		}
		if !now.After(j.StaleAfter(ref)) {
			continue
		}
		n.mu.Lock()
		sent, done := n.staleSent[j.Name]
		if done && sent.Equal(ref) {
			n.mu.Unlock()
			continue
		}
		n.staleSent[j.Name] = ref
		n.mu.Unlock()
		p := Payload{Event: config.EventStale, Job: j.Name, LastSuccess: last, MaxStaleness: j.MaxStaleness.String(), URL: n.pageURL("/jobs/", j.Name)}
		text := func(esc func(string) string) string {
			if last == nil {
				return fmt.Sprintf(":warning: exporter job %s has not succeeded since the exporter started %s ago (max_staleness %s)", esc(j.Name), now.Sub(ref).Round(time.Second), j.MaxStaleness)
			}
			return fmt.Sprintf(":warning: exporter job %s is stale: last success was the run scheduled at %s, %s ago (max_staleness %s)", esc(j.Name), ref.UTC().Format(time.RFC3339), now.Sub(ref).Round(time.Second), j.MaxStaleness)
		}
		p.Text, p.slack = text(plain), text(slackEscape)
		if p.URL != "" {
			p.Text += " " + p.URL
			p.slack += " <" + p.URL + "|open job " + slackEscape(j.Name) + ">"
		}
		n.send(ctx, p)
	}
}

// pageURL is the status page's page at prefix+name (e.g. "/runs/", id),
// or "" without a StatusURL.
func (n *Notifier) pageURL(prefix, name string) string {
	if n.opts.StatusURL == "" || name == "" {
		return ""
	}
	return n.opts.StatusURL + prefix + url.PathEscape(name)
}

// send delivers p to every webhook that wants its event.
func (n *Notifier) send(ctx context.Context, p Payload) {
	for _, h := range n.opts.Hooks {
		if !h.Wants(p.Event) {
			continue
		}
		log := n.log.With(zap.String("webhook", h.Name), zap.String("event", p.Event), zap.String("job", p.Job), zap.String("run_id", p.RunID))
		var body []byte
		var err error
		if h.Format == config.FormatSlack {
			body, err = json.Marshal(map[string]string{"text": p.slack})
		} else {
			body, err = json.Marshal(p)
		}
		if err != nil {
			log.Error("alert: encode payload failed", zap.Error(err))
			continue
		}
		if err := n.deliver(ctx, h, body, log); err != nil {
			log.Error("alert not delivered; giving up", zap.Error(err))
			continue
		}
		log.Info("alert delivered")
	}
}

// deliver POSTs body, retrying on network errors, 429 and 5xx.
func (n *Notifier) deliver(ctx context.Context, h config.Notify, body []byte, log *zap.Logger) error {
	wait := n.opts.Backoff
	attempts := n.opts.MaxAttempts
	if ctx.Err() != nil {
		attempts = 1 // draining at shutdown: one try
		ctx = context.WithoutCancel(ctx)
	}
	var err error
	for attempt := 1; ; attempt++ {
		var retry bool
		retry, err = n.post(ctx, h, body)
		if err == nil {
			return nil
		}
		if !retry || attempt >= attempts {
			return fmt.Errorf("attempt %d of %d: %w", attempt, attempts, err)
		}
		log.Warn("alert delivery failed; retrying", zap.Int("attempt", attempt), zap.Duration("backoff", wait), zap.Error(err))
		t, stop := n.clock.After(wait)
		select {
		case <-ctx.Done():
			stop()
			return fmt.Errorf("attempt %d: %w (stopped retrying: %w)", attempt, err, ctx.Err())
		case <-t:
		}
		wait *= 2
	}
}

func (n *Notifier) post(ctx context.Context, h config.Notify, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return false, errors.New("webhook URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lookerexport-exporter")
	resp, err := n.opts.HTTPClient.Do(req)
	if err != nil {
		// *url.Error prints the URL, which may hold a credential.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return true, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return retry, fmt.Errorf("webhook answered %s", resp.Status)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}
