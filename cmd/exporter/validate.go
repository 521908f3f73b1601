package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs/config"
)

func validateCmd(g *globals) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a config file and report every problem with its line",
		Long: `validate loads the config the way serve and run do, and reports every problem
at once, each with file:line and job: unknown keys, bad values, cron schedules,
time zones, destination templates and unset environment variables. It exits 0
when the config is valid and 1 when it is not. It contacts nothing.`,
		Example: `  exporter validate --config jobs.yaml
  LOOKERSDK_CLIENT_SECRET=... exporter validate --config /etc/exporter/jobs.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path, exitFailed)
			if err != nil {
				return err
			}
			now := time.Now()
			fmt.Fprintf(g.stdout, "%s: OK, %d job(s)\n\n", cfg.Path, len(cfg.Jobs))
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSCHEDULE\tTIMEZONE\tNEXT RUN\tSOURCE\tFORMAT\tDESTINATION")
			for _, j := range cfg.Jobs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, j.Fires(), j.Location, nextRun(j, now),
					j.Source, format(j), j.Destination)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (YAML)")
	return cmd
}

// nextRun is a job's next fire time, or what else fires it.
func nextRun(j *config.Job, now time.Time) string {
	if next := j.Schedule.Next(now); !next.IsZero() {
		return next.Format("2006-01-02 15:04 MST")
	}
	if j.Trigger.Datagroup != "" {
		return "when the datagroup triggers"
	}
	return "never"
}
