package jobs_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// Each Looker fault the sandbox injects ends a run the right way:
// recovered with every row published, or failed with the reason recorded
// and nothing published.
func TestLookerFaultOutcomes(t *testing.T) {
	t.Parallel()
	const rows = 300
	look := "source: {look_id: \"42\"}\nformat: csv\ndestination: $DIR/out.csv"
	const dbError = `SQL Error: relation "orders" does not exist`
	inBand := func(v lookertest.InBandVariant) func(srv *lookertest.Server) {
		return func(srv *lookertest.Server) { srv.InBandErrorNextRun(dbError, v) }
	}
	tests := []struct {
		name    string
		opts    lookertest.Options
		keys    string
		inject  func(srv *lookertest.Server)
		status  state.Status
		class   string
		errText []string
		rows    int64
	}{
		{name: "token expired before the run", keys: look, inject: func(srv *lookertest.Server) { srv.ExpireTokens() },
			status: state.Succeeded, rows: rows},
		{name: "429 without Retry-After", keys: look,
			inject: func(srv *lookertest.Server) { srv.FailNext(lookertest.Fault{Status: 429, PathPrefix: "/looks/"}) },
			status: state.Succeeded, rows: rows},
		{name: "503 html with Retry-After", keys: look,
			inject: func(srv *lookertest.Server) {
				srv.FailNext(lookertest.Fault{Status: 503, RetryAfter: "1", PathPrefix: "/looks/"})
			},
			status: state.Succeeded, rows: rows},
		{name: "async with the token expiring mid-run", keys: look + "\nmode: async",
			inject: func(srv *lookertest.Server) {
				srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskComplete)
				srv.FailNext(lookertest.Fault{Status: 401, PathPrefix: "/query_tasks/"})
			},
			status: state.Succeeded, rows: rows},
		{name: "connection dropped mid-stream", keys: look,
			inject: func(srv *lookertest.Server) { srv.DropNextRun(100) },
			status: state.Failed, class: jobs.ClassRetryable, errText: []string{"look 42", "reading the response body"}},
		{name: "429 after the client's attempts", keys: look,
			inject: func(srv *lookertest.Server) {
				srv.FailNext(lookertest.Fault{Status: 429, Count: lookerapi.DefaultMaxAttempts, RetryAfter: "1", PathPrefix: "/looks/"})
			},
			status: state.Failed, class: jobs.ClassRetryable, errText: []string{"look 42", "429"}},
		{name: "404 look", keys: strings.Replace(look, `"42"`, `"404"`, 1),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 404", "404 Not found"}},
		{name: "422 query", keys: "source: {query: {model: thelook, view: orders, fields: [orders.id]}}\nformat: csv\ndestination: $DIR/out.csv",
			inject: func(srv *lookertest.Server) {
				srv.FailNext(lookertest.Fault{Status: 422, PathPrefix: "/queries"})
			},
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"inline query thelook/orders", "422"}},
		{name: "query task ends in a SQL error", keys: look + "\nmode: async",
			inject: func(srv *lookertest.Server) { srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskError) },
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", "division by zero"}},
		{name: "query task results expired", keys: look + "\nmode: async",
			inject: func(srv *lookertest.Server) { srv.ScriptNextTask(lookertest.TaskExpired) },
			status: state.Failed, class: jobs.ClassRetryable, errText: []string{"look 42", "expired"}},
		// Looker's in-band errors (NOTES §13.2): HTTP 200 with the error as
		// the body. Every format fails with the database's message.
		{name: "in-band error in csv", keys: look, inject: inBand(lookertest.InBandText),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", dbError}},
		{name: "in-band error table in csv.gz", keys: look + "\ncompression: gzip", inject: inBand(lookertest.InBandRows),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", dbError}},
		{name: "in-band error rows in jsonl", keys: strings.Replace(look, "csv", "jsonl", 2), inject: inBand(lookertest.InBandRows),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", dbError}},
		// Past the first bytes only the decoder sees the body of a job
		// that converts JSON (RunOptions.DecodesJSON): it must catch the
		// error row after json_bi's long metadata itself.
		{name: "in-band error rows in parquet", keys: strings.Replace(look, "csv", "parquet", 2), inject: inBand(lookertest.InBandRows),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", dbError}},
		{name: "in-band error object in parquet", keys: strings.Replace(look, "csv", "parquet", 2), inject: inBand(lookertest.InBandObject),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", dbError}},
		{name: "in-band error in raw json", keys: strings.Replace(look, "format: csv", "format: raw\nresult_format: json", 1), inject: inBand(lookertest.InBandRows),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", dbError}},
		{name: "in-band error in raw txt", keys: strings.Replace(look, "format: csv", "format: raw\nresult_format: txt", 1), inject: inBand(lookertest.InBandText),
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", dbError}},
		{name: "an SSO page with status 200", keys: look, inject: func(srv *lookertest.Server) { srv.HTMLNextRun() },
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", "text/html"}},
		{name: "an SSO page with status 200 in raw", keys: strings.Replace(look, "format: csv", "format: raw\nresult_format: txt", 1), inject: func(srv *lookertest.Server) { srv.HTMLNextRun() },
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", "text/html"}},
		// Query tasks that end (NOTES §13.3, §13.4).
		{name: "query task ends in failure", keys: look + "\nmode: async",
			inject: func(srv *lookertest.Server) { srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskFailure) },
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", "division by zero"}},
		{name: "query task in a status nobody knows", keys: look + "\nmode: async",
			inject: func(srv *lookertest.Server) { srv.ScriptNextTask("reticulating") },
			status: state.Failed, class: jobs.ClassPermanent, errText: []string{"look 42", "reticulating"}},
		{name: "query task results not ready: 204", opts: lookertest.Options{NotReadyStatus: 204}, keys: look + "\nmode: async",
			inject: func(srv *lookertest.Server) {
				srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskRunning, lookertest.TaskComplete)
			},
			status: state.Succeeded, rows: rows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.Rows = rows
			b := setupWith(t, opts)
			job := b.job(t, "faulty", tt.keys)
			// Log in first so an injected fault hits the run, not the login.
			require.NoError(t, b.client.Login(context.Background()))
			if tt.inject != nil {
				tt.inject(b.srv)
			}
			run, err := b.run(context.Background(), job, time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC), jobs.RunOptions{})
			got, gerr := b.store.GetRun(context.Background(), run.ID)
			require.NoError(t, gerr)
			require.Equal(t, tt.status, got.Status, "recorded error: %s", got.Error)
			require.Equal(t, tt.class, got.ErrorClass)
			if tt.status == state.Succeeded {
				require.NoError(t, err)
				require.Equal(t, tt.rows, got.Rows)
				f, err := os.Open(got.URIs[0][len("file://"):])
				require.NoError(t, err)
				defer f.Close()
				recs, err := csv.NewReader(f).ReadAll()
				require.NoError(t, err)
				require.Len(t, recs, rows+1, "every row is published")
				return
			}
			require.Error(t, err)
			for _, s := range tt.errText {
				require.Contains(t, got.Error, s, "the recorded reason")
			}
			require.Empty(t, got.URIs)
			require.Empty(t, b.localFiles(t), "nothing is published, no temp file is left")
		})
	}
}

func TestTruncationCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rows    int
		keys    string
		fail    bool
		errText string
		want    int64 // rows published
	}{
		{"limit reached, warn", 50, "source: {look_id: \"42\"}\nlimit: 50", false, "", 50},
		{"limit reached, fail", 50, "source: {look_id: \"42\"}\nlimit: 50\non_truncation: fail", true, "exactly its limit of 50 rows", 0},
		{"below the limit", 40, "source: {look_id: \"42\"}\nlimit: 50\non_truncation: fail", false, "", 40},
		{"non-streaming look capped at 5000, fail", 6000, "source: {look_id: \"43\"}\non_truncation: fail", true, "exactly 5000, a cap Looker applies to results it cannot stream", 0},
		{"non-streaming look capped at 5000, warn", 6000, "source: {look_id: \"43\"}", false, "", 5000},
		{"all rows of a streaming look", 6000, "source: {look_id: \"42\"}\non_truncation: fail", false, "", 6000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.rows)
			job := b.job(t, "trunc", tt.keys+"\nformat: csv\nresult_format: json_bi\ncsv_header: names\ndestination: $DIR/out.csv")
			run, err := b.run(context.Background(), job, time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC), jobs.RunOptions{})
			if !tt.fail {
				require.NoError(t, err)
				require.Equal(t, state.Succeeded, run.Status)
				require.Equal(t, tt.want, run.Rows)
				require.Contains(t, b.localFiles(t), filepath.Join(b.dir, "out.csv"))
				return
			}
			require.ErrorIs(t, err, jobs.ErrTruncated)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Contains(t, run.Error, tt.errText)
			require.Contains(t, run.Error, "nothing was published")
			require.Empty(t, b.localFiles(t))
		})
	}
}

