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
// what runs beside it: config reloads on SIGHUP and history pruning. The
// returned func stops them.
func startScheduling(ctx context.Context, a *app, s *jobs.Scheduler) func() {
	s.Replica = a.cfg.Scheduler.Replica
	s.Lease = a.cfg.Scheduler.Lease
	s.MaxConcurrentRuns = a.cfg.Scheduler.MaxConcurrentRuns
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { defer func() { done <- struct{}{} }(); watchReloads(ctx, a, s) }()
	pruner := &jobs.Pruner{Store: a.store, Retention: a.cfg.State.Retention, Clock: a.clock, Log: a.log.Named("prune")}
	go func() { defer func() { done <- struct{}{} }(); pruner.Run(ctx) }()
	return func() { cancel(); <-done; <-done }
}

// watchReloads reloads the config file on every signal and hands the new
// job list to the scheduler. A config with problems is rejected as a whole
// and the running jobs stay as they are. Only jobs are reloaded: the
// Looker, state and server settings need a restart.
func watchReloads(ctx context.Context, a *app, s *jobs.Scheduler) {
	ch := reloads(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		cfg, err := config.Load(a.cfg.Path, config.Options{})
		if err != nil {
			a.log.Error("reload: config has problems; keeping the running jobs", zap.String("config", a.cfg.Path), zap.Error(err))
			continue
		}
		a.log.Info("reload: config loaded", zap.String("config", cfg.Path), zap.Strings("jobs", cfg.JobNames()))
		s.Reload(cfg.Jobs)
	}
}
