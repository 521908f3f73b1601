package lookertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// sqlQuery is a SQL Runner query (spec schema SqlQuery).
type sqlQuery struct {
	slug, connection, model, sql string
	limit                        int // -1 when the SQL has no LIMIT
}

var sqlLimitRE = regexp.MustCompile(`(?is)\blimit\s+(\d+)\s*;?\s*$`)

// createSQLQuery is POST /sql_queries (spec op create_sql_query; NOTES
// §4): connection_name or model_name must be given.
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
		"connection":  map[string]any{"name": q.connection, "dialect": map[string]any{"name": dialectName}},
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

// sqlQuery is GET /sql_queries/{slug} (spec op sql_query).
func (s *Server) sqlQuery(c *call) {
	if q, ok := s.sqlQueryBySlug(c); ok {
		c.writeJSON(http.StatusOK, sqlQueryJSON(q))
	}
}

// runSQLQuery is POST /sql_queries/{slug}/run/{result_format} (spec op
// run_sql_query). The SQL is not parsed except for a trailing "LIMIT n";
// a run returns every dimension of the explore as columns named like SQL
// would. Time values are never converted: "queries run using SQL Runner do
// not convert time-based data"
// (https://cloud.google.com/looker/docs/using-time-zone-settings), so they
// come as stored: UTC wall-clock times.
func (s *Server) runSQLQuery(c *call) {
	q, ok := s.sqlQueryBySlug(c)
	if !ok {
		return
	}
	rows := s.Rows(-1)
	if q.limit >= 0 {
		rows = min(rows, q.limit)
	}
	formatting, _ := strconv.ParseBool(c.r.URL.Query().Get("apply_formatting"))
	res := &result{
		defs: sqlColumns, rows: rows, loc: time.UTC, formatting: formatting, sql: q.sql,
		meta: func() []byte { return jsonBiMetadata(sqlColumns, nil, q.sql, nil, true) },
	}
	s.writeResult(c, res, s.newRunning(c, nil, q.slug, q.sql))
}
