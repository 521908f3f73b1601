// Package metrics exposes the exporter's Prometheus metrics.
//
// A Metrics owns its registry (no global state): the HTTP server serves it
// with Handler. It observes runs as a jobs.Observer (RunStarted,
// RunFinished), Looker requests through LookerRequest (wired to
// lookerapi.WithRequestObserver), and computes each job's next fire time
// at scrape time. It follows config reloads as a jobs.Reloader: a removed
// job's series disappear, an added job's appear (at zero), and next fire
// times follow the new schedules.
//
// Series, all prefixed exporter_; the export job's label is export_job,
// never job or instance, which Prometheus sets on every series of a scrape
// target (ours would be renamed exported_job, and sum by (job) would add
// every export job together):
//
//	runs_total{export_job,outcome}              finished attempts by status
//	run_duration_seconds{export_job,outcome}    histogram of attempt durations
//	rows_exported_total{export_job}             rows of succeeded attempts
//	bytes_exported_total{export_job}            bytes of succeeded attempts
//	retries_total{export_job}                   attempts > 1 started
//	runs_in_flight{export_job}                  attempts running now
//	looker_requests_total{endpoint,status}      Looker API responses ("error" when none came)
//	looker_request_duration_seconds{endpoint}   time to the response headers
//	last_success_timestamp_seconds{export_job}  scheduled time of the latest success or check, Unix seconds
//
// A check is a run skipped by its send condition (state.Run.Checked): it
// read the data and, as asked, published nothing, so it counts as fresh.
//
//	next_run_timestamp_seconds{export_job}      the schedule's next fire time, Unix seconds
//	config_reloads_total{result}                config reloads, result "success" or "failure"
//	config_last_reload_successful               1 when the latest load or reload succeeded, else 0
//	config_last_reload_success_timestamp_seconds  when the running config was loaded, Unix seconds
//	build_info{version,revision,goversion}      always 1: the running build
//
// No label ever holds a secret: labels are job names, statuses and Looker
// operation names.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/state"
)

// Options configure New.
type Options struct {
	// Jobs are the configured jobs; their next fire times are exported.
	// Reload replaces them.
	Jobs []*config.Job
	// Clock is the clock for next fire times and reload timestamps: the
	// scheduler's. Nil means jobs.RealClock.
	Clock jobs.Clock
	// ProcessCollectors adds the Go runtime and process collectors.
	ProcessCollectors bool
	// Build is the running build, exported as exporter_build_info.
	Build BuildInfo
}

// BuildInfo names the running build.
type BuildInfo struct {
	Version   string // e.g. v1.2.3, or dev
	Revision  string // the VCS revision, or unknown
	GoVersion string // runtime.Version()
}

// Metrics holds the exporter's collectors and their registry. All methods
// are safe for concurrent use.
type Metrics struct {
	reg   *prometheus.Registry
	clock jobs.Clock

	mu      sync.Mutex
	jobs    []*config.Job
	removed map[string]bool // jobs a reload removed: their late run events are dropped

	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rows        *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	retries     *prometheus.CounterVec
	inFlight    *prometheus.GaugeVec
	lookerReqs  *prometheus.CounterVec
	lookerTime  *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec

	reloads      *prometheus.CounterVec
	reloadOK     prometheus.Gauge
	reloadOKTime prometheus.Gauge
}

