package lookertest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value is usable: it models a
// Looker whose application time zone is UTC, with user time zones off, a
// streaming dialect, 202 for unfinished query tasks and Looker's default
// per-user limit of 15 running queries.
type Options struct {
	Addr         string        // listen address such as "127.0.0.1:19999"; "" picks a free loopback port
	ClientID     string        // API client id; generated when empty
	ClientSecret string        // API client secret; generated when empty
	Rows         int           // rows in the orders table; 0 means 1000
	TokenTTL     time.Duration // lifetime (expires_in) of new tokens; 0 means one hour (see SetTokenTTL)
	// Now is the server's clock for token expiry and the per-user queue
	// timeout; nil means time.Now.
	Now func() time.Time
	// UnknownFormatStatus is the status for an unsupported result format;
	// 0 means 400 (the spec does not say whether Looker answers 400 or 422).
	UnknownFormatStatus int

	AppTimezone        string       // Setting.timezone (application time zone); "" means "UTC"
	UserTimezones      bool         // Setting.allow_user_timezones
	ConnectionTimezone string       // DBConnection.query_timezone of connection "warehouse"; "" none
	ZoneFallback       ZoneFallback // zone of a query without query_timezone when user zones are off (see ZoneFallback)
	SettingForbidden   bool         // GET /setting answers 403 (an API user without admin rights)
	// NotReadyStatus is what query_task_results answers while the task is
	// not finished: 202 (0 means 202; spec 4.0.26.x) or 204 (the API
	// reference of releases 23.x–24.16). NOTES §13.3.
	NotReadyStatus int
	// NonStreamingCap is how many rows a result Looker cannot stream
	// returns at most, whatever the limit; 0 means DefaultRowCap (5,000).
	// 50000 models the legacy "all results" cap. NOTES §9, §13.7.
	NonStreamingCap int
	// StreamingDialect is Dialect.supports_streaming of connection
	// "warehouse"; nil means true. With false no result streams.
	StreamingDialect  *bool
	PerUserQueryLimit int // running queries per user; 0 means 15 (NOTES §9, §13.6)
	// QueryLatency models the warehouse's query time: a sync run holds
	// its per-user query slot (it is a running query) for this long before
	// its first byte, as Looker does while the database computes the
	// result. 0 answers at once. Query tasks are scripted instead
	// (ScriptNextTask).
	QueryLatency time.Duration
	QueueTimeout time.Duration // a query queued longer is dropped; 0 means 600 s (NOTES §9)
	// FilterConfigWins models the spec's warning on Query.filter_config:
	// "When running a query via the Looker UI, this parameter takes
	// precedence over filters ... When creating a query or modifying an
	// existing query, filter_config should be set to null. Setting it to
	// any other value could cause unexpected filtering behavior." Whether
	// API runs honour it is undocumented: with true, a query carrying a
	// filter_config runs with the filters it holds, not with filters.
	FilterConfigWins bool
	// RelativeDatesComplete says how a relative date filter such as
	// "7 days" counts (filter-expressions, Date and time): false (the
	// documented reading) includes the current day: today and the six days
	// before; true counts seven complete days ending at the start of
	// today. Both are plausible readings of the docs' wording.
	RelativeDatesComplete bool
	// Dashboards chooses how dashboards and merged-result tiles are
	// served where the docs are silent (see DashboardVariant).
	Dashboards DashboardVariant
	// RenderRetryAfter is the Retry-After (seconds) render_task_results
	// sends with its 202 (spec; 0 means 1) and, when set, render_task
	// sends while the task is not done [inf].
	RenderRetryAfter int
	// RenderResultsLag is how many more 202s render_task_results answers
	// after the task reports success [inf: the spec advises polling
	// render_task, which suggests the two can disagree].
	RenderResultsLag int
	// BareEmptyStrings says how csv writes an empty string, which some
	// rows of orders.note hold (not null). Undocumented; both variants
	// are plausible. false (the default): quoted, "", while a null is
	// written as nothing, as Ruby's CSV writes "" and nil [inf: Looker's
	// backend is a JRuby application; Ruby's CSV quote_empty defaults to
	// true]. true: both as nothing, so csv cannot tell them apart.
	BareEmptyStrings bool
}

