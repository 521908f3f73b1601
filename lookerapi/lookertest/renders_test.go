package lookertest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestRenderTaskLifecycle walks a render task through the spec's
// statuses, one per poll, with results answering 202 (empty body,
// Retry-After) until success; and checks what each create operation
// refuses.
func TestRenderTaskLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{RenderRetryAfter: 3})
	tok := "Bearer " + a.login()
	status, _, body := a.call("POST", "/render_tasks/dashboards/thelook::orders_overview/pdf?width=600&height=400&pdf_paper_size=a4",
		tok, strings.NewReader(`{"dashboard_filters":"Date=2024-01-01"}`), "application/json")
	require.Equal(t, 200, status, string(body))
	var task struct {
		ID, Status        string
		LookMLDashboardID string `json:"lookml_dashboard_id"`
		DashboardFilters  string `json:"dashboard_filters"`
	}
	require.NoError(t, json.Unmarshal(body, &task))
	require.Equal(t, lookertest.RenderEnqueuedForQuery, task.Status)
	require.Equal(t, lookertest.LookMLDashboardID, task.LookMLDashboardID)
	require.Equal(t, "Date=2024-01-01", task.DashboardFilters)
	for _, want := range []string{lookertest.RenderQuerying, lookertest.RenderEnqueuedForRender, lookertest.RenderRendering} {
		status, h, body := a.call("GET", "/render_tasks/"+task.ID+"/results", tok, nil, "")
		require.Equal(t, 202, status)
		require.Empty(t, body)
		require.Equal(t, "3", h.Get("Retry-After"))
		a.getJSON("/render_tasks/"+task.ID, tok, &task)
		require.Equal(t, want, task.Status)
	}
	a.getJSON("/render_tasks/"+task.ID, tok, &task)
	require.Equal(t, lookertest.RenderSuccess, task.Status)
	status, h, body := a.call("GET", "/render_tasks/"+task.ID+"/results", tok, nil, "")
	require.Equal(t, 200, status)
	require.Equal(t, "application/pdf", h.Get("Content-Type"))
	require.True(t, strings.HasPrefix(string(body), "%PDF-1.4\n"))
	require.Contains(t, string(body), "/MediaBox [0 0 595 842]")

	for _, bad := range []struct {
		path string
		want int
	}{
		{"/render_tasks/looks/42/pdf?width=1&height=1", 400},  // Looks render to png and jpg only
		{"/render_tasks/queries/123/png?width=1", 422},        // height is required
		{"/render_tasks/looks/999/png?width=1&height=1", 404}, // no such Look
		{"/render_tasks/dashboards/7/pdf?width=1&height=1&pdf_paper_size=a9", 422},
	} {
		status, _, body := a.call("POST", bad.path, tok, strings.NewReader(`{}`), "application/json")
		require.Equal(t, bad.want, status, "%s: %s", bad.path, body)
	}
}
