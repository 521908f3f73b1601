package lookerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
)

// Poll intervals of query tasks: the first poll is immediate, then the wait
// doubles from PollMin up to PollMax. Looker's own examples poll every
// 0.5-1 s, which suits quick queries; every poll is a query-based API call
// counted against Looker's licence quotas, so a long task is polled once a
// minute: an hour-long task costs at most 67 polls.
const (
	PollMin = 500 * time.Millisecond
	PollMax = 60 * time.Second
)

// killTimeout bounds the DELETE /running_queries call made after the run's
// context has ended.
const killTimeout = 15 * time.Second

// Query task statuses (QueryTask.status; the spec declares no enum).
const (
	TaskAdded    = "added"
	TaskRunning  = "running"
	TaskComplete = "complete"
	TaskError    = "error"
	TaskKilled   = "killed"
	TaskExpired  = "expired"
	TaskFailure  = "failure" // treated like "error" by Looker's own SDK examples
)

// QueryTask is the part of Looker's QueryTask the client uses.
type QueryTask struct {
	ID      string
	QueryID string
	Status  string
}

// CreateQuery saves q as a Looker query (POST /queries; queries are
// immutable, and posting an identical one returns the existing id).
func (c *Client) CreateQuery(ctx context.Context, q Query) (*SavedQuery, error) {
	return c.createQuery(ctx, q, "")
}

func (c *Client) createQuery(ctx context.Context, q Query, as string) (*SavedQuery, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, &Error{Op: "create_query", Message: "encoding the query", Err: err}
	}
	return c.getQuery(ctx, &request{op: "create_query", method: http.MethodPost, path: "/queries",
		body: body, contentType: "application/json", as: as})
}

// CreateQueryTask starts saved query queryID as a query task:
// POST /query_tasks with the run options of opts (Limit, switches,
// ResultFormat) as the spec lists them for create_query_task. lookID, when
// set, associates the task with a Look (Looker's history shows it).
func (c *Client) CreateQueryTask(ctx context.Context, queryID, lookID string, opts RunOptions) (*QueryTask, error) {
	if queryID == "" {
		return nil, &Error{Op: "create_query_task", Message: "the query id is empty"}
	}
	if err := checkFormat("create_query_task", opts.ResultFormat); err != nil {
		return nil, err
	}
	body, err := json.Marshal(struct {
		QueryID      string `json:"query_id"`
		ResultFormat string `json:"result_format"`
		Source       string `json:"source"`
		LookID       string `json:"look_id,omitempty"`
	}{queryID, opts.ResultFormat, "lookerexport", lookID})
	if err != nil {
		return nil, &Error{Op: "create_query_task", Message: "encoding the task", Err: err}
	}
	r := &request{op: "create_query_task", method: http.MethodPost, path: "/query_tasks", query: runParams(opts),
		body: body, contentType: "application/json", as: opts.RunAs}
	return c.getTask(ctx, r)
}

// QueryTaskStatus polls a query task: GET /query_tasks/{query_task_id}.
func (c *Client) QueryTaskStatus(ctx context.Context, taskID string) (*QueryTask, error) {
	return c.taskStatus(ctx, taskID, "", "")
}

func (c *Client) taskStatus(ctx context.Context, taskID, as, source string) (*QueryTask, error) {
	return c.getTask(ctx, &request{op: "query_task", method: http.MethodGet, path: "/query_tasks/" + url.PathEscape(taskID),
		query: url.Values{"fields": {"id,query_id,status"}}, as: as, source: source})
}

func (c *Client) getTask(ctx context.Context, r *request) (*QueryTask, error) {
	var raw struct {
		ID      json.RawMessage `json:"id"`
		QueryID json.RawMessage `json:"query_id"`
		Status  string          `json:"status"`
	}
	if err := c.getJSON(ctx, r, &raw); err != nil {
		return nil, err
	}
	t := &QueryTask{ID: idString(raw.ID), QueryID: idString(raw.QueryID), Status: raw.Status}
	if t.ID == "" {
		return nil, &Error{Source: r.source, Op: r.op, Method: r.method, Path: r.fullPath(), Message: "Looker returned a query task without an id"}
	}
	return t, nil
}

