package lookerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// SavedQuery is a saved Looker query as GET /queries/... returns it.
type SavedQuery struct {
	ID    string // Looker query id
	Slug  string
	Query Query
}

// Look is the part of a Look the exporter uses.
type Look struct {
	ID      string
	Title   string
	QueryID string
	Query   *SavedQuery // the Look's query, when Looker sent it
}

var formatRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Run runs src and returns its result body as a stream. With opts.Mode
// ModeSync (the default):
//
//	LookID     GET  /looks/{id}/run/{fmt}
//	QueryID    GET  /queries/{id}/run/{fmt}
//	QuerySlug  GET  /queries/slug/{slug}, then GET /queries/{id}/run/{fmt}
//	Query      POST /queries, then GET /queries/{id}/run/{fmt}
//	SQL.Slug   POST /sql_queries/{slug}/run/{fmt}
//	SQL text   POST /sql_queries, then POST /sql_queries/{slug}/run/{fmt}
//
// With ModeAsync the query id is found first (POST /queries for an inline
// query), then the query runs as a query task (see RunQueryTask). SQL
// Runner sources always run sync.
//
// Time zones (NOTES §13.1): Looker renders datetimes without an offset in
// the query's zone, so Run makes sure it knows that zone and reports it in
// Result.Timezone and Result.TimezoneSource. An inline query always
// carries query_timezone: opts.QueryTimezone, else its own, else UTC. For a
// Look, saved query or slug, Run first reads the saved query
// (GET /looks/{id} with its query, GET /queries/{id},
// GET /queries/slug/{slug}); when opts.QueryTimezone is set and differs
// from the saved zone, it saves the query again with that zone
// (POST /queries: same fields, filters, sorts, limit...; filter_config and
// client_id cleared) and runs the new query by id. A saved query without a
// zone, run without opts.QueryTimezone, runs in Looker's fallback, read
// from GET /setting: with user-specific time zones on that is the user's
// zone, which API 4.0 does not show, so Run fails; otherwise it is pinned
// to the application zone the same way. A run whose zone cannot be told
// fails with a permanent *Error wrapping ErrTimezoneUnknown that says to
// set query_timezone on the job. SQL Runner results are never converted
// (Timezone ""). Run also reads the query's explore, for the fields
// declared convert_tz: no (Result.LocalFields) and the header labels
// below.
//
// Stopping: a sync run that stops early (ctx ends, the header timeout,
// the read-idle timeout, or Body closed before its end) kills its query
// in Looker (see GET /running_queries); a header timeout is never sent
// again by the Client: it fails as a retryable *Error wrapping ErrTimeout.
//
// Limits: the limit parameter is sent as opts.Limit (0 means -1, all
// rows), so Looker's silent 5,000-row default never applies; with
// opts.SavedLimit none is sent and the saved query's limit applies.
// Result.SavedLimit and Result.AppliedLimit show both. SQL Runner runs
// take no run options (the SQL's own LIMIT rules).
//
// In-band errors (NOTES §13.2): Looker can answer 200 with an error in
// the body. Result.Body is checked as it is read: the Content-Type must
// fit the result format, no format but html may be an HTML page, JSON
// bodies must hold no "looker_error" key anywhere, a csv or txt body must
// start with a header (not looker_error, not an error text; the fields'
// labels when they are known), and an xlsx body must be a zip archive.
// On a mismatch Read fails with a permanent *Error wrapping ErrInBandError
// whose Message is the database's message (or a snippet of the body), and
// hands out nothing more.
//
// With opts.RunAs every call runs as that Looker user. The run holds one
// of the query slots of its Looker user until Result.Body is closed; the
// caller must close it. Reading it fails with a retryable *Error (wrapping
// io.ErrUnexpectedEOF or the network error) if the connection drops before
// the body is complete. Every *Error names src in its Source.
func (c *Client) Run(ctx context.Context, src Source, opts RunOptions) (*Result, error) {
	if src.DashboardID != "" {
		return nil, &Error{Source: src.String(), Op: "run", Message: "Looker's API runs no dashboard: run its tiles (Dashboard, TileQueries, RunTile) or render it (Render)"}
	}
	if n := countSet(src); n != 1 {
		return nil, &Error{Op: "run", Message: fmt.Sprintf("the source must set exactly one of look id, query id, query slug, query or sql; %d are set", n)}
	}
	name := src.String()
	if opts.Mode != "" && opts.Mode != ModeSync && opts.Mode != ModeAsync {
		return nil, &Error{Source: name, Op: "run", Message: fmt.Sprintf("run mode %q is not sync or async", opts.Mode)}
	}
	if err := checkLimit(opts); err != nil {
		return nil, withSource(err, name)
	}
	if err := checkFormat("run", opts.ResultFormat); err != nil {
		return nil, withSource(err, name)
	}
	p, err := c.plan(ctx, src, opts)
	if err != nil {
		return nil, withSource(err, name)
	}
	if p.typedColumns(opts) != nil {
		opts.ResultFormat, opts.DecodesJSON = "csv", false
	}
	opts.header = p.labels
	var res *Result
	if opts.Mode == ModeAsync && p.queryID != "" {
		res, err = c.runTask(ctx, name, p.queryID, p.lookID, opts)
	} else {
		res, err = c.runSource(ctx, name, p.src, p.queryID, opts)
	}
	if err != nil {
		return nil, err
	}
	return p.finish(res, opts), nil
}

