package lookertest

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lookerexport/exporter/lookerapi"
)

// DefaultRowCap is how many rows a run without a limit parameter returns at
// most, like Looker's silent 5,000-row default.
const DefaultRowCap = 5000

// Sample content served by every Server.
const (
	LookID    = "42" // Look "Orders export", runs QueryID
	LookTitle = "Orders export"
	QueryID   = "123"       // saved query on thelook/orders with every field of QueryFields
	QuerySlug = "AbC123xyz" // slug of QueryID
	// NonStreamingLookID is a Look whose query (NonStreamingQueryID) has a
	// table calculation, so Looker cannot stream it: like Looker, the
	// server computes such a result whole and caps it at DefaultRowCap
	// rows, even when the run asks for -1 (all rows).
	NonStreamingLookID    = "43"
	NonStreamingLookTitle = "Orders with VAT"
	NonStreamingQueryID   = "124"
	Model                 = modelName      // "thelook"
	ExploreName           = exploreName    // "orders"
	Connection            = connectionName // "warehouse", the SQL Runner connection
)

// QueryFields are the fields of QueryID (and so of LookID), in order.
var QueryFields = []string{
	"orders.id", "orders.created_date", "orders.created_time", "users.name", "users.email", "users.country",
	"orders.status", "orders.amount", "orders.quantity", "orders.is_first_purchase", "orders.discount",
	"orders.note", "products.category", "orders.count", "orders.total_amount",
}

// NonStreamingQueryFields are the fields of NonStreamingQueryID: explore
// fields and the table calculation "amount_with_vat" (orders.amount * 1.2).
var NonStreamingQueryFields = []string{"orders.id", "orders.created_date", "users.country", "orders.amount", "amount_with_vat"}

// nonStreamingDynamicFields is the dynamic_fields of NonStreamingQueryID,
// as Looker stores a table calculation.
const nonStreamingDynamicFields = `[{"category":"table_calculation","expression":"${orders.amount} * 1.2","label":"Amount with VAT","value_format":null,"value_format_name":"eur","_kind_hint":"dimension","table_calculation":"amount_with_vat","_type_hint":"number"}]`

// looks maps the sample Looks to their titles and queries.
var looks = map[string]struct{ title, queryID string }{
	LookID:             {LookTitle, QueryID},
	NonStreamingLookID: {NonStreamingLookTitle, NonStreamingQueryID},
}

// Options configure a Server. The zero value is usable.
type Options struct {
	Addr         string        // listen address such as "127.0.0.1:19999"; "" picks a free loopback port
	ClientID     string        // API client id; generated when empty
	ClientSecret string        // API client secret; generated when empty
	Rows         int           // rows in the orders table; 0 means 1000
	TokenTTL     time.Duration // lifetime (expires_in) of new tokens; 0 means one hour
	Now          func() time.Time
	// UnknownFormatStatus is the status for an unsupported result format;
	// 0 means 400 (the spec does not say whether Looker answers 400 or 422).
	UnknownFormatStatus int
}

// Fault makes the server fail requests before they are authenticated or
// handled, like a proxy or an overloaded Looker would.
type Fault struct {
	Status     int    // status to answer: 4xx get a Looker JSON error body, 5xx an HTML page like a proxy's
	Count      int    // how many matching requests fail; 0 means 1
	PathPrefix string // only requests whose path below /api/4.0 starts with this, e.g. "/looks/"; "" matches all
	PathSuffix string // and ends with this, e.g. "/results"; "" matches all
	RetryAfter string // Retry-After header value; "" sends none
}

// Server is an in-process Looker-compatible API server. All methods are
// safe for concurrent use. Close it when done.
type Server struct {
	hs      *httptest.Server
	opts    Options
	now     func() time.Time
	closing chan struct{}
	closeMu sync.Once

	mu         sync.Mutex
	tokens     map[string]tokenInfo
	ttl        time.Duration
	faults     []*Fault
	drops      []int
	stalls     []stall
	counts     map[string]int
	lastQuery  map[string]url.Values
	lastUser   map[string]string
	userLogins map[string]int
	tasks      map[string]*task
	scripts    [][]string
	killed     []string
	nextTask   int
	issued     []string
	logins     int
	logouts    int
	queries    map[string]*savedQuery // by id
	slugs      map[string]string      // query slug -> id
	queryKeys  map[string]string      // canonical body -> id
	nextQuery  int
	sqlQueries map[string]*sqlQuery // by slug
}

