package lookerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ErrRenderFailed means a render task ended with status "failure". The
// *Error's Message holds Looker's status_detail. Permanent.
var ErrRenderFailed = errors.New("the render task failed")

// Render task statuses (spec RenderTask.status).
const (
	RenderEnqueuedForQuery  = "enqueued_for_query"
	RenderQuerying          = "querying"
	RenderEnqueuedForRender = "enqueued_for_render"
	RenderRendering         = "rendering"
	RenderSuccess           = "success"
	RenderFailure           = "failure"
)

// RenderTarget is what to render. Exactly one field is set.
type RenderTarget struct {
	LookID      string // png, jpg
	QueryID     string // png, jpg
	DashboardID string // pdf, png, jpg; a numeric id or a LookML "model::name"
}

// String names the target for errors, e.g. "dashboard 7".
func (t RenderTarget) String() string {
	switch {
	case t.LookID != "":
		return "look " + t.LookID
	case t.QueryID != "":
		return "query " + t.QueryID
	case t.DashboardID != "":
		return "dashboard " + t.DashboardID
	}
	return "nothing to render"
}

// RenderOptions are the parameters of a render task.
type RenderOptions struct {
	Width, Height int64 // pixels; both required by Looker
	// PDFPaperSize is letter, legal, tabloid or a0..a5 (dashboards, pdf);
	// "" sends none.
	PDFPaperSize string
	PDFLandscape *bool // dashboards
	LongTables   *bool // dashboards: expand tables to show every row
	// DashboardFilters are dashboard filter values by filter name, sent
	// as dashboard_filters in URL query format (as Looker's own example
	// encodes them: sdk-codegen examples/python/download_dashboard_pdf.py).
	DashboardFilters map[string]string
	DashboardStyle   string // "tiled" or "single_column"; "" sends none
	RunAs            string // Looker user to render as
	Log              *zap.Logger
}

// RenderTask is the part of Looker's RenderTask the client uses.
type RenderTask struct {
	ID           string
	Status       string
	StatusDetail string
}

var renderFormats = map[string]bool{"pdf": true, "png": true, "jpg": true}

// CreateRenderTask starts a render task:
//
//	LookID       POST /render_tasks/looks/{look_id}/{result_format}
//	QueryID      POST /render_tasks/queries/{query_id}/{result_format}
//	DashboardID  POST /render_tasks/dashboards/{dashboard_id}/{result_format}
//
// with width and height, and for dashboards pdf_paper_size,
// pdf_landscape, long_tables and the body's dashboard_filters and
// dashboard_style. Looks and queries render to png or jpg only.
func (c *Client) CreateRenderTask(ctx context.Context, target RenderTarget, format string, opts RenderOptions) (*RenderTask, error) {
	name := target.String()
	n := 0
	for _, s := range []string{target.LookID, target.QueryID, target.DashboardID} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return nil, &Error{Op: "create_render_task", Message: fmt.Sprintf("a render target sets exactly one of look id, query id and dashboard id; %d are set", n)}
	case !renderFormats[format]:
		return nil, &Error{Source: name, Op: "create_render_task", Message: fmt.Sprintf("render format %q is not pdf, png or jpg", format)}
	case format == "pdf" && target.DashboardID == "":
		return nil, &Error{Source: name, Op: "create_render_task", Message: "Looker renders only dashboards to pdf; Looks and queries render to png or jpg"}
	case opts.Width <= 0 || opts.Height <= 0:
		return nil, &Error{Source: name, Op: "create_render_task", Message: fmt.Sprintf("a render needs a positive width and height in pixels, not %dx%d", opts.Width, opts.Height)}
	}
	q := url.Values{"width": {strconv.FormatInt(opts.Width, 10)}, "height": {strconv.FormatInt(opts.Height, 10)}}
	r := &request{method: http.MethodPost, query: q, as: opts.RunAs, source: name}
	switch {
	case target.LookID != "":
		r.op, r.path = "create_look_render_task", "/render_tasks/looks/"+url.PathEscape(target.LookID)+"/"+format
	case target.QueryID != "":
		r.op, r.path = "create_query_render_task", "/render_tasks/queries/"+url.PathEscape(target.QueryID)+"/"+format
	default:
		r.op, r.path = "create_dashboard_render_task", "/render_tasks/dashboards/"+url.PathEscape(target.DashboardID)+"/"+format
		if opts.PDFPaperSize != "" {
			q.Set("pdf_paper_size", opts.PDFPaperSize)
		}
		if opts.PDFLandscape != nil {
			q.Set("pdf_landscape", strconv.FormatBool(*opts.PDFLandscape))
		}
		if opts.LongTables != nil {
			q.Set("long_tables", strconv.FormatBool(*opts.LongTables))
		}
		body := map[string]any{}
		if len(opts.DashboardFilters) > 0 {
			body["dashboard_filters"] = encodeDashboardFilters(opts.DashboardFilters)
		}
		if opts.DashboardStyle != "" {
			body["dashboard_style"] = opts.DashboardStyle
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, &Error{Source: name, Op: r.op, Message: "encoding the render task", Err: err}
		}
		r.body, r.contentType = b, "application/json"
	}
	if (opts.PDFPaperSize != "" || opts.PDFLandscape != nil || opts.LongTables != nil || len(opts.DashboardFilters) > 0 || opts.DashboardStyle != "") && target.DashboardID == "" {
		return nil, &Error{Source: name, Op: r.op, Message: "pdf_paper_size, pdf_landscape, long_tables, dashboard filters and style apply to dashboards only"}
	}
	t, _, err := c.getRenderTask(ctx, r)
	return t, err
}

