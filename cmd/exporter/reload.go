package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
)

type reloadKey struct{}

// withReloads attaches the channel on which main delivers SIGHUP.
func withReloads(ctx context.Context, ch <-chan os.Signal) context.Context {
	return context.WithValue(ctx, reloadKey{}, ch)
}

func reloads(ctx context.Context) <-chan os.Signal {
	ch, _ := ctx.Value(reloadKey{}).(<-chan os.Signal)
	return ch // nil (never receives) when main set none, as in tests
}

// startScheduling applies the config's scheduler settings to s and starts
// what runs beside it: history pruning. The returned func stops it.
func startScheduling(ctx context.Context, a *app, s *jobs.Scheduler) func() {
	s.Replica = a.cfg.Scheduler.Replica
	s.Lease = a.cfg.Scheduler.Lease
	s.MaxConcurrentRuns = a.cfg.Scheduler.MaxConcurrentRuns
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	pruner := &jobs.Pruner{Store: a.store, Retention: a.cfg.State.Retention, Clock: a.clock, Log: a.log.Named("prune")}
	go func() { defer close(done); pruner.Run(ctx) }()
	return func() { cancel(); <-done }
}

// watchReloads reloads the config file on every signal (SIGHUP) until ctx
// is done; see reloadConfig.
func watchReloads(ctx context.Context, a *app, set *jobs.JobSet) {
	ch := reloads(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		reloadConfig(ctx, a, set)
	}
}

// reloadConfig loads the config file again and hands its jobs to set,
// whose listeners (scheduler, metrics, notifier; the status server reads
// set) all follow. A config with problems, whatever the file holds, is
// rejected as a whole and the running jobs stay as they are. Either way
// it logs one line and counts the reload. Only jobs are reloaded: the
// Looker, state, server and notify settings need a restart.
func reloadConfig(ctx context.Context, a *app, set *jobs.JobSet) {
	cfg, err := config.Load(a.cfg.Path, a.loadOpts)
	if err != nil {
		a.metrics.ConfigReloaded(false)
		a.log.Error("config reload rejected; the running jobs stay as they are: fix the file and send SIGHUP again",
			zap.String("config", a.cfg.Path), zap.Error(err))
		return
	}
	ch := set.Reload(cfg.Jobs)
	a.metrics.ConfigReloaded(true)
	a.log.Info("config reloaded", zap.String("config", cfg.Path), zap.Int("jobs", len(cfg.Jobs)),
		zap.Strings("added", ch.Added), zap.Strings("removed", ch.Removed))
	if err := a.metrics.Init(ctx, a.store, ch.Added); err != nil {
		a.log.Warn("metrics: reading the added jobs' last successes from the state store failed; they start at 0", zap.Error(err))
	}
}