type tokenInfo struct {
	userID  string
	admin   bool
	expires time.Time
}

type stall struct {
	release      <-chan struct{}
	arrived      chan struct{}
	afterHeaders bool
}

type savedQuery struct {
	id, slug string
	q        lookerapi.Query
}

type sqlQuery struct {
	slug, connection, model, sql string
	limit                        int // -1 when the SQL has no LIMIT
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
		tasks:      map[string]*task{},
		queries:    map[string]*savedQuery{},
		slugs:      map[string]string{},
		queryKeys:  map[string]string{},
		nextQuery:  1000,
		sqlQueries: map[string]*sqlQuery{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	q := &savedQuery{id: QueryID, slug: QuerySlug, q: lookerapi.Query{
		Model: modelName, View: exploreName, Fields: slices.Clone(QueryFields), Sorts: []string{"orders.id"},
	}}
	s.queries[q.id] = q
	s.slugs[q.slug] = q.id
	q = &savedQuery{id: NonStreamingQueryID, slug: "VaT124tc", q: lookerapi.Query{
		Model: modelName, View: exploreName, Fields: slices.Clone(NonStreamingQueryFields), Sorts: []string{"orders.id"},
		DynamicFields: nonStreamingDynamicFields,
	}}
	s.queries[q.id] = q
	s.slugs[q.slug] = q.id

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

// Close releases stalled requests and shuts the server down.
func (s *Server) Close() {
	s.closeMu.Do(func() { close(s.closing) })
	s.hs.Close()
}

// Rows is how many rows a run returns given the limit the run asked for:
// 0 (no limit parameter) caps at DefaultRowCap, -1 returns all of
// Options.Rows, n > 0 caps at n. SQL Runner runs return Rows(-1) unless their
// SQL ends in LIMIT n. Output row i is table row i (see Value), except for
// queries with plain string filters, which return only the matching rows.
func (s *Server) Rows(limit int64) int {
	n := s.opts.Rows
	switch {
	case limit == 0:
		return min(n, DefaultRowCap)
	case limit < 0:
		return n
	default:
		return int(min(int64(n), limit))
	}
}

// Fields are the columns src returns, in order.
func (s *Server) Fields(src lookerapi.Source) ([]Field, error) {
	var defs []*fieldDef
	switch {
	case src.LookID != "":
		l, ok := looks[src.LookID]
		if !ok {
			return nil, fmt.Errorf("lookertest: no look %q", src.LookID)
		}
		return s.Fields(lookerapi.Source{QueryID: l.queryID})
	case src.QueryID != "":
		s.mu.Lock()
		q, ok := s.queries[src.QueryID]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("lookertest: no query %q", src.QueryID)
		}
		return s.Fields(lookerapi.Source{Query: &q.q})
	case src.QuerySlug != "":
		s.mu.Lock()
		id, ok := s.slugs[src.QuerySlug]
		s.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("lookertest: no query slug %q", src.QuerySlug)
		}
		return s.Fields(lookerapi.Source{QueryID: id})
	case src.Query != nil:
		var err error
		if defs, _, err = resolveQuery(*src.Query); err != nil {
			return nil, err
		}
	case src.SQL != nil:
		defs = sqlColumns
	default:
		return nil, errors.New("lookertest: empty source")
	}
	out := make([]Field, len(defs))
	for i, d := range defs {
		out[i] = d.Field
	}
	return out, nil
}

// SetTokenTTL sets the lifetime (expires_in) of tokens issued from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = d
}

