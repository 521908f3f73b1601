package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/notify"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state"
)

func runCmd(g *globals) *cobra.Command {
	var path, at, output string
	var acceptSchema, noRetry, dryRun bool
	cmd := &cobra.Command{
		Use:   "run --config FILE JOB [--at TIME]",
		Short: "Run one job once, now, and exit with its outcome",
		Long: `run performs one run of JOB and records it in the state store, like a scheduled
run would: it claims the key (JOB, scheduled time) and holds a lease on it, retries
under the job's retries (one attempt with --no-retry) and sends the notify:
webhooks. If the process dies, a serve or run sharing the state store records the
run interrupted once its lease expires. The scheduled time (which destination
templates use) is --at, or now. On a terminal it shows rows, bytes and rate as the
result streams.

Exit codes: 0 succeeded; 1 failed (fix the job or its query first); 2 bad
config, flags or arguments; 75 failed with a retryable error (Looker busy, rate
limited, network) after the job's retries, or the run is in flight elsewhere: try
again later; 130 interrupted.

--dry-run resolves the source as ` + "`exporter check`" + ` does and prints what the run
would send and write (scheduled time, source, filters merged for that time,
destination) without running the query, writing or recording anything.
-o json prints the run record (as ` + "`exporter history -o json`" + ` shows runs), or
with --dry-run what check would print for that fire.`,
		Example: `  exporter run --config jobs.yaml orders_daily
  exporter run --config jobs.yaml orders_daily --dry-run --at 2026-11-27T06:00:00Z   # what would it write?
  exporter run --config jobs.yaml orders_daily -o json | jq -r .uris[]
  exporter run --config jobs.yaml orders_daily --at 2026-11-27T06:00:00Z   # re-run a past partition`,
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
			var scheduled time.Time
			if at != "" {
				if scheduled, err = time.Parse(time.RFC3339, at); err != nil {
					return usageErr("--at %q: use RFC 3339, e.g. 2026-11-27T06:00:00Z", at)
				}
			}
			if dryRun {
				if at == "" {
					scheduled = jobs.RealClock.Now().Truncate(time.Second)
				}
				return g.dryRun(ctx, cfg, job, []time.Time{scheduled}, output)
			}
			a, err := g.openApp(ctx, cfg)
			if err != nil {
				return err
			}
			defer a.Close(ctx) //nolint:errcheck
			if at == "" {
				scheduled = a.clock.Now().Truncate(time.Second)
			}
			n := notify.New(notify.Options{Hooks: cfg.Notify, Jobs: cfg.Jobs, Store: a.store, Log: a.log.Named("notify"), Clock: a.clock, StatusURL: cfg.Server.ExternalURL})
			a.runner.Observers = append(a.runner.Observers, n)
			run, err := runOnce(ctx, g.term(), a.trigger("run"), job, scheduled,
				jobs.TriggerOptions{RunOptions: jobs.RunOptions{AcceptSchemaChange: acceptSchema}, NoRetry: noRetry})
			n.Flush()
			if output == "json" && run.ID != "" {
				if jerr := writeJSONOut(g.stdout, web.NewRunInfo(run, a.clock.Now())); jerr != nil {
					return jerr
				}
			} else {
				printRun(g.stdout, run)
			}
			return runExit(run, err)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (YAML)")
	cmd.Flags().StringVar(&at, "at", "", "scheduled time of the run, RFC 3339 (default now)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "resolve the source and print what would be written; run no query, write and record nothing")
	outputFlag(cmd, &output)
	cmd.Flags().BoolVar(&noRetry, "no-retry", false, "make one attempt, whatever the job's retries say")
	cmd.Flags().BoolVar(&acceptSchema, "accept-schema-change", false, "publish even if the columns changed since the last success (for on_schema_change: fail); the new schema becomes the baseline")
	return cmd
}

// runOnce runs a job through t, showing progress on a terminal.
func runOnce(ctx context.Context, term *terminal, t *jobs.Trigger, job *config.Job, scheduled time.Time, opts jobs.TriggerOptions) (state.Run, error) {
	p := &jobs.Progress{}
	stop := showProgress(term, job.Name, p)
	opts.Progress = p
	run, err := t.Run(ctx, job, scheduled, opts)
	stop()
	return run, err
}

// showProgress shows rows, bytes and rate every half second while a run
// streams, when term is a terminal. The returned func stops it.
func showProgress(term *terminal, name string, p *jobs.Progress) func() {
	if !term.tty {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				term.Progress("")
				return
			case <-t.C:
				rows, bytes := p.Rows.Load(), p.Bytes.Load()
				secs := time.Since(start).Seconds()
				term.Progress(fmt.Sprintf("%s: %s rows  %s  %s rows/s  %s", name, humanize.Comma(rows), humanize.IBytes(uint64(bytes)),
					humanize.Comma(int64(float64(rows)/secs)), time.Since(start).Truncate(time.Second)))
			}
		}
	}()
	return func() { close(done); <-finished }
}

func printRun(w io.Writer, run state.Run) {
	if run.ID == "" || run.Status == state.Running { // not ours: in flight elsewhere
		return
	}
	fmt.Fprintf(w, "job %s run %s attempt %d: %s, %s rows, %s, %s\n", sanitize(run.Job), run.ID, run.Attempt, run.Status,
		humanize.Comma(run.Rows), humanize.IBytes(uint64(run.Bytes)), run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond))
	for _, u := range run.URIs {
		fmt.Fprintf(w, "  wrote %s\n", sanitize(u))
	}
	if run.ErrorClass == state.ClassCondition {
		fmt.Fprintf(w, "  nothing published: %s\n", sanitize(run.Error))
	}
}

// runExit maps a run's outcome to an exit code.
func runExit(run state.Run, err error) error {
	if err == nil {
		return nil
	}
	code := exitFailed
	switch {
	case run.Status == state.Interrupted, errors.Is(err, context.Canceled) && run.ErrorClass == jobs.ClassCancelled:
		code = exitInterrupted
	case run.ErrorClass == jobs.ClassRetryable, errors.Is(err, jobs.ErrRunning):
		code = exitTempFail // try again later
	}
	if run.Error != "" && run.Status != state.Running {
		err = recordedError{text: run.Error, err: err} // cause first, as the status page and history show it
	}
	return &exitError{code: code, err: err}
}

// recordedError prints as the run's recorded error (cause first) and
// unwraps to the error the run returned.
type recordedError struct {
	text string
	err  error
}

func (e recordedError) Error() string { return e.text }
func (e recordedError) Unwrap() error { return e.err }

// format names a job's output, e.g. "parquet/zstd".
func format(j *config.Job) string {
	if j.Plan.Compression == "" || j.Plan.Compression == formats.None {
		return string(j.Plan.Format)
	}
	return string(j.Plan.Format) + "/" + string(j.Plan.Compression)
}