// KillQuery stops a running query task: DELETE /running_queries/{query_task_id}.
// A task that already finished (404) is not an error.
func (c *Client) KillQuery(ctx context.Context, taskID string) error {
	return c.killQuery(ctx, taskID, "", "")
}

func (c *Client) killQuery(ctx context.Context, taskID, as, source string) error {
	r := &request{op: "kill_query", method: http.MethodDelete, path: "/running_queries/" + url.PathEscape(taskID), as: as, source: source}
	resp, err := c.do(ctx, r)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.StatusCode == http.StatusNotFound {
			return nil
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return resp.Body.Close()
}

// RunQueryTask runs saved query queryID as a query task and streams its
// results: POST /query_tasks, then GET /query_tasks/{id} until the status
// is complete (waits PollMin, doubling up to PollMax, on the Client's
// clock), then GET /query_tasks/{id}/results (a 202 or 204 there means
// not finished yet: poll on; never an empty result). It ends with:
//
//   - status error or failure, or 400 from the results: a permanent
//     *Error wrapping ErrQueryFailed, with the database's message when
//     the results endpoint gives one;
//   - a status other than added, running, complete, error, failure,
//     killed and expired: at once, a permanent *Error wrapping
//     ErrQueryFailed that names the status (the task is killed, in case
//     it still runs);
//   - status killed: a permanent *Error wrapping ErrQueryKilled;
//   - status expired twice in a row (it can show briefly before
//     complete, so it is polled once more), or 404 from the results: a
//     retryable *Error wrapping ErrResultsExpired.
//
// If ctx ends (a timeout or a shutdown) or polling fails before the task
// finished, the query is killed (DELETE /running_queries/{id}) so the
// warehouse stops working on it. The run holds a query slot until the
// result body is closed.
func (c *Client) RunQueryTask(ctx context.Context, queryID string, opts RunOptions) (*Result, error) {
	return c.runTask(ctx, "query "+queryID, queryID, "", opts)
}

func (c *Client) runTask(ctx context.Context, source, queryID, lookID string, opts RunOptions) (*Result, error) {
	release, err := c.acquire(ctx, source, opts)
	if err != nil {
		return nil, err
	}
	task, err := c.CreateQueryTask(ctx, queryID, lookID, opts)
	if err != nil {
		release()
		return nil, withSource(err, source)
	}
	log := c.runLog(opts).With(zap.String("source", source), zap.String("query_task_id", task.ID))
	log.Debug("query task created", zap.String("query_id", queryID))
	body, ct, finished, err := c.awaitTask(ctx, log, task, opts.RunAs, source)
	if err != nil {
		if !finished {
			c.kill(ctx, log, task.ID, opts.RunAs, source, err)
		}
		release()
		return nil, err
	}
	r := &request{op: "query_task_results", method: http.MethodGet, path: "/query_tasks/" + url.PathEscape(task.ID) + "/results", source: source}
	body = checkedBody(body, ct, resultCheck{format: opts.ResultFormat, header: opts.header, headOnly: opts.DecodesJSON}, r)
	return &Result{Body: &releasingBody{body, release}, ContentType: ct, QueryID: queryID}, nil
}

// kill stops a task the run gives up on, under a context that outlives the
// run's (which may be what ended).
func (c *Client) kill(ctx context.Context, log *zap.Logger, taskID, as, source string, why error) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	if err := c.killQuery(kctx, taskID, as, source); err != nil {
		log.Warn("could not kill the looker query; it may run on in the warehouse (Admin > Queries)", zap.Error(err), zap.NamedError("reason", why))
		return
	}
	log.Info("killed the looker query", zap.NamedError("reason", why))
}

