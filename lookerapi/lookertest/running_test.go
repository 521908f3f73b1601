package lookertest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

type runningEntry struct {
	ID          string `json:"id"`
	QueryTaskID string `json:"query_task_id"`
	QueryID     string `json:"query_id"`
	Status      string `json:"status"`
	Source      string `json:"source"`
	CreatedAt   string `json:"created_at"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
	SQLQuery *struct {
		Slug string `json:"slug"`
	} `json:"sql_query"`
}

func (a *api) running(auth string) []runningEntry {
	a.t.Helper()
	var out []runningEntry
	a.getJSON("/running_queries", auth, &out)
	return out
}

// eventually polls cond with a deadline (no fixed sleeps).
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRunningQueriesListSyncRunsAndTasks(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5})
	admin := "Bearer " + a.login()
	sudo := "Bearer " + a.loginAs(admin, "7")
	require.Empty(t, a.running(admin))

	release := make(chan struct{})
	arrived := a.srv.StallNextRun(release, true)
	done := a.start(t.Context(), "GET", "/looks/42/run/csv", sudo, "")
	<-arrived
	a.srv.ScriptNextTask(lookertest.TaskRunning)
	taskID := a.createTask(admin, "csv")

	list := a.running(admin)
	require.Len(t, list, 2)
	require.Equal(t, 2, a.srv.RunningQueries())
	var sync runningEntry
	for _, e := range list {
		require.Equal(t, "running", e.Status)
		require.NotEmpty(t, e.QueryTaskID, "every running query has a query_task_id")
		require.Equal(t, lookertest.QueryID, e.QueryID)
		_, err := time.Parse(time.RFC3339, e.CreatedAt)
		require.NoError(t, err)
		if e.QueryTaskID != taskID {
			sync = e
		}
	}
	require.Equal(t, "7", sync.User.ID)

	close(release)
	ans := <-done
	require.NoError(t, ans.err)
	require.Equal(t, 200, ans.status)
	eventually(t, func() bool { return a.srv.RunningQueries() == 1 }, "a finished sync run is no longer listed")
	require.Equal(t, taskID, a.running(admin)[0].QueryTaskID)
	require.Equal(t, 2, a.srv.MaxRunningQueries())
}

func TestSQLRunnerRunIsListedWithItsSlug(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5})
	tok := "Bearer " + a.login()
	status, _, out := a.call("POST", "/sql_queries", tok, strings.NewReader(`{"connection_name":"warehouse","sql":"SELECT 1"}`), "application/json")
	require.Equal(t, 200, status)
	var sq struct{ Slug string }
	require.NoError(t, json.Unmarshal(out, &sq))
	release := make(chan struct{})
	arrived := a.srv.StallNextRun(release, false)
	done := a.start(t.Context(), "POST", "/sql_queries/"+sq.Slug+"/run/csv", tok, "")
	<-arrived
	list := a.running(tok)
	require.Len(t, list, 1)
	require.NotNil(t, list[0].SQLQuery)
	require.Equal(t, sq.Slug, list[0].SQLQuery.Slug)
	close(release)
	require.Equal(t, 200, (<-done).status)
}

func TestKillSyncRun(t *testing.T) {
	t.Parallel()
	for _, afterHeaders := range []bool{false, true} {
		a := newAPI(t, lookertest.Options{Rows: 5})
		tok := "Bearer " + a.login()
		release := make(chan struct{})
		defer close(release)
		arrived := a.srv.StallNextRun(release, afterHeaders)
		done := a.start(t.Context(), "GET", "/queries/123/run/csv", tok, "")
		<-arrived
		list := a.running(tok)
		require.Len(t, list, 1)
		status, _, _ := a.call("DELETE", "/running_queries/"+list[0].QueryTaskID, tok, nil, "")
		require.Equal(t, 204, status)
		ans := <-done
		require.Error(t, ans.err, "afterHeaders=%v: status %d body %q", afterHeaders, ans.status, ans.body)
		eventually(t, func() bool { return a.srv.RunningQueries() == 0 }, "a killed run is no longer listed")
		require.Equal(t, []string{list[0].QueryTaskID}, a.srv.Killed())
		status, _, _ = a.call("DELETE", "/running_queries/"+list[0].QueryTaskID, tok, nil, "")
		require.Equal(t, 404, status, "nothing left to kill")
	}
}

func TestStalledSyncRunOutlivesItsClient(t *testing.T) {
	t.Parallel()
	for _, kill := range []bool{false, true} {
		a := newAPI(t, lookertest.Options{Rows: 5})
		tok := "Bearer " + a.login()
		release := make(chan struct{})
		arrived := a.srv.StallNextRun(release, false)
		ctx, cancel := context.WithCancel(t.Context())
		done := a.start(ctx, "GET", "/queries/123/run/csv", tok, "")
		<-arrived
		cancel()
		require.Error(t, (<-done).err)
		// Looker does not stop a query sent to the database when the
		// client leaves: still listed, even after a while.
		for range 50 {
			require.Equal(t, 1, a.srv.RunningQueries())
			time.Sleep(time.Millisecond)
		}
		list := a.running(tok)
		require.Len(t, list, 1)
		if kill {
			status, _, _ := a.call("DELETE", "/running_queries/"+list[0].QueryTaskID, tok, nil, "")
			require.Equal(t, 204, status)
		} else {
			close(release)
		}
		eventually(t, func() bool { return a.srv.RunningQueries() == 0 }, "released or killed, the query ends")
	}
}

func TestNotReadyStatus(t *testing.T) {
	t.Parallel()
	for _, want := range []int{0, 202, 204} {
		a := newAPI(t, lookertest.Options{Rows: 5, NotReadyStatus: want})
		tok := "Bearer " + a.login()
		a.srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskComplete)
		id := a.createTask(tok, "csv")
		status, _, body := a.call("GET", "/query_tasks/"+id+"/results", tok, nil, "")
		if want == 204 {
			require.Equal(t, 204, status)
			require.Empty(t, body)
		} else {
			require.Equal(t, 202, status, "202 is the default (spec 26.x)")
		}
		a.getJSON("/query_tasks/"+id, tok, &map[string]any{}) // running
		a.getJSON("/query_tasks/"+id, tok, &map[string]any{}) // complete
		status, _, body = a.call("GET", "/query_tasks/"+id+"/results", tok, nil, "")
		require.Equal(t, 200, status)
		require.Equal(t, 6, strings.Count(string(body), "\n"))
	}
}

func TestTaskFailureAndUnknownStatus(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5})
	tok := "Bearer " + a.login()
	status := func(id string) string {
		var task struct{ Status string }
		a.getJSON("/query_tasks/"+id, tok, &task)
		return task.Status
	}

	a.srv.ScriptNextTask(lookertest.TaskRunning, lookertest.TaskFailure)
	id := a.createTask(tok, "csv")
	require.Equal(t, lookertest.TaskRunning, status(id))
	require.Equal(t, "failure", status(id))
	code, _, body := a.call("GET", "/query_tasks/"+id+"/results", tok, nil, "")
	require.Equal(t, 400, code)
	requireLookerError(t, body, lookertest.TaskSQLError, "400/get/query_tasks/:query_task_id/results")
	require.Equal(t, 0, a.srv.RunningQueries(), "a failed task is not running")

	a.srv.ScriptNextTask(lookertest.TaskRunning, "paused")
	id = a.createTask(tok, "csv")
	status(id)
	require.Equal(t, "paused", status(id))
	require.Equal(t, "paused", status(id), "an unknown status sticks")
	code, _, _ = a.call("GET", "/query_tasks/"+id+"/results", tok, nil, "")
	require.Equal(t, 202, code)
}

func TestPerUserConcurrency(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5, PerUserQueryLimit: 2})
	admin := "Bearer " + a.login()
	release := make(chan struct{})
	for range 2 {
		arrived := a.srv.StallNextRun(release, false)
		a.start(t.Context(), "GET", "/queries/123/run/csv", admin, "")
		<-arrived
	}
	third := a.start(t.Context(), "GET", "/queries/123/run/csv", admin, "")
	// Another user is not held by user 1's queue.
	sudo := "Bearer " + a.loginAs(admin, "7")
	status, _, _ := a.call("GET", "/queries/123/run/csv", sudo, nil, "")
	require.Equal(t, 200, status)
	select {
	case <-third:
		t.Fatal("a third query of the same user ran beside two")
	default:
	}
	require.Equal(t, 2, a.srv.RunningQueries())
	close(release)
	ans := <-third
	require.Equal(t, 200, ans.status, "queued, then run when a slot freed")
	require.Equal(t, 3, a.srv.MaxRunningQueries(), "two of user 1 and one of user 7 at most")
}

func TestPerUserQueueTimeout(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	a := newAPI(t, lookertest.Options{Rows: 5, PerUserQueryLimit: 1, Now: now})
	tok := "Bearer " + a.login()
	release := make(chan struct{})
	defer close(release)
	arrived := a.srv.StallNextRun(release, false)
	a.start(t.Context(), "GET", "/queries/123/run/csv", tok, "")
	<-arrived
	queued := a.start(t.Context(), "GET", "/queries/123/run/csv", tok, "")
	var ans answer
	for done := false; !done; {
		select {
		case ans = <-queued:
			done = true
		case <-time.After(5 * time.Millisecond):
			offset.Add(int64(time.Minute)) // the server's clock moves; 600 s is the default timeout
		}
	}
	require.Equal(t, http.StatusServiceUnavailable, ans.status)
	require.Contains(t, string(ans.body), "queue")
	require.GreaterOrEqual(t, time.Duration(offset.Load()), 10*time.Minute)
	require.Equal(t, 1, a.srv.MaxRunningQueries())
}

func TestTrickleNextRun(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 3})
	tok := "Bearer " + a.login()
	tick := make(chan struct{})
	a.srv.TrickleNextRun(tick)
	req, err := http.NewRequestWithContext(t.Context(), "GET", a.srv.URL()+"/api/4.0/queries/123/run/csv", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	lines := make(chan string)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				lines <- string(buf[:n])
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	header := <-lines
	require.True(t, strings.HasPrefix(header, "Orders ID,"), header)
	select {
	case got := <-lines:
		t.Fatalf("a row came without a tick: %q", got)
	case <-time.After(20 * time.Millisecond):
	}
	for i := range 3 {
		tick <- struct{}{}
		row := <-lines
		want, _ := lookertest.Value("orders.id", i)
		require.True(t, strings.HasPrefix(row, want+","), row)
	}
	_, open := <-lines
	require.False(t, open, "the body ends after the last row")
}

// A sync run holds its query slot, listed as running and answering
// nothing, for the warehouse's query time (Options.QueryLatency); a
// client that leaves meanwhile frees the slot.
func TestQueryLatencyHoldsTheSlotBeforeTheFirstByte(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 5, QueryLatency: time.Hour})
	admin := "Bearer " + a.login()
	ctx, cancel := context.WithCancel(t.Context())
	done := a.start(ctx, "GET", "/looks/42/run/csv", admin, "")
	eventually(t, func() bool { return a.srv.RunningQueries() == 1 }, "the run never started")
	select {
	case ans := <-done:
		t.Fatalf("answered during its query latency: %d %s", ans.status, ans.body)
	default:
	}
	cancel()
	require.Error(t, (<-done).err)
	eventually(t, func() bool { return a.srv.RunningQueries() == 0 }, "the slot was not freed when the client left")

	quick := newAPI(t, lookertest.Options{Rows: 5, QueryLatency: time.Millisecond})
	status, _, body := quick.call("GET", "/looks/42/run/csv", "Bearer "+quick.login(), nil, "")
	require.Equal(t, http.StatusOK, status, string(body))
	require.Equal(t, 6, strings.Count(string(body), "\n"), "a header and 5 rows")
}