// runSource runs src (see Run); name is what errors call it. queryID,
// when known, is the query a Look runs: a kill finds the run by it
// without reading the Look again.
func (c *Client) runSource(ctx context.Context, name string, src Source, queryID string, opts RunOptions) (*Result, error) {
	switch opts.Mode {
	case "", ModeSync:
	case ModeAsync:
		if src.SQL == nil {
			queryID, lookID, err := c.queryIDFor(ctx, src, opts.RunAs)
			if err != nil {
				return nil, withSource(err, name)
			}
			return c.runTask(ctx, name, queryID, lookID, opts)
		}
	default:
		return nil, &Error{Source: name, Op: "run", Message: fmt.Sprintf("run mode %q is not sync or async", opts.Mode)}
	}
	switch {
	case src.LookID != "":
		r, err := runRequest("run_look", http.MethodGet, "/looks/%s/run/%s", src.LookID, opts)
		if err != nil {
			return nil, withSource(err, name)
		}
		r.source = name
		return c.run(ctx, r, syncQuery{lookID: src.LookID, queryID: queryID}, opts)
	case src.QueryID != "":
		r, err := runRequest("run_query", http.MethodGet, "/queries/%s/run/%s", src.QueryID, opts)
		if err != nil {
			return nil, withSource(err, name)
		}
		r.source = name // a look's query run by id is still the look for the user
		return c.run(ctx, r, syncQuery{queryID: src.QueryID}, opts)
	case src.QuerySlug != "":
		q, err := c.querySlug(ctx, src.QuerySlug, opts.RunAs)
		if err != nil {
			return nil, withSource(err, name)
		}
		r, err := runRequest("run_query", http.MethodGet, "/queries/%s/run/%s", q.ID, opts)
		if err != nil {
			return nil, withSource(err, name)
		}
		r.source = name
		return c.run(ctx, r, syncQuery{queryID: q.ID}, opts)
	case src.Query != nil:
		return c.runInlineByID(ctx, *src.Query, opts)
	default:
		slug := src.SQL.Slug
		if slug == "" {
			var err error
			if slug, err = c.createSQLQuery(ctx, *src.SQL, opts.RunAs); err != nil {
				return nil, withSource(err, name)
			}
		}
		r, err := runRequest("run_sql_query", http.MethodPost, "/sql_queries/%s/run/%s", slug, opts)
		if err != nil {
			return nil, withSource(err, name)
		}
		r.query = nil
		r.source = name
		return c.run(ctx, r, syncQuery{sqlSlug: slug}, opts)
	}
}

// queryIDFor finds the query id of a Look, saved query, slug or inline
// query (creating the inline query: POST /queries). lookID is the Look's
// id for a Look source.
func (c *Client) queryIDFor(ctx context.Context, src Source, as string) (queryID, lookID string, err error) {
	switch {
	case src.LookID != "":
		l, err := c.look(ctx, src.LookID, as, "id,query_id")
		if err != nil {
			return "", "", err
		}
		if l.QueryID == "" {
			return "", "", &Error{Op: "look", Method: http.MethodGet, Path: "/api/4.0/looks/" + src.LookID, Message: "Looker returned the Look without a query_id"}
		}
		return l.QueryID, l.ID, nil
	case src.QueryID != "":
		return src.QueryID, "", nil
	case src.QuerySlug != "":
		q, err := c.querySlug(ctx, src.QuerySlug, as)
		if err != nil {
			return "", "", err
		}
		return q.ID, "", nil
	case src.Query != nil:
		q, err := c.createQuery(ctx, *src.Query, as)
		if err != nil {
			return "", "", err
		}
		return q.ID, "", nil
	}
	return "", "", &Error{Op: "run", Message: "a SQL Runner query has no query id"}
}

func countSet(s Source) int {
	n := 0
	for _, set := range []bool{s.LookID != "", s.QueryID != "", s.QuerySlug != "", s.Query != nil, s.SQL != nil, s.DashboardID != ""} {
		if set {
			n++
		}
	}
	return n
}

