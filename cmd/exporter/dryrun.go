package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/lookerexport/exporter/jobs/config"
)

// dryRun resolves job's source for each scheduled time the way `exporter
// check` does (checkJob) and prints what a run would send and write. It
// runs no query, writes nothing (not even check's destination probe) and
// opens no state store.
func (g *globals) dryRun(ctx context.Context, cfg *config.Config, job *config.Job, times []time.Time, output string) error {
	_, client, closeClient, err := g.checkClient(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeClient()
	results := make([]*checkedJob, 0, len(times))
	failed := 0
	for _, at := range times {
		r := checkJob(ctx, client, job, at)
		if !r.ok() {
			failed++
		}
		results = append(results, r)
	}
	if output == "json" {
		err = writeJSONOut(g.stdout, results)
	} else {
		printDryRun(g.stdout, job, results)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("dry run of job %s (%s:%d): %d of %d fire(s) have problems (see above); fix them, then `exporter check` shows the job clean",
			job.Name, job.File, job.Line, failed, len(results))}
	}
	return nil
}

// printDryRun prints, for each fire, the source, the filters sent and
// the destination a run would write.
func printDryRun(w io.Writer, job *config.Job, results []*checkedJob) {
	fmt.Fprintf(w, "dry run of job %s: %d fire(s); no query run, nothing written or recorded\n", sanitize(job.Name), len(results))
	for _, r := range results {
		fmt.Fprintf(w, "\n%s  %s\n", r.NextFire.Format(time.RFC3339), sanitize(r.Source))
		if r.QueryID != "" {
			fmt.Fprintf(w, "  query %s", r.QueryID)
			if r.Model != "" {
				fmt.Fprintf(w, ", explore %s/%s", r.Model, r.Explore)
			}
			fmt.Fprintln(w)
		}
		for _, k := range slices.Sorted(maps.Keys(r.Filters)) {
			fmt.Fprintf(w, "  filter %s: %s\n", k, sanitize(r.Filters[k]))
		}
		if r.FilterExpression != "" {
			fmt.Fprintf(w, "  filter_expression: %s\n", sanitize(r.FilterExpression))
		}
		if r.Dashboard != nil {
			for _, k := range slices.Sorted(maps.Keys(r.Dashboard.Filters)) {
				fmt.Fprintf(w, "  dashboard filter %s: %s\n", k, sanitize(r.Dashboard.Filters[k]))
			}
			for _, t := range r.Dashboard.Tiles {
				if t.File != "" {
					fmt.Fprintf(w, "  would write %s (tile %q)\n", sanitize(t.File), sanitize(t.Title))
				}
			}
		}
		switch {
		case r.DestinationError != "":
			fmt.Fprintf(w, "  destination: PROBLEM: %s\n", sanitize(r.DestinationError))
		case r.Destination != "" && (r.Dashboard == nil || !job.TileFiles()):
			fmt.Fprintf(w, "  would write %s\n", sanitize(r.Destination))
		}
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  problem: %s\n", sanitize(p))
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", sanitize(r.Error))
		}
	}
}
