package jobs_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// dashboardJob is a daily job exporting the sandbox's dashboard "Orders
// overview" with its Date filter set to the job's data interval.
func dashboardJob(t *testing.T, b *bundle, id, format, dest string) *config.Job {
	t.Helper()
	return b.job(t, "overview", fmt.Sprintf(`schedule: '0 0 * * *'
source:
  dashboard_id: '%s'
  filters: {Date: %s}
%s
destination: '%s'`, id, windowFilter, format, dest))
}

// TestDashboardTiles: a dashboard with three data tiles, a text tile and
// a merged-result tile exports four files, one per data tile (the merged
// result included, the text tile skipped), named after each tile, under
// one manifest that names each tile; every file holds its tile's rows
// with the dashboard filters it listens to (the job's Date window, the
// Status default), read back value by value.
func TestDashboardTiles(t *testing.T) {
	t.Parallel()
	const rows = 3000
	day := time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)
	tiles := overviewTiles(rows, day)
	for _, tc := range []struct {
		name, id, format, ext string
		gcs                   bool
	}{
		{"parquet", lookertest.DashboardID, "format: parquet", "parquet", false},
		{"lookml id, jsonl zstd on gcs", lookertest.LookMLDashboardID, "format: jsonl\ncompression: zstd", "jsonl.zst", true},
		{"csv gzip", lookertest.DashboardID, "format: csv\ncsv_header: names\ncompression: gzip", "csv.gz", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, rows)
			dir := "$DIR/overview/dt={{ date \"2006-01-02\" }}/"
			if tc.gcs {
				dir = "gs://" + bucket + "/overview/dt={{ date \"2006-01-02\" }}/"
			}
			job := dashboardJob(t, b, tc.id, tc.format, dir+"{{ .Tile }}."+tc.ext)
			run, err := b.run(t.Context(), job, day, jobs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, state.Succeeded, run.Status)

			base := strings.ReplaceAll(strings.ReplaceAll(dir, "$DIR", b.dir), `{{ date "2006-01-02" }}`, "2024-01-03")
			var wantURIs []string
			total := 0
			if !tc.gcs {
				base = "file://" + base
			}
			for _, tile := range tiles {
				wantURIs = append(wantURIs, base+tile.name+"."+tc.ext)
				total += len(tile.rows)
			}
			require.Equal(t, wantURIs, run.URIs, "one file per data tile, in the dashboard's order; no text tile")
			require.Equal(t, int64(total), run.Rows)
			if !tc.gcs {
				var names []string
				for _, f := range b.localFiles(t) {
					names = append(names, filepath.Base(f))
				}
				require.ElementsMatch(t, []string{"_SUCCESS", "_manifest.json", "orders-by-day-101." + tc.ext, "orders-export-102." + tc.ext,
					"orders-with-amounts-104." + tc.ext, "all-statuses-105." + tc.ext}, names)
			}

			var m publish.Manifest
			require.NoError(t, json.Unmarshal(b.readBack(t, base+"_manifest.json"), &m))
			require.Equal(t, tc.id, m.Source.DashboardID)
			require.Equal(t, map[string]string{"Date": "2024-01-02 to 2024-01-03"}, m.Source.Filters)
			require.NotNil(t, m.Dashboard)
			require.Equal(t, lookertest.DashboardTitle, m.Dashboard.Title)
			require.Len(t, m.Dashboard.Tiles, len(tiles))
			require.Len(t, m.Files, len(tiles))
			var tileQueries []string
			for _, mt := range m.Dashboard.Tiles {
				tileQueries = append(tileQueries, mt.LookerQueryIDs...)
			}
			require.Len(t, tileQueries, 5, "one query per data tile, two for the merged result")
			require.Equal(t, tileQueries, run.QueryIDs, "the run records every tile's queries")
			for i, tile := range tiles {
				mt := m.Dashboard.Tiles[i]
				require.True(t, mt.ID == tile.id || mt.ID == tc.id+"::"+tile.id, mt.ID) // LookML ids name the dashboard
				require.Equal(t, tile.kind, mt.Kind)
				require.Equal(t, tile.name+"."+tc.ext, mt.File)
				require.Equal(t, m.Files[i].Name, mt.File)
				require.Equal(t, int64(len(tile.rows)), mt.Rows)
				require.NotEmpty(t, mt.LookerQueryIDs)
				if tile.kind == "merge" {
					require.Len(t, mt.LookerQueryIDs, 2, "the merge's two source queries")
				}
				var cols []string
				for _, c := range mt.Schema {
					cols = append(cols, c.Field)
				}
				require.Equal(t, tile.fields, cols)

				header, cells := fileCells(t, tc.ext, b.readBack(t, wantURIs[i]))
				require.Len(t, cells, len(tile.rows), tile.name)
				for j, r := range tile.rows {
					for c, f := range tile.fields {
						want, null := lookertest.Value(f, r)
						got := cells[j][indexOf(t, header, strings.ReplaceAll(f, ".", "_"))]
						if null {
							require.Contains(t, []string{"", "(null)"}, got, "%s row %d %s", tile.name, r, f) // arrow-go prints null as (null)
							continue
						}
						requireSameValue(t, want, got, "%s row %d column %d (%s)", tile.name, r, c, f)
					}
				}
			}
		})
	}
}

