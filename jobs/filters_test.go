package jobs_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// windowFilter is a daily job's data interval as a Looker date filter.
const windowFilter = `'{{ .PrevScheduledTime.Format "2006-01-02" }} to {{ .ScheduledTime.Format "2006-01-02" }}'`

// rowsBetween lists the sandbox rows (0-based) created in [from, to).
func rowsBetween(rows int, from, to time.Time, also func(r int) bool) []int {
	var out []int
	for r := range rows {
		i := lookertest.Instant(r)
		if !i.Before(from) && i.Before(to) && (also == nil || also(r)) {
			out = append(out, r)
		}
	}
	return out
}

// TestLookWithTemplatedWindow: a Look exported with the job's templated
// date window sends the Look's query with the window merged in (read in
// the sandbox's request log: the Look's fields and sorts, the rendered
// filters, no filter_config), exports only that window's rows, and its
// manifest records the Look, the filters sent and the query that ran.
// The next fire sends the next window.
func TestLookWithTemplatedWindow(t *testing.T) {
	t.Parallel()
	const rows = 3000 // 97 s apart from 2024-01-01 08:00 UTC
	b := setup(t, rows)
	job := b.job(t, "orders", fmt.Sprintf(`schedule: '0 0 * * *'
source:
  look_id: %s
  filters: {orders.created_date: %s}
format: csv
destination: '$DIR/{{ date "2006-01-02" }}/orders.csv'`, lookertest.LookID, windowFilter))

	for _, day := range []time.Time{time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 4, 0, 0, 0, 0, time.UTC)} {
		prev := day.AddDate(0, 0, -1)
		run, err := b.run(t.Context(), job, day, jobs.RunOptions{})
		require.NoError(t, err)
		require.Equal(t, state.Succeeded, run.Status)

		created := b.srv.RequestLog("create_query")
		require.NotEmpty(t, created)
		sent, err := created[len(created)-1].DecodeQuery()
		require.NoError(t, err)
		window := prev.Format("2006-01-02") + " to " + day.Format("2006-01-02")
		require.Equal(t, map[string]string{"orders.created_date": window}, sent.Filters)
		require.Equal(t, lookertest.QueryFields, sent.Fields)
		require.Equal(t, []string{"orders.id"}, sent.Sorts)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(created[len(created)-1].Body, &raw))
		require.NotContains(t, raw, "filter_config")

		dir := b.dir + "/" + day.Format("2006-01-02") + "/"
		recs, err := csv.NewReader(strings.NewReader(string(b.readBack(t, dir+"orders.csv")))).ReadAll()
		require.NoError(t, err)
		want := rowsBetween(rows, prev, day, nil)
		require.NotEmpty(t, want)
		require.Len(t, recs, len(want)+1, "the header, then the window's rows only")
		for i, r := range want {
			require.Equal(t, strconv.Itoa(r+1), recs[i+1][0])
			d, _ := lookertest.Value("orders.created_date", r)
			require.Equal(t, d, recs[i+1][1])
		}

		var m publish.Manifest
		require.NoError(t, json.Unmarshal(b.readBack(t, dir+"_manifest.json"), &m))
		require.Equal(t, lookertest.LookID, m.Source.LookID)
		require.Equal(t, map[string]string{"orders.created_date": window}, m.Source.Filters)
		runs := b.srv.RequestLog("run_query")
		ran := runs[len(runs)-1].Path // /queries/{id}/run/csv
		require.Equal(t, "/queries/"+m.LookerQueryID+"/run/csv", ran, "the manifest names the query that ran")
		require.NotEqual(t, lookertest.QueryID, m.LookerQueryID, "a derived query, not the Look's own")
		require.Equal(t, []string{m.LookerQueryID}, run.QueryIDs)
	}
}
