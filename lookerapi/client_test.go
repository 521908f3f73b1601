package lookerapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

func TestRunSourcesAndFormats(t *testing.T) {
	t.Parallel()
	const rows = 57
	f := setup(t, setupOpts{server: lookertest.Options{Rows: rows}})
	ctx := context.Background()

	sqlSlug, err := f.client.CreateSQLQuery(ctx, lookerapi.SQLQuery{Model: "thelook", SQL: "SELECT * FROM orders"})
	require.NoError(t, err)

	sources := []struct {
		name string
		src  lookerapi.Source
	}{
		{"look", lookerapi.Source{LookID: lookertest.LookID}},
		{"query id", lookerapi.Source{QueryID: lookertest.QueryID}},
		{"query slug", lookerapi.Source{QuerySlug: lookertest.QuerySlug}},
		{"inline query", lookerapi.Source{Query: &lookerapi.Query{
			Model: "thelook", View: "orders",
			Fields: []string{"orders.total_amount", "users.country", "orders.note", "orders.id", "orders.discount", "orders.is_first_purchase", "orders.created_time"},
		}}},
		{"sql text", lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "warehouse", SQL: "SELECT * FROM orders"}}},
		{"sql slug", lookerapi.Source{SQL: &lookerapi.SQLQuery{Slug: sqlSlug}}},
	}
	for _, s := range sources {
		for _, format := range []string{"csv", "json", "json_bi"} {
			t.Run(s.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				want, err := f.srv.Fields(sandboxSource(t, s.src))
				require.NoError(t, err)
				res, err := f.client.Run(ctx, s.src, lookerapi.RunOptions{ResultFormat: format})
				require.NoError(t, err)
				require.NotEmpty(t, res.ContentType)
				body := readAll(t, res)
				checkBody(t, format, body, want, rows)
			})
		}
	}
}

func TestRunQuerySlugReportsQueryID(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()

	q, err := f.client.QueryForSlug(ctx, lookertest.QuerySlug)
	require.NoError(t, err)
	require.Equal(t, lookertest.QueryID, q.ID)
	require.Equal(t, lookertest.QuerySlug, q.Slug)
	require.Equal(t, "thelook", q.Query.Model)
	require.Equal(t, "orders", q.Query.View)
	require.Equal(t, lookertest.QueryFields, q.Query.Fields)

	res, err := f.client.Run(ctx, lookerapi.Source{QuerySlug: lookertest.QuerySlug}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, 1, f.srv.Requests("create_query"), "the slug's query has no zone: re-created in the application zone")
	require.NotEmpty(t, res.QueryID)
	require.NotEqual(t, lookertest.QueryID, res.QueryID, "the query that ran")
	require.Equal(t, 2, f.srv.Requests("query_for_slug"), "one above, one by Run")
	require.Equal(t, 1, f.srv.Requests("run_query"))
}

func TestRunSendsLimitAndOptions(t *testing.T) {
	t.Parallel()
	// More rows than Looker's silent 5,000 default.
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 6001}})
	ctx := context.Background()
	yes, no := true, false

	tests := []struct {
		name      string
		opts      lookerapi.RunOptions
		wantRows  int
		wantQuery map[string]string
	}{
		{"zero limit means all", lookerapi.RunOptions{ResultFormat: "csv"}, 6001, map[string]string{"limit": "-1"}},
		{"minus one", lookerapi.RunOptions{ResultFormat: "csv", Limit: -1}, 6001, map[string]string{"limit": "-1"}},
		{"explicit limit", lookerapi.RunOptions{ResultFormat: "csv", Limit: 10}, 10, map[string]string{"limit": "10"}},
		{"switches", lookerapi.RunOptions{ResultFormat: "csv", Limit: 3, ApplyFormatting: &no, ApplyVis: &no, Cache: &yes,
			ForceProduction: &yes, ServerTableCalcs: &no, RebuildPDTs: &no}, 3,
			map[string]string{"limit": "3", "apply_formatting": "false", "apply_vis": "false", "cache": "true",
				"force_production": "true", "server_table_calcs": "false", "rebuild_pdts": "false"}},
	}
	for _, tt := range tests {
		// Not parallel: each case reads the server's last query of run_look.
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.client.RunLook(ctx, lookertest.LookID, tt.opts)
			require.NoError(t, err)
			body := readAll(t, res)
			require.Equal(t, tt.wantRows+1, countLines(body)-embeddedNewlines(t, body))
			got := map[string]string{}
			for k, v := range f.srv.LastQuery("run_look") {
				got[k] = v[0]
			}
			require.Equal(t, tt.wantQuery, got)
		})
	}
	require.Equal(t, 6001, f.srv.Rows(-1))
	require.Equal(t, lookertest.DefaultRowCap, f.srv.Rows(0), "without a limit the server caps like Looker")
}

