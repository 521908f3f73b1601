package lookerapi_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestRender renders dashboards (numeric and LookML ids) to PDF, PNG and
// JPEG and a Look and a query to PNG and JPEG through render tasks: the
// task goes through every documented status, the results answer 202
// with Retry-After first, the client waits what Retry-After says on the
// injected clock, and the document is valid: a PDF whose header, single
// page, cross-reference table (true offsets), trailer and %%EOF hold
// together and that shows the dashboard filters sent; a PNG and a JPEG
// that the standard decoders read at the requested size.
func TestRender(t *testing.T) {
	t.Parallel()
	yes := true
	filters := map[string]string{"Date": "2024-01-01 to 2024-01-02", "Country": "France, Spain"}
	for _, tc := range []struct {
		name   string
		target lookerapi.RenderTarget
		format string
		opts   lookerapi.RenderOptions
	}{
		{"dashboard pdf", lookerapi.RenderTarget{DashboardID: lookertest.DashboardID}, "pdf",
			lookerapi.RenderOptions{Width: 1200, Height: 900, PDFPaperSize: "a4", PDFLandscape: &yes, LongTables: &yes, DashboardFilters: filters, DashboardStyle: "tiled"}},
		{"lookml dashboard pdf", lookerapi.RenderTarget{DashboardID: lookertest.LookMLDashboardID}, "pdf",
			lookerapi.RenderOptions{Width: 800, Height: 600, DashboardFilters: filters}},
		{"dashboard png", lookerapi.RenderTarget{DashboardID: lookertest.DashboardID}, "png", lookerapi.RenderOptions{Width: 640, Height: 480}},
		{"dashboard jpg", lookerapi.RenderTarget{DashboardID: lookertest.DashboardID}, "jpg", lookerapi.RenderOptions{Width: 320, Height: 200}},
		{"look png", lookerapi.RenderTarget{LookID: lookertest.LookID}, "png", lookerapi.RenderOptions{Width: 300, Height: 150}},
		{"query jpg", lookerapi.RenderTarget{QueryID: lookertest.QueryID}, "jpg", lookerapi.RenderOptions{Width: 100, Height: 80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, setupOpts{server: lookertest.Options{RenderRetryAfter: 7, RenderResultsLag: 1}})
			res, err := f.client.Render(context.Background(), tc.target, tc.format, tc.opts)
			require.NoError(t, err)
			body := readAll(t, res)
			require.Len(t, f.srv.RequestLog("render_task"), 4, "querying, enqueued_for_render, rendering, success")
			require.Len(t, f.srv.RequestLog("render_task_results"), 2, "one 202, then the document")
			require.Contains(t, f.clock.Waits(), 7*time.Second, "Retry-After is honoured")
			switch tc.format {
			case "pdf":
				requireValidPDF(t, body)
				w, h := tc.opts.Width, tc.opts.Height
				if tc.opts.PDFPaperSize == "a4" {
					w, h = 842, 595 // landscape
				}
				require.Contains(t, string(body), "/MediaBox [0 0 "+strconv.FormatInt(w, 10)+" "+strconv.FormatInt(h, 10)+"]")
				require.Contains(t, string(body), "(Date: 2024-01-01 to 2024-01-02)")
				require.Contains(t, string(body), "(Country: France, Spain)")
				created := f.srv.RequestLog("create_dashboard_render_task")
				require.Len(t, created, 1)
				require.Contains(t, string(created[0].Body), `"dashboard_filters":"Country=France%2C+Spain\u0026Date=2024-01-01+to+2024-01-02"`)
			case "png", "jpg":
				decode := png.Decode
				if tc.format == "jpg" {
					decode = jpeg.Decode
				}
				img, err := decode(bytes.NewReader(body))
				require.NoError(t, err)
				require.Equal(t, image.Rect(0, 0, int(tc.opts.Width), int(tc.opts.Height)), img.Bounds())
				cfgFormat := map[string]string{"png": "png", "jpg": "jpeg"}[tc.format]
				_, name, err := image.DecodeConfig(bytes.NewReader(body))
				require.NoError(t, err)
				require.Equal(t, cfgFormat, name)
			}
		})
	}
}

