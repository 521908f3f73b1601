package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// checkConfig writes the embedded demo config, pointed at srv, plus extra
// jobs, to a file and returns its path.
func checkConfig(t *testing.T, srv *lookertest.Server, extraJobs string) string {
	t.Helper()
	dir := t.TempDir()
	y := strings.NewReplacer(
		"${LOOKERSDK_BASE_URL}", srv.URL(),
		"${LOOKERSDK_CLIENT_ID}", srv.ClientID(),
		"${LOOKERSDK_CLIENT_SECRET}", srv.ClientSecret(),
		"${EXPORTER_DEMO_DIR}", dir,
	).Replace(string(demoConfig)) + extraJobs
	path := filepath.Join(dir, "jobs.yaml")
	require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
	return path
}

// The Look that will not stream: a table calculation, run for all rows.
const vatJob = `
  - name: orders_vat
    description: Look 43 has a table calculation, so Looker will not stream it
    source:
      look_id: "43"
    format: parquet
    destination: '/tmp/never-written/orders_vat.parquet'
`

func TestCheckDemoConfig(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	conf := checkConfig(t, srv, "")

	code, stdout, stderr := exec(t, context.Background(), "check", "--config", conf)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	for _, want := range []string{
		"orders_csv  look 42  [OK]",
		`mode sync, look "Orders export", query 123, explore thelook/orders`,
		"orders_jsonl  query slug AbC123xyz  [OK]",
		"orders_parquet  inline query thelook/orders  [OK]",
		"orders_sql  sql on connection warehouse  [OK]",
		"streams: yes (SQL Runner; columns are known once the SQL runs)",
	} {
		require.Contains(t, stdout, want)
	}
	// Fields with their LookML types and output types, aligned.
	require.Regexp(t, `orders\.created_date\s+dimension\s+date_date\s+DATE`, stdout)
	require.Regexp(t, `orders\.created_time\s+dimension\s+date_time\s+TIMESTAMP`, stdout)
	require.Regexp(t, `orders\.is_first_purchase\s+dimension\s+yesno\s+BOOLEAN`, stdout)
	require.Regexp(t, `orders\.count\s+measure\s+count\s+INT64`, stdout)
	require.Regexp(t, `orders\.total_amount\s+measure\s+sum\s+DOUBLE`, stdout)
	require.NotContains(t, stdout, "streams: NO")
	require.Zero(t, srv.Requests("run_look")+srv.Requests("run_query")+srv.Requests("run_inline_query")+
		srv.Requests("run_sql_query")+srv.Requests("create_query_task"), "check runs nothing")
}

func TestCheckFlagsLookThatWillNotStream(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	conf := checkConfig(t, srv, vatJob)

	code, stdout, stderr := exec(t, context.Background(), "check", "--config", conf, "orders_vat", "orders_csv")
	require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "orders_vat  look 43  [PROBLEM]")
	require.Contains(t, stdout, "streams: NO (table calculations (amount_with_vat))")
	require.Contains(t, stdout, "problem: will not stream (table calculations (amount_with_vat)): Looker computes such results in memory and caps them (5,000 rows; 50,000 with legacy all results) although the job asks for all rows (limit -1)")
	require.Regexp(t, `amount_with_vat\s+table_calculation\s+number\s+DOUBLE`, stdout)
	require.Contains(t, stdout, "orders_csv  look 42  [OK]")
	require.Contains(t, stderr, "1 of 2 job(s) have problems")

	code, stdout, stderr = exec(t, context.Background(), "check", "--config", conf, "--output", "json", "orders_vat")
	require.Equal(t, exitFailed, code, stderr)
	var got []checkedJob
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Len(t, got, 1)
	require.Equal(t, "orders_vat", got[0].Job)
	require.False(t, got[0].Streams)
	require.Equal(t, "124", got[0].QueryID)
	require.Equal(t, checkedField{Name: "amount_with_vat", Label: "Amount with VAT", Category: "table_calculation",
		LookMLType: "number", OutputType: "DOUBLE"}, got[0].Fields[4])

	code, _, stderr = exec(t, context.Background(), "check", "--config", conf, "nope")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `no job "nope"`)
}

func TestCheckReportsLookerErrors(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	conf := checkConfig(t, srv, `
  - name: gone
    source: {look_id: "404"}
    format: csv
    destination: /tmp/never-written/gone.csv
`)
	code, stdout, _ := exec(t, context.Background(), "check", "--config", conf)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stdout, "gone  look 404  [PROBLEM]")
	require.Regexp(t, `error: 404 Not found: look 404 was not found, or the Looker user running it \(the API user, or run_as\) has no permission to it \(folder access, model set\); look 404: look GET /api/4.0/looks/404 \(\S+\) \(job gone, \S+jobs\.yaml:\d+\)`, stdout)
	require.Contains(t, stdout, "orders_csv  look 42  [OK]", "one bad job does not hide the others")
}