// embeddedNewlines counts newlines inside quoted csv fields.
func embeddedNewlines(t *testing.T, body []byte) int {
	t.Helper()
	n, quoted := 0, false
	for _, c := range body {
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\n' && quoted:
			n++
		}
	}
	return n
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ttl     time.Duration
		renewAt time.Duration // renewal happens once this much time has passed
	}{
		{"hour token renews 60s early", time.Hour, time.Hour - 60*time.Second},
		{"short token renews at 90%", 100 * time.Second, 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{server: lookertest.Options{TokenTTL: tt.ttl}})
			run := func() {
				res, err := f.client.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv", Limit: 1})
				require.NoError(t, err)
				readAll(t, res)
			}
			run()
			require.Equal(t, 1, f.srv.Logins())
			f.clock.Advance(tt.renewAt - time.Second)
			run()
			require.Equal(t, 1, f.srv.Logins(), "token still fresh")
			f.clock.Advance(time.Second)
			run()
			require.Equal(t, 2, f.srv.Logins(), "renewed before expiry")
			require.Equal(t, 3, f.srv.Requests("run_look"), "no request hit a 401")
			require.Equal(t, 1, f.srv.Logouts(), "the replaced token is logged out")
		})
	}
}

func TestReloginOnceOn401(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()
	opts := lookerapi.RunOptions{ResultFormat: "json", Limit: 2}

	res, err := f.client.RunLook(ctx, lookertest.LookID, opts)
	require.NoError(t, err)
	readAll(t, res)

	f.srv.ExpireTokens()
	res, err = f.client.RunLook(ctx, lookertest.LookID, opts)
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, 2, f.srv.Logins())
	require.Equal(t, 3, f.srv.Requests("run_look"), "first run, 401, retry")

	// A second 401 right after logging in again is an error, not a loop.
	f.srv.FailNext(lookertest.Fault{Status: http.StatusUnauthorized, Count: 2, PathPrefix: "/looks/"})
	_, err = f.client.RunLook(ctx, lookertest.LookID, opts)
	var e *lookerapi.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, http.StatusUnauthorized, e.StatusCode)
	require.False(t, lookerapi.IsRetryable(err))
	require.Equal(t, 3, f.srv.Logins())
	require.Equal(t, 5, f.srv.Requests("run_look"))
}

func TestConcurrentRunsLogInOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.client.Run(context.Background(), lookerapi.Source{QueryID: lookertest.QueryID},
				lookerapi.RunOptions{ResultFormat: "csv", Limit: 5})
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
	require.Equal(t, 1, f.srv.Logins())
	require.Equal(t, n, f.srv.Requests("run_query"))
}

