package lookertest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// runJSON runs an inline query as json and returns its rows.
func (a *api) runJSON(auth, body string) []map[string]any {
	a.t.Helper()
	status, _, out := a.call("POST", "/queries/run/json", auth, strings.NewReader(body), "application/json")
	require.Equal(a.t, 200, status, string(out))
	var rows []map[string]any
	require.NoError(a.t, json.Unmarshal(out, &rows))
	return rows
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestQueryTimeZones(t *testing.T) {
	t.Parallel()
	const noTZ = `{"model":"thelook","view":"orders","fields":["orders.created_time","orders.created_date","orders.created_local_time"],"limit":"3"}`
	const withTZ = `{"model":"thelook","view":"orders","fields":["orders.created_time","orders.created_date","orders.created_local_time"],"limit":"3","query_timezone":"Asia/Tokyo"}`
	tests := []struct {
		name     string
		opts     lookertest.Options
		userZone string // SetUserTimezone of user 7
		sudo     bool   // run as user 7
		body     string
		want     string
	}{
		{"query_timezone wins", lookertest.Options{AppTimezone: "Europe/Berlin", UserTimezones: true}, "America/Chicago", true, withTZ, "Asia/Tokyo"},
		{"default is UTC", lookertest.Options{}, "", false, noTZ, "UTC"},
		{"application zone", lookertest.Options{AppTimezone: "Europe/Berlin"}, "", false, noTZ, "Europe/Berlin"},
		{"user zone", lookertest.Options{AppTimezone: "Europe/Berlin", UserTimezones: true}, "America/Chicago", true, noTZ, "America/Chicago"},
		{"user without zone gets the application zone", lookertest.Options{AppTimezone: "Europe/Berlin", UserTimezones: true}, "", true, noTZ, "Europe/Berlin"},
		{"user zones off ignore the user's zone", lookertest.Options{AppTimezone: "Europe/Berlin"}, "America/Chicago", true, noTZ, "Europe/Berlin"},
		{"connection zone", lookertest.Options{AppTimezone: "Europe/Berlin", ConnectionTimezone: "America/New_York", ZoneFallback: lookertest.ZoneConnection}, "", false, noTZ, "America/New_York"},
		{"connection without zone falls back to the application zone", lookertest.Options{AppTimezone: "Europe/Berlin", ZoneFallback: lookertest.ZoneConnection}, "", false, noTZ, "Europe/Berlin"},
		{"application fallback ignores the connection zone", lookertest.Options{AppTimezone: "Europe/Berlin", ConnectionTimezone: "America/New_York"}, "", false, noTZ, "Europe/Berlin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, tt.opts)
			tok := "Bearer " + a.login()
			if tt.userZone != "" {
				a.srv.SetUserTimezone("7", tt.userZone)
			}
			if tt.sudo {
				tok = "Bearer " + a.loginAs(tok, "7")
			}
			rows := a.runJSON(tok, tt.body)
			require.Len(t, rows, 3)
			loc := mustZone(t, tt.want)
			for i, r := range rows {
				want, _ := lookertest.ValueIn("orders.created_time", i, loc)
				require.Equal(t, want, r["orders.created_time"])
				got, err := time.ParseInLocation("2006-01-02 15:04:05", r["orders.created_time"].(string), loc)
				require.NoError(t, err)
				require.True(t, got.Equal(lookertest.Instant(i)), "the rendered wall clock is the true instant in %s", tt.want)
				wantDate, _ := lookertest.ValueIn("orders.created_date", i, loc)
				require.Equal(t, wantDate, r["orders.created_date"])
				local, _ := lookertest.Value("orders.created_local_time", i)
				require.Equal(t, local, r["orders.created_local_time"], "convert_tz: no is never converted")
			}
		})
	}
}

func TestTimeValuesAreNotUTCWhenZoneIsNot(t *testing.T) {
	t.Parallel()
	// Guards the table above against a server that ignores zones: in
	// Tokyo, 08:00 UTC on 2024-01-01 is 17:00.
	v, _ := lookertest.ValueIn("orders.created_time", 0, mustZone(t, "Asia/Tokyo"))
	require.Equal(t, "2024-01-01 17:00:00", v)
	v, _ = lookertest.ValueIn("orders.created_local_time", 0, mustZone(t, "Asia/Tokyo"))
	require.Equal(t, "2024-01-01 08:00:00", v)
	require.Equal(t, time.Date(2024, 1, 1, 8, 1, 37, 0, time.UTC), lookertest.Instant(1))
}

func TestSQLRunnerNeverConverts(t *testing.T) {
	t.Parallel()
	a := newAPI(t, lookertest.Options{Rows: 3, AppTimezone: "Asia/Tokyo", UserTimezones: true, ConnectionTimezone: "America/New_York"})
	tok := "Bearer " + a.login()
	status, _, out := a.call("POST", "/sql_queries", tok, strings.NewReader(`{"connection_name":"warehouse","sql":"SELECT * FROM orders"}`), "application/json")
	require.Equal(t, 200, status, string(out))
	var sq struct{ Slug string }
	require.NoError(t, json.Unmarshal(out, &sq))
	status, _, out = a.call("POST", "/sql_queries/"+sq.Slug+"/run/json", tok, nil, "")
	require.Equal(t, 200, status, string(out))
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(out, &rows))
	for i, r := range rows {
		want, _ := lookertest.ValueIn("created_time", i, time.UTC)
		require.Equal(t, want, r["created_time"])
	}
}

func TestDateFiltersReadInQueryZone(t *testing.T) {
	t.Parallel()
	const rows = 2000
	a := newAPI(t, lookertest.Options{Rows: rows})
	tok := "Bearer " + a.login()
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Tokyo"} {
		loc := mustZone(t, zone)
		body := `{"model":"thelook","view":"orders","fields":["orders.id"],"limit":"-1","query_timezone":"` + zone +
			`","filters":{"orders.created_date":"2024-01-01"}}`
		got := len(a.runJSON(tok, body))
		from := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
		to := from.AddDate(0, 0, 1)
		want := 0
		for i := range rows {
			if in := lookertest.Instant(i); !in.Before(from) && in.Before(to) {
				want++
			}
		}
		require.Equal(t, want, got, zone)
	}
	// The windows differ, so a server reading filters in UTC would fail.
	ny := len(a.runJSON(tok, `{"model":"thelook","view":"orders","fields":["orders.id"],"limit":"-1","query_timezone":"America/New_York","filters":{"orders.created_date":"2024-01-01"}}`))
	utc := len(a.runJSON(tok, `{"model":"thelook","view":"orders","fields":["orders.id"],"limit":"-1","filters":{"orders.created_date":"2024-01-01"}}`))
	require.NotEqual(t, ny, utc)
	require.Equal(t, 5, len(a.runJSON(tok, `{"model":"thelook","view":"orders","fields":["orders.id"],"limit":"-1","filters":{"orders.created_time":"2024-01-01 08:00 to 2024-01-01 08:08"}}`)))
}