// overviewTile is what a tile of the sandbox dashboard exports.
type overviewTile struct {
	id, name, kind string
	fields         []string
	rows           []int // sandbox rows, in order
}

// overviewTiles are the data tiles of the sandbox dashboard run by a
// daily dashboardJob at day: the Date window is the day before, the
// Status default "complete" applies to the Look tile.
func overviewTiles(rows int, day time.Time) []overviewTile {
	from := day.AddDate(0, 0, -1)
	inWindow := rowsBetween(rows, from, day, nil)
	complete := rowsBetween(rows, from, day, func(r int) bool { s, _ := lookertest.Value("orders.status", r); return s == "complete" })
	all := rowsBetween(rows, time.Time{}, day.AddDate(10, 0, 0), nil)
	return []overviewTile{
		{lookertest.DashboardQueryTile, "orders-by-day-101", "data", lookertest.DashboardQueryFields, inWindow},
		{lookertest.DashboardLookTile, "orders-export-102", "data", lookertest.QueryFields, complete},
		{lookertest.DashboardMergeTile, "orders-with-amounts-104", "merge", append(slices.Clone(lookertest.MergePrimaryFields), "orders.amount"), inWindow},
		{lookertest.DashboardBareTile, "all-statuses-105", "data", lookertest.DashboardBareFields, all},
	}
}

// TestDashboardCSVCountsEachTile: with Looker's CSV passed through byte
// for byte, each tile's file and manifest entry count that tile's rows
// only, and the run counts them all.
func TestDashboardCSVCountsEachTile(t *testing.T) {
	t.Parallel()
	const rows = 3000
	day := time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)
	b := setup(t, rows)
	job := dashboardJob(t, b, lookertest.DashboardID, "format: csv", "$DIR/o/{{ .Tile }}.csv")
	run, err := b.run(t.Context(), job, day, jobs.RunOptions{})
	require.NoError(t, err)
	var m publish.Manifest
	require.NoError(t, json.Unmarshal(b.readBack(t, b.dir+"/o/_manifest.json"), &m))
	total := 0
	for i, tile := range overviewTiles(rows, day) {
		require.Equal(t, int64(len(tile.rows)), m.Dashboard.Tiles[i].Rows, tile.name)
		require.Equal(t, int64(len(tile.rows)), m.Files[i].Rows, tile.name)
		recs, err := csv.NewReader(bytes.NewReader(b.readBack(t, run.URIs[i]))).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, len(tile.rows)+1, "%s: a header and its rows", tile.name)
		total += len(tile.rows)
	}
	require.Equal(t, int64(total), run.Rows)
	require.Equal(t, int64(total), m.Rows)
}