// TestRedirectToAnotherHostIsRefused: a run endpoint that redirects to
// another host (a different port is another origin) fails the run
// without a single request reaching that host: no credentials, no data.
func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = io.WriteString(w, "Orders ID\n1\n")
	}))
	t.Cleanup(other.Close)
	for _, op := range []string{"login", "run_query"} {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 10)
			if op != "login" {
				require.NoError(t, b.client.Login(context.Background()))
			}
			b.srv.RedirectNext(op, other.URL+"/api/4.0/elsewhere", http.StatusTemporaryRedirect)
			job := b.job(t, "redirected", "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/out.csv")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.Error(t, err)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Contains(t, run.Error, strings.TrimPrefix(other.URL, "http://"), "the error names the redirect target")
			require.NotContains(t, run.Error, b.srv.ClientSecret())
			require.Zero(t, reached.Load(), "nothing reached the other host")
			require.Empty(t, b.localFiles(t))
		})
	}
}

// TestStoppedSyncRunLeavesNothingRunning: a synchronous run cancelled, or
// timed out, while Looker is still working on its query kills that query
// in Looker (GET /running_queries, DELETE /running_queries/{id}): Looker
// itself never stops a query whose client went away.
func TestStoppedSyncRunLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"cancel", "timeout"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 10)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			started := b.srv.StallNextRun(release, false)
			keys := "source: {look_id: '42'}\nformat: csv\ndestination: $DIR/out.csv"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if how == "timeout" {
				keys += "\ntimeout: 1s"
			}
			job := b.job(t, "stopped", keys)
			done := make(chan error, 1)
			go func() {
				_, err := b.run(ctx, job, scheduled, jobs.RunOptions{})
				done <- err
			}()
			<-started
			require.Equal(t, 1, b.srv.RunningQueries(), "the query runs in Looker")
			if how == "cancel" {
				cancel()
			}
			require.Error(t, <-done)
			require.Zero(t, b.srv.RunningQueries(), "no query is left running in Looker")
			require.Len(t, b.srv.Killed(), 1)
			require.Empty(t, b.localFiles(t))
		})
	}
}