// ExpireTokens makes every issued token invalid: the next call with any of
// them gets 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// FailNext queues a fault. Faults are matched in the order queued.
func (s *Server) FailNext(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// DropNextRun makes the next run (any run endpoint) send afterRows rows and
// then close the connection without finishing the body, so the client reads
// an unexpected EOF.
func (s *Server) DropNextRun(afterRows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops = append(s.drops, afterRows)
}

// StallNextRun makes the next run wait until release is closed (or the
// client goes away, or the server closes): before sending the response
// headers, or, with afterHeaders, after the headers but before the first
// row. The returned channel is closed when the stalled run arrives.
func (s *Server) StallNextRun(release <-chan struct{}, afterHeaders bool) <-chan struct{} {
	st := stall{release: release, arrived: make(chan struct{}), afterHeaders: afterHeaders}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalls = append(s.stalls, st)
	return st.arrived
}

// Logins is the number of successful logins (POST /login).
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Logouts is the number of successful logouts.
func (s *Server) Logouts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logouts
}

// Requests is the number of requests received for an endpoint, named by
// its API operation id: "login", "login_user", "logout", "look",
// "run_look", "query", "query_for_slug", "create_query", "run_query",
// "run_inline_query", "run_url_encoded_query", "create_sql_query",
// "sql_query", "run_sql_query", or "not_found" for unknown paths. Requests
// failed by a Fault are counted too.
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

// Tokens lists every access token issued so far, revoked ones included, so
// tests can check that none leaks into logs or errors.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
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

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "POST /login", "login", false, s.login)
	s.route(mux, "POST /login/{user_id}", "login_user", true, s.loginUser)
	s.route(mux, "DELETE /logout", "logout", true, s.logout)
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
	s.route(mux, "DELETE /running_queries/{query_task_id}", "kill_query", true, s.killQuery)
	s.route(mux, "GET /lookml_models/{lookml_model_name}/explores/{explore_name}", "lookml_model_explore", true, s.exploreHandler)
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
		s.mu.Lock()
		s.counts[op]++
		s.lastQuery[op] = r.URL.Query()
		f := s.takeFault(strings.TrimPrefix(r.URL.Path, "/api/4.0"))
		s.mu.Unlock()
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

// takeFault returns the first queued fault matching path and uses it up.
// s.mu must be held.
func (s *Server) takeFault(path string) *Fault {
	for i, f := range s.faults {
		if !strings.HasPrefix(path, f.PathPrefix) || !strings.HasSuffix(path, f.PathSuffix) {
			continue
		}
		out := *f
		f.Count--
		if f.Count <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return &out
	}
	return nil
}

func (c *call) fault(f *Fault) {
	if f.RetryAfter != "" {
		c.w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Status >= 500 {
		c.w.Header().Set("Content-Type", "text/html")
		c.w.WriteHeader(f.Status)
		text := fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))
		fmt.Fprintf(c.w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", text, text)
		return
	}
	msg := http.StatusText(f.Status)
	switch f.Status {
	case http.StatusUnauthorized:
		msg = "Requires authentication."
	case http.StatusTooManyRequests:
		msg = "Too many requests. Please try again later."
	}
	c.error(f.Status, msg)
}

func (c *call) authenticate() bool {
	h := c.r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "bearer") || tok == "" {
		c.error(http.StatusUnauthorized, "Requires authentication.")
		return false
	}
	c.s.mu.Lock()
	info, ok := c.s.tokens[tok]
	if ok && !c.s.now().Before(info.expires) {
		delete(c.s.tokens, tok)
		ok = false
	}
	c.s.mu.Unlock()
	if !ok {
		c.error(http.StatusUnauthorized, "Requires authentication.")
		return false
	}
	c.tok, c.token = info, tok
	return true
}

func (c *call) docURL(status int) string {
	return fmt.Sprintf("https://cloud.google.com/looker/docs/r/err/4.0/%d/%s/%s", status, c.method, c.tmpl)
}

// error answers with Looker's Error body.
func (c *call) error(status int, message string) {
	c.writeJSON(status, map[string]any{"message": message, "documentation_url": c.docURL(status)})
}

// validation answers 422 with Looker's ValidationError body.
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

// ---- auth ----

