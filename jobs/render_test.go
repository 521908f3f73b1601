package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// pollClock is a lookerapi clock whose poll waits (up to PollMax) end at
// once, so render tasks move through their statuses without the test
// waiting; longer timers (request and read-idle timeouts) run on the wall
// clock.
type pollClock struct{}

func (pollClock) Now() time.Time { return time.Now() }

func (pollClock) AfterFunc(d time.Duration, f func()) lookerapi.Timer {
	if d <= lookerapi.PollMax {
		return time.AfterFunc(0, f)
	}
	return time.AfterFunc(d, f)
}

// setupRender is setup with a client on pollClock.
func setupRender(t *testing.T) *bundle {
	t.Helper()
	b := setup(t, 3000)
	client, err := lookerapi.New(lookerapi.Config{BaseURL: b.srv.URL(), ClientID: b.srv.ClientID(), ClientSecret: b.srv.ClientSecret(), VerifySSL: true},
		b.log, lookerapi.WithClock(pollClock{}))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(context.Background()) })
	b.client, b.runner.Looker = client, client
	return b
}

// TestRenderDashboardPDFAndLookPNG: a dashboard renders to a PDF (its
// paper size, orientation and templated filter values sent with the
// render task) and a Look with the job's filters renders to a PNG of the
// job's size, through the query derived with those filters; each is
// published atomically with its manifest.
func TestRenderDashboardPDFAndLookPNG(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)
	t.Run("dashboard pdf", func(t *testing.T) {
		t.Parallel()
		b := setupRender(t)
		job := b.job(t, "overview-pdf", fmt.Sprintf(`schedule: '0 0 * * *'
source: {dashboard_id: '%s', filters: {Date: %s}}
format: pdf
render: {width: 1000, height: 700, pdf_paper_size: a4, pdf_landscape: true, long_tables: true}
destination: '$DIR/pdf/{{ date "2006-01-02" }}/overview.pdf'`, lookertest.DashboardID, windowFilter))
		run, err := b.run(t.Context(), job, day, jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Succeeded, run.Status)
		require.Len(t, run.URIs, 1)
		data := b.readBack(t, run.URIs[0])
		require.True(t, bytes.HasPrefix(data, []byte("%PDF")), "a PDF: %q", data[:min(len(data), 16)])
		require.Contains(t, string(data), "2024-01-02 to 2024-01-03", "the rendered filter value is on the page")

		created := b.srv.RequestLog("create_dashboard_render_task")
		require.Len(t, created, 1)
		require.Equal(t, "a4", created[0].Query.Get("pdf_paper_size"))
		require.Equal(t, "true", created[0].Query.Get("pdf_landscape"))
		require.Equal(t, "true", created[0].Query.Get("long_tables"))
		require.Equal(t, "1000", created[0].Query.Get("width"))
		var body struct {
			DashboardFilters string `json:"dashboard_filters"`
		}
		require.NoError(t, json.Unmarshal(created[0].Body, &body))
		require.Equal(t, "Date="+url.QueryEscape("2024-01-02 to 2024-01-03"), body.DashboardFilters)

		var m publish.Manifest
		require.NoError(t, json.Unmarshal(b.readBack(t, b.dir+"/pdf/2024-01-03/_manifest.json"), &m))
		require.Equal(t, "pdf", m.Format)
		require.Equal(t, "application/pdf", m.ContentType)
		require.Equal(t, lookertest.DashboardID, m.Source.DashboardID)
		require.Len(t, m.Files, 1)
		require.Equal(t, int64(len(data)), m.Files[0].Size)
	})
	t.Run("look png with filters", func(t *testing.T) {
		t.Parallel()
		b := setupRender(t)
		job := b.job(t, "orders-png", fmt.Sprintf(`schedule: '0 0 * * *'
source: {look_id: '%s', filters: {orders.created_date: %s}}
format: png
render: {width: 320, height: 200}
destination: '$DIR/png/{{ date "2006-01-02" }}.png'`, lookertest.LookID, windowFilter))
		run, err := b.run(t.Context(), job, day, jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Succeeded, run.Status)
		img, err := png.Decode(bytes.NewReader(b.readBack(t, run.URIs[0])))
		require.NoError(t, err)
		require.Equal(t, 320, img.Bounds().Dx())
		require.Equal(t, 200, img.Bounds().Dy())

		created := b.srv.RequestLog("create_query")
		require.Len(t, created, 1, "the Look's query with the job's filters")
		q, err := created[0].DecodeQuery()
		require.NoError(t, err)
		require.Equal(t, map[string]string{"orders.created_date": "2024-01-02 to 2024-01-03"}, q.Filters)
		rendered := b.srv.RequestLog("create_query_render_task")
		require.Len(t, rendered, 1)
		require.Equal(t, []string{run.QueryIDs[0]}, run.QueryIDs)
		require.Equal(t, "/render_tasks/queries/"+run.QueryIDs[0]+"/png", rendered[0].Path, "the derived query is rendered")
	})
}

// TestRenderFailureFailsTheRun: a render task that ends in failure fails
// the run, permanently, with Looker's status_detail, and publishes
// nothing.
func TestRenderFailureFailsTheRun(t *testing.T) {
	t.Parallel()
	b := setupRender(t)
	job := b.job(t, "overview-png", fmt.Sprintf("source: {dashboard_id: '%s'}\nformat: png\ndestination: '$DIR/overview.png'", lookertest.DashboardID))
	b.srv.ScriptNextRender(lookertest.RenderQuerying, lookertest.RenderFailure)
	run, err := b.run(t.Context(), job, scheduled, jobs.RunOptions{})
	require.Error(t, err)
	require.ErrorIs(t, err, lookerapi.ErrRenderFailed)
	require.Equal(t, state.Failed, run.Status)
	require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
	require.Contains(t, run.Error, lookertest.RenderFailureDetail)
	require.Empty(t, b.localFiles(t))
}
