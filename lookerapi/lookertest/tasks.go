package lookertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Query task statuses, as Looker reports them (QueryTask.status has no
// enum in the spec; NOTES §5.4, §13.4).
const (
	TaskAdded    = "added"
	TaskRunning  = "running"
	TaskComplete = "complete"
	TaskError    = "error"
	TaskKilled   = "killed"
	TaskExpired  = "expired"
	// TaskFailure is the status Looker's own SDK example treats as failed
	// besides "error" (sdk-codegen examples/python/query_task.py).
	TaskFailure = "failure"
)

// TaskSQLError is the message of a query task that ends in TaskError or
// TaskFailure: what GET /query_tasks/{id}/results answers with 400.
const TaskSQLError = `ERROR: division by zero (SQLSTATE 22012) in query on connection "warehouse"`

// task is a query task. Its status moves only when it is polled
// (GET /query_tasks/{id}): poll i reports script[i], the last status
// sticking, so tests drive the life cycle without clocks or sleeps.
type task struct {
	id, user, format, lookID, source string
	q                                *savedQuery
	params                           url.Values // the run parameters given at creation
	script                           []string
	polls                            int
	status                           string
	created                          time.Time
}

// terminal reports whether status ends a task. Any other status, an
// unknown one included, is "not finished" for the results endpoint.
func terminal(status string) bool {
	switch status {
	case TaskComplete, TaskError, TaskFailure, TaskKilled, TaskExpired:
		return true
	}
	return false
}

// running reports whether t is a running query (listed by GET
// /running_queries, killable). s.mu must be held.
func (t *task) running() bool { return !terminal(t.status) }

func (t *task) sourceOr(def string) string {
	if t.source != "" {
		return t.source
	}
	return def
}

// ScriptNextTask sets the life cycle of the next query task created: the
// statuses its successive polls report (the last one sticks). Scripts are
// used in the order queued; a task created with none queued completes at
// its first poll. Any string is allowed, so a test can end a task with
// TaskFailure or a status Looker never documented. Examples:
// (TaskRunning, TaskRunning, TaskComplete); (TaskRunning, TaskError);
// (TaskRunning, TaskFailure); (TaskRunning, "paused"); (TaskRunning,
// TaskExpired); (TaskRunning) for a query that runs until killed
// (DELETE /running_queries/{id}).
func (s *Server) ScriptNextTask(statuses ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts = append(s.scripts, slices.Clone(statuses))
}

// TaskStatus is the current status of query task id ("" if unknown).
func (s *Server) TaskStatus(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tasks[id]; ok {
		return t.status
	}
	return ""
}

// taskFormats are CreateQueryTask.result_format values the server renders.
var taskFormats = map[string]bool{"json": true, "json_bi": true, "csv": true, "txt": true, "sql": true}

// createQueryTask is POST /query_tasks (spec op create_query_task,
// schema CreateQueryTask; NOTES §5.1). The task starts "added".
func (s *Server) createQueryTask(c *call) {
	var body struct {
		QueryID      string `json:"query_id"`
		ResultFormat string `json:"result_format"`
		Source       string `json:"source"`
		LookID       string `json:"look_id"`
		Deferred     bool   `json:"deferred"`
	}
	if err := json.NewDecoder(io.LimitReader(c.r.Body, 1<<20)).Decode(&body); err != nil {
		c.error(http.StatusBadRequest, "Could not parse JSON body: "+err.Error())
		return
	}
	switch {
	case body.QueryID == "":
		c.validation("Validation Failed", "query_id", "missing", "This field is required.")
		return
	case body.ResultFormat == "":
		c.validation("Validation Failed", "result_format", "missing", "This field is required.")
		return
	case !taskFormats[body.ResultFormat]:
		c.error(s.opts.UnknownFormatStatus, fmt.Sprintf("Unsupported result format '%s'.", body.ResultFormat))
		return
	}
	q, ok := s.savedQuery(c, body.QueryID)
	if !ok {
		return
	}
	if _, err := resolveQuery(q.q); err != nil {
		c.queryError(err)
		return
	}
	if _, ok := c.limitParam(); !ok {
		return
	}
	s.mu.Lock()
	s.nextTask++
	t := &task{
		id: fmt.Sprintf("%032x", s.nextTask), user: c.tok.userID, format: body.ResultFormat, lookID: body.LookID,
		source: body.Source, q: q, params: c.r.URL.Query(), script: []string{TaskComplete}, status: TaskAdded,
		created: s.now(),
	}
	if len(s.scripts) > 0 {
		t.script, s.scripts = s.scripts[0], s.scripts[1:]
	}
	s.tasks[t.id] = t
	s.noteRunningLocked()
	out := taskJSON(t)
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, out)
}

