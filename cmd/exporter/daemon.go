package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/metrics"
	"github.com/lookerexport/exporter/jobs/notify"
	"github.com/lookerexport/exporter/jobs/web"
)

func newMetrics(cfg *config.Config, clock jobs.Clock) *metrics.Metrics {
	return metrics.New(metrics.Options{Jobs: cfg.Jobs, Clock: clock, ProcessCollectors: true, Build: readBuildInfo().metrics()})
}

// daemonOptions adjust runDaemon; the zero value is the production setup.
type daemonOptions struct {
	listener net.Listener       // nil: listen on server.listen
	started  chan<- *web.Server // told once the server is up (tests)
}

// runDaemon runs the scheduler with its on-call surface: the status server
// (page, API, probes, metrics) and the alert notifier, all on the
// scheduler's clock, and config reloads (SIGHUP, see withReloads): one
// jobs.JobSet whose reloads the scheduler, metrics and notifier follow and
// whose jobs the status server shows. It returns when the scheduler has
// stopped and drained; the status server keeps answering during the drain,
// then stops, and runs started with "Run now" get the same drain timeout.
func runDaemon(ctx context.Context, a *app, s *jobs.Scheduler, drain time.Duration, opts daemonOptions) error {
	ln := opts.listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.Server.Listen); err != nil {
			return fmt.Errorf("status server: listen on %s (server.listen in %s; another exporter running?): %w", a.cfg.Server.Listen, a.cfg.Path, err)
		}
	}
	defer ln.Close()
	if err := a.metrics.Init(ctx, a.store, a.cfg.JobNames()); err != nil {
		a.log.Warn("metrics: reading last successes from the state store failed; they start at 0", zap.Error(err))
	}
	if s.Clock == nil {
		s.Clock = a.clock
	}
	n := notify.New(notify.Options{Hooks: a.cfg.Notify, Jobs: s.Jobs, Store: a.store, Log: a.log.Named("notify"), Clock: s.Clock, StatusURL: a.cfg.Server.ExternalURL})
	a.runner.Observers = append(a.runner.Observers, n)
	set := jobs.NewJobSet(s.Jobs, s, a.metrics, n)

	var running atomic.Bool
	runNow := a.trigger("run_now")
	runNow.Slots = s // Run now takes the scheduler's run slots (scheduler.max_concurrent_runs)
	srv, err := web.New(web.Options{
		Config: a.cfg, Jobs: set.Jobs, Store: a.store, Runner: a.runner, Trigger: runNow, Triggers: s.TriggerStatus,
		Metrics: a.metrics.Handler(), Log: a.log.Named("web"), Clock: s.Clock,
		Version: readBuildInfo().Version,
		Ready: func() error {
			if !running.Load() {
				return errors.New("scheduler not running")
			}
			return nil
		},
	})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	surface, stopSurface := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSurface()
	webDone := make(chan error, 1)
	go func() { webDone <- srv.Serve(surface, ln) }()
	notifyDone := make(chan error, 1)
	go func() { notifyDone <- n.Run(surface) }()
	// Reloads stop when the scheduler is told to stop: none lands during the drain.
	watching, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	reloadsDone := make(chan struct{})
	go func() { defer close(reloadsDone); watchReloads(watching, a, set) }()
	if opts.started != nil {
		opts.started <- srv
	}

	running.Store(true)
	err = s.Run(ctx)
	running.Store(false)
	stopWatching()
	<-reloadsDone

	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	srv.Shutdown(dctx)
	cancel()
	stopSurface()
	if werr := <-webDone; werr != nil {
		a.log.Error("status server stopped with an error", zap.Error(werr))
	}
	<-notifyDone
	return err
}
