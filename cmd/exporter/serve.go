package main

import (
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs"
)

func serveCmd(g *globals) *cobra.Command {
	var path string
	var drain time.Duration
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the daemon: fire every job on its cron schedule",
		Long: `serve fires each job on its schedule, in its time zone, and each job with a
trigger when its Looker datagroup's triggered_at advances (read every
scheduler.datagroup_poll_interval, 1m by default), and records every run in
the state store. On SIGINT or SIGTERM it stops firing, lets runs in flight
finish for --drain-timeout, then interrupts them (recorded as interrupted) and
exits. Whatever sends SIGTERM must wait longer than the drain before it kills
the process: Kubernetes' terminationGracePeriodSeconds (30 s by default; the
Helm chart sets it to the drain + 15 s) or docker stop's --stop-timeout. On SIGHUP it reloads the config file's jobs; the scheduler, metrics,
alerts and status page follow. A config with problems is rejected and logged,
and the running jobs stay.

Alongside, it serves on server.listen (127.0.0.1:9464 by default, or
$EXPORTER_LISTEN): the status page at /, the JSON API under /api/v1/, /metrics
for Prometheus (without the token when server.metrics_public is true), and the
/healthz and /readyz probes (always without the token); and it sends the
notify: webhooks (failure, recovery, staleness).`,
		Example: `  exporter serve --config jobs.yaml
  exporter serve --config jobs.yaml --log-format json --drain-timeout 10m
  EXPORTER_LISTEN=0.0.0.0:9464 EXPORTER_TOKEN_FILE=/run/secrets/token exporter serve --config jobs.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			setGCPercent(serveGCPercent)
			ctx := cmd.Context()
			cfg, err := g.loadConfig(path, exitUsage)
			if err != nil {
				return err
			}
			a, err := g.openApp(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close(ctx) //nolint:errcheck
			// After the config's garbage: a floor while it is parsed
			// would let that garbage grow to the floor.
			defer startGCFloor(serveGCPercent, serveGCFloor)()
			return serve(cmd, a, drain)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (YAML)")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 5*time.Minute, "on shutdown, how long runs in flight may take to finish before they are interrupted")
	return cmd
}

func serve(cmd *cobra.Command, a *app, drain time.Duration) error {
	a.log.Info("exporter serving", zap.String("config", a.cfg.Path), zap.Strings("jobs", a.cfg.JobNames()), zap.String("state", a.cfg.State.Driver))
	s := &jobs.Scheduler{Runner: a.runner, Jobs: a.cfg.Jobs, Log: a.log.Named("scheduler"), DrainTimeout: drain, Clock: a.clock,
		Datagroups: a.looker, DatagroupPoll: a.cfg.Scheduler.DatagroupPoll}
	stop := startScheduling(cmd.Context(), a, s)
	defer stop()
	return runDaemon(cmd.Context(), a, s, drain, daemonOptions{})
}
