package lookerapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// csvRows counts the data rows of a csv body whose values hold no line
// breaks (the fields used here have none).
func csvRows(b []byte) int { return countLines(b) - 1 }

var idCountryAmount = &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.id", "users.country", "orders.amount"}}

func TestClientRetriesBusyLooker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     lookertest.Fault
		wantWaits []time.Duration
		wantErr   bool
	}{
		{"429 with Retry-After", lookertest.Fault{Status: 429, RetryAfter: "7"}, []time.Duration{7 * time.Second}, false},
		{"429 without Retry-After", lookertest.Fault{Status: 429, Count: 2}, []time.Duration{time.Second, 2 * time.Second}, false},
		{"503 html page", lookertest.Fault{Status: 503}, []time.Duration{time.Second}, false},
		{"503 with an HTTP-date Retry-After", lookertest.Fault{Status: 503, RetryAfter: "Sun, 01 Mar 2026 12:00:04 GMT"}, []time.Duration{4 * time.Second}, false},
		{"429 at login", lookertest.Fault{Status: 429, PathPrefix: "/login"}, []time.Duration{time.Second}, false},
		{"attempts spent", lookertest.Fault{Status: 429, Count: 3}, []time.Duration{time.Second, 2 * time.Second}, true},
		{"Retry-After beyond MaxRetryWait", lookertest.Fault{Status: 503, RetryAfter: "120"}, nil, true},
		{"500 is left to the jobs layer", lookertest.Fault{Status: 500}, nil, true},
		{"502 is left to the jobs layer", lookertest.Fault{Status: 502}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{server: lookertest.Options{Rows: 20}})
			require.NoError(t, f.client.Login(context.Background()))
			if tt.fault.PathPrefix == "/login" {
				f.srv.ExpireTokens()
				f.clock.Advance(2 * time.Hour) // the next call logs in again
			}
			if tt.fault.PathPrefix == "" {
				tt.fault.PathPrefix = "/looks/"
			}
			f.srv.FailNext(tt.fault)
			res, err := f.client.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
			require.Equal(t, tt.wantWaits, f.clock.Waits(), "waits before sending again")
			if tt.wantErr {
				require.Error(t, err)
				require.True(t, lookerapi.IsRetryable(err), "the jobs layer may retry the run")
				var e *lookerapi.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, tt.fault.Status, e.StatusCode)
				require.Equal(t, "look 42", e.Source)
				return
			}
			require.NoError(t, err)
			checkCSV(t, readAll(t, res), mustFields(t, f.srv, lookerapi.Source{LookID: lookertest.LookID}), 20)
		})
	}
}

func TestQueryTaskLifeCycle(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 30}})
	ctx := context.Background()
	f.srv.ScriptNextTask(lookertest.TaskAdded, lookertest.TaskRunning, lookertest.TaskRunning, lookertest.TaskRunning,
		lookertest.TaskRunning, lookertest.TaskRunning, lookertest.TaskRunning, lookertest.TaskComplete)
	res, err := f.client.Run(ctx, lookerapi.Source{Query: idCountryAmount},
		lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync, Limit: 12})
	require.NoError(t, err)
	body := readAll(t, res)
	require.Equal(t, 12, csvRows(body), "the limit goes with the task")
	require.NotEmpty(t, res.QueryID)
	s := time.Second
	require.Equal(t, []time.Duration{s / 2, s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s}, f.clock.Waits(),
		"first poll at once, then PollMin doubling up to PollMax")
	require.Equal(t, 1, f.srv.Requests("create_query"), "an inline query is saved first")
	require.Equal(t, 8, f.srv.Requests("query_task"))
	require.Equal(t, 1, f.srv.Requests("query_task_results"))
	require.Equal(t, "12", f.srv.LastQuery("create_query_task").Get("limit"))
	require.Empty(t, f.srv.Killed())
}

