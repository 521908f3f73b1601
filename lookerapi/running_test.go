package lookerapi_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/internal/contract"
)

// A sync run that stops before its result is complete leaves nothing
// running in Looker: its query is found in GET /running_queries (query
// id or SQL slug, user, started after the run began) and killed, and no
// other query is touched.
func TestSyncRunKillsItsQueryWhenItStops(t *testing.T) {
	t.Parallel()
	sources := []struct {
		name string
		src  lookerapi.Source
		as   string
		user string // who runs it in Looker
	}{
		{"look", lookerapi.Source{LookID: "42"}, "", fakeAPIUser},
		{"query id", lookerapi.Source{QueryID: "55"}, "", fakeAPIUser},
		{"query id as user 7", lookerapi.Source{QueryID: "55"}, "7", "7"},
		{"inline query is saved and run by id", lookerapi.Source{Query: &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.id"}}}, "", fakeAPIUser},
		{"sql runner", lookerapi.Source{SQL: &lookerapi.SQLQuery{Slug: "abc"}}, "", fakeAPIUser},
	}
	stops := []struct {
		name      string
		behave    string
		stop      func(t *testing.T, f *fakeLooker, cancel context.CancelFunc, res *lookerapi.Result, runErr <-chan error) error
		is        error
		retryable bool
	}{
		{"cancelled before the headers", "stall", func(t *testing.T, f *fakeLooker, cancel context.CancelFunc, _ *lookerapi.Result, runErr <-chan error) error {
			cancel()
			return <-runErr
		}, context.Canceled, false},
		{"header timeout", "stall", func(t *testing.T, f *fakeLooker, _ context.CancelFunc, _ *lookerapi.Result, runErr <-chan error) error {
			f.clock.Advance(lookerapi.DefaultTimeout)
			return <-runErr
		}, lookerapi.ErrTimeout, true},
		{"cancelled mid-body", "stallBody", func(t *testing.T, f *fakeLooker, cancel context.CancelFunc, res *lookerapi.Result, _ <-chan error) error {
			cancel()
			_, err := io.ReadAll(res.Body)
			require.NoError(t, res.Body.Close())
			return err
		}, context.Canceled, false},
		{"read idle", "stallBody", func(t *testing.T, f *fakeLooker, _ context.CancelFunc, res *lookerapi.Result, _ <-chan error) error {
			readErr := make(chan error, 1)
			go func() { _, err := io.ReadAll(res.Body); readErr <- err }()
			var err error
			require.Eventually(t, func() bool {
				f.clock.Advance(lookerapi.DefaultReadIdleTimeout)
				select {
				case err = <-readErr:
					return true
				default:
					return false
				}
			}, 10*time.Second, time.Millisecond)
			require.NoError(t, res.Body.Close())
			return err
		}, lookerapi.ErrReadIdle, true},
		{"closed before its end", "stallBody", func(t *testing.T, f *fakeLooker, _ context.CancelFunc, res *lookerapi.Result, _ <-chan error) error {
			return res.Body.Close()
		}, nil, false},
	}
	for _, s := range sources {
		for _, st := range stops {
			t.Run(s.name+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				clock := newFakeClock()
				clock.autoFire = time.Minute
				f := newFakeLooker(t, clock)
				f.set(func(f *fakeLooker) { f.behave = st.behave })
				earlier := clock.Now().Add(-time.Hour)
				decoys := []runningEntry{
					{TaskID: "other-user", QueryID: "55", SQLSlug: "abc", UserID: "99", CreatedAt: clock.Now()},
					{TaskID: "same-query-earlier", QueryID: "55", SQLSlug: "abc", UserID: s.user, CreatedAt: earlier},
					{TaskID: "other-query", QueryID: "56", SQLSlug: "abd", UserID: s.user, CreatedAt: clock.Now()},
				}
				for _, d := range decoys {
					f.addRunning(d)
				}
				c, logs := newFakeClient(t, f, lookerapi.Config{})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				runErr := make(chan error, 1)
				var res *lookerapi.Result
				go func() {
					var err error
					res, err = c.Run(ctx, s.src, lookerapi.RunOptions{ResultFormat: "csv", RunAs: s.as})
					runErr <- err
				}()
				f.waitArrived(t, runErr)
				if st.behave == "stallBody" {
					require.NoError(t, <-runErr)
				}
				err := st.stop(t, f, cancel, res, runErr)
				if st.is == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, st.is)
					require.Equal(t, st.retryable, lookerapi.IsRetryable(err))
				}
				require.Equal(t, []string{"qt1"}, f.Killed(), "the run's own query, and only that")
				require.Equal(t, 1, f.Requests("run_look")+f.Requests("run_query")+f.Requests("run_sql_query"), "never sent again")
				require.Equal(t, 1, logs.FilterMessage("killed the looker query").Len())
				require.LessOrEqual(t, f.Requests("look"), 1, "the kill finds a Look's run by the query id the run read, not by reading the Look again")
			})
		}
	}
}

