package lookerapi_test

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/internal/contract"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestContract drives every Client method against the sandbox with
// Looker's official OpenAPI spec validating each request the client sends
// and each response the sandbox returns (see package contract for the
// documented allow-list: undeclared 401s, the "text" media type key,
// result bodies declared as strings). Error paths are part of the suite:
// their bodies must match the spec's Error and ValidationError schemas.
func TestContract(t *testing.T) {
	t.Parallel()
	v := contract.New(t)
	srv := lookertest.NewServer(lookertest.Options{Rows: 25, RenderResultsLag: 1, RenderRetryAfter: 2})
	t.Cleanup(srv.Close)
	clock := newFakeClock()
	clock.autoFire = lookerapi.DefaultTimeout
	c, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), VerifySSL: true},
		zaptest.NewLogger(t), lookerapi.WithClock(clock), lookerapi.WithHTTPClient(&http.Client{Transport: v.Transport(nil)}))
	require.NoError(t, err)
	ctx := context.Background()

	run := func(src lookerapi.Source, opts lookerapi.RunOptions) {
		t.Helper()
		res, err := c.Run(ctx, src, opts)
		require.NoError(t, err, "%s %+v", src, opts)
		require.NotEmpty(t, readAll(t, res))
	}
	yes, no := true, false
	inline := &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.id", "users.country", "orders.amount"},
		Filters: map[string]string{"orders.status": "complete"}, Sorts: []string{"orders.id"}, Limit: "500"}

	require.NoError(t, c.Login(ctx))
	require.NoError(t, c.LoginAs(ctx, "7"))
	_, err = c.Versions(ctx)
	require.NoError(t, err)
	// A refused login asks GET /versions (spec op versions) which of base
	// URL and credentials is wrong: both requests are validated too.
	bad, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: "wrong", VerifySSL: true},
		zaptest.NewLogger(t), lookerapi.WithClock(clock), lookerapi.WithHTTPClient(&http.Client{Transport: v.Transport(nil)}))
	require.NoError(t, err)
	require.ErrorIs(t, bad.Login(ctx), lookerapi.ErrBadCredentials)

	sqlSlug, err := c.CreateSQLQuery(ctx, lookerapi.SQLQuery{Connection: "warehouse", SQL: "SELECT * FROM orders LIMIT 10"})
	require.NoError(t, err)
	sources := []lookerapi.Source{
		{LookID: lookertest.LookID}, {LookID: lookertest.NonStreamingLookID}, {QueryID: lookertest.QueryID},
		{QuerySlug: lookertest.QuerySlug}, {Query: inline},
		{SQL: &lookerapi.SQLQuery{Model: "thelook", SQL: "SELECT * FROM orders"}}, {SQL: &lookerapi.SQLQuery{Slug: sqlSlug}},
	}
	for _, src := range sources {
		for _, mode := range []lookerapi.Mode{lookerapi.ModeSync, lookerapi.ModeAsync} {
			for _, format := range []string{"csv", "json", "json_bi", "txt", "sql"} {
				run(src, lookerapi.RunOptions{ResultFormat: format, Mode: mode})
			}
			run(src, lookerapi.RunOptions{ResultFormat: "json_bi", Mode: mode, Limit: 10, ApplyFormatting: &yes, ApplyVis: &no,
				Cache: &no, ForceProduction: &yes, ServerTableCalcs: &yes, RebuildPDTs: &no, RunAs: "7"})
		}
	}

	res, err := c.RunLook(ctx, lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv", Limit: 3})
	require.NoError(t, err)
	readAll(t, res)
	res, err = c.RunQuery(ctx, lookertest.QueryID, lookerapi.RunOptions{ResultFormat: "json"})
	require.NoError(t, err)
	readAll(t, res)
	res, err = c.RunInlineQuery(ctx, *inline, lookerapi.RunOptions{ResultFormat: "json_bi"})
	require.NoError(t, err)
	readAll(t, res)
	res, err = c.RunSQLQuery(ctx, sqlSlug, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	readAll(t, res)
	res, err = c.RunQueryTask(ctx, lookertest.QueryID, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	readAll(t, res)

	// Saved sources with the job's filters (a derived query).
	for _, src := range []lookerapi.Source{{LookID: lookertest.StaleFilterConfigLookID}, {QuerySlug: lookertest.QuerySlug}} {
		run(src, lookerapi.RunOptions{ResultFormat: "json_bi", Filters: map[string]string{"orders.created_date": "after 2024-01-01", "users.country": "-France"}})
		_, err := c.Derive(ctx, src, lookerapi.RunOptions{Filters: map[string]string{"orders.amount": ">100"}, FilterExpression: "${orders.amount} > 100"})
		require.NoError(t, err)
	}

	// Dashboards: numeric and LookML ids, every tile run (data and merge).
	for _, id := range []string{lookertest.DashboardID, lookertest.LookMLDashboardID} {
		d, err := c.Dashboard(ctx, id)
		require.NoError(t, err)
		tqs, err := c.TileQueries(ctx, d, map[string]string{"Country": "France,Spain"}, lookerapi.RunOptions{})
		require.NoError(t, err)
		for _, tq := range tqs {
			res, err := c.RunTile(ctx, tq, lookerapi.RunOptions{ResultFormat: "json"})
			require.NoError(t, err)
			readAll(t, res)
		}
	}
	_, err = c.Dashboard(ctx, "999")
	require.Error(t, err)

	// Render tasks: every create operation, polling, 202 then results; a
	// failure; an unknown dashboard.
	for _, r := range []struct {
		target lookerapi.RenderTarget
		format string
	}{
		{lookerapi.RenderTarget{DashboardID: lookertest.DashboardID}, "pdf"},
		{lookerapi.RenderTarget{DashboardID: lookertest.LookMLDashboardID}, "png"},
		{lookerapi.RenderTarget{LookID: lookertest.LookID}, "png"},
		{lookerapi.RenderTarget{QueryID: lookertest.QueryID}, "jpg"},
	} {
		opts := lookerapi.RenderOptions{Width: 200, Height: 100}
		if r.target.DashboardID != "" {
			opts.PDFPaperSize, opts.PDFLandscape, opts.LongTables, opts.DashboardStyle = "letter", &yes, &no, "single_column"
			opts.DashboardFilters = map[string]string{"Country": "France"}
		}
		res, err := c.Render(ctx, r.target, r.format, opts)
		require.NoError(t, err)
		readAll(t, res)
	}
	rtask, err := c.CreateRenderTask(ctx, lookerapi.RenderTarget{QueryID: lookertest.QueryID}, "png", lookerapi.RenderOptions{Width: 10, Height: 10})
	require.NoError(t, err)
	_, err = c.RenderTaskStatus(ctx, rtask.ID)
	require.NoError(t, err)
	srv.ScriptNextRender(lookertest.RenderFailure)
	_, err = c.Render(ctx, lookerapi.RenderTarget{DashboardID: lookertest.DashboardID}, "pdf", lookerapi.RenderOptions{Width: 10, Height: 10})
	require.ErrorIs(t, err, lookerapi.ErrRenderFailed)
	_, err = c.Render(ctx, lookerapi.RenderTarget{DashboardID: "404"}, "pdf", lookerapi.RenderOptions{Width: 10, Height: 10})
	require.Error(t, err)

	srv.AdvanceDatagroup(lookertest.DatagroupModel, lookertest.DatagroupName, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	_, err = c.Datagroups(ctx)
	require.NoError(t, err)

	_, err = c.QueryForSlug(ctx, lookertest.QuerySlug)
	require.NoError(t, err)
	_, err = c.SavedQuery(ctx, lookertest.QueryID)
	require.NoError(t, err)
	_, err = c.Look(ctx, lookertest.NonStreamingLookID)
	require.NoError(t, err)
	saved, err := c.CreateQuery(ctx, *inline)
	require.NoError(t, err)
	_, err = c.Explore(ctx, "thelook", "orders")
	require.NoError(t, err)
	for _, src := range sources {
		_, err := c.Resolve(ctx, src, "")
		require.NoError(t, err, "%s", src)
	}

	// The query task life cycle by hand, and a kill.
	task, err := c.CreateQueryTask(ctx, saved.ID, "", lookerapi.RunOptions{ResultFormat: "json_bi", Limit: 5})
	require.NoError(t, err)
	_, err = c.QueryTaskStatus(ctx, task.ID)
	require.NoError(t, err)
	srv.ScriptNextTask(lookertest.TaskRunning)
	task, err = c.CreateQueryTask(ctx, saved.ID, "", lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	require.NoError(t, c.KillQuery(ctx, task.ID))

	// Error answers: 404, 400, 422 (ValidationError), 401 then re-login,
	// task errors and expiry.
	for _, src := range []lookerapi.Source{
		{LookID: "404"}, {QueryID: "999"}, {QuerySlug: "nope"},
		{Query: &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.bogus"}}},
		{Query: &lookerapi.Query{Model: "thelook", Fields: []string{"orders.id"}}},
		{SQL: &lookerapi.SQLQuery{Connection: "nodb", SQL: "SELECT 1"}},
	} {
		for _, mode := range []lookerapi.Mode{lookerapi.ModeSync, lookerapi.ModeAsync} {
			_, err := c.Run(ctx, src, lookerapi.RunOptions{ResultFormat: "csv", Mode: mode})
			require.Error(t, err, "%s", src)
		}
	}
	_, err = c.Explore(ctx, "thelook", "nope")
	require.Error(t, err)
	_, err = c.Resolve(ctx, lookerapi.Source{SQL: &lookerapi.SQLQuery{Slug: "nope"}}, "")
	require.Error(t, err)
	require.Error(t, c.LoginAs(ctx, "100000"))
	srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskError)
	_, err = c.Run(ctx, lookerapi.Source{QueryID: lookertest.QueryID}, lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
	require.ErrorIs(t, err, lookerapi.ErrQueryFailed)
	srv.ScriptNextTask(lookertest.TaskExpired)
	_, err = c.Run(ctx, lookerapi.Source{QueryID: lookertest.QueryID}, lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
	require.ErrorIs(t, err, lookerapi.ErrResultsExpired)
	srv.ExpireTokens()
	run(lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
	run(lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv", RunAs: "7"})
	srv.FailNext(lookertest.Fault{Status: 429, PathPrefix: "/queries/"})
	srv.FailNext(lookertest.Fault{Status: 429, PathPrefix: "/looks/", RetryAfter: "2"})
	run(lookerapi.Source{QueryID: lookertest.QueryID}, lookerapi.RunOptions{ResultFormat: "csv"})
	run(lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})

	// A sync run stopped while Looker works on it: found among the running
	// queries (of the API user, GET /user) and killed.
	release := make(chan struct{})
	arrived := srv.StallNextRun(release, false)
	cctx, cancel := context.WithCancel(ctx)
	go func() { <-arrived; cancel() }()
	_, err = c.Run(cctx, lookerapi.Source{QueryID: lookertest.QueryID}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.ErrorIs(t, err, context.Canceled)
	close(release)
	// The kill is acknowledged (204) before the killed run's handler has
	// ended and unlisted it: wait for that, with a deadline.
	require.Eventually(t, func() bool { return srv.RunningQueries() == 0 }, 10*time.Second, time.Millisecond, "the killed query is still running")

	require.NoError(t, c.Close(ctx))

	v.Require(t)
	checked := v.Checked()
	var ops []string
	for op := range checked {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	t.Logf("validated responses per operation: %v", checked)
	for _, op := range []string{"login", "login_user", "logout", "look", "run_look", "query", "query_for_slug", "create_query",
		"run_query", "run_inline_query", "create_sql_query", "sql_query", "run_sql_query", "create_query_task", "query_task",
		"query_task_results", "kill_query", "lookml_model_explore", "get_setting", "connection", "me", "all_running_queries", "dashboard", "merge_query",
		"create_dashboard_render_task", "create_look_render_task", "create_query_render_task", "render_task", "render_task_results", "all_datagroups", "versions"} {
		require.Positive(t, checked[op], "operation %s was not exercised; exercised: %v", op, ops)
	}
}

// TestContractCatchesViolations shows the validator is not a rubber
// stamp: a request the spec forbids and a response that breaks its schema
// are both reported.
func TestContractCatchesViolations(t *testing.T) {
	t.Parallel()
	v := contract.New(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/4.0/looks/42", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": 42, "title": ["not a string"]}`)) // id must be a string
	})
	mux.HandleFunc("/api/4.0/queries/run/csv", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot) // undeclared status
	})
	srv := newHTTPServer(t, mux)
	hc := &http.Client{Transport: v.Transport(nil)}

	req, _ := http.NewRequest(http.MethodGet, srv+"/api/4.0/looks/42", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodPost, srv+"/api/4.0/queries/run/csv?limit=many", nil) // limit is an integer; body required
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	vs := v.Violations()
	require.Len(t, vs, 4, "%v", vs)
	require.Contains(t, vs[0], "look GET /api/4.0/looks/42: response 200")
	require.Contains(t, vs[1], "run_inline_query POST /api/4.0/queries/run/csv: request")
	require.Contains(t, vs[2], "no Authorization header")
	require.Contains(t, vs[3], "response 418")
}
