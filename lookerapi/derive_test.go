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

// TestSavedSourceWithFilters runs Looks, saved queries and slugs with a
// job's date window: the query sent to Looker holds the saved filters
// with the job's merged over them, no filter_config, the saved fields,
// sorts and limit, and a query_timezone (checked in the sandbox's request
// log); only the window's rows come back, and the derived query is
// created once per distinct body.
func TestSavedSourceWithFilters(t *testing.T) {
	t.Parallel()
	const rows = 3000 // 97 s apart from 2024-01-01 08:00 UTC
	window := map[string]string{"orders.created_date": "2024-01-02 to 2024-01-03"}
	from, to := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)
	inWindow := func(r int) bool { i := lookertest.Instant(r); return !i.Before(from) && i.Before(to) }
	for _, tc := range []struct {
		name             string
		src              lookerapi.Source
		filterConfigWins bool
		wantFilters      map[string]string
		wantLimit        string
		want             func(r int) bool
	}{
		{"look", lookerapi.Source{LookID: lookertest.LookID}, false, window, "", inWindow},
		{"query id", lookerapi.Source{QueryID: lookertest.QueryID}, false, window, "", inWindow},
		{"query slug", lookerapi.Source{QuerySlug: lookertest.QuerySlug}, false, window, "", inWindow},
		// The Look's saved filter stays; its stale filter_config (which
		// says "cancelled") must not reach Looker, whether or not Looker
		// lets it win over filters.
		{"look with a stale filter_config", lookerapi.Source{LookID: lookertest.StaleFilterConfigLookID}, false,
			map[string]string{"orders.status": "complete", "orders.created_date": window["orders.created_date"]}, "500",
			func(r int) bool { s, _ := lookertest.Value("orders.status", r); return s == "complete" && inWindow(r) }},
		{"look with a stale filter_config that wins", lookerapi.Source{LookID: lookertest.StaleFilterConfigLookID}, true,
			map[string]string{"orders.status": "complete", "orders.created_date": window["orders.created_date"]}, "500",
			func(r int) bool { s, _ := lookertest.Value("orders.status", r); return s == "complete" && inWindow(r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{server: lookertest.Options{Rows: rows, FilterConfigWins: tc.filterConfigWins}})
			ctx := context.Background()
			opts := lookerapi.RunOptions{ResultFormat: "json", Filters: window, SavedLimit: true}
			for range 2 {
				res, err := f.client.Run(ctx, tc.src, opts)
				require.NoError(t, err)
				want := rowIDs(rows, tc.want)
				require.NotEmpty(t, want)
				require.Equal(t, want, jsonIDs(t, res))
				require.Equal(t, "UTC", res.Timezone)
			}

			created := f.srv.RequestLog("create_query")
			require.Len(t, created, 1, "the same body is created once")
			var sent map[string]any
			require.NoError(t, json.Unmarshal(created[0].Body, &sent))
			require.NotContains(t, sent, "filter_config")
			require.NotContains(t, sent, "id")
			require.Equal(t, "UTC", sent["query_timezone"])
			q, err := created[0].DecodeQuery()
			require.NoError(t, err)
			require.Equal(t, tc.wantFilters, q.Filters)
			require.Equal(t, lookertest.QueryFields, q.Fields)
			require.Equal(t, []string{"orders.id"}, q.Sorts)
			require.Equal(t, tc.wantLimit, q.Limit)

			// Another window is another query.
			opts.Filters = map[string]string{"orders.created_date": "after 2024-01-04"}
			res, err := f.client.Run(ctx, tc.src, opts)
			require.NoError(t, err)
			readAll(t, res)
			require.Len(t, f.srv.RequestLog("create_query"), 2)
		})
	}
}

// TestDerive shows the merged query without running it, and a filter
// expression replacing the saved one.
func TestDerive(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 10}})
	ctx := context.Background()
	d, err := f.client.Derive(ctx, lookerapi.Source{LookID: lookertest.StaleFilterConfigLookID}, lookerapi.RunOptions{
		Filters: map[string]string{"orders.status": "shipped"}, FilterExpression: "${orders.amount} > 10", QueryTimezone: "Europe/Berlin"})
	require.NoError(t, err)
	require.Equal(t, lookertest.StaleFilterConfigQueryID, d.SavedQueryID)
	require.NotEqual(t, d.SavedQueryID, d.QueryID)
	require.Equal(t, map[string]string{"orders.status": "shipped"}, d.Query.Filters, "the job's filter replaces the saved one on the same field")
	require.Equal(t, "${orders.amount} > 10", d.Query.FilterExpression)
	require.Equal(t, "Europe/Berlin", d.Query.QueryTimezone)
	require.Equal(t, "Europe/Berlin", d.Timezone)

	res, err := f.client.ResolveRun(ctx, lookerapi.Source{LookID: lookertest.StaleFilterConfigLookID},
		lookerapi.RunOptions{Filters: map[string]string{"orders.created_date": "7 days"}})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"orders.status": "complete", "orders.created_date": "7 days"}, res.Query.Filters)
	require.Len(t, f.srv.RequestLog("create_query"), 1, "ResolveRun creates nothing")

	_, err = f.client.Derive(ctx, lookerapi.Source{Query: &lookerapi.Query{Model: "thelook", View: "orders"}}, lookerapi.RunOptions{})
	require.Error(t, err)
}

// TestSavedSourceWithFilterExpression: the job's filter_expression
// reaches Looker with the merged filters and both apply.
func TestSavedSourceWithFilterExpression(t *testing.T) {
	t.Parallel()
	const rows = 2000
	f := setup(t, setupOpts{server: lookertest.Options{Rows: rows}})
	res, err := f.client.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "json",
		Filters: map[string]string{"orders.created_date": "after 2024-01-02"}, FilterExpression: "${orders.amount} > 500"})
	require.NoError(t, err)
	want := rowIDs(rows, func(r int) bool {
		v, _ := lookertest.Value("orders.amount", r)
		x, _ := strconv.ParseFloat(v, 64)
		return x > 500 && !lookertest.Instant(r).Before(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))
	})
	require.NotEmpty(t, want)
	require.Equal(t, want, jsonIDs(t, res))
	q, err := f.srv.RequestLog("create_query")[0].DecodeQuery()
	require.NoError(t, err)
	require.Equal(t, "${orders.amount} > 500", q.FilterExpression)
}