func (s *Server) issueToken(userID string, admin bool) map[string]any {
	tok := randomString(40)
	s.mu.Lock()
	ttl := s.ttl
	s.tokens[tok] = tokenInfo{userID: userID, admin: admin, expires: s.now().Add(ttl)}
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	return map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int64(ttl / time.Second), "refresh_token": nil}
}

func (s *Server) login(c *call) {
	if err := c.r.ParseForm(); err != nil {
		c.error(http.StatusBadRequest, "Could not parse the login form.")
		return
	}
	id, secret := c.r.Form.Get("client_id"), c.r.Form.Get("client_secret")
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	if !okID || !okSecret {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	body := s.issueToken("1", true)
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, body)
}

func (s *Server) loginUser(c *call) {
	if !c.tok.admin {
		c.error(http.StatusForbidden, "Permission Denied")
		return
	}
	uid := c.r.PathValue("user_id")
	if n, err := strconv.Atoi(uid); err != nil || n <= 0 || n > MaxUserID {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	body := s.issueToken(uid, false)
	s.mu.Lock()
	s.userLogins[uid]++
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, body)
}

func (s *Server) logout(c *call) {
	s.mu.Lock()
	delete(s.tokens, c.token)
	s.logouts++
	s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
}

// ---- looks and queries ----

func (s *Server) lookQuery(c *call) (*savedQuery, bool) {
	l, ok := looks[c.r.PathValue("look_id")]
	if !ok {
		c.error(http.StatusNotFound, "Not found")
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[l.queryID], true
}

func queryJSON(q *savedQuery) map[string]any {
	return map[string]any{
		"id": q.id, "slug": q.slug, "model": q.q.Model, "view": q.q.View, "fields": q.q.Fields,
		"pivots": q.q.Pivots, "fill_fields": q.q.FillFields, "filters": q.q.Filters,
		"filter_expression": nilIfEmpty(q.q.FilterExpression), "sorts": q.q.Sorts, "limit": nilIfEmpty(q.q.Limit),
		"column_limit": nilIfEmpty(q.q.ColumnLimit), "total": q.q.Total, "row_total": nilIfEmpty(q.q.RowTotal),
		"dynamic_fields": nilIfEmpty(q.q.DynamicFields), "query_timezone": nilIfEmpty(q.q.QueryTimezone),
		"vis_config": map[string]any{"type": "looker_grid"}, "filter_config": nil, "client_id": nil,
		"has_table_calculations": hasTableCalcs(q.q), "subtotals": q.q.Subtotals,
		"share_url": "/x/" + q.slug, "url": "/explore/" + q.q.Model + "/" + q.q.View + "?qid=" + q.slug,
		"can": map[string]bool{"run": true, "see_results": true, "explore": true, "create": true, "show": true},
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) look(c *call) {
	q, ok := s.lookQuery(c)
	if !ok {
		return
	}
	id := c.r.PathValue("look_id")
	c.writeJSON(http.StatusOK, map[string]any{
		"id": id, "title": looks[id].title, "query_id": q.id, "query": queryJSON(q),
		"model": map[string]any{"id": modelName, "label": "The Look"}, "public": false,
		"can": map[string]bool{"run": true, "see_results": true, "show": true},
	})
}

func (s *Server) runLook(c *call) {
	if q, ok := s.lookQuery(c); ok {
		s.runSaved(c, q)
	}
}

func (s *Server) savedQuery(c *call, id string) (*savedQuery, bool) {
	s.mu.Lock()
	q, ok := s.queries[id]
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusNotFound, "Not found")
	}
	return q, ok
}

func (s *Server) query(c *call) {
	if q, ok := s.savedQuery(c, c.r.PathValue("query_id")); ok {
		c.writeJSON(http.StatusOK, queryJSON(q))
	}
}

func (s *Server) queryForSlug(c *call) {
	s.mu.Lock()
	id, ok := s.slugs[c.r.PathValue("slug")]
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	s.query(withID(c, id))
}

func withID(c *call, id string) *call {
	c.r.SetPathValue("query_id", id)
	return c
}

func (s *Server) runQuery(c *call) {
	if q, ok := s.savedQuery(c, c.r.PathValue("query_id")); ok {
		s.runSaved(c, q)
	}
}

