package lookerapi_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestDashboardTiles reads the sample dashboard by numeric and LookML id,
// under every undocumented variant of merged-result tiles, computes each
// tile's query with the dashboard filters (defaults, one overridden) and
// checks every tile's rows value by value: data tiles get the filters
// they listen to and no others, the text tile has no query, and the
// merged tile is the left join of its two sources, each filtered.
func TestDashboardTiles(t *testing.T) {
	t.Parallel()
	const rows = 2000 // 97 s apart from 2024-01-01 08:00 UTC: until 2024-01-03 13:53 UTC
	from, to := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	inDefault := func(r int) bool { i := lookertest.Instant(r); return !i.Before(from) && i.Before(to) }
	val := func(f string, r int) string { v, _ := lookertest.Value(f, r); return v }
	for _, tc := range []struct {
		name  string
		id    string
		merge lookertest.DashboardVariant
	}{
		{"numeric id", lookertest.DashboardID, lookertest.DashboardVariant{}},
		{"lookml id", lookertest.LookMLDashboardID, lookertest.DashboardVariant{}},
		{"merge tile carrying a query", lookertest.DashboardID, lookertest.DashboardVariant{TileQuery: true}},
		{"merge sources by slug", lookertest.LookMLDashboardID, lookertest.DashboardVariant{SlugsOnly: true}},
		{"merge filterables named otherwise", lookertest.DashboardID, lookertest.DashboardVariant{FilterableNames: true}},
		{"missing objects sent as null", lookertest.DashboardID, lookertest.DashboardVariant{NullObjects: true, TileQuery: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{server: lookertest.Options{Rows: rows, Dashboards: tc.merge}})
			ctx := context.Background()
			d, err := f.client.Dashboard(ctx, tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.id, d.ID)
			require.Equal(t, lookertest.DashboardTitle, d.Title)
			require.Len(t, d.Filters, 3)
			require.Equal(t, lookerapi.DashboardFilter{Name: "Date", Title: "Order date", Type: "field", DefaultValue: lookertest.DashboardDateDefault,
				Model: "thelook", Explore: "orders", Dimension: "orders.created_date"}, d.Filters[0])
			var kinds []lookerapi.TileKind
			for _, tile := range d.Tiles {
				kinds = append(kinds, tile.Kind)
			}
			require.Equal(t, []lookerapi.TileKind{lookerapi.TileData, lookerapi.TileData, lookerapi.TileText, lookerapi.TileMerge, lookerapi.TileData}, kinds)
			require.Equal(t, lookertest.LookID, d.Tiles[1].LookID)
			require.Equal(t, lookertest.LookTitle, d.Tiles[1].Title)
			require.Equal(t, []lookerapi.Listen{{Filter: "Date", Field: "orders.created_date", Source: "Orders by day"},
				{Filter: "Country", Field: "users.country", Source: "Orders by day"}}, d.Tiles[0].Listens)
			require.Len(t, d.Tiles[3].Merge.Sources, 2)

			_, err = d.FilterValues(map[string]string{"Region": "EU"})
			require.ErrorContains(t, err, `no filter named Region; its filters are Date, Country, Status`)

			tqs, err := f.client.TileQueries(ctx, d, map[string]string{"Country": "France"}, lookerapi.RunOptions{})
			require.NoError(t, err)
			require.Len(t, tqs, 4, "every data and merge tile, not the text tile")
			window := lookertest.DashboardDateDefault
			require.Equal(t, map[string]string{"orders.created_date": window, "users.country": "France"}, tqs[0].Queries[0].Query.Filters)
			require.Equal(t, map[string]string{"orders.created_date": window, "orders.status": "complete"}, tqs[1].Queries[0].Query.Filters)
			require.Empty(t, tqs[3].Queries[0].Query.Filters, "a tile without result_maker listens to nothing")
			require.Len(t, tqs[2].Queries, 2)
			for _, q := range tqs[2].Queries {
				require.Equal(t, map[string]string{"orders.created_date": window}, q.Query.Filters)
			}
			// The queries sent are those bodies (the request log).
			var sent []map[string]string
			for _, r := range f.srv.RequestLog("create_query") {
				q, err := r.DecodeQuery()
				require.NoError(t, err)
				sent = append(sent, q.Filters)
			}
			require.Len(t, sent, 5)
			require.Contains(t, sent, map[string]string{"orders.created_date": window, "users.country": "France"})

			run := func(tq lookerapi.TileQuery) []map[string]any {
				res, err := f.client.RunTile(ctx, tq, lookerapi.RunOptions{ResultFormat: "json"})
				require.NoError(t, err)
				require.Equal(t, "UTC", res.Timezone)
				var got []map[string]any
				require.NoError(t, json.Unmarshal(readAll(t, res), &got))
				return got
			}
			want := func(keep func(int) bool) []float64 {
				ids := rowIDs(rows, keep)
				require.NotEmpty(t, ids)
				return ids
			}
			ids := func(got []map[string]any) []float64 {
				out := make([]float64, len(got))
				for i, g := range got {
					out[i] = g["orders.id"].(float64)
				}
				return out
			}
			require.Equal(t, want(func(r int) bool { return inDefault(r) && val("users.country", r) == "France" }), ids(run(tqs[0])))
			require.Equal(t, want(func(r int) bool { return inDefault(r) && val("orders.status", r) == "complete" }), ids(run(tqs[1])))
			require.Equal(t, want(func(int) bool { return true }), ids(run(tqs[3])))

			merged := run(tqs[2])
			require.Equal(t, want(inDefault), ids(merged))
			for _, row := range merged {
				r := int(row["orders.id"].(float64)) - 1
				require.Len(t, row, 4)
				require.Equal(t, val("orders.created_date", r), row["orders.created_date"])
				require.Equal(t, val("users.country", r), row["users.country"])
				amount, _ := strconv.ParseFloat(val("orders.amount", r), 64)
				require.Equal(t, amount, row["orders.amount"])
			}

			_, err = f.client.RunTile(ctx, tqs[2], lookerapi.RunOptions{ResultFormat: "csv"})
			require.ErrorContains(t, err, "merged result, which Looker's API cannot run")
			_, err = f.client.RunTile(ctx, lookerapi.TileQuery{Dashboard: d.ID, Tile: d.Tiles[2]}, lookerapi.RunOptions{ResultFormat: "json"})
			require.ErrorContains(t, err, "holds no data")
		})
	}
}

// TestDashboardNotFound: an unknown dashboard fails with Looker's 404.
func TestDashboardNotFound(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	_, err := f.client.Dashboard(context.Background(), "thelook::nope")
	var e *lookerapi.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 404, e.StatusCode)
	require.False(t, lookerapi.IsRetryable(err))
}
