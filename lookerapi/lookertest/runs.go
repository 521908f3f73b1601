package lookertest

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// result is one query execution to write: what a run endpoint or a query
// task's results serve.
type result struct {
	defs       []*fieldDef
	pivots     *pivotPlan // nil when not pivoted
	rows       int        // rows to send at most
	match      func(int) bool
	loc        *time.Location // zone of converted time values
	formatting bool           // apply_formatting=true
	meta       func() []byte  // json_bi metadata
	sql        string         // the SQL (result_format=sql)
}

// runLook is GET /looks/{look_id}/run/{result_format} (spec op run_look).
func (s *Server) runLook(c *call) {
	if _, q, ok := s.lookQuery(c); ok {
		s.runSaved(c, q)
	}
}

// runQuery is GET /queries/{query_id}/run/{result_format} (spec op run_query).
func (s *Server) runQuery(c *call) {
	if q, ok := s.savedQuery(c, c.r.PathValue("query_id")); ok {
		s.runSaved(c, q)
	}
}

// runInlineQuery is POST /queries/run/{result_format} (spec op
// run_inline_query): a Query body run without saving it.
func (s *Server) runInlineQuery(c *call) {
	q, ok := readQuery(c)
	if !ok {
		return
	}
	s.runSaved(c, &savedQuery{q: q})
}

// runURLEncodedQuery is GET /queries/models/{m}/views/{v}/run/{fmt}
// (spec op run_url_encoded_query): the query in explore-URL syntax
// (fields, f[field], limit, query_timezone, pivots; NOTES §2.7).
func (s *Server) runURLEncodedQuery(c *call) {
	v := c.r.URL.Query()
	q := Query{Model: c.r.PathValue("model_name"), View: c.r.PathValue("view_name"), Limit: v.Get("limit"),
		QueryTimezone: v.Get("query_timezone")}
	if f := v.Get("fields"); f != "" {
		q.Fields = strings.Split(f, ",")
	}
	if p := v.Get("pivots"); p != "" {
		q.Pivots = strings.Split(p, ",")
	}
	for k, vals := range v {
		if strings.HasPrefix(k, "f[") && strings.HasSuffix(k, "]") && len(vals) > 0 {
			if q.Filters == nil {
				q.Filters = map[string]string{}
			}
			q.Filters[k[2:len(k)-1]] = vals[0]
		}
	}
	// limit here is the query's own limit, not a run option.
	params := url.Values{}
	if af := v.Get("apply_formatting"); af != "" {
		params.Set("apply_formatting", af)
	}
	c.r.URL.RawQuery = params.Encode()
	s.runSaved(c, &savedQuery{q: q})
}

// runSaved runs q synchronously for c's user: it is a running query (see
// running.go) while its body is written.
func (s *Server) runSaved(c *call, q *savedQuery) {
	res, err := s.planQuery(q, c.r.URL.Query(), c.tok.userID)
	if err != nil {
		c.queryError(err)
		return
	}
	s.writeResult(c, res, s.newRunning(c, q, "", ""))
}

// planQuery resolves what running q with run parameters params as user
// returns.
func (s *Server) planQuery(q *savedQuery, params url.Values, user string) (*result, error) {
	sh, err := resolveQuery(s.effectiveQuery(q.q))
	if err != nil {
		return nil, err
	}
	loc, err := s.queryZone(q.q, user)
	if err != nil {
		return nil, &queryError{http.StatusBadRequest, err.Error()}
	}
	limit, err := parseLimit(params.Get("limit"))
	if err != nil {
		return nil, err
	}
	if limit == 0 && q.q.Limit != "" {
		// The run's limit parameter "may override the limit in the saved
		// query" (spec run_query); without it the saved limit applies.
		if n, err := strconv.ParseInt(q.q.Limit, 10, 64); err == nil {
			limit = n
		}
	}
	rows := s.Rows(limit)
	sqlLimit := rows
	if limit < 0 {
		sqlLimit = -1
	}
	if !s.streams(q.q, sh) {
		rows = min(rows, s.opts.NonStreamingCap)
	}
	formatting, _ := strconv.ParseBool(params.Get("apply_formatting"))
	pivots := newPivotPlan(sh.pivots)
	sqlText := generatedSQL(sh.defs, sh.pivots, sqlLimit)
	return &result{
		defs: sh.defs, pivots: pivots, rows: rows, match: sh.match(filterEnv{loc: loc, now: s.now(), complete: s.opts.RelativeDatesComplete}), loc: loc, formatting: formatting, sql: sqlText,
		meta: func() []byte { return jsonBiMetadata(sh.defs, pivots, sqlText, q.q.Filters, false) },
	}, nil
}

// parseLimit parses the limit run parameter: 0 when absent.
func parseLimit(l string) (int64, error) {
	if l == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil {
		return 0, &queryError{http.StatusBadRequest, "limit must be an integer"}
	}
	return n, nil
}

