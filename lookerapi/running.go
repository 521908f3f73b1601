package lookerapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"
)

// runningClockSkew is how long before the run began a running query may
// have started (by Looker's clock, which reports whole seconds) and still
// count as the run's own.
const runningClockSkew = 10 * time.Second

// syncQuery says how to find a sync run among Looker's running queries
// (GET /running_queries). The zero value finds nothing.
type syncQuery struct {
	queryID string // query_id
	lookID  string // look.id; the Look's query_id is looked up when a kill needs it
	sqlSlug string // sql_query.slug (SQL Runner)
}

// run sends a sync run request in a query slot of the run's user. The slot
// is released at the end of the body, or when the body is closed.
//
// A run that stops before its result is complete leaves nothing running
// in Looker: when ctx ends or the header timeout fires after the request
// went out, or the body is closed before its end (a cancel, a read-idle
// timeout, a dropped connection, or a caller that stops reading), the
// query is found in GET /running_queries (query id or SQL slug, the run's
// Looker user, started after the run began) and killed
// (DELETE /running_queries/{query_task_id}), before the slot is released.
// The request goes out on a connection of its own, so the transport never
// sends it twice (see runClient).
func (c *Client) run(ctx context.Context, r *request, sq syncQuery, opts RunOptions) (*Result, error) {
	release, err := c.acquire(ctx, r.source, opts)
	if err != nil {
		return nil, err
	}
	log := c.runLog(opts).With(zap.String("source", r.source))
	start := c.clock.Now()
	r.fresh = true
	resp, err := c.do(ctx, r)
	if err != nil {
		if r.sent && (ctx.Err() != nil || errors.Is(err, ErrTimeout) || noAnswer(err)) {
			c.killSync(ctx, log, sq, opts.RunAs, r.source, start, err)
		}
		release()
		return nil, err
	}
	rc, ct := resp.Body, resp.Header.Get("Content-Type")
	if r.check != nil {
		rc = checkedBody(rc, ct, *r.check, r)
	}
	body := &syncBody{rc: rc, release: release,
		stop: func(why error) { c.killSync(ctx, log, sq, opts.RunAs, r.source, start, why) }}
	return &Result{Body: body, ContentType: ct, QueryID: sq.queryID}, nil
}

// runInlineByID saves q (POST /queries) and runs it by its id
// (GET /queries/{id}/run/{fmt}), so that the run can be found among the
// running queries and killed.
func (c *Client) runInlineByID(ctx context.Context, q Query, opts RunOptions) (*Result, error) {
	name := Source{Query: &q}.String()
	if err := checkFormat("run_query", opts.ResultFormat); err != nil {
		return nil, withSource(err, name)
	}
	saved, err := c.createQuery(ctx, q, opts.RunAs)
	if err != nil {
		return nil, withSource(err, name)
	}
	r, err := runRequest("run_query", http.MethodGet, "/queries/%s/run/%s", saved.ID, opts)
	if err != nil {
		return nil, withSource(err, name)
	}
	r.source = name
	return c.run(ctx, r, syncQuery{queryID: saved.ID}, opts)
}

// syncBody is the body of a sync run. It gives the run slot back at the
// end of the body; Close kills the query when the body did not reach its
// end, then gives the slot back. release may be called more than once.
type syncBody struct {
	rc      io.ReadCloser
	release func()
	stop    func(why error)

	mu     sync.Mutex
	eof    bool
	err    error // the last read error
	closed bool
}

func (b *syncBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.mu.Lock()
		if err == io.EOF {
			b.eof = true
		} else {
			b.err = err
		}
		b.mu.Unlock()
		if err == io.EOF {
			// The query is over in Looker: its slot goes back now, not
			// when the caller, done with its files and records, closes.
			b.release()
		}
	}
	return n, err
}

func (b *syncBody) Close() error {
	err := b.rc.Close()
	b.mu.Lock()
	first, done, why := !b.closed, b.eof, b.err
	b.closed = true
	b.mu.Unlock()
	if !first {
		return err
	}
	if !done {
		if why == nil {
			why = errors.New("the result was closed before its end")
		}
		b.stop(why)
	}
	b.release()
	return err
}

