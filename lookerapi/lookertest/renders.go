package lookertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Render task statuses (spec RenderTask.status: "enqueued_for_query,
// querying, enqueued_for_render, rendering, success, failure").
const (
	RenderEnqueuedForQuery  = "enqueued_for_query"
	RenderQuerying          = "querying"
	RenderEnqueuedForRender = "enqueued_for_render"
	RenderRendering         = "rendering"
	RenderSuccess           = "success"
	RenderFailure           = "failure"
)

// RenderFailureDetail is the status_detail of a render task that ends in
// RenderFailure (spec RenderTask.status_detail: "Additional information
// about the current status"; Looker's wording is not documented).
const RenderFailureDetail = "Error rendering dashboard: the query for tile \"Orders by day\" timed out"

// renderTask is a render task. Like query tasks, its status moves one
// step per poll (GET /render_tasks/{id}), so tests need no clock.
type renderTask struct {
	id, user, format             string
	lookID, queryID, dashboardID string
	lookml                       bool
	width, height                int64
	paper                        string
	landscape, longTables        bool
	filters, style               string
	script                       []string
	polls                        int
	status, detail               string
	created                      time.Time
	lag                          int // 202s the results still answer after success
}

// defaultRenderScript is the life cycle of a render task with no script
// queued: every documented status in order, one per poll.
var defaultRenderScript = []string{RenderQuerying, RenderEnqueuedForRender, RenderRendering, RenderSuccess}

// ScriptNextRender sets the statuses the next render task created
// reports on its successive polls (the last sticks), as ScriptNextTask
// does for query tasks. A task that ends in RenderFailure carries
// RenderFailureDetail.
func (s *Server) ScriptNextRender(statuses ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renderScripts = append(s.renderScripts, slices.Clone(statuses))
}

// RenderTasks is the number of render tasks created so far.
func (s *Server) RenderTasks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.renders)
}

// renderFormats are the result formats each create operation documents.
var renderFormats = map[string][]string{
	"create_look_render_task":      {"png", "jpg"},
	"create_query_render_task":     {"png", "jpg"},
	"create_dashboard_render_task": {"pdf", "png", "jpg"},
}

// paperSizes are the spec's pdf_paper_size values, in points (1/72 in).
var paperSizes = map[string][2]int64{
	"letter": {612, 792}, "legal": {612, 1008}, "tabloid": {792, 1224},
	"a0": {2384, 3370}, "a1": {1684, 2384}, "a2": {1191, 1684}, "a3": {842, 1191}, "a4": {595, 842}, "a5": {420, 595},
}

