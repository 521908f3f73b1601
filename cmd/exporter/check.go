package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/lookerexport/exporter/formats"
	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks"
	"github.com/lookerexport/exporter/sinks/localfs"
)

// checkedField is one column of a checked job.
type checkedField struct {
	Name       string `json:"name"`
	Label      string `json:"label,omitempty"`
	Category   string `json:"category,omitempty"`
	LookMLType string `json:"lookml_type"`
	OutputType string `json:"output_type"`
}

// checkedJob is what `exporter check` found for a job.
type checkedJob struct {
	Job          string         `json:"job"`
	Source       string         `json:"source"`
	Mode         string         `json:"mode"`
	RunAs        string         `json:"run_as,omitempty"`
	Limit        string         `json:"limit"`                 // what the job sends: a row count, -1 (all rows), or "saved"
	SavedLimit   string         `json:"saved_limit,omitempty"` // the limit saved with the Look or query
	Timezone     string         `json:"timezone,omitempty"`    // the zone Looker renders datetimes in
	ZoneSource   string         `json:"timezone_source,omitempty"`
	LookTitle    string         `json:"look_title,omitempty"`
	QueryID      string         `json:"query_id,omitempty"`
	Model        string         `json:"model,omitempty"`
	Explore      string         `json:"explore,omitempty"`
	Fields       []checkedField `json:"fields"`
	Streams      bool           `json:"streams"`
	NotStreaming []string       `json:"not_streaming,omitempty"`
	Problems     []string       `json:"problems,omitempty"`
	Error        string         `json:"error,omitempty"`
	// For the next fire (see check_content.go): the filters sent (a
	// saved source's merged over its own), or a dashboard's tiles.
	NextFire         time.Time         `json:"next_fire"`
	Filters          map[string]string `json:"filters,omitempty"`
	FilterExpression string            `json:"filter_expression,omitempty"`
	Dashboard        *checkedDashboard `json:"dashboard,omitempty"`
	// The destination of the next fire (a dashboard's first tile file),
	// and why it cannot be written, if so (see checkDestinations).
	Destination      string `json:"destination,omitempty"`
	DestinationError string `json:"destination_error,omitempty"`
}

func (j *checkedJob) ok() bool {
	return j.Error == "" && j.DestinationError == "" && len(j.Problems) == 0
}

