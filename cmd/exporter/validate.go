package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lookerexport/exporter/jobs/config"
)

func validateCmd(g *globals) *cobra.Command {
	var path, output string
	cmd := &cobra.Command{
		Use:   "validate --config FILE",
		Short: "Check a config file and report every problem with its line",
		Long: `validate loads the config the way serve and run do, and reports every problem
at once, each with file:line and job: unknown keys, bad values, cron schedules,
time zones, destination templates and unset environment variables. It exits 0
when the config is valid and 1 when it is not. It contacts nothing.

-o json prints {"config", "valid", "jobs": [{name, schedule, timezone,
next_run, source, format, destination}], "problems": [{file, line, job,
message}]} on stdout, valid or not.`,
		Example: `  exporter validate --config jobs.yaml
  exporter validate --config jobs.yaml -o json | jq -r '.problems[] | "\(.file):\(.line): \(.message)"'
  LOOKERSDK_CLIENT_SECRET=... exporter validate --config /etc/exporter/jobs.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := g.loadConfig(path, exitFailed)
			now := time.Now()
			if output == "json" {
				return validateJSON(g, path, cfg, err, now)
			}
			if err != nil {
				return err
			}
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
	outputFlag(cmd, &output)
	return cmd
}

// validateOut is `exporter validate -o json`.
type validateOut struct {
	Config   string            `json:"config"`
	Valid    bool              `json:"valid"`
	Jobs     []validatedJob    `json:"jobs"`
	Problems []validateProblem `json:"problems"`
}

type validatedJob struct {
	Name        string     `json:"name"`
	Schedule    string     `json:"schedule"` // the schedule, or what else fires the job
	Timezone    string     `json:"timezone"`
	NextRun     *time.Time `json:"next_run"` // null when no schedule fires it
	Source      string     `json:"source"`
	Format      string     `json:"format"`
	Destination string     `json:"destination"`
}

type validateProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Job     string `json:"job,omitempty"`
	Message string `json:"message"`
}

// validateJSON prints cfg, or the problems of loadErr, as JSON; it fails
// (exit 1) when the config is invalid.
func validateJSON(g *globals, path string, cfg *config.Config, loadErr error, now time.Time) error {
	out := validateOut{Config: path, Valid: loadErr == nil, Jobs: []validatedJob{}, Problems: []validateProblem{}}
	var ps config.Problems
	switch {
	case loadErr == nil:
		out.Config = cfg.Path
		for _, j := range cfg.Jobs {
			vj := validatedJob{Name: j.Name, Schedule: j.Fires(), Timezone: j.Location.String(), Source: j.Source.String(), Format: format(j), Destination: j.Destination.String()}
			if next := nextFire(j, now); j.Schedule != nil && !next.IsZero() {
				vj.NextRun = &next
			}
			out.Jobs = append(out.Jobs, vj)
		}
	case errors.As(loadErr, &ps):
		for _, p := range ps {
			out.Problems = append(out.Problems, validateProblem{File: p.File, Line: p.Line, Job: p.Job, Message: p.Msg})
		}
	default:
		var ee *exitError
		if errors.As(loadErr, &ee) && ee.code == exitUsage {
			return loadErr
		}
		out.Problems = append(out.Problems, validateProblem{File: path, Message: loadErr.Error()})
	}
	if err := writeJSONOut(g.stdout, out); err != nil {
		return err
	}
	if loadErr != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %d problem(s) (see the JSON on stdout)", path, len(out.Problems))}
	}
	return nil
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