// requireSameValue compares a sandbox value with a value read back:
// numbers by value (Parquet and JSON print 12.50 as 12.5), datetimes as
// instants (written with their offset), the rest as text (yesno "Yes"
// may come back as a boolean).
func requireSameValue(t *testing.T, want, got string, msg string, args ...any) {
	t.Helper()
	if w, err := strconv.ParseFloat(want, 64); err == nil {
		g, err := strconv.ParseFloat(got, 64)
		require.NoError(t, err, append([]any{msg}, args...)...)
		require.InDelta(t, w, g, 1e-9, append([]any{msg}, args...)...)
		return
	}
	if w, err := time.Parse(time.DateTime, want); err == nil { // a datetime of a query in UTC
		g, err := time.Parse(time.RFC3339, got)
		if err != nil {
			g, err = time.Parse(time.DateTime, got)
		}
		require.NoError(t, err, append([]any{msg}, args...)...)
		require.True(t, w.Equal(g), append([]any{msg + ": %s is not %s"}, append(args, got, want)...)...)
		return
	}
	switch {
	case want == "Yes" && got == "true", want == "No" && got == "false":
		return
	}
	require.Equal(t, want, got, append([]any{msg}, args...)...)
}

// TestDashboardTileFailurePublishesNone: when one tile fails (Looker
// refuses the merged result's query, after two tiles were written), the
// run fails naming the tile, and nothing is published: no data file of
// any tile, no manifest, no _SUCCESS.
func TestDashboardTileFailurePublishesNone(t *testing.T) {
	t.Parallel()
	for _, manifest := range []string{"", "\nmanifest: false"} {
		t.Run("manifest"+manifest, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 3000)
			job := dashboardJob(t, b, lookertest.DashboardID, "format: parquet"+manifest, "$DIR/overview/{{ .Tile }}.parquet")
			// Data tiles run as json_bi; only the merge's source queries run as json.
			b.srv.FailNext(lookertest.Fault{Status: 400, PathPrefix: "/queries/", PathSuffix: "/run/json"})
			run, err := b.run(t.Context(), job, time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), jobs.RunOptions{})
			require.Error(t, err)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Contains(t, run.Error, `tile 104 ("Orders with amounts") of dashboard 7`)
			require.GreaterOrEqual(t, len(b.srv.RequestLog("run_query")), 3, "two tiles ran before the failing one")
			require.Empty(t, b.localFiles(t), "no tile is published")
			require.Empty(t, run.URIs)
		})
	}
}

// fileCells reads an exported file back by its extension: Parquet with
// arrow-go, gzipped CSV, zstd JSON lines (columns sorted by name).
func fileCells(t *testing.T, ext string, data []byte) (header []string, rows [][]string) {
	t.Helper()
	switch ext {
	case "parquet":
		return parquetCells(t, data)
	case "csv.gz":
		return csvGzRows(t, data)
	case "jsonl.zst":
		zr, err := zstd.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		defer zr.Close()
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var obj map[string]any
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&obj))
			if header == nil {
				for k := range obj {
					header = append(header, k)
				}
				slices.Sort(header)
			}
			row := make([]string, len(header))
			for i, k := range header {
				switch v := obj[k].(type) {
				case nil:
				case string:
					row[i] = v
				default:
					row[i] = fmt.Sprint(v)
				}
			}
			rows = append(rows, row)
		}
		require.NoError(t, sc.Err())
		return header, rows
	}
	t.Fatalf("no reader for .%s", ext)
	return nil, nil
}

// TestDashboardRunAs: a dashboard job with run_as reads the dashboard and
// runs every tile as that Looker user.
func TestDashboardRunAs(t *testing.T) {
	t.Parallel()
	b := setup(t, 300)
	job := dashboardJob(t, b, lookertest.DashboardID, "format: jsonl\nrun_as: '17'", "$DIR/o/{{ .Tile }}.jsonl")
	_, err := b.run(t.Context(), job, time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), jobs.RunOptions{})
	require.NoError(t, err)
	for _, op := range []string{"dashboard", "merge_query", "create_query", "run_query"} {
		require.Equal(t, "17", b.srv.LastUser(op), op)
	}
}