func checkCmd(g *globals) *cobra.Command {
	var path, output string
	cmd := &cobra.Command{
		Use:   "check --config FILE [JOB...]",
		Short: "Resolve each job's Looker source without running it: fields, types, streaming",
		Long: `check loads the config, logs in to Looker and, for each job (or the jobs named),
resolves the source without running the export: a Look to its query, a query
slug to its query, the query's fields with their LookML types and the output
type each becomes (Parquet/JSON lines), the time zone Looker renders its
datetimes in and where that comes from (the query's query_timezone, the job's,
or Looker's default), the limit the job sends beside the saved one, and
whether Looker can stream the result. Looker does not stream results with
table calculations, totals, row totals, subtotals, running_total or
percent_of measures, or on a database without streaming: it computes them in
memory and caps them (5,000 rows) even with limit -1, so such a job is flagged.
A saved query whose zone Looker cannot tell (user-specific time zones, or an
API user that may not read the settings) is a problem: set query_timezone. SQL Runner queries are listed
without fields (their columns are known only once the SQL runs).

A Look or saved query with source.filters is shown as the query a run sends
for the job's next fire: the saved filters with the job's merged in, their
templates rendered for that fire ({{ .LastSuccessTime }} is shown as the
previous fire: check reads no run history). A dashboard source is shown with
its filter values for the next fire and its tiles, each with the file a tile
export writes it to (text tiles are skipped); a filter name the dashboard does
not have is a problem. check creates nothing in Looker.

check also checks each job's destination for the next fire: a gs:// bucket
exists and the credentials may create and delete objects in it (GCS
testIamPermissions, or else an empty probe object _exporter_check_<random>
created and deleted at once); a local directory, or its nearest existing
parent, is writable (a probe file, removed at once). Runs do the same check
before they start the query.

check exits 0 when every job resolved cleanly and every destination can be
written, 1 when a job has a problem (a destination that cannot be written, an
error from Looker, a field the explore does not know, or a result that will not
stream while the job asks for more than 5,000 rows), and 2 for a bad config.`,
		Example: `  exporter check --config jobs.yaml
  exporter check --config jobs.yaml orders_daily
  exporter check --config jobs.yaml --output json | jq '.[] | select(.streams == false)'`,
		ValidArgsFunction: completeJobs(g, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := g.loadConfig(path, exitUsage)
			if err != nil {
				return err
			}
			selected, err := selectJobs(cfg, args)
			if err != nil {
				return err
			}
			log, client, closeClient, err := g.checkClient(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer closeClient()
			results := make([]*checkedJob, 0, len(selected))
			for _, job := range selected {
				results = append(results, checkJob(cmd.Context(), client, job, nextFire(job, time.Now())))
			}
			dests := &app{cfg: cfg, log: log}
			defer dests.closeGCS()
			checkDestinations(cmd.Context(), jobs.SinkForScheme(dests.gcsSink, localfs.New(log.Named("localfs"))), results)
			failed := 0
			for _, res := range results {
				if !res.ok() {
					failed++
				}
			}
			if output == "json" {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else if err := printChecks(g.stdout, cfg.Path, results); err != nil {
				return err
			}
			if failed > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d job(s) have problems (see above)", failed, len(results))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (YAML)")
	outputFlag(cmd, &output)
	return cmd
}

// checkClient is the logger and the Looker client of check and the dry
// runs (no query slots, no metrics: they run no query); closeClient
// closes both.
func (g *globals) checkClient(ctx context.Context, cfg *config.Config) (_ *zap.Logger, _ *lookerapi.Client, closeClient func(), _ error) {
	log, err := g.logger()
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := lookerapi.New(cfg.Looker.ClientConfig(), log.Named("looker"))
	if err != nil {
		log.Sync() //nolint:errcheck
		return nil, nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("looker client: %w", err)}
	}
	return log, client, func() {
		client.Close(context.WithoutCancel(ctx)) //nolint:errcheck
		log.Sync()                               //nolint:errcheck
	}, nil
}

// checkDestinations asks each job's destination sink (a sinks.Checker)
// whether the next fire's destination can be written: a gs:// bucket
// exists and the credentials may create and delete objects in it, a local
// directory (or its nearest existing parent) is writable. Each folder is
// checked once.
func checkDestinations(ctx context.Context, sinkFor jobs.SinkFor, results []*checkedJob) {
	seen := map[string]string{} // folder -> error ("" passed)
	for _, r := range results {
		if r.Destination == "" || r.DestinationError != "" {
			continue
		}
		folder := r.Destination[:strings.LastIndex(r.Destination, "/")+1]
		if msg, ok := seen[folder]; ok {
			r.DestinationError = msg
			continue
		}
		sink, err := sinkFor(ctx, r.Destination)
		if err == nil {
			if c, ok := sink.(sinks.Checker); ok {
				err = c.Check(ctx, r.Destination)
			}
		}
		if err != nil {
			r.DestinationError = err.Error()
		}
		seen[folder] = r.DestinationError
	}
}

func selectJobs(cfg *config.Config, names []string) ([]*config.Job, error) {
	if len(names) == 0 {
		return cfg.Jobs, nil
	}
	var out []*config.Job
	for _, n := range names {
		j := cfg.Job(n)
		if j == nil {
			return nil, usageErr("%s: no job %q; jobs are: %s", cfg.Path, n, strings.Join(cfg.JobNames(), ", "))
		}
		out = append(out, j)
	}
	return out, nil
}

// checkJob resolves one job's source for its fire at scheduled. Errors are
// recorded in the result, so one bad job does not hide the others.
func checkJob(ctx context.Context, client *lookerapi.Client, job *config.Job, scheduled time.Time) *checkedJob {
	out := &checkedJob{Job: job.Name, Source: job.Source.String(), Mode: string(job.Run.Mode), RunAs: job.Run.RunAs,
		Limit: strconv.FormatInt(job.Run.Limit, 10), Fields: []checkedField{}}
	if job.Run.SavedLimit {
		out.Limit = "saved"
	}
	if out.Mode == "" {
		out.Mode = string(lookerapi.ModeSync)
	}
	spec, done := checkFire(ctx, client, job, scheduled, out)
	if done {
		return out
	}
	r, err := client.ResolveRun(ctx, spec.Source, spec.Run)
	if err != nil {
		out.Error = fmt.Sprintf("%v (job %s, %s:%d)", err, job.Name, job.File, job.Line) // cause first
		return out
	}
	out.LookTitle, out.QueryID, out.Model, out.Explore = r.LookTitle, r.QueryID, r.Model, r.View
	out.Streams, out.NotStreaming, out.Problems = r.Streams, r.NotStreaming, r.Problems
	out.SavedLimit, out.Timezone, out.ZoneSource = r.SavedLimit, r.Timezone, r.TimezoneSource
	if job.Source.SQL != nil {
		out.Timezone, out.ZoneSource = job.SQLLocation.String(), "sql_timezone (Looker does not convert SQL Runner values)"
	}
	if r.Query != nil && (len(spec.Run.Filters) > 0 || spec.Run.FilterExpression != "") {
		out.Filters, out.FilterExpression = r.Query.Filters, r.Query.FilterExpression
	}
	for _, f := range r.Fields {
		out.Fields = append(out.Fields, checkedField{Name: f.Name, Label: f.Label, Category: f.Category,
			LookMLType: f.Type, OutputType: formats.TypeForLookML(f.Type).String()})
	}
	asks := job.Run.Limit
	if job.Run.SavedLimit {
		if n, err := strconv.ParseInt(r.SavedLimit, 10, 64); err == nil {
			asks = n
		}
	}
	if !r.Streams && (asks < 0 || asks > lookerapi.DefaultRowLimit) {
		out.Problems = append(out.Problems, fmt.Sprintf(
			"will not stream (%s): Looker computes such results in memory and caps them (5,000 rows; 50,000 with legacy all results) although the job asks for %s; move table calculations into LookML, drop totals, or split the export",
			strings.Join(r.NotStreaming, ", "), limitText(asks)))
	}
	return out
}

func limitText(limit int64) string {
	if limit < 0 {
		return "all rows (limit -1)"
	}
	return fmt.Sprintf("%d rows", limit)
}

// limitLine says what limit a run sends and what the saved query holds.
func limitLine(r *checkedJob) string {
	words := map[string]string{"-1": "all rows (-1)", "saved": "the saved limit"}
	sends := words[r.Limit]
	if sends == "" {
		sends = r.Limit + " rows"
	}
	switch {
	case r.SavedLimit == "":
		return "  limit: sends " + sends
	case r.Limit == "saved":
		return "  limit: sends none, so the saved limit of " + r.SavedLimit + " applies"
	case r.Limit != r.SavedLimit:
		return "  limit: sends " + sends + ", overriding the saved limit of " + r.SavedLimit + " (limit: saved keeps it)"
	}
	return "  limit: sends " + sends + " (the saved limit too)"
}

func printChecks(w io.Writer, path string, results []*checkedJob) error {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		status := "OK"
		if !r.ok() {
			status = "PROBLEM"
		}
		fmt.Fprintf(w, "%s  %s  [%s]\n", r.Job, r.Source, status)
		switch {
		case r.DestinationError != "":
			fmt.Fprintf(w, "  destination: PROBLEM: %s\n", r.DestinationError)
		case r.Destination != "":
			fmt.Fprintf(w, "  destination: %s (writable)\n", r.Destination)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", r.Error)
			continue
		}
		desc := "  mode " + r.Mode
		if r.RunAs != "" {
			desc += ", as user " + r.RunAs
		}
		if r.LookTitle != "" {
			desc += fmt.Sprintf(", look %q", r.LookTitle)
		}
		if r.QueryID != "" {
			desc += ", query " + r.QueryID
		}
		if r.Model != "" && r.Explore != "" {
			desc += ", explore " + r.Model + "/" + r.Explore
		}
		fmt.Fprintln(w, desc)
		if r.Timezone != "" {
			fmt.Fprintf(w, "  time zone: %s, from the %s\n", r.Timezone, r.ZoneSource)
		}
		if r.Dashboard != nil {
			if err := printDashboard(w, r); err != nil {
				return err
			}
			continue
		}
		printFilters(w, r)
		fmt.Fprintln(w, limitLine(r))
		switch {
		case r.Model == "" && r.Explore == "" && len(r.Fields) == 0:
			fmt.Fprintln(w, "  streams: yes (SQL Runner; columns are known once the SQL runs)")
		case r.Streams:
			fmt.Fprintln(w, "  streams: yes")
		default:
			fmt.Fprintf(w, "  streams: NO (%s)\n", strings.Join(r.NotStreaming, ", "))
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
		if len(r.Fields) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  FIELD\tCATEGORY\tLOOKML TYPE\tOUTPUT TYPE")
			for _, f := range r.Fields {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Name, nonEmptyOr(f.Category, "-"), nonEmptyOr(f.LookMLType, "?"), f.OutputType)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	_ = path
	return nil
}

func nonEmptyOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