// TestCheckShowsZoneAndLimits: check prints, per job, the zone Looker
// renders datetimes in and where it comes from, and the limit the job
// sends beside the saved one; a zone Looker cannot tell is a problem that
// names the key to set.
func TestCheckShowsZoneAndLimits(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{UserTimezones: true})
	t.Cleanup(srv.Close)
	top := lookertest.Query{Model: lookertest.Model, View: lookertest.ExploreName, Fields: []string{"orders.id", "orders.created_time"},
		Limit: "50", QueryTimezone: "America/New_York"}
	nyLook, _ := srv.SaveLook(top)
	top.QueryTimezone = ""
	bareLook, _ := srv.SaveLook(top)
	jobs := fmt.Sprintf(`
  - name: top_overridden
    source: {look_id: "%s"}
    format: parquet
    destination: '/tmp/never-written/a.parquet'
  - name: top_kept
    source: {look_id: "%s"}
    limit: saved
    query_timezone: Asia/Tokyo
    format: parquet
    destination: '/tmp/never-written/b.parquet'
  - name: zone_unknown
    source: {look_id: "%s"}
    format: parquet
    destination: '/tmp/never-written/c.parquet'
`, nyLook, nyLook, bareLook)
	conf := checkConfig(t, srv, jobs)
	code, stdout, stderr := exec(t, context.Background(), "check", "--config", conf, "top_overridden", "top_kept", "zone_unknown")
	require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	for _, want := range []string{
		"top_overridden  look " + nyLook + "  [OK]",
		"time zone: America/New_York, from the query_timezone",
		"limit: sends all rows (-1), overriding the saved limit of 50 (limit: saved keeps it)",
		"top_kept  look " + nyLook + "  [OK]",
		"time zone: Asia/Tokyo, from the job",
		"limit: sends none, so the saved limit of 50 applies",
		"zone_unknown  look " + bareLook + "  [PROBLEM]",
		"query_timezone",
	} {
		require.Contains(t, stdout, want)
	}
}

// TestCheckFiltersAndDashboards: check prints the merged query a Look
// with filters sends for the next fire (the templates rendered for it),
// and a dashboard's filter values and tiles with their files, creating
// no query in Looker.
func TestCheckFiltersAndDashboards(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	conf := checkConfig(t, srv, `
  - name: orders_window
    schedule: '0 6 * * *'
    source:
      look_id: "42"
      filters: {orders.created_date: '{{ .PrevScheduledTime.Format "2006-01-02" }} to {{ .ScheduledTime.Format "2006-01-02" }}'}
      filter_expression: '$${orders.amount} > 10'
    format: csv
    destination: '/tmp/never-written/w.csv'
  - name: overview_bad_filter
    source: {dashboard_id: "7", filters: {Region: EU}}
    format: csv
    destination: '/tmp/never-written/o/{{ .Tile }}.csv'
`)
	code, stdout, stderr := exec(t, context.Background(), "check", "--config", conf)
	require.Equal(t, exitFailed, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Regexp(t, `filters sent for the fire at \d{4}-\d\d-\d\dT06:00:00Z \(saved filters with the job's merged in\):\n    orders.created_date: \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d\n    filter_expression: \$\{orders.amount\} > 10\n`, stdout)
	for _, want := range []string{
		"orders_complete  look 42  [OK]",
		"    orders.status: complete",
		"overview_tiles  dashboard 7  [OK]",
		`  dashboard "Orders overview", filter values for the fire at `,
		"    Date: 2024-01-01 to 2024-01-03",
		"    Country: (any value)",
		`    101 "Orders by day": ` + filepath.Dir(conf) + "/overview_tiles/dt=",
		`    103 "untitled": skipped (no data)`,
		`orders-with-amounts-104.parquet (merged result, merged by the exporter)`,
		"overview_pdf  dashboard 7  [OK]",
		`    101 "Orders by day": rendered with the dashboard`,
		"overview_bad_filter  dashboard 7  [PROBLEM]",
		`has no filter named Region; its filters are Date, Country, Status`,
	} {
		require.Contains(t, stdout, want)
	}
	require.Empty(t, srv.RequestLog("create_query"), "check creates nothing in Looker")

	code, stdout, _ = exec(t, context.Background(), "check", "--config", conf, "--output", "json", "overview_tiles", "orders_window")
	require.Equal(t, exitOK, code, stdout)
	var out []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	require.Len(t, out, 2)
	require.Contains(t, out[0], "dashboard")
	require.Contains(t, out[1]["filters"], "orders.created_date")
}
