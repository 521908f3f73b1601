package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// DashboardLooker reads a dashboard and runs its tiles. *lookerapi.Client
// is one.
type DashboardLooker interface {
	DashboardAs(ctx context.Context, id, as string) (*lookerapi.Dashboard, error)
	TileQueries(ctx context.Context, d *lookerapi.Dashboard, overrides map[string]string, opts lookerapi.RunOptions) ([]lookerapi.TileQuery, error)
	RunTile(ctx context.Context, tq lookerapi.TileQuery, opts lookerapi.RunOptions) (*lookerapi.Result, error)
}

// exportDashboard exports every data tile of a dashboard job's dashboard
// (merged results included, text and other tiles skipped), one file per
// tile named by the destination with {{ .Tile }} (config.TileName), all
// in one directory. Tiles run one after another, each streamed to its
// file as the single-source runs are; the files are announced together
// by one manifest naming each tile (publish.Options.Named), and a run
// that fails at any tile publishes none of them (the tiles already
// committed are removed). Everything runs as the job's run_as user, the
// dashboard read included. The dashboard's filters take the job's values
// (spec.DashboardFilters) over their defaults. A merged result, which
// the client merges from Looker json, is read as json whatever the job's
// result_format (format raw keeps the result_format, and a merged tile
// then fails unless it is json). Schema drift is not checked for
// dashboards: each tile has its own columns.
func (r *Runner) exportDashboard(ctx context.Context, log *zap.Logger, job *config.Job, run state.Run, scheduled time.Time, opts RunOptions, td config.TemplateData, spec config.RunSpec) ([]string, error) {
	p := opts.Progress
	dl, ok := r.Looker.(DashboardLooker)
	if !ok {
		return nil, fmt.Errorf("export %s: this Looker client cannot read dashboards", job.Source)
	}
	d, err := dl.DashboardAs(ctx, spec.Source.DashboardID, spec.Run.RunAs)
	if err != nil {
		return nil, err
	}
	ropts := spec.Run
	ropts.Filters, ropts.FilterExpression = nil, ""
	tqs, err := dl.TileQueries(ctx, d, spec.DashboardFilters, ropts)
	if err != nil {
		return nil, err
	}
	if len(tqs) == 0 {
		return nil, fmt.Errorf("dashboard %s (%q) has no data tiles to export; render it instead (format pdf or png)", d.ID, d.Title)
	}
	log.Info("dashboard read", zap.String("dashboard", d.ID), zap.String("title", d.Title), zap.Int("data_tiles", len(tqs)))

	dests := make([]string, len(tqs))
	for i, tq := range tqs {
		td.Tile = config.TileName(tq.Tile.Title, tq.Tile.ID)
		if dests[i], err = job.RenderDestination(td); err != nil {
			return nil, err
		}
	}
	dir := dests[0][:strings.LastIndex(dests[0], "/")+1]
	sink, err := r.Sinks(ctx, dests[0])
	if err != nil {
		return nil, err
	}
	for _, d := range dests {
		if err := confine(sink, d, job.Output.Root); err != nil {
			return nil, err // before any tile's query
		}
	}
	if err := r.checkDestination(ctx, log, opts.clock, sink, dests[0]); err != nil {
		return nil, err // before any tile's query
	}
	out, err := publish.Begin(ctx, sink, publish.Options{
		Dest: dir, Named: true, Manifest: job.Output.Manifest,
		WriteOptions: writeOptions(job, run, scheduled, ""), Bytes: &p.Bytes, Now: opts.clock.Now, Log: log,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if aerr := out.Abort(); aerr != nil { // a no-op after a successful Commit
			log.Warn("clean up the output of the failed run", zap.Error(aerr))
		}
	}()
	dash := &publish.Dashboard{ID: d.ID, Title: d.Title, Tiles: []publish.Tile{}}
	for i, tq := range tqs {
		tile, err := r.exportTile(ctx, log, job, dl, tq, ropts, out, dests[i], p)
		if err != nil {
			return nil, fmt.Errorf("tile %s (%q) of dashboard %s: %w", tq.Tile.ID, tq.Tile.Title, d.ID, err)
		}
		dash.Tiles = append(dash.Tiles, tile)
	}
	m := newManifest(job, run, scheduled, &lookerapi.Result{}, job.Plan.ObjectType(""), &outputInfo{})
	m.Source.Filters, m.Dashboard = spec.DashboardFilters, dash
	if err := out.Commit(ctx, m); err != nil {
		return nil, err
	}
	return out.URIs(), nil
}

// exportTile runs one tile and writes it to uri in out.
func (r *Runner) exportTile(ctx context.Context, log *zap.Logger, job *config.Job, dl DashboardLooker, tq lookerapi.TileQuery, ropts lookerapi.RunOptions, out *publish.Set, uri string, p *Progress) (publish.Tile, error) {
	tj := tileJob(job, tq)
	log = log.With(zap.String("tile", tq.Tile.ID))
	ropts.ResultFormat = tj.Plan.ResultFormat
	res, err := dl.RunTile(ctx, tq, ropts)
	if err != nil {
		return publish.Tile{}, err
	}
	defer res.Body.Close()
	log.Debug("tile result streaming", zap.String("content_type", res.ContentType), zap.String("query_id", res.QueryID))
	p.queryID.Store(&res.QueryID)
	zone, err := resultZone(log, tj, res)
	if err != nil {
		return publish.Tile{}, err
	}
	logLimits(log, tj, res)
	if err := out.Name(uri, tj.Plan.ObjectType(res.ContentType)); err != nil {
		return publish.Tile{}, err
	}
	before := p.Rows.Load() // the run's progress counts every tile, live
	var info outputInfo
	if err := convert(ctx, tj, res, out, &p.Rows, &info, zone); err != nil {
		return publish.Tile{}, err
	}
	warnInvalidUTF8(log, &info)
	if err := checkTruncation(log, tj, res, p.Rows.Load()-before); err != nil {
		return publish.Tile{}, err
	}
	files := out.Files()
	f := files[len(files)-1]
	t := publish.Tile{ID: tq.Tile.ID, Title: tq.Tile.Title, Kind: string(tq.Tile.Kind), File: f.Name, Rows: f.Rows,
		QueryTimezone: res.Timezone, TimezoneSource: res.TimezoneSource, Schema: manifestColumns(&info)}
	var ids []string
	if prev := p.queryIDs.Load(); prev != nil {
		ids = append(ids, *prev...)
	}
	for _, q := range tq.Queries {
		t.LookerQueryIDs = append(t.LookerQueryIDs, q.QueryID)
		ids = append(ids, q.QueryID)
	}
	p.queryIDs.Store(&ids)
	return t, nil
}

// tileJob is the job as one tile runs it: a merged result comes as
// Looker json (lookerapi.RunTile), so a converted format reads it as
// json.
func tileJob(job *config.Job, tq lookerapi.TileQuery) *config.Job {
	if tq.Tile.Kind != lookerapi.TileMerge || job.Plan.Read == config.ReadBytes {
		return job
	}
	tj := *job
	tj.Plan.ResultFormat, tj.Plan.Read, tj.Plan.Passthrough = "json", config.ReadJSON, false
	return &tj
}

// warnInvalidUTF8 logs the bytes of a result that were not UTF-8.
func warnInvalidUTF8(log *zap.Logger, info *outputInfo) {
	if info.invalidUTF8 > 0 {
		log.Warn("the result held bytes that are not UTF-8; each sequence was written as U+FFFD",
			zap.Int64("replaced", info.invalidUTF8), zap.String("what_to_do", "fix the encoding of the data in the warehouse, or the connection's character set in Looker"))
	}
}
