package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/storage"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/metrics"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/gcs"
	"github.com/lookerexport/exporter/sinks/localfs"
	"github.com/lookerexport/exporter/state"
	"github.com/lookerexport/exporter/state/postgres"
	"github.com/lookerexport/exporter/state/sqlite"
)

// app is everything a command needs, built from a config.
type app struct {
	cfg     *config.Config
	log     *zap.Logger
	store   state.Store
	looker  *lookerapi.Client
	runner  *jobs.Runner
	metrics *metrics.Metrics // also a runner observer and the Looker client's request observer
	// clock is the one clock of the process: the runner (and every
	// scheduler, trigger and backfill on it), query slots, the pruner,
	// notify, metrics, the status server and the Looker client read it.
	clock jobs.Clock
	// loadOpts are what the config was loaded with; a reload reads the
	// file the same way (the zero value: the process's environment).
	loadOpts config.Options

	gcsOnce   sync.Once
	gcsClient *storage.Client
	gcsErr    error
}

// loadOptions are how the commands load the config: --looker-ini.
func (g *globals) loadOptions() config.Options {
	return config.Options{LookerINI: g.lookerINI}
}

// loadConfig loads and validates a config; problems exit with code.
func (g *globals) loadConfig(path string, code int) (*config.Config, error) {
	if path == "" {
		return nil, usageErr("--config is required (a YAML file; see config.example.yaml)")
	}
	cfg, err := config.Load(path, g.loadOptions())
	if err != nil {
		return nil, &exitError{code: code, err: fmt.Errorf("invalid config:\n%w", err)}
	}
	return cfg, nil
}

// loadJob loads a config and finds the job a command names.
func (g *globals) loadJob(path, name string) (*config.Config, *config.Job, error) {
	cfg, err := g.loadConfig(path, exitUsage)
	if err != nil {
		return nil, nil, err
	}
	job := cfg.Job(name)
	if job == nil {
		return nil, nil, usageErr("no job %q in %s; jobs: %v", name, cfg.Path, cfg.JobNames())
	}
	return cfg, job, nil
}

func openStore(ctx context.Context, cfg *config.Config) (state.Store, error) {
	switch cfg.State.Driver {
	case "sqlite":
		s, err := sqlite.Open(ctx, cfg.State.DSN)
		if err != nil {
			return nil, fmt.Errorf("open state store %s: %w", cfg.State.DSN, err)
		}
		return s, nil
	case "postgres":
		s, err := postgres.Open(ctx, cfg.State.DSN)
		if err != nil {
			return nil, fmt.Errorf("open postgres state store: %w", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("state driver %q is not supported", cfg.State.Driver)
}

// newApp builds the app for cfg. clock is the one clock of the daemon
// (scheduler, status server, notifier, metrics); nil means the wall clock.
func newApp(ctx context.Context, cfg *config.Config, log *zap.Logger, clock jobs.Clock) (*app, error) {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = jobs.RealClock
	}
	m := newMetrics(cfg, clock)
	// Looker's per-user query limit is shared by every replica (and every
	// `exporter run`) using the same state store.
	slots := &jobs.StoreQuerySlots{Store: store, Replica: cfg.Scheduler.Replica, Lease: cfg.Scheduler.Lease, Log: log.Named("query_slots"), Clock: clock}
	client, err := lookerapi.New(cfg.Looker.ClientConfig(), log.Named("looker"),
		lookerapi.WithRequestObserver(m.LookerRequest), lookerapi.WithQuerySlots(slots), lookerapi.WithClock(lookerClock{clock}))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("looker client: %w", err)
	}
	a := &app{cfg: cfg, log: log, store: store, looker: client, metrics: m, clock: clock}
	local := localfs.New(log.Named("localfs")).WithFileMode(cfg.Local.FileMode)
	cleanupTemp(cfg, local, log) // crashed writers' leftovers, before any run
	a.runner = &jobs.Runner{
		Looker:    client,
		Sinks:     jobs.SinkForScheme(a.gcsSink, local),
		Store:     store,
		Log:       log.Named("run"),
		Clock:     clock,
		Observers: []jobs.Observer{m},
		LogLines:  cfg.Server.LogLines,
	}
	return a, nil
}

// trigger is the door for runs started on demand, with the config's replica
// and lease, so that a run whose process dies is taken over like a fire.
func (a *app) trigger(name string) *jobs.Trigger {
	return &jobs.Trigger{Runner: a.runner, Log: a.log.Named(name), Replica: a.cfg.Scheduler.Replica, Lease: a.cfg.Scheduler.Lease}
}

// gcsSink creates the GCS client on first use, so configs that only write
// local files need no Google credentials.
func (a *app) gcsSink(ctx context.Context) (sinks.Sink, error) {
	a.gcsOnce.Do(func() {
		a.gcsClient, a.gcsErr = gcs.NewClient(context.WithoutCancel(ctx), a.cfg.GCS.CredentialsFile)
	})
	if a.gcsErr != nil {
		return nil, fmt.Errorf("GCS client (set gcs.credentials_file, GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`): %w", a.gcsErr)
	}
	return gcs.New(a.gcsClient, a.log.Named("gcs"), gcs.Options{}), nil
}

// closeGCS closes the GCS client if gcsSink made one.
func (a *app) closeGCS() {
	if a.gcsClient != nil {
		_ = a.gcsClient.Close()
	}
}

// openApp builds the logger and the app for a command.
func (g *globals) openApp(ctx context.Context, cfg *config.Config) (*app, error) {
	log, err := g.logger()
	if err != nil {
		return nil, err
	}
	a, err := newApp(ctx, cfg, log, nil)
	if err != nil {
		return nil, err
	}
	a.loadOpts = g.loadOptions()
	return a, nil
}

// Close logs out of Looker, closes the store and the GCS client, and
// flushes the log.
func (a *app) Close(ctx context.Context) error {
	defer a.log.Sync() //nolint:errcheck
	var errs []error
	if err := a.looker.Close(context.WithoutCancel(ctx)); err != nil {
		errs = append(errs, fmt.Errorf("looker logout: %w", err))
	}
	if a.gcsClient != nil {
		errs = append(errs, a.gcsClient.Close())
	}
	errs = append(errs, a.store.Close())
	return errors.Join(errs...)
}