// Server is an in-process Looker-compatible API server. All methods are
// safe for concurrent use. Close it when done.
type Server struct {
	hs      *httptest.Server
	opts    Options
	now     func() time.Time
	closing chan struct{}
	closeMu sync.Once
	rows    atomic.Int64 // rows in the orders table: Options.Rows, then SetRows

	mu            sync.Mutex
	tokens        map[string]tokenInfo
	ttl           time.Duration
	faults        []*Fault
	redirects     []redirect
	drops         []int
	stalls        []stall
	trickles      []<-chan struct{}
	inBand        []inBandError
	htmlRuns      int
	counts        map[string]int
	lastQuery     map[string]url.Values
	lastUser      map[string]string
	userLogins    map[string]int
	userZones     map[string]string
	tasks         map[string]*task
	scripts       [][]string
	killed        []string
	nextTask      int
	issued        []string
	logins        int
	logouts       int
	looks         map[string]*look
	nextLook      int
	queries       map[string]*savedQuery // by id
	slugs         map[string]string      // query slug -> id
	queryKeys     map[string]string      // canonical body -> id
	nextQuery     int
	sqlQueries    map[string]*sqlQuery // by slug
	running       map[string]*runningQuery
	maxRunning    int
	slotFreed     chan struct{} // closed and replaced whenever a running query ends
	reqLog        []LoggedRequest
	dashboards    map[string]*dashboard // by id: numeric, or LookML "model::name"
	merges        map[string]*mergeQuery
	renders       map[string]*renderTask
	datagroups    []*datagroup
	renderScripts [][]string
	nextRender    int
}

// NewServer starts a Server; it panics if it cannot listen (like
// httptest.NewServer). Use Start to get the error instead.
func NewServer(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(err)
	}
	return s
}

// Start starts a Server listening on opts.Addr (or a free loopback port).
// It fails on a time zone name that is not an IANA zone.
func Start(opts Options) (*Server, error) {
	if opts.Rows <= 0 {
		opts.Rows = 1000
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.ClientID == "" {
		opts.ClientID = randomString(20)
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = randomString(24)
	}
	if opts.UnknownFormatStatus == 0 {
		opts.UnknownFormatStatus = http.StatusBadRequest
	}
	if opts.AppTimezone == "" {
		opts.AppTimezone = "UTC"
	}
	if opts.NotReadyStatus == 0 {
		opts.NotReadyStatus = http.StatusAccepted
	}
	if opts.NonStreamingCap <= 0 {
		opts.NonStreamingCap = DefaultRowCap
	}
	if opts.PerUserQueryLimit <= 0 {
		opts.PerUserQueryLimit = 15
	}
	if opts.QueueTimeout <= 0 {
		opts.QueueTimeout = 600 * time.Second
	}
	for _, z := range []string{opts.AppTimezone, opts.ConnectionTimezone} {
		if _, err := loadZone(z); err != nil {
			return nil, fmt.Errorf("lookertest: %w", err)
		}
	}
	s := &Server{
		opts:       opts,
		now:        opts.Now,
		closing:    make(chan struct{}),
		tokens:     map[string]tokenInfo{},
		ttl:        opts.TokenTTL,
		counts:     map[string]int{},
		lastQuery:  map[string]url.Values{},
		lastUser:   map[string]string{},
		userLogins: map[string]int{},
		userZones:  map[string]string{},
		tasks:      map[string]*task{},
		looks:      map[string]*look{},
		nextLook:   1000,
		queries:    map[string]*savedQuery{},
		slugs:      map[string]string{},
		queryKeys:  map[string]string{},
		nextQuery:  1000,
		sqlQueries: map[string]*sqlQuery{},
		running:    map[string]*runningQuery{},
		renders:    map[string]*renderTask{},
		slotFreed:  make(chan struct{}),
	}
	s.rows.Store(int64(opts.Rows))
	if s.now == nil {
		s.now = time.Now
	}
	s.addSamples()
	s.addDashboards()
	s.addDatagroups()

	s.hs = httptest.NewUnstartedServer(s.routes())
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			return nil, fmt.Errorf("lookertest: listen on %s: %w", opts.Addr, err)
		}
		_ = s.hs.Listener.Close()
		s.hs.Listener = l
	}
	s.hs.Start()
	return s, nil
}