// A run cancelled while it still reads what to run (here the explore)
// ends with the cancel: it does not go on to run without the explore's
// facts, and nothing runs in Looker.
func TestRunCancelledBeforeItRunsRunsNothing(t *testing.T) {
	t.Parallel()
	f := newFakeLooker(t, newFakeClock())
	stall := make(chan struct{}, 1)
	f.set(func(f *fakeLooker) { f.exploreStall = stall })
	c, logs := newFakeClient(t, f, lookerapi.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, lookerapi.Source{QueryID: "55"}, lookerapi.RunOptions{ResultFormat: "csv"})
		runErr <- err
	}()
	<-stall
	cancel()
	err := <-runErr
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, lookerapi.IsRetryable(err))
	require.Zero(t, f.Requests("run_query"))
	require.Zero(t, logs.FilterMessage("explore not readable; the run's csv header and convert_tz fields are not checked").Len())
}

func TestSyncRunThatEndsKillsNothing(t *testing.T) {
	t.Parallel()
	f := newFakeLooker(t, newFakeClock())
	c, _ := newFakeClient(t, f, lookerapi.Config{})
	res, err := c.Run(context.Background(), lookerapi.Source{QueryID: "55"}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	require.Equal(t, fakeHeader+"1\n2\n", string(readAll(t, res)))
	require.Zero(t, f.Requests("all_running_queries"))
	require.Zero(t, f.Requests("me"))
}

// The API user's id is asked once (GET /user) and remembered.
func TestKillAsksForTheAPIUserOnce(t *testing.T) {
	t.Parallel()
	f := newFakeLooker(t, newFakeClock())
	f.set(func(f *fakeLooker) { f.behave = "stallBody" })
	c, _ := newFakeClient(t, f, lookerapi.Config{})
	for range 3 {
		res, err := c.Run(context.Background(), lookerapi.Source{QueryID: "55"}, lookerapi.RunOptions{ResultFormat: "csv"})
		require.NoError(t, err)
		<-f.arrived
		require.NoError(t, res.Body.Close())
	}
	require.Len(t, f.Killed(), 3)
	require.Equal(t, 1, f.Requests("me"))
}

// Query tasks back off to one poll a minute: an hour-long task costs at
// most 67 polls (each a query-based API call under Looker's licence
// quotas), and the result comes at most PollMax after the task ends.
func TestQueryTaskPollsAnHourSparingly(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	clock.autoFire = lookerapi.DefaultTimeout
	f := newFakeLooker(t, clock)
	start := clock.Now()
	f.set(func(f *fakeLooker) {
		f.taskStatus = func(int) string {
			if clock.Now().Before(start.Add(time.Hour)) {
				return "running"
			}
			return "complete"
		}
	})
	c, _ := newFakeClient(t, f, lookerapi.Config{})
	res, err := c.Run(context.Background(), lookerapi.Source{QueryID: "55"}, lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
	require.NoError(t, err)
	require.Equal(t, fakeHeader+"1\n", string(readAll(t, res)))
	require.LessOrEqual(t, f.Requests("query_task"), 67)
	require.LessOrEqual(t, clock.Now().Sub(start), time.Hour+lookerapi.PollMax)
	require.Equal(t, lookerapi.PollMax, time.Minute)
}

// "expired" can show briefly before "complete" (spectacles#111): it is
// polled once more before the run gives up.
func TestQueryTaskExpiredIsCheckedOnceMore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  []string
		wantErr bool
		polls   int
	}{
		{"expired once, then complete", []string{"running", "expired", "complete"}, false, 3},
		{"expired, running, expired, complete", []string{"expired", "running", "expired", "complete"}, false, 4},
		{"expired twice", []string{"running", "expired", "expired", "complete"}, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			clock.autoFire = lookerapi.DefaultTimeout
			f := newFakeLooker(t, clock)
			f.set(func(f *fakeLooker) { f.taskStatus = func(i int) string { return tt.script[min(i, len(tt.script)-1)] } })
			c, logs := newFakeClient(t, f, lookerapi.Config{})
			res, err := c.Run(context.Background(), lookerapi.Source{QueryID: "55"}, lookerapi.RunOptions{ResultFormat: "csv", Mode: lookerapi.ModeAsync})
			require.Equal(t, tt.polls, f.Requests("query_task"))
			require.Positive(t, logs.FilterMessage("query task reported expired; polling once more before giving up").Len())
			if tt.wantErr {
				require.ErrorIs(t, err, lookerapi.ErrResultsExpired)
				require.True(t, lookerapi.IsRetryable(err))
				require.Zero(t, f.Requests("query_task_results"))
				return
			}
			require.NoError(t, err)
			require.Equal(t, fakeHeader+"1\n", string(readAll(t, res)))
		})
	}
}

