package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
)

// checkedDashboard is what check found of a dashboard source.
type checkedDashboard struct {
	Title   string            `json:"title"`
	Filters map[string]string `json:"filters"` // the values sent for the next fire: the job's over the defaults
	Tiles   []checkedTile     `json:"tiles"`
}

// checkedTile is one tile of a checked dashboard.
type checkedTile struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Kind  string `json:"kind"`           // data, merge, text, other
	File  string `json:"file,omitempty"` // where a tile export writes it; "" for skipped tiles and renders
}

// nextFire is a job's next fire time after now, in its zone (now for a
// job fired only by a datagroup).
func nextFire(job *config.Job, now time.Time) time.Time {
	if job.Schedule == nil {
		return now.In(job.Location)
	}
	return job.Schedule.Next(now.In(job.Location))
}

// checkFire renders the job's templates for the fire at scheduled
// (LastSuccessTime is shown as PrevScheduledTime: check reads no run
// state) and returns what a run would send. A dashboard source is
// checked here, without creating any query: its filter values and its
// tiles with their files; done is then true, as it is when out.Error was
// set.
func checkFire(ctx context.Context, client *lookerapi.Client, job *config.Job, scheduled time.Time, out *checkedJob) (spec config.RunSpec, done bool) {
	td := config.TemplateData{Job: job.Name, Attempt: 1, ScheduledTime: scheduled.In(job.Location)}
	td.PrevScheduledTime = td.ScheduledTime
	if job.Schedule != nil {
		td.PrevScheduledTime = job.Schedule.Prev(td.ScheduledTime)
	}
	td.LastSuccessTime = td.PrevScheduledTime
	out.NextFire = td.ScheduledTime
	fail := func(err error) (config.RunSpec, bool) {
		out.Error = fmt.Sprintf("%v (job %s, %s:%d)", err, job.Name, job.File, job.Line) // cause first
		return spec, true
	}
	if !job.TileFiles() { // a dashboard's tile files are known once its tiles are read, below
		var derr error
		if out.Destination, derr = job.RenderDestination(td); derr != nil {
			out.DestinationError = derr.Error()
		}
	}
	spec, err := job.RenderRun(td)
	if err != nil {
		return fail(err)
	}
	if job.Source.DashboardID == "" {
		return spec, false
	}
	d, err := client.Dashboard(ctx, job.Source.DashboardID)
	if err != nil {
		return fail(err)
	}
	cd := &checkedDashboard{Title: d.Title, Tiles: []checkedTile{}}
	if cd.Filters, err = d.FilterValues(spec.DashboardFilters); err != nil {
		out.Problems = append(out.Problems, err.Error())
	}
	for _, t := range d.Tiles {
		ct := checkedTile{ID: t.ID, Title: t.Title, Kind: string(t.Kind)}
		if job.TileFiles() && (t.Kind == lookerapi.TileData || t.Kind == lookerapi.TileMerge) {
			td.Tile = config.TileName(t.Title, t.ID)
			if ct.File, err = job.RenderDestination(td); err != nil {
				out.Problems = append(out.Problems, err.Error())
			}
			if out.Destination == "" {
				out.Destination = ct.File
			}
		}
		cd.Tiles = append(cd.Tiles, ct)
	}
	out.Dashboard = cd
	return spec, true
}

// printFilters prints the filters a saved source sends for the next fire.
func printFilters(w io.Writer, r *checkedJob) {
	if len(r.Filters) == 0 && r.FilterExpression == "" {
		return
	}
	fmt.Fprintf(w, "  filters sent for the fire at %s (saved filters with the job's merged in):\n", r.NextFire.Format(time.RFC3339))
	for _, k := range slices.Sorted(maps.Keys(r.Filters)) {
		fmt.Fprintf(w, "    %s: %s\n", k, r.Filters[k])
	}
	if r.FilterExpression != "" {
		fmt.Fprintf(w, "    filter_expression: %s\n", r.FilterExpression)
	}
}

// printDashboard prints a checked dashboard: its filter values for the
// next fire and its tiles, each with its file or why it has none.
func printDashboard(w io.Writer, r *checkedJob) error {
	d := r.Dashboard
	fmt.Fprintf(w, "  dashboard %q, filter values for the fire at %s:\n", d.Title, r.NextFire.Format(time.RFC3339))
	for _, k := range slices.Sorted(maps.Keys(d.Filters)) {
		fmt.Fprintf(w, "    %s: %s\n", k, nonEmptyOr(d.Filters[k], "(any value)"))
	}
	fmt.Fprintln(w, "  tiles:")
	for _, t := range d.Tiles {
		what := t.File
		switch {
		case t.Kind != string(lookerapi.TileData) && t.Kind != string(lookerapi.TileMerge):
			what = "skipped (no data)"
		case what == "":
			what = "rendered with the dashboard"
		case t.Kind == string(lookerapi.TileMerge):
			what += " (merged result, merged by the exporter)"
		}
		fmt.Fprintf(w, "    %s %q: %s\n", t.ID, nonEmptyOr(t.Title, "untitled"), what)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	return nil
}
