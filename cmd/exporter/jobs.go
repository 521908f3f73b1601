package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state"
)

type jobOut struct {
	Name         string       `json:"name"`
	Schedule     string       `json:"schedule"`
	ScheduleText string       `json:"schedule_text"`
	Timezone     string       `json:"timezone"`
	NextRuns     []time.Time  `json:"next_runs"`
	LastRun      *web.RunInfo `json:"last_run"`

	Trigger *jobs.TriggerInfo `json:"trigger,omitempty"` // a datagroup trigger and the last triggered_at run for
}

func jobsCmd(g *globals) *cobra.Command {
	var ro readOnly
	cmd := &cobra.Command{
		Use:   "jobs --config FILE",
		Short: "List the jobs: schedule or trigger, next three fire times in each job's time zone, last run",
		Long: `jobs lists every job of the config with its schedule (in words and as cron),
its time zone, its next three fire times in that zone (daylight saving time
included), and the outcome of its latest run from the state store. A job
with a datagroup trigger shows it, with the latest triggered_at it ran for.`,
		Example: `  exporter jobs --config jobs.yaml
  exporter jobs --config jobs.yaml --output json | jq '.[].next_runs[0]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, store, err := ro.open(ctx, g)
			if err != nil {
				return err
			}
			defer store.Close()
			now := time.Now()
			var out []jobOut
			for _, j := range cfg.Jobs {
				jo := jobOut{Name: j.Name, Schedule: j.ScheduleSpec, ScheduleText: j.Schedule.Words(),
					Timezone: j.Location.String(), NextRuns: web.NextFires(j, now, 3)}
				runs, err := store.ListRuns(ctx, state.ListOptions{Job: j.Name, Limit: 1})
				if err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("read runs of job %s: %w", j.Name, err)}
				}
				if len(runs) > 0 {
					ri := web.NewRunInfo(runs[0], now)
					jo.LastRun = &ri
				}
				if jo.Trigger, err = jobs.NewTriggerInfo(ctx, store, j, nil); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				out = append(out, jo)
			}
			if ro.output == "json" {
				return writeJSONOut(g.stdout, out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSCHEDULE\tTIME ZONE\tNEXT RUNS\tLAST RUN")
			for _, jo := range out {
				var next []string
				for _, t := range jo.NextRuns {
					next = append(next, t.Format("2006-01-02 15:04 MST"))
				}
				switch {
				case len(next) == 0 && jo.Trigger != nil:
					next = []string{"when the datagroup triggers"}
				case len(next) == 0:
					next = []string{"never"}
				}
				last := "never ran"
				if jo.LastRun != nil {
					last = fmt.Sprintf("%s %s (%s)", jo.LastRun.Status, jo.LastRun.StartedAt.Local().Format("2006-01-02 15:04"), jo.LastRun.ID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", jo.Name, whenText(jo), jo.Timezone, next[0], last)
				for _, n := range next[1:] {
					fmt.Fprintf(tw, "\t\t\t%s\t\n", n)
				}
			}
			return tw.Flush()
		},
	}
	ro.flags(cmd)
	return cmd
}

// whenText says what fires a job: its schedule, its datagroup trigger
// with the last triggered_at it ran for, or both.
func whenText(jo jobOut) string {
	var parts []string
	if jo.Schedule != "" {
		parts = append(parts, fmt.Sprintf("%s (%s)", jo.Schedule, jo.ScheduleText))
	}
	if t := jo.Trigger; t != nil {
		last := "never ran for it"
		if t.LastRunFor != nil {
			last = "last ran for " + t.LastRunFor.Format("2006-01-02 15:04:05 MST")
		}
		parts = append(parts, fmt.Sprintf("datagroup %s (%s)", t.Datagroup, last))
	}
	return strings.Join(parts, " + ")
}