// killSync finds the running queries of a sync run and kills them, under
// a context that outlives the run's (which may be what ended). Failures
// are logged: the run has already failed for its own reason.
func (c *Client) killSync(ctx context.Context, log *zap.Logger, sq syncQuery, as, source string, start time.Time, why error) {
	if sq == (syncQuery{}) {
		return
	}
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	ids, err := c.findRunning(kctx, sq, as, start)
	if err != nil {
		log.Warn("could not look for the looker query to kill it; it may run on in the warehouse (Admin > Queries)",
			zap.Error(err), zap.NamedError("reason", why))
		return
	}
	if len(ids) == 0 {
		log.Info("no looker query of the run was still running", zap.NamedError("reason", why))
		return
	}
	for _, id := range ids {
		if err := c.killQuery(kctx, id, "", source); err != nil {
			log.Warn("could not kill the looker query; it may run on in the warehouse (Admin > Queries)",
				zap.String("query_task_id", id), zap.Error(err), zap.NamedError("reason", why))
			continue
		}
		log.Info("killed the looker query", zap.String("query_task_id", id), zap.NamedError("reason", why))
	}
}

// RunningQuery is the part of Looker's RunningQueries the client uses.
type RunningQuery struct {
	QueryTaskID string    // what DELETE /running_queries/{query_task_id} takes
	QueryID     string    // "" for SQL Runner queries
	SQLSlug     string    // sql_query.slug of a SQL Runner query
	LookID      string    // look.id, when Looker sent it
	UserID      string    // user.id
	CreatedAt   time.Time // zero when Looker sent none or an unreadable one
}

// RunningQueries lists the queries running in Looker now:
// GET /running_queries (what Admin > Queries shows; the API user needs to
// be allowed to see them).
func (c *Client) RunningQueries(ctx context.Context) ([]RunningQuery, error) {
	r := &request{op: "all_running_queries", method: http.MethodGet, path: "/running_queries"}
	var raw []struct {
		QueryTaskID json.RawMessage `json:"query_task_id"`
		QueryID     json.RawMessage `json:"query_id"`
		CreatedAt   *string         `json:"created_at"`
		User        *struct {
			ID json.RawMessage `json:"id"`
		} `json:"user"`
		Look *struct {
			ID json.RawMessage `json:"id"`
		} `json:"look"`
		SQLQuery *struct {
			Slug string `json:"slug"`
		} `json:"sql_query"`
	}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	out := make([]RunningQuery, 0, len(raw))
	for _, q := range raw {
		rq := RunningQuery{QueryTaskID: idString(q.QueryTaskID), QueryID: idString(q.QueryID)}
		if q.User != nil {
			rq.UserID = idString(q.User.ID)
		}
		if q.Look != nil {
			rq.LookID = idString(q.Look.ID)
		}
		if q.SQLQuery != nil {
			rq.SQLSlug = q.SQLQuery.Slug
		}
		if q.CreatedAt != nil {
			if t, err := time.Parse(time.RFC3339Nano, *q.CreatedAt); err == nil {
				rq.CreatedAt = t
			}
		}
		out = append(out, rq)
	}
	return out, nil
}

// findRunning returns the query task ids of the running queries that are
// sq's, run by user as ("" the API user), started after start (give or
// take runningClockSkew; a query without a readable created_at counts).
func (c *Client) findRunning(ctx context.Context, sq syncQuery, as string, start time.Time) ([]string, error) {
	user := as
	if user == "" {
		var err error
		if user, err = c.me(ctx); err != nil {
			return nil, err
		}
	}
	queryID := sq.queryID
	if queryID == "" && sq.lookID != "" {
		// run_look does not say which query it ran; the Look does. If
		// this fails, the Look's id may still match.
		if l, err := c.look(ctx, sq.lookID, as, "id,query_id"); err == nil {
			queryID = l.QueryID
		}
	}
	running, err := c.RunningQueries(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, q := range running {
		ours := (queryID != "" && q.QueryID == queryID) ||
			(sq.lookID != "" && q.LookID == sq.lookID) ||
			(sq.sqlSlug != "" && q.SQLSlug == sq.sqlSlug)
		if !ours || q.UserID != user || q.QueryTaskID == "" {
			continue
		}
		if !q.CreatedAt.IsZero() && q.CreatedAt.Before(start.Add(-runningClockSkew)) {
			continue
		}
		ids = append(ids, q.QueryTaskID)
	}
	return ids, nil
}

// me returns the API user's id (GET /user), asked once per Client.
func (c *Client) me(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.meID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var raw struct {
		ID json.RawMessage `json:"id"`
	}
	r := &request{op: "me", method: http.MethodGet, path: "/user", query: url.Values{"fields": {"id"}}}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return "", err
	}
	if id = idString(raw.ID); id == "" {
		return "", &Error{Op: r.op, Method: r.method, Path: r.fullPath(), Message: "Looker returned the API user without an id"}
	}
	c.mu.Lock()
	c.meID = id
	c.mu.Unlock()
	return id, nil
}

// noAnswer reports whether err is a request that went out and got no
// HTTP answer at all (the connection dropped): Looker may be running the
// query all the same.
func noAnswer(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == 0 && !errors.Is(err, ErrRedirect)
}