// awaitTask polls task until it finishes and returns its results body.
// finished reports whether the task reached a final status (no kill
// needed).
func (c *Client) awaitTask(ctx context.Context, log *zap.Logger, task *QueryTask, as, source string) (body io.ReadCloser, contentType string, finished bool, err error) {
	taskPath := "/api/4.0/query_tasks/" + task.ID
	taskErr := func(msg string, cause error, retryable bool) *Error {
		return &Error{Source: source, Op: "query_task", Method: http.MethodGet, Path: taskPath, Message: msg, Err: cause, Retryable: retryable}
	}
	wait := time.Duration(0)
	status := task.Status
	expiredBefore := false
	for {
		if wait > 0 {
			if err := c.sleep(ctx, wait); err != nil {
				return nil, "", false, withSource(transportError(ctx, "query_task", http.MethodGet, taskPath, "waiting for the query task", err), source)
			}
			wait = min(wait*2, PollMax)
		} else {
			wait = PollMin
		}
		if !final(status) {
			t, err := c.taskStatus(ctx, task.ID, as, source)
			if err != nil {
				return nil, "", false, err
			}
			status = t.Status
			log.Debug("query task status", zap.String("status", status))
		}
		switch status {
		case TaskAdded, TaskRunning:
			expiredBefore = false
			continue
		case TaskKilled:
			return nil, "", true, taskErr("the query task was killed in Looker (Admin > Queries); run the job again once that is sorted out", ErrQueryKilled, false)
		case TaskExpired:
			if !expiredBefore {
				expiredBefore = true
				log.Info("query task reported expired; polling once more before giving up")
				continue
			}
			return nil, "", true, taskErr("the query task's results expired before they were fetched; a new run runs the query again", ErrResultsExpired, true)
		case TaskComplete, TaskError, TaskFailure:
		default:
			return nil, "", false, taskErr(fmt.Sprintf("the query task has status %q, which the exporter does not know (it knows %s, %s, %s, %s, %s, %s and %s); the run stops rather than poll until the job's timeout",
				status, TaskAdded, TaskRunning, TaskComplete, TaskError, TaskFailure, TaskKilled, TaskExpired), ErrQueryFailed, false)
		}
		failed := status == TaskError || status == TaskFailure
		r := &request{op: "query_task_results", method: http.MethodGet, path: "/query_tasks/" + url.PathEscape(task.ID) + "/results", as: as, source: source}
		resp, err := c.do(ctx, r)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				switch {
				case e.StatusCode == http.StatusBadRequest:
					e.Err, e.Retryable = ErrQueryFailed, false
					return nil, "", true, e
				case failed && ctx.Err() == nil:
					// The status already says how it ended; the results
					// only lacked the message.
				case e.StatusCode == http.StatusNotFound:
					e.Err, e.Retryable = ErrResultsExpired, true
					e.Message = nonEmpty(e.Message, "Not found") + "; the query task's results expired or are gone, a new run runs the query again"
					return nil, "", true, e
				default:
					return nil, "", false, err
				}
			} else if !failed {
				return nil, "", false, err
			}
		}
		if resp != nil && !failed && (resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent) {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			_ = resp.Body.Close()
			log.Debug("query task results not ready; polling again", zap.Int("status_code", resp.StatusCode))
			status = TaskRunning
			continue
		}
		if failed {
			e := &Error{Source: source, Op: r.op, Method: r.method, Path: r.fullPath(), Err: ErrQueryFailed,
				Message: fmt.Sprintf("the query task ended with status %q; see the query in Looker (Admin > Queries)", status)}
			if resp != nil {
				_ = resp.Body.Close()
			}
			return nil, "", true, e
		}
		return resp.Body, resp.Header.Get("Content-Type"), true, nil
	}
}

// final reports whether a task in status needs no more polling of its
// status: its results say the rest.
func final(status string) bool {
	return status == TaskComplete || status == TaskError || status == TaskFailure
}

// String names a task for logs.
func (t *QueryTask) String() string { return fmt.Sprintf("query task %s (%s)", t.ID, t.Status) }