// RunLook runs a Look: GET /looks/{look_id}/run/{result_format}.
func (c *Client) RunLook(ctx context.Context, lookID string, opts RunOptions) (*Result, error) {
	r, err := runRequest("run_look", http.MethodGet, "/looks/%s/run/%s", lookID, opts)
	if err != nil {
		return nil, withSource(err, "look "+lookID)
	}
	r.source = "look " + lookID
	return c.run(ctx, r, syncQuery{lookID: lookID}, opts)
}

// RunQuery runs a saved query: GET /queries/{query_id}/run/{result_format}.
func (c *Client) RunQuery(ctx context.Context, queryID string, opts RunOptions) (*Result, error) {
	r, err := runRequest("run_query", http.MethodGet, "/queries/%s/run/%s", queryID, opts)
	if err != nil {
		return nil, withSource(err, "query "+queryID)
	}
	r.source = "query " + queryID
	return c.run(ctx, r, syncQuery{queryID: queryID}, opts)
}

// RunInlineQuery runs q without saving it: POST /queries/run/{result_format}.
// Such a run has no query id to find it by, so it is not killed in Looker
// when it stops early; Run saves an inline query first for that reason.
func (c *Client) RunInlineQuery(ctx context.Context, q Query, opts RunOptions) (*Result, error) {
	name := Source{Query: &q}.String()
	body, err := json.Marshal(q)
	if err != nil {
		return nil, &Error{Source: name, Op: "run_inline_query", Message: "encoding the query", Err: err}
	}
	if err := checkFormat("run_inline_query", opts.ResultFormat); err != nil {
		return nil, withSource(err, name)
	}
	r := &request{op: "run_inline_query", method: http.MethodPost, path: "/queries/run/" + opts.ResultFormat,
		query: runParams(opts), body: body, contentType: "application/json", as: opts.RunAs, source: name,
		check: &resultCheck{format: opts.ResultFormat, header: opts.header, headOnly: opts.DecodesJSON}}
	return c.run(ctx, r, syncQuery{}, opts)
}

// RunSQLQuery runs a SQL Runner query:
// POST /sql_queries/{slug}/run/{result_format}. Only opts.ResultFormat and
// opts.RunAs are used: the endpoint takes no run options.
func (c *Client) RunSQLQuery(ctx context.Context, slug string, opts RunOptions) (*Result, error) {
	r, err := runRequest("run_sql_query", http.MethodPost, "/sql_queries/%s/run/%s", slug, opts)
	if err != nil {
		return nil, withSource(err, "sql query "+slug)
	}
	r.query = nil
	r.source = "sql query " + slug
	return c.run(ctx, r, syncQuery{sqlSlug: slug}, opts)
}

// QueryForSlug looks a saved query up by its slug: GET /queries/slug/{slug}.
func (c *Client) QueryForSlug(ctx context.Context, slug string) (*SavedQuery, error) {
	return c.querySlug(ctx, slug, "")
}

func (c *Client) querySlug(ctx context.Context, slug, as string) (*SavedQuery, error) {
	if slug == "" {
		return nil, &Error{Op: "query_for_slug", Message: "the query slug is empty"}
	}
	return c.getQuery(ctx, &request{op: "query_for_slug", method: http.MethodGet, path: "/queries/slug/" + url.PathEscape(slug), as: as})
}

func (c *Client) getQuery(ctx context.Context, r *request) (*SavedQuery, error) {
	var raw struct {
		ID   json.RawMessage `json:"id"`
		Slug string          `json:"slug"`
		Query
	}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	id := idString(raw.ID)
	if id == "" {
		return nil, &Error{Op: r.op, Method: r.method, Path: r.fullPath(), Message: "Looker returned a query without an id"}
	}
	return &SavedQuery{ID: id, Slug: raw.Slug, Query: raw.Query}, nil
}

// Look fetches a Look with its query: GET /looks/{look_id}.
func (c *Client) Look(ctx context.Context, lookID string) (*Look, error) {
	return c.look(ctx, lookID, "", "id,title,query_id,query")
}