// createRenderTask serves create_look_render_task,
// create_query_render_task and create_dashboard_render_task (NOTES §6):
// width and height are required query parameters; the dashboard one
// takes pdf_paper_size, pdf_landscape, long_tables and a required
// CreateDashboardRenderTask body (dashboard_filters in URL query format,
// dashboard_style). The task starts enqueued_for_query.
func (s *Server) createRenderTask(c *call) {
	v := c.r.URL.Query()
	format := c.r.PathValue("result_format")
	if !slices.Contains(renderFormats[c.op], format) {
		c.error(s.opts.UnknownFormatStatus, fmt.Sprintf("Unsupported result format '%s'.", format))
		return
	}
	dim := func(name string) (int64, bool) {
		n, err := strconv.ParseInt(v.Get(name), 10, 64)
		if err != nil || n <= 0 {
			c.validation("Validation Failed", name, "missing", "This field is required and must be a positive integer.")
			return 0, false
		}
		return n, true
	}
	w, ok := dim("width")
	if !ok {
		return
	}
	h, ok := dim("height")
	if !ok {
		return
	}
	t := &renderTask{user: c.tok.userID, format: format, width: w, height: h, status: RenderEnqueuedForQuery, created: s.now()}
	s.mu.Lock()
	found := true
	switch c.op {
	case "create_look_render_task":
		t.lookID = c.r.PathValue("look_id")
		_, found = s.looks[t.lookID]
	case "create_query_render_task":
		t.queryID = c.r.PathValue("query_id")
		_, found = s.queries[t.queryID]
	default:
		var d *dashboard
		if d, found = s.dashboards[c.r.PathValue("dashboard_id")]; found {
			t.dashboardID, t.lookml = d.id, d.lookml
		}
	}
	if !found {
		s.mu.Unlock()
		c.error(http.StatusNotFound, "Not found")
		return
	}
	s.mu.Unlock()
	if c.op == "create_dashboard_render_task" {
		var body struct {
			Filters *string `json:"dashboard_filters"`
			Style   *string `json:"dashboard_style"`
		}
		if err := json.NewDecoder(io.LimitReader(c.r.Body, 1<<20)).Decode(&body); err != nil {
			c.error(http.StatusBadRequest, "Could not parse JSON body: "+err.Error())
			return
		}
		if body.Filters != nil {
			if _, err := url.ParseQuery(*body.Filters); err != nil {
				c.validation("Validation Failed", "dashboard_filters", "invalid", "dashboard_filters must be in URL query format.")
				return
			}
			t.filters = *body.Filters
		}
		if body.Style != nil {
			if *body.Style != "tiled" && *body.Style != "single_column" {
				c.validation("Validation Failed", "dashboard_style", "invalid", "dashboard_style must be single_column or tiled.")
				return
			}
			t.style = *body.Style
		}
		t.paper = v.Get("pdf_paper_size")
		if _, ok := paperSizes[t.paper]; t.paper != "" && !ok {
			c.validation("Validation Failed", "pdf_paper_size", "invalid", "pdf_paper_size must be one of letter, legal, tabloid, a0, a1, a2, a3, a4, a5.")
			return
		}
		t.landscape, _ = strconv.ParseBool(v.Get("pdf_landscape"))
		t.longTables, _ = strconv.ParseBool(v.Get("long_tables"))
	}
	s.mu.Lock()
	s.nextRender++
	t.id = strconv.Itoa(s.nextRender)
	t.script = defaultRenderScript
	if len(s.renderScripts) > 0 {
		t.script, s.renderScripts = s.renderScripts[0], s.renderScripts[1:]
	}
	t.lag = s.opts.RenderResultsLag
	s.renders[t.id] = t
	out := renderJSON(t)
	s.mu.Unlock()
	c.writeJSON(http.StatusOK, out)
}

// renderJSON is the RenderTask body of t. s.mu must be held.
func renderJSON(t *renderTask) map[string]any {
	final := t.status == RenderSuccess || t.status == RenderFailure
	out := map[string]any{
		"id": t.id, "status": t.status, "status_detail": nilIfEmpty(t.detail), "result_format": t.format,
		"width": t.width, "height": t.height, "user_id": t.user, "created_at": t.created.UTC().Format(time.RFC3339),
		"look_id": nilIfEmpty(t.lookID), "query_id": nilIfEmpty(t.queryID), "dashboard_id": nil, "lookml_dashboard_id": nil,
		"dashboard_filters": nilIfEmpty(t.filters), "dashboard_style": nilIfEmpty(t.style), "dashboard_element_id": nil,
		"finalized_at": nil, "query_runtime": nil, "render_runtime": nil, "runtime": nil,
		"can": map[string]bool{"show": true},
	}
	if t.lookml {
		out["lookml_dashboard_id"] = t.dashboardID
	} else if t.dashboardID != "" {
		out["dashboard_id"] = t.dashboardID
	}
	if final {
		out["finalized_at"] = t.created.UTC().Format(time.RFC3339)
		out["query_runtime"], out["render_runtime"], out["runtime"] = 0.25, 0.5, 0.75
	}
	return out
}

func (s *Server) renderTask(c *call) (*renderTask, bool) {
	s.mu.Lock()
	t, ok := s.renders[c.r.PathValue("render_task_id")]
	s.mu.Unlock()
	if !ok || t.user != c.tok.userID {
		c.error(http.StatusNotFound, "Not found")
		return nil, false
	}
	return t, true
}

// renderTaskHandler is GET /render_tasks/{render_task_id} (spec op
// render_task): each poll moves the task one step along its script.
// With Options.RenderRetryAfter, an unfinished task's answer carries a
// Retry-After header [inf: documented for render_task_results only].
func (s *Server) renderTaskHandler(c *call) {
	t, ok := s.renderTask(c)
	if !ok {
		return
	}
	s.mu.Lock()
	if t.status != RenderSuccess && t.status != RenderFailure {
		t.status = t.script[min(t.polls, len(t.script)-1)]
		t.polls++
		if t.status == RenderFailure {
			t.detail = RenderFailureDetail
		}
	}
	out := renderJSON(t)
	done := t.status == RenderSuccess || t.status == RenderFailure
	s.mu.Unlock()
	if !done && s.opts.RenderRetryAfter > 0 {
		c.w.Header().Set("Retry-After", strconv.Itoa(s.opts.RenderRetryAfter))
	}
	c.writeJSON(http.StatusOK, out)
}

