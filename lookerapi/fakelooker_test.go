package lookerapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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
)

// fakeLooker is a small httptest Looker for the run life cycle: tokens,
// GET /user, running queries that stay listed until killed or finished,
// query tasks and run endpoints whose behaviour a test picks. It answers
// what the spec declares, so the contract validator can watch it.
type fakeLooker struct {
	t       *testing.T
	srv     *httptest.Server
	clock   *fakeClock
	closing chan struct{}

	mu         sync.Mutex
	ttl        int64             // expires_in of new tokens
	tokens     map[string]string // token -> user id
	logins     int
	loggedOut  []string
	requests   map[string]int // by operation
	running    []runningEntry
	killed     []string
	nextTask   int
	behave     string        // run endpoints: "ok", "stall" (no headers), "stallBody" (one row, then nothing), "dropOnce" (the connection closed with no answer, then "ok")
	arrived    chan struct{} // a run request arrived (buffered)
	taskPolls  int
	taskStatus func(poll int) string // status of the query task at its poll-th poll (from 0)
	// exploreStall, when set, makes the explore answer nothing until its
	// request ends; each explore request is announced on it.
	exploreStall chan struct{}
}

type runningEntry struct {
	TaskID    string
	QueryID   string
	SQLSlug   string
	UserID    string
	CreatedAt time.Time
}

const fakeAPIUser = "5"

func newFakeLooker(t *testing.T, clock *fakeClock) *fakeLooker {
	f := &fakeLooker{t: t, clock: clock, closing: make(chan struct{}), ttl: 3600, tokens: map[string]string{},
		requests: map[string]int{}, behave: "ok", arrived: make(chan struct{}, 16),
		taskStatus: func(int) string { return "complete" }}
	mux := http.NewServeMux()
	h := func(pattern, op string, fn func(w http.ResponseWriter, r *http.Request, user string)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.requests[op]++
			user, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			f.mu.Unlock()
			if !ok && op != "login" {
				writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Requires authentication.", "documentation_url": "https://cloud.google.com/looker/docs/"})
				return
			}
			fn(w, r, user)
		})
	}
	h("POST /api/4.0/login", "login", func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, f.issue(fakeAPIUser))
	})
	h("POST /api/4.0/login/{user_id}", "login_user", func(w http.ResponseWriter, r *http.Request, _ string) {
		writeJSON(w, http.StatusOK, f.issue(r.PathValue("user_id")))
	})
	h("DELETE /api/4.0/logout", "logout", func(w http.ResponseWriter, r *http.Request, _ string) {
		f.mu.Lock()
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		delete(f.tokens, tok)
		f.loggedOut = append(f.loggedOut, tok)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	h("GET /api/4.0/user", "me", func(w http.ResponseWriter, _ *http.Request, user string) {
		writeJSON(w, http.StatusOK, map[string]any{"id": user})
	})
	// What a run reads before it runs (the saved query and its zone, the
	// explore's labels): every saved query of the fake is query 55, saved
	// with query_timezone UTC, so runs are not re-created in another zone.
	h("GET /api/4.0/looks/{look_id}", "look", func(w http.ResponseWriter, r *http.Request, _ string) {
		writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("look_id"), "title": "Orders", "query_id": "55", "query": fakeSavedQuery("55")})
	})
	h("GET /api/4.0/queries/{query_id}", "query", func(w http.ResponseWriter, r *http.Request, _ string) {
		writeJSON(w, http.StatusOK, fakeSavedQuery(r.PathValue("query_id")))
	})
	h("POST /api/4.0/queries", "create_query", func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, fakeSavedQuery("101"))
	})
	h("GET /api/4.0/setting", "get_setting", func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, map[string]any{"timezone": "UTC", "allow_user_timezones": false})
	})
	h("GET /api/4.0/lookml_models/{lookml_model_name}/explores/{explore_name}", "lookml_model_explore", func(w http.ResponseWriter, r *http.Request, _ string) {
		f.mu.Lock()
		stall := f.exploreStall
		f.mu.Unlock()
		if stall != nil {
			stall <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-f.closing:
			}
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": r.PathValue("lookml_model_name") + "::" + r.PathValue("explore_name"),
			"name": r.PathValue("explore_name"), "model_name": r.PathValue("lookml_model_name"), "connection_name": "warehouse",
			"fields": map[string]any{"dimensions": []map[string]any{{"name": "orders.id", "label": "Orders ID", "type": "number", "category": "dimension"}},
				"measures": []map[string]any{}}})
	})
	h("GET /api/4.0/running_queries", "all_running_queries", func(w http.ResponseWriter, _ *http.Request, _ string) {
		f.mu.Lock()
		out := []map[string]any{}
		for _, e := range f.running {
			q := map[string]any{"id": "r" + e.TaskID, "query_task_id": e.TaskID, "user": map[string]any{"id": e.UserID},
				"created_at": e.CreatedAt.Format("2006-01-02T15:04:05.000-07:00"), "status": "running"}
			if e.QueryID != "" {
				q["query_id"] = e.QueryID
			}
			if e.SQLSlug != "" {
				q["sql_query"] = map[string]any{"slug": e.SQLSlug}
			}
			out = append(out, q)
		}
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	h("DELETE /api/4.0/running_queries/{query_task_id}", "kill_query", func(w http.ResponseWriter, r *http.Request, _ string) {
		if !f.finish(r.PathValue("query_task_id"), true) {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not found", "documentation_url": "https://cloud.google.com/looker/docs/"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h("GET /api/4.0/looks/{look_id}/run/{fmt}", "run_look", func(w http.ResponseWriter, r *http.Request, user string) {
		f.serveRun(w, r, runningEntry{QueryID: "55", UserID: user}) // run_look's running query names the Look's query
	})
	h("GET /api/4.0/queries/{query_id}/run/{fmt}", "run_query", func(w http.ResponseWriter, r *http.Request, user string) {
		f.serveRun(w, r, runningEntry{QueryID: r.PathValue("query_id"), UserID: user})
	})
	h("POST /api/4.0/sql_queries/{slug}/run/{fmt}", "run_sql_query", func(w http.ResponseWriter, r *http.Request, user string) {
		f.serveRun(w, r, runningEntry{SQLSlug: r.PathValue("slug"), UserID: user})
	})
	h("POST /api/4.0/query_tasks", "create_query_task", func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, map[string]any{"id": "t1", "query_id": "55", "status": "added"})
	})
	h("GET /api/4.0/query_tasks/{query_task_id}", "query_task", func(w http.ResponseWriter, _ *http.Request, _ string) {
		f.mu.Lock()
		status := f.taskStatus(f.taskPolls)
		f.taskPolls++
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"id": "t1", "query_id": "55", "status": status})
	})
	h("GET /api/4.0/query_tasks/{query_task_id}/results", "query_task_results", func(w http.ResponseWriter, _ *http.Request, _ string) {
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write([]byte(fakeHeader + "1\n"))
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() { close(f.closing); f.srv.Close() })
	return f
}

