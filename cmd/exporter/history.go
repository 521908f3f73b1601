package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state"
)

func historyCmd(g *globals) *cobra.Command {
	var ro readOnly
	var limit int
	cmd := &cobra.Command{
		Use:   "history [JOB] --config FILE",
		Short: "Show recent runs, of one job or all, newest first",
		Long: `history lists recent run attempts from the state store, newest first: run id,
job, scheduled time, attempt, status, duration, rows, bytes and the error (for a
run skipped by its send condition, when:, the reason).
Use the run id with ` + "`exporter logs`" + ` to see what happened.`,
		Example: `  exporter history --config jobs.yaml
  exporter history orders_daily --config jobs.yaml --limit 50
  exporter history orders_daily --config jobs.yaml -o json | jq -r '.[] | select(.status=="failed") | .id'`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeJobs(g, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit < 1 || limit > 10000 {
				return usageErr("--limit %d: use 1 to 10000", limit)
			}
			cfg, store, err := ro.open(ctx, g)
			if err != nil {
				return err
			}
			defer store.Close()
			opts := state.ListOptions{Limit: limit}
			if len(args) == 1 {
				opts.Job = args[0]
				if cfg.Job(opts.Job) == nil {
					fmt.Fprintf(g.stderr, "note: %s has no job %q; showing its recorded runs anyway (jobs: %s)\n", cfg.Path, opts.Job, strings.Join(cfg.JobNames(), ", "))
				}
			}
			runs, err := store.ListRuns(ctx, opts)
			if err != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("list runs: %w", err)}
			}
			now := time.Now()
			out := make([]web.RunInfo, 0, len(runs))
			for _, r := range runs {
				out = append(out, web.NewRunInfo(r, now))
			}
			if ro.output == "json" {
				return writeJSONOut(g.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintln(g.stdout, "No runs recorded yet.")
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN ID\tJOB\tSCHEDULED\tATTEMPT\tSTATUS\tDURATION\tROWS\tBYTES\tERROR")
			for _, r := range out {
				sched := r.ScheduledTime
				if j := cfg.Job(r.Job); j != nil {
					sched = sched.In(j.Location)
				}
				msg := oneLine(r.Error, 80)
				if r.ErrorClass == state.ClassCondition {
					msg = oneLine(r.Error, 200) // the skip reason, whole: it names the run it repeats
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", r.ID, sanitize(r.Job), sched.Format("2006-01-02 15:04 MST"), r.Attempt, r.Status,
					time.Duration(r.DurationSeconds*float64(time.Second)).Round(time.Millisecond), r.Rows, r.Bytes, msg)
			}
			return tw.Flush()
		},
	}
	ro.flags(cmd)
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "how many runs to show")
	return cmd
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