// URL is the base URL (no trailing slash); the API is at URL()+"/api/4.0".
func (s *Server) URL() string { return s.hs.URL }

// ClientID is the API client id the server accepts.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the API client secret the server accepts.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Close releases stalled and queued requests and shuts the server down.
func (s *Server) Close() {
	s.closeMu.Do(func() { close(s.closing) })
	s.hs.Close()
}

// Requests is the number of requests received for an endpoint, named by
// its API operation id ("login", "run_look", "query_task_results",
// "all_running_queries", "get_setting", "me", "connection", ...), or
// "not_found" for unknown paths. Requests failed by a Fault or answered
// by a redirect are counted too.
func (s *Server) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

// LastQuery is the URL query of the last request for op (see Requests),
// or nil.
func (s *Server) LastQuery(op string) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastQuery[op]
}

// LastUser is the user id whose token made the last request for op (see
// Requests): "1" for the API user, else a sudo user.
func (s *Server) LastUser(op string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastUser[op]
}

// ---- routing ----

// call is one request being served.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	op     string
	method string // lower-case, for documentation URLs
	tmpl   string // path template such as "looks/:look_id/run/:result_format"
	tok    tokenInfo
	token  string
}

// routes maps every modelled operation of the spec (operation ids as in
// Looker.4.0.oas.json) to its handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "POST /login", "login", false, s.login)
	s.route(mux, "GET /versions", "versions", false, s.versions)
	s.route(mux, "POST /login/{user_id}", "login_user", true, s.loginUser)
	s.route(mux, "DELETE /logout", "logout", true, s.logout)
	s.route(mux, "GET /setting", "get_setting", true, s.setting)
	s.route(mux, "GET /user", "me", true, s.me)
	s.route(mux, "GET /users/{user_id}/attribute_values", "user_attribute_user_values", true, s.userAttributeValues)
	s.route(mux, "GET /connections/{connection_name}", "connection", true, s.connection)
	s.route(mux, "GET /looks/{look_id}", "look", true, s.look)
	s.route(mux, "GET /looks/{look_id}/run/{result_format}", "run_look", true, s.runLook)
	s.route(mux, "POST /queries", "create_query", true, s.createQuery)
	s.route(mux, "GET /queries/{query_id}", "query", true, s.query)
	s.route(mux, "GET /queries/slug/{slug}", "query_for_slug", true, s.queryForSlug)
	s.route(mux, "GET /queries/{query_id}/run/{result_format}", "run_query", true, s.runQuery)
	s.route(mux, "POST /queries/run/{result_format}", "run_inline_query", true, s.runInlineQuery)
	s.route(mux, "GET /queries/models/{model_name}/views/{view_name}/run/{result_format}", "run_url_encoded_query", true, s.runURLEncodedQuery)
	s.route(mux, "POST /sql_queries", "create_sql_query", true, s.createSQLQuery)
	s.route(mux, "GET /sql_queries/{slug}", "sql_query", true, s.sqlQuery)
	s.route(mux, "POST /sql_queries/{slug}/run/{result_format}", "run_sql_query", true, s.runSQLQuery)
	s.route(mux, "POST /query_tasks", "create_query_task", true, s.createQueryTask)
	s.route(mux, "GET /query_tasks/{query_task_id}", "query_task", true, s.queryTask)
	s.route(mux, "GET /query_tasks/{query_task_id}/results", "query_task_results", true, s.queryTaskResults)
	s.route(mux, "GET /running_queries", "all_running_queries", true, s.allRunningQueries)
	s.route(mux, "DELETE /running_queries/{query_task_id}", "kill_query", true, s.killQuery)
	s.route(mux, "GET /lookml_models/{lookml_model_name}/explores/{explore_name}", "lookml_model_explore", true, s.exploreHandler)
	s.route(mux, "GET /dashboards/{dashboard_id}", "dashboard", true, s.dashboardHandler)
	s.route(mux, "GET /merge_queries/{merge_query_id}", "merge_query", true, s.mergeQueryHandler)
	s.route(mux, "POST /render_tasks/looks/{look_id}/{result_format}", "create_look_render_task", true, s.createRenderTask)
	s.route(mux, "POST /render_tasks/queries/{query_id}/{result_format}", "create_query_render_task", true, s.createRenderTask)
	s.route(mux, "POST /render_tasks/dashboards/{dashboard_id}/{result_format}", "create_dashboard_render_task", true, s.createRenderTask)
	s.route(mux, "GET /render_tasks/{render_task_id}", "render_task", true, s.renderTaskHandler)
	s.route(mux, "GET /render_tasks/{render_task_id}/results", "render_task_results", true, s.renderTaskResults)
	s.route(mux, "GET /datagroups", "all_datagroups", true, s.datagroupsHandler)
	s.route(mux, "/", "not_found", false, func(c *call) { c.error(http.StatusNotFound, "Not found") })
	return mux
}