// New builds the collectors and registers them in a fresh registry. Every
// configured job gets zero-valued series up front, so alerts on increase()
// and absent() work from the first scrape.
func New(opts Options) *Metrics {
	if opts.Clock == nil {
		opts.Clock = jobs.RealClock
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(), clock: opts.Clock, removed: map[string]bool{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "exporter", Name: "runs_total",
			Help: "Finished run attempts, by job and outcome (succeeded, failed, interrupted, skipped).",
		}, []string{"export_job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "exporter", Name: "run_duration_seconds",
			Help:    "Duration of finished run attempts, from start to recorded outcome.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
		}, []string{"export_job", "outcome"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "exporter", Name: "rows_exported_total",
			Help: "Rows written by succeeded run attempts.",
		}, []string{"export_job"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "exporter", Name: "bytes_exported_total",
			Help: "Bytes written to destinations by succeeded run attempts.",
		}, []string{"export_job"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "exporter", Name: "retries_total",
			Help: "Run attempts started after a failed attempt of the same scheduled run (attempt > 1).",
		}, []string{"export_job"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "exporter", Name: "runs_in_flight",
			Help: "Run attempts in progress in this process.",
		}, []string{"export_job"}),
		lookerReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "exporter", Name: "looker_requests_total",
			Help: `Looker API requests by endpoint (operation) and HTTP status; status "error" when no response came.`,
		}, []string{"endpoint", "status"}),
		lookerTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "exporter", Name: "looker_request_duration_seconds",
			Help:    "Time from sending a Looker API request to its response headers.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 10),
		}, []string{"endpoint"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "exporter", Name: "last_success_timestamp_seconds",
			Help: "Scheduled time of the job's latest succeeded run, or run skipped by its send condition (a fresh check), Unix seconds (0: none yet). Alert on time() minus this.",
		}, []string{"export_job"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "exporter", Name: "config_reloads_total",
			Help: `Config reloads (SIGHUP), by result: "success" or "failure" (the running jobs were kept; see the log).`,
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "exporter", Name: "config_last_reload_successful",
			Help: "Whether the latest config load or reload succeeded (1) or was rejected (0).",
		}),
		reloadOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "exporter", Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the running config was loaded (at start or by the latest successful reload), Unix seconds.",
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "exporter", Name: "build_info",
		Help:        "Always 1; its labels name the running build: version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": opts.Build.Version, "revision": opts.Build.Revision, "goversion": opts.Build.GoVersion},
	})
	build.Set(1)
	m.reg.MustRegister(build)
	m.reg.MustRegister(m.runs, m.duration, m.rows, m.bytes, m.retries, m.inFlight, m.lookerReqs, m.lookerTime, m.lastSuccess,
		m.reloads, m.reloadOK, m.reloadOKTime)
	m.reg.MustRegister(&nextCollector{m: m, desc: prometheus.NewDesc("exporter_next_run_timestamp_seconds",
		"The job's next scheduled fire time, Unix seconds.", []string{"export_job"}, nil)})
	if opts.ProcessCollectors {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, result := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(result)
	}
	m.reloadOK.Set(1)
	m.reloadOKTime.Set(unixSeconds(opts.Clock.Now()))
	m.jobs = opts.Jobs
	for _, j := range opts.Jobs {
		m.zeroSeries(j.Name)
	}
	return m
}

// zeroSeries creates a job's series at zero, so alerts on increase() and
// absent() work from the first scrape.
func (m *Metrics) zeroSeries(job string) {
	for _, s := range []state.Status{state.Succeeded, state.Failed} {
		m.runs.WithLabelValues(job, string(s))
	}
	m.rows.WithLabelValues(job)
	m.bytes.WithLabelValues(job)
	m.retries.WithLabelValues(job)
	m.inFlight.WithLabelValues(job)
	m.lastSuccess.WithLabelValues(job)
}

// Reload implements jobs.Reloader: next fire times follow the new jobs,
// added jobs get zero-valued series (last_success_timestamp_seconds from
// the store once Init is called for them), and removed jobs lose all
// their series, so no gauge of a job that no longer exists goes stale.
// Runs of a removed job that finish later are not counted.
func (m *Metrics) Reload(jobs []*config.Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		keep[j.Name] = true
		delete(m.removed, j.Name)
	}
	for _, j := range m.jobs {
		if keep[j.Name] {
			continue
		}
		m.removed[j.Name] = true
		for _, v := range []interface {
			DeletePartialMatch(prometheus.Labels) int
		}{m.runs, m.duration, m.rows, m.bytes, m.retries, m.inFlight, m.lastSuccess} {
			v.DeletePartialMatch(prometheus.Labels{"export_job": j.Name})
		}
	}
	for _, j := range jobs {
		m.zeroSeries(j.Name)
	}
	m.jobs = jobs
}

