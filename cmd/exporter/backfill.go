package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
)

func backfillCmd(g *globals) *cobra.Command {
	var (
		path     string
		from, to string
		parallel int
		rerun    bool
	)
	cmd := &cobra.Command{
		Use:   "backfill --config FILE JOB --from T1 --to T2",
		Short: "Run a job once for every scheduled time in a range, each into its own partition",
		Long: `backfill runs JOB for each of its schedule's fire times in [--from, --to), as the
daemon would have: each run gets its scheduled time (and .PrevScheduledTime), so it
writes its own partition and filters on its own data interval. Runs are claimed in
the state store like the daemon's, so a backfill and running replicas never run the
same scheduled time twice.

Partitions that already succeeded are skipped unless --rerun, so a backfill that was
interrupted (Ctrl-C, a crash) finishes when the same command is run again. Times are
RFC 3339 (2026-11-01T00:00:00Z) or dates (2026-11-01, midnight in the job's zone).
A partition whose send condition (when:) does not hold publishes nothing and
counts as skipped; the next backfill checks it again.

Exit code: 0 when every partition succeeded or was skipped, 1 when any failed,
130 when interrupted.`,
		Example: `  exporter backfill --config jobs.yaml orders_daily --from 2026-11-01 --to 2026-12-01
  exporter backfill --config jobs.yaml orders_hourly --from 2026-11-27T00:00:00Z --to 2026-11-28T00:00:00Z --parallel 4
  exporter backfill --config jobs.yaml orders_daily --from 2026-11-01 --to 2026-11-08 --rerun`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, job, err := loadJob(path, args[0])
			if err != nil {
				return err
			}
			start, err := parseBackfillTime("--from", from, job)
			if err != nil {
				return err
			}
			end, err := parseBackfillTime("--to", to, job)
			if err != nil {
				return err
			}
			if !start.Before(end) {
				return usageErr("--from %s must be before --to %s", from, to)
			}
			if parallel < 1 {
				return usageErr("--parallel must be at least 1, not %d", parallel)
			}
			a, err := g.openApp(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close(ctx) //nolint:errcheck
			res, err := jobs.Backfill(ctx, a.runner, job, a.log.Named("backfill"), jobs.BackfillOptions{
				From: start, To: end, Parallel: parallel, Rerun: rerun,
				Replica: "backfill:" + cfg.Scheduler.Replica, Lease: cfg.Scheduler.Lease,
				Progress: backfillProgress(cmd.OutOrStdout(), g.term(), isTerminal(cmd.OutOrStdout()) && g.term().tty),
			})
			fmt.Fprintf(cmd.OutOrStdout(), "backfill %s: %d partitions: %d succeeded, %d skipped, %d failed\n",
				job.Name, res.Total, res.Succeeded, res.Skipped, res.Failed)
			switch {
			case err == nil:
				return nil
			case ctx.Err() != nil:
				return &exitError{code: exitInterrupted, err: err}
			}
			return &exitError{code: exitFailed, err: err}
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (YAML)")
	cmd.Flags().StringVar(&from, "from", "", "first scheduled time to include (RFC 3339 or YYYY-MM-DD in the job's zone)")
	cmd.Flags().StringVar(&to, "to", "", "end of the range, excluded (RFC 3339 or YYYY-MM-DD in the job's zone)")
	cmd.Flags().IntVar(&parallel, "parallel", 1, "partitions to run at once")
	cmd.Flags().BoolVar(&rerun, "rerun", false, "run partitions that already succeeded again (overwriting them)")
	return cmd
}

func parseBackfillTime(flag, s string, job *config.Job) (time.Time, error) {
	if s == "" {
		return time.Time{}, usageErr("%s is required", flag)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, job.Location); err == nil {
		return t, nil
	}
	return time.Time{}, usageErr("%s %q: give an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01)", flag, s)
}

// backfillProgress reports each settled partition: when live (stdout and
// the log's stderr are the terminal) it rewrites the progress line and
// prints failures and the last partition above it; otherwise it prints every
// partition to stdout.
func backfillProgress(stdout io.Writer, term *terminal, live bool) func(jobs.BackfillEvent) {
	return func(ev jobs.BackfillEvent) {
		line := fmt.Sprintf("[%d/%d] %s %s", ev.Done, ev.Total, ev.Scheduled.Format(time.RFC3339), ev.Outcome)
		if ev.Outcome == "succeeded" {
			line += fmt.Sprintf(" (%d rows, attempt %d)", ev.Run.Rows, ev.Run.Attempt)
		}
		if ev.Err != nil {
			line += ": " + ev.Err.Error()
		}
		switch {
		case !live:
			fmt.Fprintln(stdout, sanitize(line))
		case ev.Err != nil:
			term.Above(stdout, line)
		case ev.Done == ev.Total:
			term.Progress("")
			term.Above(stdout, line)
		default:
			term.Progress(line)
		}
	}
}