func TestQueryTaskSourcesFindTheirQuery(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 10}})
	for _, src := range []lookerapi.Source{{LookID: lookertest.LookID}, {QueryID: lookertest.QueryID}, {QuerySlug: lookertest.QuerySlug}} {
		res, err := f.client.Run(context.Background(), src, lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
		require.NoError(t, err)
		want, err := f.srv.Fields(sandboxSource(t, src))
		require.NoError(t, err)
		checkCSV(t, readAll(t, res), want, 10)
		require.NotEmpty(t, res.QueryID, "%s", src)
		require.NotEqual(t, lookertest.QueryID, res.QueryID, "%s: the saved query has no zone: it runs re-created in the application zone", src)
		require.Equal(t, lookerapi.ZoneSourceApplication, res.TimezoneSource)
	}
	require.Equal(t, 1, f.srv.Requests("look"))
	require.Equal(t, 1, f.srv.Requests("query_for_slug"))
	require.Equal(t, 3, f.srv.Requests("create_query_task"))
	require.Zero(t, f.srv.Requests("run_look")+f.srv.Requests("run_query"))

	// SQL Runner stays sync.
	res, err := f.client.Run(context.Background(), lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "warehouse", SQL: "SELECT 1"}},
		lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, 1, f.srv.Requests("run_sql_query"))
	require.Equal(t, 3, f.srv.Requests("create_query_task"))
}

func TestQueryTaskEndings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		script    []string
		fault     *lookertest.Fault
		is        error
		retryable bool
		msg       string
		polls     int
		killed    bool // an unknown status may still be running: stop it
	}{
		{"sql error", []string{lookertest.TaskRunning, lookertest.TaskError}, nil, lookerapi.ErrQueryFailed, false, lookertest.TaskSQLError, 2, false},
		{"failure", []string{lookertest.TaskRunning, "failure"}, nil, lookerapi.ErrQueryFailed, false, lookertest.TaskSQLError, 2, false},
		{"unknown status", []string{lookertest.TaskRunning, "queued_for_pdt"}, nil, lookerapi.ErrQueryFailed, false, `"queued_for_pdt"`, 2, true},
		{"expired twice", []string{lookertest.TaskRunning, lookertest.TaskExpired}, nil, lookerapi.ErrResultsExpired, true, "expired", 3, false},
		{"killed by an admin", []string{lookertest.TaskKilled}, nil, lookerapi.ErrQueryKilled, false, "Admin > Queries", 1, false},
		{"results gone (404)", nil, &lookertest.Fault{Status: 404, PathSuffix: "/results"}, lookerapi.ErrResultsExpired, true, "expired", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{})
			if tt.script != nil {
				f.srv.ScriptNextTask(tt.script...)
			}
			if tt.fault != nil {
				f.srv.FailNext(*tt.fault)
			}
			_, err := f.client.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID},
				lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
			require.ErrorIs(t, err, tt.is)
			require.Equal(t, tt.retryable, lookerapi.IsRetryable(err))
			require.Contains(t, err.Error(), tt.msg)
			require.Contains(t, err.Error(), "look 42: ", "the error names the source")
			require.Equal(t, tt.polls, f.srv.Requests("query_task"))
			var waited time.Duration
			for _, w := range f.clock.Waits() {
				waited += w
			}
			require.Less(t, waited, lookerapi.PollMin*time.Duration(1<<tt.polls), "no poll after the final status")
			if tt.killed {
				require.Len(t, f.srv.Killed(), 1)
			} else {
				require.Empty(t, f.srv.Killed(), "a finished task is not killed")
			}
		})
	}
}