// readQuery decodes a Query body, answering the error itself.
func readQuery(c *call) (lookerapi.Query, bool) {
	var q lookerapi.Query
	dec := json.NewDecoder(io.LimitReader(c.r.Body, 1<<20))
	if err := dec.Decode(&q); err != nil {
		c.error(http.StatusBadRequest, "Could not parse JSON body: "+err.Error())
		return q, false
	}
	if q.Model == "" {
		c.validation("Validation Failed", "model", "missing", "This field is required.")
		return q, false
	}
	if q.View == "" {
		c.validation("Validation Failed", "view", "missing", "This field is required.")
		return q, false
	}
	return q, true
}

// queryError is a query the explore cannot run.
type queryError struct {
	status int
	msg    string
}

func (e *queryError) Error() string { return e.msg }

// resolveQuery checks q against thelook/orders and returns its fields and
// the row filter its plain string filters make (nil when none).
func resolveQuery(q lookerapi.Query) ([]*fieldDef, func(int) bool, error) {
	if q.Model != modelName {
		return nil, nil, &queryError{http.StatusNotFound, fmt.Sprintf("model '%s' not found", q.Model)}
	}
	if q.View != exploreName {
		return nil, nil, &queryError{http.StatusNotFound, fmt.Sprintf("explore '%s' not found in model '%s'", q.View, q.Model)}
	}
	if len(q.Fields) == 0 {
		return nil, nil, &queryError{http.StatusBadRequest, "Must query at least one dimension or measure."}
	}
	if len(q.Pivots) > 0 {
		return nil, nil, &queryError{http.StatusBadRequest, "lookertest does not support pivots."}
	}
	calcs, err := tableCalcs(q.DynamicFields)
	if err != nil {
		return nil, nil, err
	}
	defs := make([]*fieldDef, 0, len(q.Fields))
	for _, name := range q.Fields {
		if d, ok := calcs[name]; ok {
			defs = append(defs, d)
			continue
		}
		d, ok := byName[name]
		if !ok || d.Name != name {
			return nil, nil, &queryError{http.StatusBadRequest, fmt.Sprintf("Unknown field(s) in explore '%s': %s", q.View, name)}
		}
		defs = append(defs, d)
	}
	type cond struct {
		f   *fieldDef
		val string
	}
	var conds []cond
	for name, val := range q.Filters {
		d, ok := byName[name]
		if !ok || d.Name != name {
			return nil, nil, &queryError{http.StatusBadRequest, fmt.Sprintf("Unknown filter field in explore '%s': %s", q.View, name)}
		}
		// Only a plain value on a string dimension filters; Looker filter
		// expressions (ranges, wildcards, lists, negation) are ignored.
		if d.Type == "string" && d.Category == "dimension" && val != "" && !strings.ContainsAny(val, ",%^-_\"") {
			conds = append(conds, cond{d, val})
		}
	}
	if len(conds) == 0 {
		return defs, nil, nil
	}
	match := func(row int) bool {
		var buf [128]byte
		for _, c := range conds {
			v, null := c.f.appendValue(buf[:0], row)
			if null || string(v) != c.val {
				return false
			}
		}
		return true
	}
	return defs, match, nil
}

func (s *Server) createQuery(c *call) {
	q, ok := readQuery(c)
	if !ok {
		return
	}
	if _, _, err := resolveQuery(q); err != nil {
		qe := err.(*queryError)
		c.error(qe.status, qe.msg)
		return
	}
	key, _ := json.Marshal(q)
	s.mu.Lock()
	id, exists := s.queryKeys[string(key)]
	if !exists {
		s.nextQuery++
		id = strconv.Itoa(s.nextQuery)
		sq := &savedQuery{id: id, slug: randomString(10), q: q}
		s.queries[id] = sq
		s.slugs[sq.slug] = id
		s.queryKeys[string(key)] = id
	}
	sq := s.queries[id]
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, queryJSON(sq))
}

func (s *Server) runInlineQuery(c *call) {
	q, ok := readQuery(c)
	if !ok {
		return
	}
	s.runSaved(c, &savedQuery{q: q})
}