// taskJSON is the QueryTask body of t. s.mu must be held.
func taskJSON(t *task) map[string]any {
	b := func(k string) bool { // false when not given: the spec makes these non-nullable
		x, _ := strconv.ParseBool(t.params.Get(k))
		return x
	}
	runtime := any(nil)
	if terminal(t.status) {
		runtime = 0.42
	}
	return map[string]any{
		"id": t.id, "query_id": t.q.id, "query": queryJSON(t.q), "status": t.status, "result_format": t.format,
		"source": nilIfEmpty(t.source), "look_id": nilIfEmpty(t.lookID), "dashboard_id": nil,
		"generate_links": false, "force_production": b("force_production"), "path_prefix": nil, "cache": b("cache"),
		"server_table_calcs": b("server_table_calcs"), "cache_only": false, "cache_key": fmt.Sprintf("lookertest-%s", t.q.id),
		"runtime": runtime, "rebuild_pdts": b("rebuild_pdts"), "result_source": nil,
		"can": map[string]bool{"cancel": true, "show": true},
	}
}

func (s *Server) task(c *call) (*task, bool) {
	s.mu.Lock()
	t, ok := s.tasks[c.r.PathValue("query_task_id")]
	s.mu.Unlock()
	if !ok || t.user != c.tok.userID {
		c.error(http.StatusNotFound, "Not found")
		return nil, false
	}
	return t, true
}

// queryTask is GET /query_tasks/{query_task_id} (spec op query_task): each
// poll moves the task one step along its script.
func (s *Server) queryTask(c *call) {
	t, ok := s.task(c)
	if !ok {
		return
	}
	s.mu.Lock()
	if !terminal(t.status) {
		t.status = t.script[min(t.polls, len(t.script)-1)]
		t.polls++
		if terminal(t.status) {
			s.wakeLocked()
		}
	}
	out := taskJSON(t)
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, out)
}

// queryTaskResults is GET /query_tasks/{query_task_id}/results (spec op
// query_task_results; NOTES §5.3, §13.3): the result once complete; 400
// with the database's message after "error" or "failure"; 404 after
// "expired" or "killed"; while not finished (any other status) 202 with
// an empty JSON string (spec 4.0.26.x), or 204 No Content with
// Options.NotReadyStatus 204 (API reference of releases 23.x–24.16).
func (s *Server) queryTaskResults(c *call) {
	t, ok := s.task(c)
	if !ok {
		return
	}
	s.mu.Lock()
	status := t.status
	s.mu.Unlock()
	switch status {
	case TaskComplete:
	case TaskError, TaskFailure:
		c.error(http.StatusBadRequest, TaskSQLError)
		return
	case TaskExpired, TaskKilled:
		c.error(http.StatusNotFound, "The Query Task Id was not found or the results have expired.")
		return
	default:
		if s.opts.NotReadyStatus == http.StatusNoContent {
			c.w.WriteHeader(http.StatusNoContent)
			return
		}
		c.writeJSON(s.opts.NotReadyStatus, "")
		return
	}
	c.r.SetPathValue("result_format", t.format)
	res, err := s.planQuery(t.q, t.params, t.user)
	if err != nil {
		c.queryError(err)
		return
	}
	s.writeResult(c, res, nil)
}