func TestBadCredentialsArePermanent(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	const wrong = "wrong-secret-value-xyz"
	c := f.newClient(t, wrong, 0)

	_, err := c.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.Error(t, err)
	require.ErrorIs(t, err, lookerapi.ErrBadCredentials)
	require.False(t, lookerapi.IsRetryable(err))
	var e *lookerapi.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, http.StatusNotFound, e.StatusCode)
	require.Equal(t, "login", e.Op)
	msg := err.Error()
	require.Contains(t, msg, "LOOKERSDK_CLIENT_ID")
	require.Contains(t, msg, "LOOKERSDK_CLIENT_SECRET")
	require.NotContains(t, msg, wrong)
	require.Zero(t, f.srv.Logins())
	require.Zero(t, f.srv.Requests("run_look"))
	requireNoSecrets(t, f.srv, f.logs, []string{msg})
	for _, entry := range f.logs.All() {
		require.NotContains(t, fmt.Sprint(entry.ContextMap()), wrong)
	}
}

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()
	csv := lookerapi.RunOptions{ResultFormat: "csv"}

	tests := []struct {
		name       string
		src        lookerapi.Source
		opts       lookerapi.RunOptions
		status     int
		msg        string // substring of Message
		errText    string // exact Error(), when set
		docContain string
	}{
		{
			name: "unknown look", src: lookerapi.Source{LookID: "999"}, opts: csv, status: 404, msg: "Not found",
			errText: "404 Not found: look 999 was not found, or the Looker user running it (the API user, or run_as) has no permission to it (folder access, model set); " +
				"look 999: look GET /api/4.0/looks/999 (https://cloud.google.com/looker/docs/r/err/4.0/404/get/looks/:look_id)",
		},
		{name: "unknown query", src: lookerapi.Source{QueryID: "777"}, opts: csv, status: 404, msg: "Not found", docContain: "/404/get/queries/:query_id"},
		{name: "unknown slug", src: lookerapi.Source{QuerySlug: "nope"}, opts: csv, status: 404, msg: "Not found", docContain: "/404/get/queries/slug/:slug"},
		{name: "unknown field", src: lookerapi.Source{Query: &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.id", "orders.bogus"}}},
			opts: csv, status: 400, msg: "orders.bogus", docContain: "/400/post/queries"}, // saved first (POST /queries), to be run by id
		{name: "missing explore", src: lookerapi.Source{Query: &lookerapi.Query{Model: "thelook", Fields: []string{"orders.id"}}},
			opts: csv, status: 422, msg: "view: This field is required."},
		{name: "unknown model", src: lookerapi.Source{Query: &lookerapi.Query{Model: "nomodel", View: "orders", Fields: []string{"orders.id"}}},
			opts: csv, status: 404, msg: "nomodel"},
		{name: "unknown connection", src: lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "nodb", SQL: "SELECT 1"}},
			opts: csv, status: 404, msg: "nodb", docContain: "/404/post/sql_queries"},
		{name: "unknown sql slug", src: lookerapi.Source{SQL: &lookerapi.SQLQuery{Slug: "nope"}}, opts: csv, status: 404},
		{name: "unsupported format", src: lookerapi.Source{LookID: lookertest.LookID}, opts: lookerapi.RunOptions{ResultFormat: "pdf"},
			status: 400, msg: "pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := f.client.Run(ctx, tt.src, tt.opts)
			require.Nil(t, res)
			var e *lookerapi.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.status, e.StatusCode)
			require.False(t, e.Retryable)
			require.False(t, lookerapi.IsRetryable(err))
			require.Contains(t, e.Message, tt.msg)
			require.True(t, strings.HasPrefix(e.DocumentationURL, "https://cloud.google.com/looker/docs/r/err/4.0/"), e.DocumentationURL)
			require.Contains(t, e.DocumentationURL, tt.docContain)
			if tt.errText != "" {
				require.Equal(t, tt.errText, err.Error())
			}
		})
	}
}

func TestClientSideValidation(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()
	tests := []struct {
		name string
		src  lookerapi.Source
		opts lookerapi.RunOptions
		msg  string
	}{
		{"empty source", lookerapi.Source{}, lookerapi.RunOptions{ResultFormat: "csv"}, "exactly one"},
		{"two sources", lookerapi.Source{LookID: "1", QueryID: "2"}, lookerapi.RunOptions{ResultFormat: "csv"}, "2 are set"},
		{"no format", lookerapi.Source{LookID: "1"}, lookerapi.RunOptions{}, "result format"},
		{"path in format", lookerapi.Source{LookID: "1"}, lookerapi.RunOptions{ResultFormat: "../csv"}, "result format"},
		{"sql without connection", lookerapi.Source{SQL: &lookerapi.SQLQuery{SQL: "SELECT 1"}}, lookerapi.RunOptions{ResultFormat: "csv"}, "connection or a model"},
		{"sql without text", lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "warehouse"}}, lookerapi.RunOptions{ResultFormat: "csv"}, "no SQL text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.client.Run(ctx, tt.src, tt.opts)
			require.ErrorContains(t, err, tt.msg)
			require.False(t, lookerapi.IsRetryable(err))
		})
	}
	require.Zero(t, f.srv.Logins(), "invalid calls never reach Looker")
}

func TestRetryableErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      lookertest.Fault
		retryAfter time.Duration
		msg        string
	}{
		{"429 with Retry-After", lookertest.Fault{Status: 429, RetryAfter: "7"}, 7 * time.Second, "Too many requests"},
		{"429 without Retry-After", lookertest.Fault{Status: 429}, 0, "Too many requests"},
		{"503 html", lookertest.Fault{Status: 503, RetryAfter: "120"}, 2 * time.Minute, "503 Service Unavailable"},
		{"502 html", lookertest.Fault{Status: 502}, 0, "502 Bad Gateway"},
		{"500", lookertest.Fault{Status: 500}, 0, "500 Internal Server Error"},
		{"429 at login", lookertest.Fault{Status: 429, PathPrefix: "/login"}, 0, "Too many requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{})
			if tt.fault.PathPrefix == "" {
				tt.fault.PathPrefix = "/looks/"
			}
			if (tt.fault.Status == 429 || tt.fault.Status == 503) && tt.retryAfter <= lookerapi.MaxRetryWait {
				// The client sends these up to DefaultMaxAttempts times itself.
				tt.fault.Count = lookerapi.DefaultMaxAttempts
			}
			f.srv.FailNext(tt.fault)
			_, err := f.client.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
			var e *lookerapi.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.fault.Status, e.StatusCode)
			require.True(t, lookerapi.IsRetryable(err))
			require.Equal(t, tt.retryAfter, e.RetryAfter)
			require.Equal(t, tt.retryAfter, lookerapi.RetryAfter(err))
			require.Contains(t, e.Message, tt.msg)
			require.NotContains(t, e.Message, "<", "html tags are stripped")
			require.LessOrEqual(t, len(e.Message), 210)

			// The fault is used up; the next run works.
			res, err := f.client.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv", Limit: 1})
			require.NoError(t, err)
			readAll(t, res)
		})
	}
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	url := srv.URL()
	srv.Close()
	c, err := lookerapi.New(lookerapi.Config{BaseURL: url, ClientID: "id", ClientSecret: "secret"}, zaptest.NewLogger(t))
	require.NoError(t, err)
	_, err = c.RunLook(context.Background(), "42", lookerapi.RunOptions{ResultFormat: "csv"})
	var e *lookerapi.Error
	require.ErrorAs(t, err, &e)
	require.Zero(t, e.StatusCode)
	require.True(t, e.Retryable)
	require.Equal(t, "login", e.Op)
}

func TestConnectionDroppedMidBody(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"csv", "json", "json_bi"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{server: lookertest.Options{Rows: 20000}})
			f.srv.DropNextRun(9000)
			res, err := f.client.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: format})
			require.NoError(t, err)
			defer res.Body.Close()
			n, err := io.Copy(io.Discard, res.Body)
			require.Error(t, err, "a dropped connection is not a clean end of body")
			require.Positive(t, n)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			require.True(t, lookerapi.IsRetryable(err))
			var e *lookerapi.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "run_look", e.Op)
			require.Contains(t, err.Error(), "reading the response body")
		})
	}
}

func TestTimeoutCoversHeadersOnly(t *testing.T) {
	t.Parallel()
	const timeout = 30 * time.Second

	t.Run("no headers in time", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{timeout: timeout})
		// Log in first so the stalled request is the run.
		_, err := f.client.QueryForSlug(context.Background(), lookertest.QuerySlug)
		require.NoError(t, err)
		release := make(chan struct{})
		defer close(release)
		arrived := f.srv.StallNextRun(release, false)
		errc := make(chan error, 1)
		go func() {
			_, err := f.client.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
			errc <- err
		}()
		<-arrived
		f.clock.Advance(timeout - time.Second)
		select {
		case err := <-errc:
			t.Fatalf("run ended before the timeout: %v", err)
		default:
		}
		f.clock.Advance(time.Second)
		err = <-errc
		require.ErrorIs(t, err, lookerapi.ErrTimeout)
		require.True(t, lookerapi.IsRetryable(err))
		require.Contains(t, err.Error(), "30s")
	})

	t.Run("slow body is fine", func(t *testing.T) {
		t.Parallel()
		f := setup(t, setupOpts{timeout: timeout, server: lookertest.Options{Rows: 100}})
		release := make(chan struct{})
		f.srv.StallNextRun(release, true)
		res, err := f.client.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
		require.NoError(t, err)
		f.clock.Advance(10 * timeout)
		close(release)
		body := readAll(t, res)
		fields, err := f.srv.Fields(lookertest.Source{LookID: lookertest.LookID})
		require.NoError(t, err)
		checkCSV(t, body, fields, 100)
	})
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 1_000_000}})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.client.RunLook(ctx, lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, lookerapi.IsRetryable(err))

	// Cancelling mid-body ends the stream with the context's error.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	res, err := f.client.RunLook(ctx, lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	defer res.Body.Close()
	buf := make([]byte, 1024)
	_, err = io.ReadFull(res.Body, buf)
	require.NoError(t, err)
	cancel()
	_, err = io.Copy(io.Discard, res.Body)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, lookerapi.IsRetryable(err))
}