// A results endpoint that answers 202 or 204 (what 23.x–24.16 send while
// running) means "poll again", never an empty result.
func TestQueryTaskNotFinishedYet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  []string
		fault   *lookertest.Fault
		polls   int
		results int
	}{
		{"results 202", nil, &lookertest.Fault{Status: 202, PathSuffix: "/results"}, 2, 2},
		{"results 204", nil, &lookertest.Fault{Status: 204, PathSuffix: "/results"}, 2, 2},
		{"results 204 twice", nil, &lookertest.Fault{Status: 204, Count: 2, PathSuffix: "/results"}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{server: lookertest.Options{Rows: 5}})
			if tt.script != nil {
				f.srv.ScriptNextTask(tt.script...)
			}
			if tt.fault != nil {
				f.srv.FailNext(*tt.fault)
			}
			src := lookerapi.Source{QueryID: lookertest.QueryID}
			res, err := f.client.Run(context.Background(), src, lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
			require.NoError(t, err)
			checkCSV(t, readAll(t, res), mustFields(t, f.srv, src), 5)
			require.Equal(t, tt.polls, f.srv.Requests("query_task"))
			require.Equal(t, tt.results, f.srv.Requests("query_task_results"))
		})
	}
}

func mustFields(t *testing.T, srv *lookertest.Server, src lookerapi.Source) []lookertest.Field {
	t.Helper()
	fs, err := srv.Fields(sandboxSource(t, src))
	require.NoError(t, err)
	return fs
}

// A run that is cancelled (shutdown, or the job's timeout) while its query
// task runs kills the query in Looker.
func TestQueryTaskKilledOnCancel(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"shutdown", "timeout"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{})
			f.srv.ScriptNextTask(lookertest.TaskRunning) // runs until killed
			ctx, cancel := context.WithCancelCause(context.Background())
			if name == "timeout" {
				var stop context.CancelFunc
				ctx, stop = context.WithDeadline(ctx, time.Now().Add(time.Hour))
				defer stop()
			}
			done := make(chan error, 1)
			go func() {
				_, err := f.client.Run(ctx, lookerapi.Source{LookID: lookertest.LookID},
					lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
				done <- err
			}()
			require.Eventually(t, func() bool { return f.srv.Requests("query_task") >= 3 }, 10*time.Second, time.Millisecond)
			cancel(errors.New("exporter is shutting down"))
			err := <-done
			require.ErrorIs(t, err, context.Canceled)
			require.False(t, lookerapi.IsRetryable(err))
			killed := f.srv.Killed()
			require.Len(t, killed, 1)
			require.Equal(t, lookertest.TaskKilled, f.srv.TaskStatus(killed[0]))
		})
	}
}

func TestRunAs(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 3}})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"7", "8"}[i%2]
			mode := []lookerapi.Mode{lookerapi.ModeSync, lookerapi.ModeAsync}[i/2%2]
			res, err := f.client.Run(ctx, lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv", RunAs: user, Mode: mode})
			if err == nil {
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.srv.Logins(), "one API login")
	require.Equal(t, 1, f.srv.UserLogins("7"), "one token per user, shared by concurrent runs")
	require.Equal(t, 1, f.srv.UserLogins("8"))
	require.Contains(t, []string{"7", "8"}, f.srv.LastUser("run_query"), "the look's query, pinned to the application zone, runs by id")
	require.Contains(t, []string{"7", "8"}, f.srv.LastUser("create_query"))
	require.Contains(t, []string{"7", "8"}, f.srv.LastUser("create_query_task"))

	// Renewed before expiry, like the API user's.
	f.clock.Advance(59 * time.Minute)
	res, err := f.client.Run(ctx, lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv", RunAs: "7"})
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, 2, f.srv.UserLogins("7"))
	require.Equal(t, "7", f.srv.LastUser("run_query"))

	// An unknown user is a permanent error that says what run_as takes.
	_, err = f.client.Run(ctx, lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv", RunAs: "100000"})
	require.Error(t, err)
	require.False(t, lookerapi.IsRetryable(err))
	require.Contains(t, err.Error(), "run_as takes a user id")

	// Close logs every identity out.
	require.NoError(t, f.client.Close(ctx))
	require.Equal(t, 5, f.srv.Logouts(), "the two tokens replaced at 59 min (the API user's, user 7's), then the API user, users 7 and 8")
}

func TestTokenExpiryMidRun(t *testing.T) {
	t.Parallel()
	for _, speed := range []time.Duration{1, 2} {
		name := "renewed before expiry"
		if speed > 1 {
			// The server's clock runs twice as fast: the token dies at 5 s,
			// before the client's renewal at 9 s, as a revoked token would.
			name = "expired early on the server: 401, login, go on"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			f := setup(t, setupOpts{server: lookertest.Options{Rows: 7, TokenTTL: 10 * time.Second,
				Now: func() time.Time { start := newFakeClock().Now(); return start.Add(speed * clock.Now().Sub(start)) }}})
			f.clock = clock
			clock.autoFire = lookerapi.DefaultTimeout
			f.client = f.newClient(t, f.srv.ClientSecret(), 0)
			// Polls at +0, 0.5, 1.5, 3.5, 7.5, 15.5 s: the 10 s token ends mid-run.
			f.srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskRunning, lookertest.TaskRunning, lookertest.TaskRunning,
				lookertest.TaskRunning, lookertest.TaskComplete)
			res, err := f.client.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID},
				lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
			require.NoError(t, err)
			checkCSV(t, readAll(t, res), mustFields(t, f.srv, lookerapi.Source{LookID: lookertest.LookID}), 7)
			if speed > 1 {
				// Rejected at the 7.5 s poll and again at 15.5 s.
				require.Equal(t, 3, f.srv.Logins())
				require.Equal(t, 2, countLogs(f, "token rejected, logging in again"))
			} else {
				require.Equal(t, 2, f.srv.Logins(), "renewed at 9 s")
				require.Zero(t, countLogs(f, "token rejected, logging in again"))
			}
		})
	}
}

