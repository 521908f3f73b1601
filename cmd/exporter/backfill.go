package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
)

func backfillCmd(g *globals) *cobra.Command {
	var (
		path     string
		from, to string
		parallel int
		rerun    bool
		dryRun   bool
		output   string
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

--dry-run resolves the source for every partition as ` + "`exporter check`" + ` does and
prints what each would send and write (scheduled time, source, filters merged
for that time, destination) without running a query, writing or recording
anything. -o json prints one object with a partition per scheduled time
(outcome and run record) and the summary.

Exit code: 0 when every partition succeeded or was skipped, 1 when any failed,
130 when interrupted.`,
		Example: `  exporter backfill --config jobs.yaml orders_daily --from 2026-11-01 --to 2026-12-01
  exporter backfill --config jobs.yaml orders_hourly --from 2026-11-27T00:00:00Z --to 2026-11-28T00:00:00Z --parallel 4
  exporter backfill --config jobs.yaml orders_daily --from 2026-11-01 --to 2026-11-08 --rerun
  exporter backfill --config jobs.yaml orders_daily --from 2026-11-01 --to 2026-11-08 --dry-run
  exporter backfill --config jobs.yaml orders_daily --from 2026-11-01 --to 2026-11-08 -o json | jq .summary`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeJobs(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, job, err := g.loadJob(path, args[0])
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
			if dryRun {
				times, err := jobs.BackfillTimes(job, start, end)
				if err != nil {
					return usageErr("%w", err)
				}
				return g.dryRun(ctx, cfg, job, times, output)
			}
			a, err := g.openApp(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close(ctx) //nolint:errcheck
			progress := backfillProgress(cmd.OutOrStdout(), g.term(), isTerminal(cmd.OutOrStdout()) && g.term().tty)
			var parts []backfillPartition
			if output == "json" {
				progress = func(ev jobs.BackfillEvent) { parts = append(parts, newBackfillPartition(ev, a.clock.Now())) }
			}
			res, err := jobs.Backfill(ctx, a.runner, job, a.log.Named("backfill"), jobs.BackfillOptions{
				From: start, To: end, Parallel: parallel, Rerun: rerun,
				Replica: "backfill:" + cfg.Scheduler.Replica, Lease: cfg.Scheduler.Lease,
				Progress: progress,
			})
			if output == "json" {
				slices.SortFunc(parts, func(a, b backfillPartition) int { return a.Scheduled.Compare(b.Scheduled) })
				if jerr := writeJSONOut(cmd.OutOrStdout(), backfillOut{Job: job.Name, Partitions: parts, Summary: res}); jerr != nil {
					return jerr
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "backfill %s: %d partitions: %d succeeded, %d skipped, %d failed\n",
					job.Name, res.Total, res.Succeeded, res.Skipped, res.Failed)
			}
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
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "resolve the source for each partition and print what would be written; run no query, write and record nothing")
	outputFlag(cmd, &output)
	return cmd
}

// backfillOut is `exporter backfill -o json`: a partition per scheduled
// time, in order, and the counts.
type backfillOut struct {
	Job        string              `json:"job"`
	Partitions []backfillPartition `json:"partitions"`
	Summary    jobs.BackfillResult `json:"summary"`
}

type backfillPartition struct {
	Scheduled time.Time    `json:"scheduled_time"`
	Outcome   string       `json:"outcome"`
	Run       *web.RunInfo `json:"run,omitempty"` // the last attempt, or the run that already succeeded
	Error     string       `json:"error,omitempty"`
}

func newBackfillPartition(ev jobs.BackfillEvent, now time.Time) backfillPartition {
	p := backfillPartition{Scheduled: ev.Scheduled, Outcome: ev.Outcome}
	if ev.Run.ID != "" {
		ri := web.NewRunInfo(ev.Run, now)
		p.Run = &ri
	}
	if ev.Err != nil {
		p.Error = ev.Err.Error()
	}
	return p
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