func (s *Server) runURLEncodedQuery(c *call) {
	v := c.r.URL.Query()
	q := lookerapi.Query{Model: c.r.PathValue("model_name"), View: c.r.PathValue("view_name"), Limit: v.Get("limit")}
	if f := v.Get("fields"); f != "" {
		q.Fields = strings.Split(f, ",")
	}
	for k, vals := range v {
		if strings.HasPrefix(k, "f[") && strings.HasSuffix(k, "]") && len(vals) > 0 {
			if q.Filters == nil {
				q.Filters = map[string]string{}
			}
			q.Filters[k[2:len(k)-1]] = vals[0]
		}
	}
	// The limit parameter here is the query's own limit, not a run option.
	c.r.URL.RawQuery = ""
	s.runSaved(c, &savedQuery{q: q})
}

// runSaved runs a query on thelook/orders.
func (s *Server) runSaved(c *call, q *savedQuery) {
	defs, match, err := resolveQuery(q.q)
	if err != nil {
		qe := err.(*queryError)
		c.error(qe.status, qe.msg)
		return
	}
	limit, ok := c.limitParam()
	if !ok {
		return
	}
	if limit == 0 && q.q.Limit != "" {
		if n, err := strconv.ParseInt(q.q.Limit, 10, 64); err == nil {
			limit = n
		}
	}
	rows := s.Rows(limit)
	sqlLimit := rows
	if limit < 0 {
		sqlLimit = -1
	}
	if streams, _ := lookerapi.Streams(q.q); !streams {
		// Looker computes a result it cannot stream in memory and caps it,
		// silently, whatever the limit asked for.
		rows = min(rows, DefaultRowCap)
	}
	s.serveRows(c, defs, rows, match, func() []byte {
		return jsonBiMetadata(defs, generatedSQL(defs, sqlLimit), q.q.Filters, false)
	}, generatedSQL(defs, sqlLimit))
}

// limitParam parses the limit run parameter: 0 when absent.
func (c *call) limitParam() (int64, bool) {
	l := c.r.URL.Query().Get("limit")
	if l == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil {
		c.error(http.StatusBadRequest, "limit must be an integer")
		return 0, false
	}
	return n, true
}

// ---- SQL Runner ----

var sqlLimitRE = regexp.MustCompile(`(?is)\blimit\s+(\d+)\s*;?\s*$`)

func (s *Server) createSQLQuery(c *call) {
	var body struct {
		ConnectionName string `json:"connection_name"`
		ModelName      string `json:"model_name"`
		SQL            string `json:"sql"`
	}
	if err := json.NewDecoder(io.LimitReader(c.r.Body, 1<<20)).Decode(&body); err != nil {
		c.error(http.StatusBadRequest, "Could not parse JSON body: "+err.Error())
		return
	}
	switch {
	case body.ConnectionName == "" && body.ModelName == "":
		c.validation("Validation Failed", "connection_name", "missing", "Either connection_name or model_name must be provided.")
		return
	case body.ConnectionName != "" && body.ConnectionName != connectionName:
		c.error(http.StatusNotFound, fmt.Sprintf("Connection '%s' not found", body.ConnectionName))
		return
	case body.ConnectionName == "" && body.ModelName != modelName:
		c.error(http.StatusNotFound, fmt.Sprintf("Model '%s' not found", body.ModelName))
		return
	case strings.TrimSpace(body.SQL) == "":
		c.validation("Validation Failed", "sql", "missing", "This field is required.")
		return
	}
	q := &sqlQuery{slug: randomString(22), connection: connectionName, model: body.ModelName, sql: body.SQL, limit: -1}
	if m := sqlLimitRE.FindStringSubmatch(body.SQL); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			q.limit = n
		}
	}
	s.mu.Lock()
	s.sqlQueries[q.slug] = q
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, sqlQueryJSON(q))
}