// TestContractRunLifecycle validates the requests of the run life cycle
// the sandbox does not serve yet (GET /user, GET /running_queries,
// DELETE /running_queries/{id} of a sync run, logout of a replaced token)
// against Looker's spec, and the fake's answers with it.
func TestContractRunLifecycle(t *testing.T) {
	t.Parallel()
	v := contract.New(t)
	clock := newFakeClock()
	clock.autoFire = lookerapi.DefaultTimeout
	f := newFakeLooker(t, clock)
	// The validator reads whole bodies, so the runs stall before their
	// headers and are cancelled there.
	f.set(func(f *fakeLooker) { f.behave = "stall"; f.ttl = 0 })
	c, _ := newFakeClient(t, f, lookerapi.Config{}, lookerapi.WithHTTPClient(&http.Client{Transport: v.Transport(nil)}))
	ctx := context.Background()
	for _, src := range []lookerapi.Source{{LookID: "42"}, {QueryID: "55"}, {SQL: &lookerapi.SQLQuery{Slug: "abc"}},
		{Query: &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.id"}}}} {
		for _, as := range []string{"", "7"} {
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, err := c.Run(rctx, src, lookerapi.RunOptions{ResultFormat: "csv", RunAs: as})
				done <- err
			}()
			f.waitArrived(t, done)
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
		}
	}
	require.Len(t, f.Killed(), 8)
	clock.Advance(time.Minute) // the 0-lifetime token is renewed, the old one logged out
	_, err := c.RunningQueries(ctx)
	require.NoError(t, err)
	require.NoError(t, c.KillQuery(ctx, "gone"), "404: already finished")
	require.NoError(t, c.Close(ctx))

	v.Require(t) // every request, the cancelled runs' included, was valid
	for _, op := range []string{"me", "all_running_queries", "kill_query", "look", "create_query", "logout", "login_user"} {
		require.Positive(t, v.Checked()[op], "operation %s got no validated answer: %v", op, v.Checked())
	}
}