// ConfigReloaded records a config reload: ok is whether the new config
// was loaded (rather than rejected).
func (m *Metrics) ConfigReloaded(ok bool) {
	if !ok {
		m.reloads.WithLabelValues("failure").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.reloadOK.Set(1)
	m.reloadOKTime.Set(unixSeconds(m.clock.Now()))
}

// observe runs f, which updates job's series, unless a reload removed
// job: under m.mu, so that a reload cannot delete the series between.
func (m *Metrics) observe(job string, f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.removed[job] {
		f()
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Registry is the registry holding the collectors, e.g. to add more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// LastChecker is the part of state.Store that Init reads.
type LastChecker interface {
	LastChecked(ctx context.Context, job string) (state.Run, error)
}

// Init sets last_success_timestamp_seconds of each job from the store, so
// the series survives restarts. Jobs that never succeeded stay at 0.
func (m *Metrics) Init(ctx context.Context, store LastChecker, jobs []string) error {
	var errs []error
	for _, job := range jobs {
		run, err := store.LastChecked(ctx, job)
		switch {
		case errors.Is(err, state.ErrNotFound):
			m.observe(job, func() { m.lastSuccess.WithLabelValues(job) }) // 0: none yet
		case err != nil:
			errs = append(errs, err)
		default:
			m.observe(job, func() { m.setLastSuccess(job, run.ScheduledTime) })
		}
	}
	return errors.Join(errs...)
}

func (m *Metrics) setLastSuccess(job string, t time.Time) {
	g := m.lastSuccess.WithLabelValues(job)
	// Never move backwards: a late re-run of an old partition is not news.
	if v := unixSeconds(t); v > gaugeValue(g) {
		g.Set(v)
	}
}

// RunStarted implements jobs.Observer.
func (m *Metrics) RunStarted(run state.Run) {
	m.observe(run.Job, func() {
		m.inFlight.WithLabelValues(run.Job).Inc()
		if run.Attempt > 1 {
			m.retries.WithLabelValues(run.Job).Inc()
		}
	})
}

// RunFinished implements jobs.Observer.
func (m *Metrics) RunFinished(run state.Run, _ error) {
	m.observe(run.Job, func() { m.runFinished(run) })
}

func (m *Metrics) runFinished(run state.Run) {
	m.inFlight.WithLabelValues(run.Job).Dec()
	outcome := string(run.Status)
	m.runs.WithLabelValues(run.Job, outcome).Inc()
	if !run.FinishedAt.IsZero() && !run.StartedAt.IsZero() {
		m.duration.WithLabelValues(run.Job, outcome).Observe(run.FinishedAt.Sub(run.StartedAt).Seconds())
	}
	if run.Status == state.Succeeded {
		m.rows.WithLabelValues(run.Job).Add(float64(run.Rows))
		m.bytes.WithLabelValues(run.Job).Add(float64(run.Bytes))
	}
	if run.Checked() {
		m.setLastSuccess(run.Job, run.ScheduledTime)
	}
}

// LookerRequest records one Looker API request: op is the operation
// (e.g. "run_look"), status the HTTP status or 0 when no response came.
// Its signature matches lookerapi.WithRequestObserver.
func (m *Metrics) LookerRequest(op string, status int, d time.Duration) {
	s := "error"
	if status > 0 {
		s = strconv.Itoa(status)
	}
	m.lookerReqs.WithLabelValues(op, s).Inc()
	m.lookerTime.WithLabelValues(op).Observe(d.Seconds())
}

// nextCollector computes next fire times at scrape time.
type nextCollector struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (c *nextCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *nextCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	jobs := c.m.jobs
	c.m.mu.Unlock()
	now := c.m.clock.Now()
	for _, j := range jobs {
		if j.Schedule == nil {
			continue
		}
		next := j.Schedule.Next(now) // the one definition of fire times, DST included
		if next.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(next.Unix()), j.Name)
	}
}