// fakeHeader is the csv header of every fake result: the label of
// orders.id in the fake's explore, as Looker's csv carries labels.
const fakeHeader = "Orders ID\n"

// fakeSavedQuery is the fake's saved query id as GET /queries/{id} sends it.
func fakeSavedQuery(id string) map[string]any {
	return map[string]any{"id": id, "slug": "s" + id, "model": "thelook", "view": "orders",
		"fields": []string{"orders.id"}, "query_timezone": "UTC"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeLooker) issue(user string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins++
	tok := fmt.Sprintf("tok-%s-%d", user, f.logins)
	f.tokens[tok] = user
	return map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": f.ttl}
}

// serveRun lists the run as a running query (Looker does not stop a query
// when its client goes away) and answers as f.behave says.
func (f *fakeLooker) serveRun(w http.ResponseWriter, r *http.Request, e runningEntry) {
	f.mu.Lock()
	f.nextTask++
	e.TaskID = fmt.Sprintf("qt%d", f.nextTask)
	e.CreatedAt = f.clock.Now()
	f.running = append(f.running, e)
	behave := f.behave
	if behave == "dropOnce" {
		f.behave = "ok"
	}
	f.mu.Unlock()
	f.arrived <- struct{}{}
	if behave == "dropOnce" {
		// The request reached Looker (its query runs), then the
		// connection went away before any response byte: a proxy's idle
		// timeout, a restart.
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(f.t, err)
		_ = conn.Close()
		return
	}
	wait := func() {
		select {
		case <-r.Context().Done():
		case <-f.closing:
		}
	}
	switch behave {
	case "stall":
		wait()
		return
	case "stallBody":
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write([]byte(fakeHeader + "1\n"))
		w.(http.Flusher).Flush()
		wait()
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	_, _ = w.Write([]byte(fakeHeader + "1\n2\n"))
	f.finish(e.TaskID, false)
}

// finish removes a running query; killed records it as killed.
func (f *fakeLooker) finish(taskID string, killed bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range f.running {
		if e.TaskID == taskID {
			f.running = append(f.running[:i], f.running[i+1:]...)
			if killed {
				f.killed = append(f.killed, taskID)
			}
			return true
		}
	}
	return false
}

// waitArrived waits for a run request to reach f. A run that ends
// before (runErr) fails the test instead of leaving it waiting forever.
func (f *fakeLooker) waitArrived(t *testing.T, runErr <-chan error) {
	t.Helper()
	select {
	case <-f.arrived:
	case err := <-runErr:
		t.Fatalf("the run ended before its request reached Looker: %v", err)
	}
}

func (f *fakeLooker) addRunning(e runningEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = append(f.running, e)
}

func (f *fakeLooker) Killed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.killed...)
}

func (f *fakeLooker) Requests(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[op]
}

func (f *fakeLooker) set(fn func(f *fakeLooker)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// newFakeClient is a client of f on f's clock, logging to the test and
// to the returned observer.
func newFakeClient(t *testing.T, f *fakeLooker, cfg lookerapi.Config, opts ...lookerapi.Option) (*lookerapi.Client, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	cfg.BaseURL, cfg.ClientID, cfg.ClientSecret = f.srv.URL, "fake-id", "fake-secret"
	c, err := lookerapi.New(cfg, log, append([]lookerapi.Option{lookerapi.WithClock(f.clock)}, opts...)...)
	require.NoError(t, err)
	return c, logs
}
