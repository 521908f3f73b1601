package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
	"github.com/lookerexport/exporter/sinks/publish"
	"github.com/lookerexport/exporter/state"
)

// createdTimes reads the orders_created_time column of an exported file
// as instants: Parquet through arrow-go, JSON lines with encoding/json.
func createdTimes(t *testing.T, format string, data []byte) []time.Time {
	t.Helper()
	var out []time.Time
	switch format {
	case "parquet":
		cols, rows := parquetCells(t, data)
		c := indexOf(t, cols, "orders_created_time")
		for _, r := range rows {
			ts, err := time.Parse("2006-01-02T15:04:05Z", r[c]) // arrow-go prints UTC-adjusted timestamps so
			require.NoError(t, err, r[c])
			out = append(out, ts)
		}
	case "jsonl":
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var row map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
			ts, err := time.Parse(time.RFC3339Nano, row["orders_created_time"].(string))
			require.NoError(t, err)
			out = append(out, ts)
		}
	}
	return out
}

func indexOf(t *testing.T, cols []string, name string) int {
	t.Helper()
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	require.Failf(t, "no column", "%s not in %v", name, cols)
	return -1
}

// TestExportedInstantsAreTrue: whatever zone Looker rendered datetimes
// in (the query's, the job's, Looker's default), and whatever zone the
// job is scheduled in, every exported instant equals the one the
// database stores (lookertest.Instant).
func TestExportedInstantsAreTrue(t *testing.T) {
	t.Parallel()
	ny := lookertest.Query{Model: lookertest.Model, View: lookertest.ExploreName, Fields: []string{"orders.id", "orders.created_time"},
		Limit: "500", QueryTimezone: "America/New_York"}
	noZone := ny
	noZone.QueryTimezone = ""
	inline := "source:\n  query: {model: thelook, view: orders, fields: [orders.id, orders.created_time]}\n"
	tests := []struct {
		name string
		opts lookertest.Options
		look *lookertest.Query // saved as a Look, else source is inline
		keys string            // extra job keys
		zone string            // the zone the manifest must name
	}{
		{name: "look in New York, job in Berlin", look: &ny, zone: "America/New_York"},
		{name: "look without zone, Looker default Tokyo", opts: lookertest.Options{AppTimezone: "Asia/Tokyo"}, look: &noZone, zone: "Asia/Tokyo"},
		{name: "look without zone, connection zone variant", opts: lookertest.Options{AppTimezone: "Asia/Tokyo", ZoneFallback: lookertest.ZoneConnection, ConnectionTimezone: "America/Chicago"}, look: &noZone, zone: "Asia/Tokyo"},
		{name: "look re-zoned by the job", look: &ny, keys: "query_timezone: Australia/Sydney\n", zone: "Australia/Sydney"},
		{name: "inline query sends UTC although Looker defaults to Tokyo", opts: lookertest.Options{AppTimezone: "Asia/Tokyo"}, zone: "UTC"},
		{name: "inline query in the job's zone", opts: lookertest.Options{AppTimezone: "Asia/Tokyo"}, keys: "query_timezone: America/New_York\n", zone: "America/New_York"},
	}
	for _, tt := range tests {
		for _, format := range []string{"parquet", "jsonl"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				b := setupWith(t, tt.opts)
				src := inline
				if tt.look != nil {
					id, _ := b.srv.SaveLook(*tt.look)
					src = fmt.Sprintf("source: {look_id: '%s'}\n", id)
				}
				job := b.job(t, "zones", src+tt.keys+"timezone: Europe/Berlin\nlimit: 300\nformat: "+format+"\ndestination: '$DIR/out."+format+"'")
				run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
				require.NoError(t, err)
				require.Equal(t, state.Succeeded, run.Status)
				got := createdTimes(t, format, b.readBack(t, run.URIs[0]))
				require.Len(t, got, 300)
				for i, ts := range got {
					require.True(t, lookertest.Instant(i).Equal(ts), "row %d: exported %s, the database holds %s", i, ts, lookertest.Instant(i))
				}
				var m publish.Manifest
				require.NoError(t, json.Unmarshal(b.readBack(t, "file://"+filepath.Join(b.dir, "_manifest.json")), &m))
				require.Equal(t, tt.zone, m.QueryTimezone)
				require.NotEmpty(t, m.TimezoneSource)
			})
		}
	}
}

