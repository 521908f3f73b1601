package lookertest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// runningQuery is a query running in the sandbox's "database": a
// synchronous run from the moment it gets a slot until its body is
// written (or, for a stalled run whose client left, until it is released
// or killed). Query tasks are running queries too (see task.running).
type runningQuery struct {
	id      string // RunningQueries.id
	taskID  string // RunningQueries.query_task_id: every running query has one, sync runs too
	user    string
	source  string
	q       *savedQuery // nil for SQL Runner
	sqlSlug string      // SQL Runner query slug
	sql     string
	created time.Time
	kill    chan struct{} // closed by DELETE /running_queries/{query_task_id}
	killed  bool
}

// errQueueTimeout is a query dropped from the per-user queue.
var errQueueTimeout = errors.New("queued too long")

// errGone is a queued query whose client or server went away.
var errGone = errors.New("gone")

// RunningQueries is the number of queries running now, sync runs and
// unfinished query tasks of every user: what GET /running_queries lists.
func (s *Server) RunningQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningLocked("")
}

// MaxRunningQueries is the most queries that were running at once, all
// users together, since the server started.
func (s *Server) MaxRunningQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxRunning
}

// Killed lists the query task ids killed with DELETE
// /running_queries/{query_task_id} (query tasks and sync runs), in order.
func (s *Server) Killed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.killed)
}

// runningLocked counts the running queries of user ("" for all users).
// s.mu must be held.
func (s *Server) runningLocked(user string) int {
	n := 0
	for _, rq := range s.running {
		if user == "" || rq.user == user {
			n++
		}
	}
	for _, t := range s.tasks {
		if t.running() && (user == "" || t.user == user) {
			n++
		}
	}
	return n
}

// noteRunningLocked updates the high-water mark. s.mu must be held.
func (s *Server) noteRunningLocked() {
	s.maxRunning = max(s.maxRunning, s.runningLocked(""))
}

// newRunning makes the running query of a sync run by c's user.
func (s *Server) newRunning(c *call, q *savedQuery, sqlSlug, sql string) *runningQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTask++
	return &runningQuery{
		id: fmt.Sprintf("rq%d", s.nextTask), taskID: fmt.Sprintf("%032x", s.nextTask), user: c.tok.userID,
		source: "api4", q: q, sqlSlug: sqlSlug, sql: sql, kill: make(chan struct{}),
	}
}

// startRunning waits for one of the user's query slots and lists rq as
// running. Looker runs at most 15 queries per user at once (the default;
// Options.PerUserQueryLimit); extra queries queue and are dropped after
// 600 s in the queue (Options.QueueTimeout), per "Query Timeouts and
// Queueing" (help.looker.com/hc/en-us/articles/360001286167; NOTES §9,
// §13.6). Query tasks take slots too (they are running queries) but are
// never queued themselves: their life cycle is scripted (ScriptNextTask).
// The queue time is measured on Options.Now's clock, re-read every 10 ms
// of real time while queued.
func (s *Server) startRunning(c *call, rq *runningQuery) error {
	var queuedAt time.Time
	for first := true; ; first = false {
		s.mu.Lock()
		if s.runningLocked(rq.user) < s.opts.PerUserQueryLimit {
			rq.created = s.now()
			s.running[rq.taskID] = rq
			s.noteRunningLocked()
			s.mu.Unlock()
			return nil
		}
		now := s.now()
		if first {
			queuedAt = now
		}
		if now.Sub(queuedAt) >= s.opts.QueueTimeout {
			s.mu.Unlock()
			return errQueueTimeout
		}
		freed := s.slotFreed
		s.mu.Unlock()
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-freed:
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
			return errGone // never sent to the database: nothing to leave running
		case <-s.closing:
			t.Stop()
			return errGone
		}
		t.Stop()
	}
}

// finishRunning unlists rq and wakes queued queries.
func (s *Server) finishRunning(rq *runningQuery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, rq.taskID)
	s.wakeLocked()
}

// wakeLocked tells queued queries a slot may be free. s.mu must be held.
func (s *Server) wakeLocked() {
	close(s.slotFreed)
	s.slotFreed = make(chan struct{})
}

// allRunningQueries is GET /running_queries (spec op all_running_queries,
// schema RunningQueries; NOTES §5.5): every query running now, sync runs
// and unfinished query tasks, with status "running".
func (s *Server) allRunningQueries(c *call) {
	s.mu.Lock()
	now := s.now()
	out := []map[string]any{}
	for _, rq := range s.running {
		out = append(out, runningJSON(rq.id, rq.taskID, rq.user, rq.source, rq.q, rq.sqlSlug, rq.sql, rq.created, now))
	}
	for _, t := range s.tasks {
		if t.running() {
			out = append(out, runningJSON("t"+t.id, t.id, t.user, t.sourceOr("api4"), t.q, "", "", t.created, now))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b map[string]any) int {
		return compareStrings(a["query_task_id"].(string), b["query_task_id"].(string))
	})
	c.writeJSON(http.StatusOK, out)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// runningJSON is one RunningQueries entry.
func runningJSON(id, taskID, user, source string, q *savedQuery, sqlSlug, sql string, created, now time.Time) map[string]any {
	m := map[string]any{
		"id": id, "query_task_id": taskID, "user": map[string]any{"id": user, "display_name": userName(user)},
		"created_at": created.UTC().Format(time.RFC3339), "completed_at": nil, "status": "running",
		"source": source, "connection_name": connectionName, "dialect": dialectName,
		"runtime": now.Sub(created).Seconds(), "node_id": "lookertest", "message": nil,
		"can": map[string]bool{"kill": true},
	}
	if q != nil {
		m["query_id"] = nilIfEmpty(q.id)
		m["slug"] = nilIfEmpty(q.slug)
		if q.id != "" {
			m["query"] = queryJSON(q)
		}
	}
	if sqlSlug != "" {
		m["sql_query"] = map[string]any{"slug": sqlSlug}
		m["sql"] = sql
	}
	return m
}

// killQuery is DELETE /running_queries/{query_task_id} (spec op
// kill_query; NOTES §5.5, §13.5): 204 and the query stops. A query task
// becomes "killed"; a sync run's response is aborted (Looker's behaviour
// for the killed run's own response is undocumented: the sandbox cuts the
// connection). A query that is not running answers 404.
func (s *Server) killQuery(c *call) {
	id := c.r.PathValue("query_task_id")
	s.mu.Lock()
	ok := false
	if t, found := s.tasks[id]; found && (t.user == c.tok.userID || c.tok.admin) && t.running() {
		t.status = TaskKilled
		ok = true
	} else if rq, found := s.running[id]; found && (rq.user == c.tok.userID || c.tok.admin) && !rq.killed {
		rq.killed = true
		close(rq.kill)
		ok = true
	}
	if ok {
		s.killed = append(s.killed, id)
		s.wakeLocked()
	}
	s.mu.Unlock()
	if !ok {
		c.error(http.StatusNotFound, "Not found")
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}