func countLogs(f *fixture, msg string) int { return f.logs.FilterMessage(msg).Len() }

func TestMaxConcurrentQueries(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 3}})
	c, err := lookerapi.New(lookerapi.Config{BaseURL: f.srv.URL(), ClientID: f.srv.ClientID(), ClientSecret: f.srv.ClientSecret(),
		VerifySSL: true, MaxConcurrentQueries: 2}, f.log, lookerapi.WithClock(f.clock))
	require.NoError(t, err)
	ctx := context.Background()
	src := lookerapi.Source{LookID: lookertest.LookID}
	csv := lookerapi.RunOptions{ResultFormat: "csv"}

	first, err := c.Run(ctx, src, csv)
	require.NoError(t, err)
	second, err := c.Run(ctx, src, lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
	require.NoError(t, err)

	// Both slots are held until the bodies are closed: a third run queues,
	// and leaves the queue when its context ends, without running anything
	// in Looker.
	qctx, cancel := context.WithCancel(ctx)
	queued := make(chan error, 1)
	go func() {
		_, err := c.Run(qctx, src, csv)
		queued <- err
	}()
	require.Eventually(t, func() bool { return countLogs(f, "waiting for a free query slot") == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	err = <-queued
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, err.Error(), "waiting for one of 2 query slots")
	require.Equal(t, 1, f.srv.Requests("run_query"), "the look's query runs by id, pinned to the application zone")

	// A queued run starts as soon as a slot frees.
	third := make(chan error, 1)
	go func() {
		res, err := c.Run(ctx, src, csv)
		if err == nil {
			readAll(t, res)
		}
		third <- err
	}()
	require.Eventually(t, func() bool { return countLogs(f, "waiting for a free query slot") == 2 }, 10*time.Second, time.Millisecond)
	readAll(t, first)
	require.NoError(t, <-third)
	readAll(t, second)
	require.Equal(t, 2, f.srv.Requests("run_query"))
	require.NoError(t, c.Close(ctx))
}

func TestResolve(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()

	r, err := f.client.Resolve(ctx, lookerapi.Source{LookID: lookertest.NonStreamingLookID}, "")
	require.NoError(t, err)
	require.False(t, r.Streams)
	require.Equal(t, []string{"table calculations (amount_with_vat)"}, r.NotStreaming)
	require.Equal(t, lookertest.NonStreamingQueryID, r.QueryID)
	require.Equal(t, lookertest.NonStreamingLookTitle, r.LookTitle)
	converted := true // the sandbox states convert_tz of its time fields, as Looker's explore does
	require.Equal(t, []lookerapi.Field{
		{Name: "orders.id", Label: "Orders ID", Type: "number", Category: "dimension"},
		{Name: "orders.created_date", Label: "Orders Created Date", Type: "date_date", Category: "dimension", ConvertTZ: &converted},
		{Name: "users.country", Label: "Users Country", Type: "string", Category: "dimension"},
		{Name: "orders.amount", Label: "Orders Amount", Type: "number", Category: "dimension"},
		{Name: "amount_with_vat", Label: "Amount with VAT", Type: "number", Category: "table_calculation"},
	}, r.Fields)
	require.Empty(t, r.Problems)

	r, err = f.client.Resolve(ctx, lookerapi.Source{QuerySlug: lookertest.QuerySlug}, "7")
	require.NoError(t, err)
	require.True(t, r.Streams)
	require.Len(t, r.Fields, len(lookertest.QueryFields))
	require.Equal(t, "7", f.srv.LastUser("lookml_model_explore"))

	r, err = f.client.Resolve(ctx, lookerapi.Source{Query: &lookerapi.Query{Model: "thelook", View: "orders",
		Fields: []string{"orders.id", "orders.nope"}, Pivots: []string{"orders.status"}, Total: true}}, "")
	require.NoError(t, err)
	require.False(t, r.Streams)
	require.Equal(t, []string{"column totals"}, r.NotStreaming, "pivots alone stream when the dialect does")
	require.Equal(t, []string{"field orders.nope is not in explore thelook/orders"}, r.Problems)

	_, err = f.client.Resolve(ctx, lookerapi.Source{LookID: "404"}, "")
	require.ErrorContains(t, err, "404 Not found: look 404 was not found, or the Looker user running it (the API user, or run_as) has no permission to it (folder access, model set); look 404: look GET /api/4.0/looks/404")
	require.Zero(t, f.srv.Requests("run_look")+f.srv.Requests("create_query_task"), "resolving runs nothing")
}

// A Look that does not stream is capped at 5,000 rows by Looker whatever
// the limit; the sandbox does the same.
func TestNonStreamingLookIsCapped(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 6000}})
	for _, mode := range []lookerapi.Mode{lookerapi.ModeSync, lookerapi.ModeAsync} {
		res, err := f.client.Run(context.Background(), lookerapi.Source{LookID: lookertest.NonStreamingLookID},
			lookerapi.RunOptions{ResultFormat: "csv", Limit: -1, Mode: mode})
		require.NoError(t, err)
		body := readAll(t, res)
		require.Equal(t, lookerapi.DefaultRowLimit, csvRows(body))
		header, rest, _ := strings.Cut(string(body), "\n")
		first, _, _ := strings.Cut(rest, "\n")
		require.Equal(t, "Orders ID,Orders Created Date,Users Country,Orders Amount,Amount with VAT", header)
		amount, _ := lookertest.Value("orders.amount", 0)
		a, err := strconv.ParseFloat(amount, 64)
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(first, ","+amount+","+strconv.FormatFloat(math.Round(a*1.2*1e6)/1e6, 'f', -1, 64)), first)
	}
}

// sandboxSource is src as the sandbox names it (lookertest has its own
// Query type, written from the spec, with the same JSON names).
func sandboxSource(t testing.TB, src lookerapi.Source) lookertest.Source {
	t.Helper()
	out := lookertest.Source{LookID: src.LookID, QueryID: src.QueryID, QuerySlug: src.QuerySlug}
	if src.Query != nil {
		b, err := json.Marshal(src.Query)
		require.NoError(t, err)
		out.Query = new(lookertest.Query)
		require.NoError(t, json.Unmarshal(b, out.Query))
	}
	if src.SQL != nil {
		out.SQLSlug, out.SQL = src.SQL.Slug, src.SQL.SQL
	}
	return out
}
