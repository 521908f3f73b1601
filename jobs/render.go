package jobs

import (
	"context"
	"fmt"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
)

// Renderer renders dashboards, Looks and queries to PDF, PNG or JPEG
// through Looker's render tasks, and creates the query a saved source runs
// with a job's filters. *lookerapi.Client is one.
type Renderer interface {
	Render(ctx context.Context, target lookerapi.RenderTarget, format string, opts lookerapi.RenderOptions) (*lookerapi.Result, error)
	Derive(ctx context.Context, src lookerapi.Source, opts lookerapi.RunOptions) (*lookerapi.DerivedQuery, error)
}

// result starts the Looker side of a run that writes one file: the
// source's result (Looker.Run), or, for format pdf, png or jpg, its
// render (see render).
func (r *Runner) result(ctx context.Context, job *config.Job, spec config.RunSpec) (*lookerapi.Result, error) {
	if !job.Plan.Render {
		return r.Looker.Run(ctx, spec.Source, spec.Run)
	}
	return r.render(ctx, job, spec)
}

// render renders the job's source: a dashboard with its filter values
// (the dashboard's defaults for the others), a Look as itself, a saved
// query by id. A Look or saved query with filters or a job
// query_timezone, and a query slug, are rendered as the query they derive
// (lookerapi.Derive: the job's filters merged over the saved ones, in the
// run's zone). A render task that
// ends in failure fails the run with Looker's status_detail, as a
// permanent error (lookerapi.ErrRenderFailed): rendering again the same
// thing would fail again.
func (r *Runner) render(ctx context.Context, job *config.Job, spec config.RunSpec) (*lookerapi.Result, error) {
	rl, ok := r.Looker.(Renderer)
	if !ok {
		return nil, fmt.Errorf("render %s: this Looker client cannot render (it has no Render)", job.Source)
	}
	src := spec.Source
	opts := lookerapi.RenderOptions{Width: job.Render.Width, Height: job.Render.Height, RunAs: job.Run.RunAs, Log: spec.Run.Log}
	// The job's filters or zone make another query than the saved one.
	derive := len(spec.Run.Filters) > 0 || spec.Run.FilterExpression != "" || spec.Run.QueryTimezone != ""
	var target lookerapi.RenderTarget
	var derived *lookerapi.DerivedQuery
	switch {
	case src.DashboardID != "":
		target = lookerapi.RenderTarget{DashboardID: src.DashboardID}
		opts.PDFPaperSize, opts.PDFLandscape, opts.LongTables = job.Render.PDFPaperSize, job.Render.PDFLandscape, job.Render.LongTables
		opts.DashboardFilters = spec.DashboardFilters
	case src.LookID != "" && !derive:
		target = lookerapi.RenderTarget{LookID: src.LookID}
	case src.QueryID != "" && !derive:
		target = lookerapi.RenderTarget{QueryID: src.QueryID}
	default:
		d, err := rl.Derive(ctx, src, spec.Run)
		if err != nil {
			return nil, err
		}
		derived = d
		target = lookerapi.RenderTarget{QueryID: d.QueryID}
	}
	res, err := rl.Render(ctx, target, string(job.Plan.Format), opts)
	if err != nil {
		return nil, err
	}
	if derived != nil {
		res.QueryID, res.Timezone, res.TimezoneSource = derived.QueryID, derived.Timezone, derived.TimezoneSource
	}
	return res, nil
}