// limitParam checks the limit run parameter, answering the error itself.
func (c *call) limitParam() (int64, bool) {
	n, err := parseLimit(c.r.URL.Query().Get("limit"))
	if err != nil {
		c.queryError(err)
		return 0, false
	}
	return n, true
}

// writeResult is the one body writer of Looker results, for every run
// endpoint and query task results: it applies the one-shot switches
// (StallNextRun, DropNextRun, TrickleNextRun, InBandErrorNextRun,
// HTMLNextRun), and, for a sync run (rq != nil), waits for a per-user
// query slot and lists the run as running until it ends.
func (s *Server) writeResult(c *call, res *result, rq *runningQuery) {
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
	var tick <-chan struct{}
	if len(s.trickles) > 0 {
		tick, s.trickles = s.trickles[0], s.trickles[1:]
	}
	var ib *inBandError
	if len(s.inBand) > 0 {
		ib = &s.inBand[0]
		s.inBand = s.inBand[1:]
	}
	html := s.htmlRuns > 0
	if html {
		s.htmlRuns--
	}
	s.mu.Unlock()

	var kill <-chan struct{}
	if rq != nil {
		if err := s.startRunning(c, rq); err != nil {
			if errors.Is(err, errQueueTimeout) {
				// The message is ours; Looker's is undocumented (NOTES §9).
				c.error(http.StatusServiceUnavailable, fmt.Sprintf(
					"Query was dropped after waiting %s in the queue: user %s already had %d queries running (per-user query limit).",
					s.opts.QueueTimeout, rq.user, s.opts.PerUserQueryLimit))
			}
			return
		}
		defer s.finishRunning(rq)
		kill = rq.kill
		if !s.computing(c, kill) {
			return
		}
	}

	if st != nil {
		close(st.arrived)
		if !st.afterHeaders && !s.hold(c, st.release, kill) {
			return
		}
	}
	if html {
		c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write([]byte(signInPage))
		return
	}
	c.w.Header().Set("Content-Type", ct)
	c.w.WriteHeader(http.StatusOK)
	flusher, _ := c.w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	if ib != nil {
		_, _ = c.w.Write(inBandBody(format, *ib, res))
		return
	}
	if st != nil && st.afterHeaders {
		flush()
		if !s.hold(c, st.release, kill) {
			return
		}
	}

	bw := bufio.NewWriterSize(c.w, 64<<10)
	if format == "sql" {
		_, _ = bw.WriteString(res.sql)
		_ = bw.Flush()
		return
	}
	enc := newEncoder(format, res)
	enc.quoteEmpty = !s.opts.BareEmptyStrings
	var metaBytes []byte
	if format == "json_bi" {
		metaBytes = res.meta()
	}
	if _, err := bw.Write(enc.header(metaBytes)); err != nil {
		return
	}
	if bw.Flush() != nil {
		return
	}
	flush()
	sent := 0
	for row := 0; sent < res.rows && row < int(s.rows.Load()); row++ {
		if res.match != nil && !res.match(row) {
			continue
		}
		if sent == drop {
			s.dropConn(c, bw, flusher)
			return
		}
		if tick != nil {
			select {
			case <-tick:
			case <-kill:
				panic(http.ErrAbortHandler)
			case <-c.r.Context().Done():
				return
			case <-s.closing:
				return
			}
		}
		if _, err := bw.Write(enc.row(row)); err != nil {
			return // client went away
		}
		sent++
		if tick != nil || sent%4096 == 0 {
			if bw.Flush() != nil {
				return
			}
			flush()
			select {
			case <-kill:
				panic(http.ErrAbortHandler)
			default:
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

// computing waits out Options.QueryLatency, the warehouse computing the
// result of a sync run that holds its query slot; false when the run must
// not go on (the client left or the server closes). A killed run's
// connection is aborted.
func (s *Server) computing(c *call, kill <-chan struct{}) bool {
	if s.opts.QueryLatency <= 0 {
		return true
	}
	t := time.NewTimer(s.opts.QueryLatency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-kill:
		panic(http.ErrAbortHandler)
	case <-c.r.Context().Done():
		return false
	case <-s.closing:
		return false
	}
}

// hold blocks a stalled run until release is closed; false when it must
// not go on. If the client goes away first the query keeps running in the
// sandbox, still listed, until it is released or killed ("Looker does not
// timeout queries once they have been sent to the database", NOTES §9,
// §13.5). A killed run's connection is aborted.
func (s *Server) hold(c *call, release, kill <-chan struct{}) bool {
	select {
	case <-release:
		return true
	case <-kill:
		panic(http.ErrAbortHandler)
	case <-s.closing:
		return false
	case <-c.r.Context().Done():
	}
	select { // the client left; the query runs on
	case <-release:
	case <-kill:
	case <-s.closing:
	}
	return false
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