func TestCloseLogsOut(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()

	// Close before any call: nothing to revoke.
	idle := f.newClient(t, f.srv.ClientSecret(), 0)
	require.NoError(t, idle.Close(ctx))
	require.Zero(t, f.srv.Requests("logout"))

	res, err := f.client.RunLook(ctx, lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv", Limit: 1})
	require.NoError(t, err)
	readAll(t, res)
	require.NoError(t, f.client.Close(ctx))
	require.Equal(t, 1, f.srv.Logouts())
	require.NoError(t, f.client.Close(ctx), "Close twice is fine")
	require.Equal(t, 1, f.srv.Logouts())

	_, err = f.client.RunLook(ctx, lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
	require.ErrorIs(t, err, lookerapi.ErrClosed)
	require.Equal(t, 1, f.srv.Logins())

	// The token is revoked: using it now gets 401.
	tokens := f.srv.Tokens()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL()+"/api/4.0/looks/42", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokens[len(tokens)-1])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestCloseAfterTokenExpired(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	_, err := f.client.QueryForSlug(context.Background(), lookertest.QuerySlug)
	require.NoError(t, err)
	f.srv.ExpireTokens()
	require.NoError(t, f.client.Close(context.Background()))
	require.Zero(t, f.srv.Logouts())
	require.Equal(t, 1, f.srv.Requests("logout"))
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		base    string
		id      string
		secret  string
		wantErr string
	}{
		{"plain", "https://example.cloud.looker.com", "id", "s", ""},
		{"api suffix", "https://example.cloud.looker.com:19999/api/4.0/", "id", "s", ""},
		{"empty", "", "id", "s", "base URL is empty"},
		{"scheme", "ftp://example.com", "id", "s", "https://"},
		{"no host", "https://", "id", "s", "no host"},
		{"credentials in url", "https://user:hunter2@example.com", "id", "s", "must not hold credentials"},
		{"query", "https://example.com/?a=b", "id", "s", "query"},
		{"no id", "https://example.com", "", "s", "LOOKERSDK_CLIENT_ID"},
		{"no secret", "https://example.com", "id", "", "LOOKERSDK_CLIENT_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := lookerapi.New(lookerapi.Config{BaseURL: tt.base, ClientID: tt.id, ClientSecret: tt.secret, VerifySSL: true}, zaptest.NewLogger(t))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestBaseURLWithAPISuffix(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{Rows: 3})
	t.Cleanup(srv.Close)
	c, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL() + "/api/4.0/", ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret()}, zaptest.NewLogger(t))
	require.NoError(t, err)
	res, err := c.RunLook(context.Background(), lookertest.LookID, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	fields, err := srv.Fields(lookertest.Source{LookID: lookertest.LookID})
	require.NoError(t, err)
	checkCSV(t, readAll(t, res), fields, 3)
	require.NoError(t, c.Close(context.Background()))
}

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	require.False(t, lookerapi.IsRetryable(nil))
	require.False(t, lookerapi.IsRetryable(errors.New("plain")))
	wrapped := fmt.Errorf("run job x: %w", &lookerapi.Error{Op: "run_look", StatusCode: 503, Retryable: true})
	require.True(t, lookerapi.IsRetryable(wrapped))
	require.False(t, lookerapi.IsRetryable(fmt.Errorf("x: %w", &lookerapi.Error{Op: "run_look", StatusCode: 404})))
}

// TestNoSecretsInLogsOrErrors runs the failure scenarios with one debug
// logger and checks that neither the client secret nor any issued token
// shows up in a log entry or an error string.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{Rows: 200})
	t.Cleanup(srv.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	clock := newFakeClock()
	clock.autoFire = time.Minute
	newClient := func(secret string) *lookerapi.Client {
		c, err := lookerapi.New(lookerapi.Config{BaseURL: srv.URL(), ClientID: srv.ClientID(), ClientSecret: secret, VerifySSL: true},
			log, lookerapi.WithClock(clock))
		require.NoError(t, err)
		return c
	}
	ctx := context.Background()
	var errs []string
	record := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}
	opts := lookerapi.RunOptions{ResultFormat: "csv"}

	bad := newClient(srv.ClientSecret() + "x")
	_, err := bad.Run(ctx, lookerapi.Source{LookID: lookertest.LookID}, opts)
	require.Error(t, err)
	record(err)

	c := newClient(srv.ClientSecret())
	res, err := c.Run(ctx, lookerapi.Source{LookID: lookertest.LookID}, opts)
	require.NoError(t, err)
	readAll(t, res)

	srv.ExpireTokens()
	res, err = c.Run(ctx, lookerapi.Source{QuerySlug: lookertest.QuerySlug}, opts)
	require.NoError(t, err)
	readAll(t, res)

	clock.Advance(2 * time.Hour)
	for _, st := range []int{401, 429, 500, 502, 503} {
		count := 1
		switch st {
		case 401:
			count = 2 // one for the request, one for the retry after logging in again
		case 429, 503:
			count = lookerapi.DefaultMaxAttempts // the client sends these again itself
		}
		srv.FailNext(lookertest.Fault{Status: st, Count: count, PathPrefix: "/queries/"})
		_, err = c.Run(ctx, lookerapi.Source{QueryID: lookertest.QueryID}, opts)
		require.Error(t, err)
		record(err)
	}
	_, err = c.Run(ctx, lookerapi.Source{LookID: "404"}, opts)
	record(err)
	_, err = c.Run(ctx, lookerapi.Source{Query: &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"x.y"}}}, opts)
	record(err)

	srv.DropNextRun(5)
	res, err = c.Run(ctx, lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "warehouse", SQL: "SELECT 1"}}, opts)
	require.NoError(t, err)
	_, err = io.ReadAll(res.Body)
	res.Body.Close()
	require.Error(t, err)
	record(err)
	record(c.Close(ctx))

	require.GreaterOrEqual(t, len(srv.Tokens()), 3)
	require.NotEmpty(t, logs.All())
	requireNoSecrets(t, srv, logs, errs)
	for _, e := range errs {
		require.NotContains(t, e, srv.ClientSecret()+"x")
	}
}