func sqlQueryJSON(q *sqlQuery) map[string]any {
	return map[string]any{
		"slug": q.slug, "sql": q.sql, "model_name": nilIfEmpty(q.model), "run_count": 0, "browser_limit": DefaultRowCap,
		"last_runtime": nil, "last_run_at": nil, "plaintext": false, "vis_config": nil, "result_maker_id": nil,
		"connection":  map[string]any{"name": q.connection, "dialect": map[string]any{"name": "postgres"}},
		"explore_url": "/sql/" + q.slug,
		"can":         map[string]bool{"run": true, "show": true},
	}
}

func (s *Server) sqlQueryBySlug(c *call) (*sqlQuery, bool) {
	s.mu.Lock()
	q, ok := s.sqlQueries[c.r.PathValue("slug")]
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusNotFound, "Not found")
	}
	return q, ok
}

func (s *Server) sqlQuery(c *call) {
	if q, ok := s.sqlQueryBySlug(c); ok {
		c.writeJSON(http.StatusOK, sqlQueryJSON(q))
	}
}

func (s *Server) runSQLQuery(c *call) {
	q, ok := s.sqlQueryBySlug(c)
	if !ok {
		return
	}
	rows := s.Rows(-1)
	if q.limit >= 0 {
		rows = min(rows, q.limit)
	}
	s.serveRows(c, sqlColumns, rows, nil, func() []byte {
		return jsonBiMetadata(sqlColumns, q.sql, nil, true)
	}, q.sql)
}

// ---- streaming results ----

// serveRows streams a result of n rows (the first n matching rows when
// match is set) in the format named by the result_format path value.
func (s *Server) serveRows(c *call, defs []*fieldDef, n int, match func(int) bool, meta func() []byte, sqlText string) {
	format := c.r.PathValue("result_format")
	ct, ok := contentTypes[format]
	if !ok {
		c.error(s.opts.UnknownFormatStatus, fmt.Sprintf("Unsupported result format '%s'.", format))
		return
	}
	s.mu.Lock()
	drop := -1
	if len(s.drops) > 0 {
		drop, s.drops = s.drops[0], s.drops[1:]
	}
	var st *stall
	if len(s.stalls) > 0 {
		st = &s.stalls[0]
		s.stalls = s.stalls[1:]
	}
	s.mu.Unlock()

	if st != nil {
		close(st.arrived)
		if !st.afterHeaders && !s.wait(c, st.release) {
			return
		}
	}
	c.w.Header().Set("Content-Type", ct)
	c.w.WriteHeader(http.StatusOK)
	flusher, _ := c.w.(http.Flusher)
	if st != nil && st.afterHeaders {
		if flusher != nil {
			flusher.Flush()
		}
		if !s.wait(c, st.release) {
			return
		}
	}

	bw := bufio.NewWriterSize(c.w, 64<<10)
	if format == "sql" {
		_, _ = bw.WriteString(sqlText)
		_ = bw.Flush()
		return
	}
	enc := newEncoder(format, defs)
	var metaBytes []byte
	if format == "json_bi" {
		metaBytes = meta()
	}
	if _, err := bw.Write(enc.header(metaBytes)); err != nil {
		return
	}
	sent := 0
	for row := 0; sent < n && row < s.opts.Rows; row++ {
		if match != nil && !match(row) {
			continue
		}
		if sent == drop {
			s.dropConn(c, bw, flusher)
			return
		}
		if _, err := bw.Write(enc.row(row)); err != nil {
			return // client went away
		}
		sent++
		if sent%4096 == 0 {
			if bw.Flush() != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	if sent == drop {
		s.dropConn(c, bw, flusher)
		return
	}
	_, _ = bw.Write(enc.footer())
	_ = bw.Flush()
}

// wait blocks until release is closed; false if the client or the server
// went away first.
func (s *Server) wait(c *call, release <-chan struct{}) bool {
	select {
	case <-release:
		return true
	case <-c.r.Context().Done():
		return false
	case <-s.closing:
		return false
	}
}

// dropConn sends what was written and closes the connection mid-body.
func (s *Server) dropConn(c *call, bw *bufio.Writer, flusher http.Flusher) {
	_ = bw.Flush()
	if flusher != nil {
		flusher.Flush()
	}
	hj, ok := c.w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
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