var paramRE = regexp.MustCompile(`\{([a-z_]+)\}`)

func (s *Server) route(mux *http.ServeMux, pattern, op string, auth bool, h func(*call)) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	tmpl := strings.TrimPrefix(paramRE.ReplaceAllString(path, ":$1"), "/")
	full := "/api/4.0" + path
	if method != "" {
		full = method + " " + full
	} else {
		full = "/"
	}
	mux.HandleFunc(full, func(w http.ResponseWriter, r *http.Request) {
		c := &call{s: s, w: w, r: r, op: op, method: strings.ToLower(r.Method), tmpl: tmpl}
		if op == "not_found" {
			c.tmpl = strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/4.0"), "/")
		}
		var body []byte
		if r.Body != nil && r.Method != http.MethodGet && op != "login" { // login bodies hold the client secret
			body, _ = io.ReadAll(io.LimitReader(r.Body, maxLoggedBody))
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		}
		s.mu.Lock()
		s.counts[op]++
		s.lastQuery[op] = r.URL.Query()
		logged := LoggedRequest{Op: op, Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/api/4.0"), Query: r.URL.Query(), Body: body}
		if op == "login" {
			logged.Query = nil // credentials may come as query parameters (NOTES §1.1)
		}
		s.logRequest(logged)
		rd := s.takeRedirect(op)
		var f *Fault
		if rd == nil {
			f = s.takeFault(strings.TrimPrefix(r.URL.Path, "/api/4.0"))
		}
		s.mu.Unlock()
		if rd != nil {
			c.redirect(rd)
			return
		}
		if f != nil {
			c.fault(f)
			return
		}
		if auth && !c.authenticate() {
			return
		}
		if auth {
			s.mu.Lock()
			s.lastUser[op] = c.tok.userID
			s.mu.Unlock()
		}
		h(c)
	})
}

// docURL is the documentation_url Looker puts in error bodies (NOTES §8.1).
func (c *call) docURL(status int) string {
	return fmt.Sprintf("https://cloud.google.com/looker/docs/r/err/4.0/%d/%s/%s", status, c.method, c.tmpl)
}

// error answers with Looker's Error body (spec schema Error).
func (c *call) error(status int, message string) {
	c.writeJSON(status, map[string]any{"message": message, "documentation_url": c.docURL(status)})
}

// validation answers 422 with Looker's ValidationError body (spec schema
// ValidationError).
func (c *call) validation(message, field, code, detail string) {
	doc := c.docURL(http.StatusUnprocessableEntity)
	c.writeJSON(http.StatusUnprocessableEntity, map[string]any{
		"message":           message,
		"documentation_url": doc,
		"errors": []map[string]any{{
			"field": field, "code": code, "message": detail, "documentation_url": doc,
		}},
	})
}

func (c *call) writeJSON(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(c.w, err.Error(), http.StatusInternalServerError)
		return
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("lookertest: crypto/rand: " + err.Error())
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}