func TestMetadataCalls(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()

	require.NoError(t, f.client.Login(ctx))
	require.NoError(t, f.client.Login(ctx))
	require.Equal(t, 1, f.srv.Logins(), "a fresh token is reused")

	look, err := f.client.Look(ctx, lookertest.LookID)
	require.NoError(t, err)
	require.Equal(t, lookertest.LookID, look.ID)
	require.Equal(t, lookertest.LookTitle, look.Title)
	require.Equal(t, lookertest.QueryID, look.QueryID)
	require.NotNil(t, look.Query, "the Look comes with its query")
	require.Equal(t, lookertest.QueryID, look.Query.ID)
	require.Equal(t, lookertest.QueryFields, look.Query.Query.Fields)

	q, err := f.client.SavedQuery(ctx, lookertest.QueryID)
	require.NoError(t, err)
	require.Equal(t, lookertest.QuerySlug, q.Slug)
	require.Equal(t, lookertest.QueryFields, q.Query.Fields)

	_, err = f.client.Look(ctx, "1")
	var e *lookerapi.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, 404, e.StatusCode)
	require.Equal(t, "look", e.Op)

	bad := f.newClient(t, "nope", 0)
	require.ErrorIs(t, bad.Login(ctx), lookerapi.ErrBadCredentials)
}