// requireValidPDF checks a PDF's structure: the header, one page, a
// cross-reference table whose offsets point at their objects, startxref
// pointing at the table, and %%EOF.
func requireValidPDF(t *testing.T, b []byte) {
	t.Helper()
	require.True(t, bytes.HasPrefix(b, []byte("%PDF-1.")), "header")
	require.True(t, bytes.HasSuffix(bytes.TrimRight(b, "\r\n"), []byte("%%EOF")), "trailer end")
	require.Equal(t, 1, bytes.Count(b, []byte("/Type /Page ")), "one page")
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF`).FindSubmatch(b)
	require.NotNil(t, m)
	xref, _ := strconv.Atoi(string(m[1]))
	require.True(t, bytes.HasPrefix(b[xref:], []byte("xref\n")), "startxref points at the xref table")
	sub := regexp.MustCompile(`^xref\n0 (\d+)\n`).FindSubmatch(b[xref:])
	require.NotNil(t, sub)
	n, _ := strconv.Atoi(string(sub[1]))
	entries := regexp.MustCompile(`(\d{10}) (\d{5}) ([nf]) ?\r?\n`).FindAllSubmatch(b[xref:], -1)
	require.Len(t, entries, n)
	for i, e := range entries[1:] {
		off, _ := strconv.Atoi(string(e[1]))
		require.True(t, bytes.HasPrefix(b[off:], []byte(strconv.Itoa(i+1)+" 0 obj")), "object %d at offset %d", i+1, off)
	}
	require.Regexp(t, `trailer\s*<<\s*/Size `+strconv.Itoa(n)+` /Root 1 0 R`, string(b))
}

// TestRenderEnds: a failure status ends the render at once with Looker's
// status_detail, permanently; so does a status Looker never documented.
// Without Retry-After, polls back off from PollMin.
func TestRenderEnds(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{})
	ctx := context.Background()
	target := lookerapi.RenderTarget{DashboardID: lookertest.DashboardID}
	opts := lookerapi.RenderOptions{Width: 100, Height: 100}

	f.srv.ScriptNextRender(lookertest.RenderQuerying, lookertest.RenderFailure)
	_, err := f.client.Render(ctx, target, "pdf", opts)
	require.ErrorIs(t, err, lookerapi.ErrRenderFailed)
	require.ErrorContains(t, err, lookertest.RenderFailureDetail)
	require.False(t, lookerapi.IsRetryable(err))
	require.Len(t, f.srv.RequestLog("render_task"), 2)
	require.Empty(t, f.srv.RequestLog("render_task_results"))

	f.srv.ScriptNextRender(lookertest.RenderQuerying, "paused")
	_, err = f.client.Render(ctx, target, "png", opts)
	require.ErrorIs(t, err, lookerapi.ErrRenderFailed)
	require.ErrorContains(t, err, `status "paused"`)
	require.Len(t, f.srv.RequestLog("render_task"), 4)

	require.Equal(t, []time.Duration{lookerapi.PollMin, lookerapi.PollMin}, f.clock.Waits(), "the first poll is at once")
	res, err := f.client.Render(ctx, target, "png", opts)
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, []time.Duration{lookerapi.PollMin, lookerapi.PollMin,
		lookerapi.PollMin, 2 * lookerapi.PollMin, 4 * lookerapi.PollMin}, f.clock.Waits())

	for _, bad := range []struct {
		target lookerapi.RenderTarget
		format string
		opts   lookerapi.RenderOptions
		want   string
	}{
		{lookerapi.RenderTarget{LookID: lookertest.LookID}, "pdf", opts, "only dashboards to pdf"},
		{target, "gif", opts, "not pdf, png or jpg"},
		{target, "pdf", lookerapi.RenderOptions{Width: 100}, "positive width and height"},
		{lookerapi.RenderTarget{LookID: "1", QueryID: "2"}, "png", opts, "exactly one"},
		{lookerapi.RenderTarget{QueryID: lookertest.QueryID}, "png", lookerapi.RenderOptions{Width: 1, Height: 1, PDFPaperSize: "a4"}, "dashboards only"},
	} {
		_, err := f.client.Render(ctx, bad.target, bad.format, bad.opts)
		require.ErrorContains(t, err, bad.want)
	}
}
