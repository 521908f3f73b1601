package lookerapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/lookerexport/exporter/lookerapi"
)

// stub is a minimal Looker written for one test: it serves a saved query
// (as Look 42, query 123 and slug AbC), the settings, an explore, a
// connection, query creation and runs, records what the client sent, and
// answers runs with a fixed body. It models only what the zone, limit,
// streaming and in-band tests need, so each test states Looker's answer
// outright.
type stub struct {
	t   *testing.T
	URL string

	mu sync.Mutex
	// saved is the saved query's JSON (without id); its query_timezone,
	// limit and the rest are what the test sets.
	saved map[string]any
	// setting is GET /setting's body; settingStatus, when set, its status.
	setting       map[string]any
	settingStatus int
	// explore fields: name -> {label, type, category, convert_tz}
	exploreFields []map[string]any
	dialect       map[string]any // GET /connections/{name}'s dialect
	runCT         string         // Content-Type of run answers
	runBody       string         // body of run answers; "" means a csv of the query's labels
	created       []map[string]any
	runs          []string // "GET /api/4.0/looks/42/run/csv?limit=-1", ...
	inline        []lookerapi.Query
	counts        map[string]int
}

func newStub(t *testing.T) *stub {
	t.Helper()
	s := &stub{t: t, counts: map[string]int{},
		saved: map[string]any{"model": "thelook", "view": "orders", "fields": []string{"orders.id", "orders.created_time"},
			"sorts": []string{"orders.id"}, "limit": "500", "client_id": "abcdefghijklmnopqrstuv", "filter_config": map[string]any{"x": 1},
			"vis_config": map[string]any{"type": "table"}, "can": map[string]bool{"run": true}, "slug": "AbC", "share_url": "https://x/x/AbC"},
		setting: map[string]any{"timezone": "UTC", "allow_user_timezones": false},
		exploreFields: []map[string]any{
			{"name": "orders.id", "label": "Orders ID", "type": "number", "category": "dimension"},
			{"name": "orders.created_time", "label": "Orders Created Time", "type": "date_time", "category": "dimension"},
			{"name": "orders.created_local_time", "label": "Orders Created Local Time", "type": "date_time", "category": "dimension", "convert_tz": false},
			{"name": "orders.running", "label": "Orders Running", "type": "running_total", "category": "measure"},
		},
		dialect: map[string]any{"name": "postgres", "label": "PostgreSQL", "supports_streaming": true},
		runCT:   "text/csv",
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *stub) client(t *testing.T) *lookerapi.Client {
	t.Helper()
	c, err := lookerapi.New(lookerapi.Config{BaseURL: s.URL, ClientID: "id", ClientSecret: "secret", VerifySSL: true}, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func (s *stub) set(fn func(s *stub)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *stub) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

func (s *stub) lastCreated() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(s.t, s.created, "no query was created")
	return s.created[len(s.created)-1]
}

func (s *stub) lastRun() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(s.t, s.runs, "nothing ran")
	return s.runs[len(s.runs)-1]
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/api/4.0")
	query := func(id string) map[string]any {
		q := map[string]any{"id": id}
		for k, v := range s.saved {
			q[k] = v
		}
		return q
	}
	run := func() {
		s.runs = append(s.runs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		body := s.runBody
		if body == "" {
			body = "Orders ID,Orders Created Time\n1,2026-01-01 00:00:00\n"
		}
		if s.runCT != "" {
			w.Header().Set("Content-Type", s.runCT)
		}
		_, _ = io.WriteString(w, body)
	}
	switch {
	case p == "/login":
		s.counts["login"]++
		writeJSON(w, 200, map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
	case p == "/logout":
		w.WriteHeader(http.StatusNoContent)
	case p == "/setting":
		s.counts["get_setting"]++
		require.Equal(s.t, "timezone,allow_user_timezones", r.URL.Query().Get("fields"))
		if s.settingStatus != 0 {
			writeJSON(w, s.settingStatus, map[string]any{"message": http.StatusText(s.settingStatus)})
			return
		}
		writeJSON(w, 200, s.setting)
	case p == "/looks/42":
		s.counts["look"]++
		writeJSON(w, 200, map[string]any{"id": "42", "title": "Orders", "query_id": "123", "query": query("123")})
	case p == "/queries/123", p == "/queries/slug/AbC":
		s.counts["query"]++
		writeJSON(w, 200, query("123"))
	case p == "/queries" && r.Method == http.MethodPost:
		s.counts["create_query"]++
		var q map[string]any
		require.NoError(s.t, json.NewDecoder(r.Body).Decode(&q))
		s.created = append(s.created, q)
		out := map[string]any{"id": "900"}
		for k, v := range q {
			out[k] = v
		}
		writeJSON(w, 200, out)
	case p == "/queries/run/csv" || strings.HasPrefix(p, "/queries/run/"):
		var q lookerapi.Query
		require.NoError(s.t, json.NewDecoder(r.Body).Decode(&q))
		s.inline = append(s.inline, q)
		run()
	case strings.Contains(p, "/run/"):
		run()
	case p == "/query_tasks" && r.Method == http.MethodPost:
		s.counts["create_query_task"]++
		var task map[string]any
		require.NoError(s.t, json.NewDecoder(r.Body).Decode(&task))
		s.runs = append(s.runs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		writeJSON(w, 200, map[string]any{"id": "t1", "query_id": task["query_id"], "status": "added"})
	case p == "/query_tasks/t1":
		writeJSON(w, 200, map[string]any{"id": "t1", "status": "complete"})
	case p == "/query_tasks/t1/results":
		run()
	case strings.HasPrefix(p, "/sql_queries"):
		if (r.Method == http.MethodPost && p == "/sql_queries") || r.Method == http.MethodGet {
			writeJSON(w, 200, map[string]any{"slug": "sqlslug"})
			return
		}
		run()
	case p == "/lookml_models/thelook/explores/orders":
		s.counts["explore"]++
		var dims, measures []map[string]any
		for _, f := range s.exploreFields {
			if f["category"] == "measure" {
				measures = append(measures, f)
			} else {
				dims = append(dims, f)
			}
		}
		writeJSON(w, 200, map[string]any{"name": "orders", "connection_name": "warehouse",
			"fields": map[string]any{"dimensions": dims, "measures": measures}})
	case p == "/connections/warehouse":
		s.counts["connection"]++
		require.Equal(s.t, "dialect", r.URL.Query().Get("fields"))
		writeJSON(w, 200, map[string]any{"name": "warehouse", "dialect": s.dialect})
	default:
		writeJSON(w, 404, map[string]any{"message": "Not found"})
	}
}