// TestTruncationFollowsTheLimitsThatApplied: the guard knows the limit
// the run sent, the saved query's (limit: saved), and Looker's documented
// caps, and the manifest records both limits.
func TestTruncationFollowsTheLimitsThatApplied(t *testing.T) {
	t.Parallel()
	top50 := lookertest.Query{Model: lookertest.Model, View: lookertest.ExploreName, Fields: []string{"orders.id", "users.country"}, Limit: "50", QueryTimezone: "UTC"}
	tests := []struct {
		name        string
		opts        lookertest.Options
		look        *lookertest.Query
		keys        string
		rows        int64 // published; 0 with errText
		errText     string
		wantApplied int64
		wantSaved   string
	}{
		{name: "saved limit kept and reached", opts: lookertest.Options{Rows: 80}, look: &top50, keys: "limit: saved",
			errText: "exactly the saved query's limit of 50 rows", wantApplied: 0, wantSaved: "50"},
		{name: "saved limit overridden by -1", opts: lookertest.Options{Rows: 80}, look: &top50, keys: "limit: -1",
			rows: 80, wantApplied: -1, wantSaved: "50"},
		{name: "legacy cap of 50,000", opts: lookertest.Options{Rows: 60000, NonStreamingCap: lookerapi.LegacyAllResultsCap}, keys: "source: {look_id: \"43\"}",
			errText: "exactly 50000, a cap Looker applies", wantApplied: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, tt.opts)
			keys := tt.keys
			if tt.look != nil {
				id, _ := b.srv.SaveLook(*tt.look)
				keys += "\nsource: {look_id: '" + id + "'}"
			}
			job := b.job(t, "trunc", keys+"\non_truncation: fail\nformat: csv\ndestination: $DIR/out.csv")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			if tt.errText != "" {
				require.ErrorIs(t, err, jobs.ErrTruncated)
				require.Contains(t, run.Error, tt.errText)
				require.Empty(t, b.localFiles(t))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.rows, run.Rows)
			var m publish.Manifest
			require.NoError(t, json.Unmarshal(b.readBack(t, "file://"+filepath.Join(b.dir, "_manifest.json")), &m))
			require.Equal(t, publish.Limit{Applied: tt.wantApplied, Saved: tt.wantSaved}, m.Limit)
			lines, err := b.store.RunLog(context.Background(), run.ID)
			require.NoError(t, err)
			var said bool
			for _, l := range lines {
				said = said || l.Message == "the job's limit overrides the saved query's"
			}
			require.True(t, said, "the override is logged")
		})
	}
}