// TestUnknowableZoneFailsTheRun: when Looker cannot say which zone it
// renders a saved query in (user-specific time zones, or an API user who
// may not read the settings), the run fails, publishes nothing, and says
// which key to set.
func TestUnknowableZoneFailsTheRun(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]lookertest.Options{
		"user time zones":    {UserTimezones: true},
		"settings forbidden": {SettingForbidden: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, opts)
			id, _ := b.srv.SaveLook(lookertest.Query{Model: lookertest.Model, View: lookertest.ExploreName, Fields: []string{"orders.id", "orders.created_time"}})
			job := b.job(t, "zones", "source: {look_id: '"+id+"'}\nformat: parquet\ndestination: '$DIR/out.parquet'")
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.Error(t, err)
			require.Equal(t, state.Failed, run.Status)
			require.Equal(t, jobs.ClassPermanent, run.ErrorClass)
			require.Contains(t, run.Error, "query_timezone")
			require.NoFileExists(t, filepath.Join(b.dir, "out.parquet"))
		})
	}
}

// TestSQLRunnerFollowsSQLTimezone: Looker does not convert SQL Runner
// values; the job's sql_timezone says which zone they are in.
func TestSQLRunnerFollowsSQLTimezone(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"", "America/New_York"} {
		t.Run("zone="+zone, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, lookertest.Options{AppTimezone: "Asia/Tokyo", Rows: 50})
			keys := "source: {sql: {connection: warehouse, sql: 'SELECT * FROM orders'}}\nformat: jsonl\ndestination: '$DIR/out.jsonl'\n"
			loc := time.UTC
			if zone != "" {
				keys += "sql_timezone: " + zone + "\n"
				loc, _ = time.LoadLocation(zone)
			}
			run, err := b.run(context.Background(), b.job(t, "sql", keys), scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			sc := bufio.NewScanner(bytes.NewReader(b.readBack(t, run.URIs[0])))
			i := 0
			for ; sc.Scan(); i++ {
				var row map[string]any
				require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
				got, err := time.Parse(time.RFC3339Nano, row["created_time"].(string))
				require.NoError(t, err)
				// The database holds Instant(i) as a UTC wall clock; read in
				// sql_timezone, that wall clock names this instant:
				w := lookertest.Instant(i)
				want := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
				require.True(t, want.Equal(got), "row %d: %s, want %s", i, got, want)
			}
			require.Equal(t, 50, i)
		})
	}
}

// TestRunLogNamesTheZoneWhereDatetimesAreConverted: a run that converts
// Looker's datetimes (Parquet, JSON lines) says in its log, at info level,
// which zone it read them in and why; a csv passed through copies them as
// Looker wrote them, and says so only at debug level (which the run's
// stored log keeps, the daemon's log by default not).
func TestRunLogNamesTheZoneWhereDatetimesAreConverted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format   string
		mentions bool
	}{
		{"parquet", true},
		{"jsonl", true},
		{"csv", false},
	} {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 20)
			job := b.job(t, "zone_log", "source: {look_id: '42'}\nformat: "+tc.format+"\ndestination: '$DIR/out."+tc.format+"'")
			require.Equal(t, tc.format == "csv", job.Plan.Passthrough)
			run, err := b.run(context.Background(), job, scheduled, jobs.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, state.Succeeded, run.Status, run.Error)
			lines, err := b.store.RunLog(context.Background(), run.ID)
			require.NoError(t, err)
			var zoneLines []string
			for _, l := range lines {
				if strings.Contains(l.Message, "time zone") {
					zoneLines = append(zoneLines, l.Level)
				}
			}
			if tc.mentions {
				require.Equal(t, []string{"info"}, zoneLines, "the zone the datetimes were read in")
			} else {
				require.Equal(t, []string{"debug"}, zoneLines, "a passthrough reads no datetime")
			}
		})
	}
}