// encodeDashboardFilters encodes filter values in URL query format, names
// sorted (so equal filters encode equally).
func encodeDashboardFilters(f map[string]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(f[k]))
	}
	return b.String()
}

// RenderTaskStatus polls a render task: GET /render_tasks/{render_task_id}.
func (c *Client) RenderTaskStatus(ctx context.Context, id string) (*RenderTask, error) {
	t, _, err := c.getRenderTask(ctx, &request{op: "render_task", method: http.MethodGet, path: "/render_tasks/" + url.PathEscape(id),
		query: url.Values{"fields": {"id,status,status_detail"}}})
	return t, err
}

// getRenderTask sends r and decodes a RenderTask; retryAfter is the
// answer's Retry-After, 0 when none.
func (c *Client) getRenderTask(ctx context.Context, r *request) (*RenderTask, time.Duration, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
	var raw struct {
		ID           json.RawMessage `json:"id"`
		Status       string          `json:"status"`
		StatusDetail string          `json:"status_detail"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&raw); err != nil {
		return nil, 0, withSource(transportError(ctx, r.op, r.method, r.fullPath(), "decoding the render task", err), r.source)
	}
	t := &RenderTask{ID: idString(raw.ID), Status: raw.Status, StatusDetail: raw.StatusDetail}
	if t.ID == "" {
		return nil, 0, &Error{Source: r.source, Op: r.op, Method: r.method, Path: r.fullPath(), Message: "Looker returned a render task without an id"}
	}
	return t, retryAfter, nil
}

// Render renders target to format (pdf, png, jpg) through a render task
// and streams the document: CreateRenderTask, then GET /render_tasks/{id}
// until the status is success (enqueued_for_query, querying,
// enqueued_for_render and rendering mean "not yet"), then
// GET /render_tasks/{id}/results, whose 202 also means "not yet". Waits
// between polls follow Retry-After when Looker sends one (at most
// PollMax), else PollMin doubling up to PollMax, on the Client's clock.
//
// It ends with a permanent *Error wrapping ErrRenderFailed that carries
// Looker's status_detail on status failure, and a permanent *Error on
// any status Looker does not document (rather than polling until the
// job's timeout). The document is checked as it is read: its
// Content-Type and its first bytes must be a PDF, PNG or JPEG (an
// ErrInBandError otherwise). Looker has no operation that cancels a
// render task; a run that stops just stops polling. The render holds a
// query slot of its Looker user until the body is closed.
func (c *Client) Render(ctx context.Context, target RenderTarget, format string, opts RenderOptions) (*Result, error) {
	name := target.String()
	release, err := c.acquire(ctx, name, RunOptions{RunAs: opts.RunAs, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	res, err := c.render(ctx, target, format, opts)
	if err != nil {
		release()
		return nil, err
	}
	res.Body = &releasingBody{res.Body, release}
	return res, nil
}

func (c *Client) render(ctx context.Context, target RenderTarget, format string, opts RenderOptions) (*Result, error) {
	name := target.String()
	task, err := c.CreateRenderTask(ctx, target, format, opts)
	if err != nil {
		return nil, err
	}
	log := c.runLog(RunOptions{Log: opts.Log}).With(zap.String("source", name), zap.String("render_task_id", task.ID))
	taskPath := "/render_tasks/" + url.PathEscape(task.ID)
	fail := func(msg string, cause error) *Error {
		return &Error{Source: name, Op: "render_task", Method: http.MethodGet, Path: "/api/4.0" + taskPath, Message: msg, Err: cause}
	}
	var wait, hint time.Duration
	status := task.Status
	for {
		if status != RenderSuccess {
			if wait > 0 || hint > 0 {
				d := wait
				if hint > 0 {
					d = min(hint, PollMax)
				}
				if err := c.sleep(ctx, d); err != nil {
					return nil, withSource(transportError(ctx, "render_task", http.MethodGet, "/api/4.0"+taskPath, "waiting for the render task", err), name)
				}
				wait = min(max(wait*2, PollMin), PollMax)
			} else {
				wait = PollMin
			}
			t, ra, err := c.getRenderTask(ctx, &request{op: "render_task", method: http.MethodGet, path: taskPath,
				query: url.Values{"fields": {"id,status,status_detail"}}, as: opts.RunAs, source: name})
			if err != nil {
				return nil, err
			}
			status, hint = t.Status, ra
			log.Debug("render task status", zap.String("status", status), zap.Duration("retry_after", ra))
			switch status {
			case RenderEnqueuedForQuery, RenderQuerying, RenderEnqueuedForRender, RenderRendering:
				continue
			case RenderSuccess:
			case RenderFailure:
				return nil, fail(fmt.Sprintf("Looker could not render %s: %s", name, nonEmpty(t.StatusDetail, "no status_detail given")), ErrRenderFailed)
			default:
				return nil, fail(fmt.Sprintf("the render task has status %q, which the exporter does not know (it knows %s, %s, %s, %s, %s and %s); the run stops rather than poll until the job's timeout",
					status, RenderEnqueuedForQuery, RenderQuerying, RenderEnqueuedForRender, RenderRendering, RenderSuccess, RenderFailure), ErrRenderFailed)
			}
		}
		r := &request{op: "render_task_results", method: http.MethodGet, path: taskPath + "/results", as: opts.RunAs, source: name}
		resp, err := c.do(ctx, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			_ = resp.Body.Close()
			hint = parseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
			d := wait
			if hint > 0 {
				d = min(hint, PollMax)
			}
			d = max(d, PollMin)
			log.Debug("render task results not ready; waiting", zap.Duration("wait", d))
			if err := c.sleep(ctx, d); err != nil {
				return nil, withSource(transportError(ctx, r.op, r.method, r.fullPath(), "waiting for the render task's results", err), name)
			}
			wait = min(max(wait*2, PollMin), PollMax)
			continue
		}
		ct := resp.Header.Get("Content-Type")
		return &Result{Body: checkedBody(resp.Body, ct, resultCheck{format: format}, r), ContentType: ct, QueryID: target.QueryID}, nil
	}
}