// renderTaskResults is GET /render_tasks/{render_task_id}/results (spec
// op render_task_results): while the task is not done, "the response
// HTTP status will be 202 Accepted, the response body will be empty, and
// the response will have a Retry-After header" (spec; Retry-After is
// Options.RenderRetryAfter, else 1 s); Options.RenderResultsLag makes it
// answer so a few times more after success [inf]. A failed task answers
// 400 with its status_detail [inf: the spec declares 400 and 404 only].
// Then the document: a one-page PDF, a PNG or a JPEG.
func (s *Server) renderTaskResults(c *call) {
	t, ok := s.renderTask(c)
	if !ok {
		return
	}
	s.mu.Lock()
	status, detail := t.status, t.detail
	notReady := status != RenderSuccess && status != RenderFailure
	if status == RenderSuccess && t.lag > 0 {
		t.lag--
		notReady = true
	}
	s.mu.Unlock()
	if notReady {
		ra := s.opts.RenderRetryAfter
		if ra <= 0 {
			ra = 1
		}
		c.w.Header().Set("Retry-After", strconv.Itoa(ra))
		c.w.WriteHeader(http.StatusAccepted)
		return
	}
	if status == RenderFailure {
		c.error(http.StatusBadRequest, detail)
		return
	}
	body, ct := s.renderDocument(t)
	c.w.Header().Set("Content-Type", ct)
	c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
}

// renderDocument draws t: its title and, for dashboards, the filters it
// was rendered with (so a test can read them back from the PDF).
func (s *Server) renderDocument(t *renderTask) ([]byte, string) {
	s.mu.Lock()
	title := "Query " + t.queryID
	switch {
	case t.lookID != "":
		title = s.looks[t.lookID].title
	case t.dashboardID != "":
		title = s.dashboards[t.dashboardID].title
	}
	s.mu.Unlock()
	switch t.format {
	case "pdf":
		lines := []string{title}
		if t.filters != "" {
			q, _ := url.ParseQuery(t.filters)
			keys := make([]string, 0, len(q))
			for k := range q {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				lines = append(lines, k+": "+strings.Join(q[k], ", "))
			}
		}
		w, h := t.width, t.height
		if size, ok := paperSizes[t.paper]; ok {
			w, h = size[0], size[1]
		}
		if t.landscape {
			w, h = h, w
		}
		return renderPDF(w, h, lines), "application/pdf"
	case "png":
		var b bytes.Buffer
		_ = png.Encode(&b, renderImage(t))
		return b.Bytes(), "image/png"
	default:
		var b bytes.Buffer
		_ = jpeg.Encode(&b, renderImage(t), &jpeg.Options{Quality: 75})
		return b.Bytes(), "image/jpeg"
	}
}

// renderImage is a width × height picture (at most 2000 × 2000) with a
// bar per tile, drawn from nothing but the task.
func renderImage(t *renderTask) image.Image {
	w, h := int(min(t.width, 2000)), int(min(t.height, 2000))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{R: 250, G: 250, B: 252, A: 255}
			if y > h/4 && y < h*3/4 && x%(w/5+1) < w/10 {
				c = color.RGBA{R: 66, G: 133, B: 244, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// renderPDF writes a minimal PDF 1.4 document: a catalog, a pages tree,
// one page of width × height points showing lines in Helvetica, its
// content stream and font, a cross-reference table with the true byte
// offsets, and a trailer (ISO 32000-1 §7.5).
func renderPDF(width, height int64, lines []string) []byte {
	var content strings.Builder
	content.WriteString("BT /F1 14 Tf 50 ")
	content.WriteString(strconv.FormatInt(height-60, 10))
	content.WriteString(" Td 18 TL\n")
	for _, l := range lines {
		content.WriteString("(")
		content.WriteString(pdfEscape(l))
		content.WriteString(") Tj T*\n")
	}
	content.WriteString("ET")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>", width, height),
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// pdfEscape escapes a PDF literal string; non-ASCII runes become "?"
// (Helvetica's standard encoding is not UTF-8).
func pdfEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 32 || r > 126:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