func (c *Client) look(ctx context.Context, lookID, as, fields string) (*Look, error) {
	if lookID == "" {
		return nil, &Error{Op: "look", Message: "the look id is empty"}
	}
	r := &request{op: "look", method: http.MethodGet, path: "/looks/" + url.PathEscape(lookID),
		query: url.Values{"fields": {fields}}, as: as}
	var raw struct {
		ID      json.RawMessage `json:"id"`
		Title   string          `json:"title"`
		QueryID json.RawMessage `json:"query_id"`
		Query   *struct {
			ID   json.RawMessage `json:"id"`
			Slug string          `json:"slug"`
			Query
		} `json:"query"`
	}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	l := &Look{ID: idString(raw.ID), Title: raw.Title, QueryID: idString(raw.QueryID)}
	if raw.Query != nil {
		l.Query = &SavedQuery{ID: idString(raw.Query.ID), Slug: raw.Query.Slug, Query: raw.Query.Query}
		if l.QueryID == "" {
			l.QueryID = l.Query.ID
		}
	}
	return l, nil
}

// SavedQuery fetches a saved query by id: GET /queries/{query_id}.
func (c *Client) SavedQuery(ctx context.Context, queryID string) (*SavedQuery, error) {
	if queryID == "" {
		return nil, &Error{Op: "query", Message: "the query id is empty"}
	}
	return c.getQuery(ctx, &request{op: "query", method: http.MethodGet, path: "/queries/" + url.PathEscape(queryID)})
}

// idString reads a Looker id sent as a JSON string or number.
func idString(raw json.RawMessage) string {
	s := strings.Trim(string(raw), `"`)
	if s == "null" {
		return ""
	}
	return s
}

// CreateSQLQuery creates a SQL Runner query (POST /sql_queries) from
// q.Connection or q.Model and q.SQL, and returns its slug.
func (c *Client) CreateSQLQuery(ctx context.Context, q SQLQuery) (string, error) {
	return c.createSQLQuery(ctx, q, "")
}

func (c *Client) createSQLQuery(ctx context.Context, q SQLQuery, as string) (string, error) {
	if q.Connection == "" && q.Model == "" {
		return "", &Error{Op: "create_sql_query", Message: "the SQL query needs a connection or a model"}
	}
	if strings.TrimSpace(q.SQL) == "" {
		return "", &Error{Op: "create_sql_query", Message: "the SQL query has no SQL text"}
	}
	body, err := json.Marshal(struct {
		ConnectionName string `json:"connection_name,omitempty"`
		ModelName      string `json:"model_name,omitempty"`
		SQL            string `json:"sql"`
	}{q.Connection, q.Model, q.SQL})
	if err != nil {
		return "", &Error{Op: "create_sql_query", Message: "encoding the query", Err: err}
	}
	r := &request{op: "create_sql_query", method: http.MethodPost, path: "/sql_queries", body: body, contentType: "application/json", as: as}
	var out struct {
		Slug string `json:"slug"`
	}
	if err := c.getJSON(ctx, r, &out); err != nil {
		return "", err
	}
	if out.Slug == "" {
		return "", &Error{Op: r.op, Method: r.method, Path: r.fullPath(), Message: "Looker returned a SQL query without a slug"}
	}
	return out.Slug, nil
}

// getJSON sends r and decodes a JSON answer (at most 16 MiB) into v.
func (c *Client) getJSON(ctx context.Context, r *request, v any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return &Error{Op: r.op, Method: r.method, Path: r.fullPath(), StatusCode: 0,
			Message: "decoding Looker's answer", Err: err}
	}
	return nil
}

// runRequest builds a run request whose path has one id and the format.
func runRequest(op, method, pathFmt, id string, opts RunOptions) (*request, error) {
	if id == "" {
		return nil, &Error{Op: op, Message: "the id is empty"}
	}
	if err := checkFormat(op, opts.ResultFormat); err != nil {
		return nil, err
	}
	return &request{op: op, method: method, path: fmt.Sprintf(pathFmt, url.PathEscape(id), opts.ResultFormat),
		query: runParams(opts), as: opts.RunAs, check: &resultCheck{format: opts.ResultFormat, header: opts.header, headOnly: opts.DecodesJSON}}, nil
}

func checkFormat(op, format string) error {
	if !formatRE.MatchString(format) {
		return &Error{Op: op, Message: fmt.Sprintf("the result format %q is not a Looker result format such as csv, json or json_bi", format)}
	}
	return nil
}

// runParams encodes the run options; nil switches are left out.
func runParams(o RunOptions) url.Values {
	v := url.Values{}
	if limit, ok := limitParam(o); ok {
		v.Set("limit", strconv.FormatInt(limit, 10))
	}
	for name, b := range map[string]*bool{
		"apply_formatting":   o.ApplyFormatting,
		"apply_vis":          o.ApplyVis,
		"cache":              o.Cache,
		"force_production":   o.ForceProduction,
		"server_table_calcs": o.ServerTableCalcs,
		"rebuild_pdts":       o.RebuildPDTs,
	} {
		if b != nil {
			v.Set(name, strconv.FormatBool(*b))
		}
	}
	return v
}
