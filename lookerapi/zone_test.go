package lookerapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestRunKnowsTheQueryZone: a saved query runs in a zone the client knows
// (NOTES §13.1): its own, the job's (re-created), or Looker's application
// zone (pinned); when Looker cannot tell, the run fails saying what to set.
func TestRunKnowsTheQueryZone(t *testing.T) {
	t.Parallel()
	look := lookerapi.Source{LookID: "42"}
	tests := []struct {
		name       string
		src        lookerapi.Source
		savedZone  string // "" leaves query_timezone out
		jobZone    string
		setup      func(s *stub)
		wantZone   string
		wantSource string
		wantRun    string // path of the run request
		wantPinned bool   // the query was re-created with wantZone
		wantErr    string // substring; the run fails permanently
	}{
		{name: "saved zone", src: look, savedZone: "America/New_York", wantZone: "America/New_York",
			wantSource: "query_timezone of look 42's query", wantRun: "/api/4.0/looks/42/run/csv"},
		{name: "saved zone of a query id", src: lookerapi.Source{QueryID: "123"}, savedZone: "America/New_York", wantZone: "America/New_York",
			wantSource: "query_timezone of query 123", wantRun: "/api/4.0/queries/123/run/csv"},
		{name: "saved zone of a slug", src: lookerapi.Source{QuerySlug: "AbC"}, savedZone: "Asia/Kolkata", wantZone: "Asia/Kolkata",
			wantSource: "query_timezone of query slug AbC", wantRun: "/api/4.0/queries/123/run/csv"},
		{name: "job zone equals the saved one", src: look, savedZone: "Europe/Berlin", jobZone: "Europe/Berlin", wantZone: "Europe/Berlin",
			wantSource: "job query_timezone (the same as look 42's query)", wantRun: "/api/4.0/looks/42/run/csv"},
		{name: "job zone overrides the saved one", src: look, savedZone: "America/New_York", jobZone: "Europe/Berlin", wantZone: "Europe/Berlin",
			wantSource: lookerapi.ZoneSourceJob, wantRun: "/api/4.0/queries/900/run/csv", wantPinned: true},
		{name: "job zone on a query without one", src: lookerapi.Source{QueryID: "123"}, jobZone: "Europe/Berlin", wantZone: "Europe/Berlin",
			wantSource: lookerapi.ZoneSourceJob, wantRun: "/api/4.0/queries/900/run/csv", wantPinned: true},
		{name: "no zone: pinned to the application zone", src: look,
			setup:    func(s *stub) { s.setting = map[string]any{"timezone": "Asia/Tokyo", "allow_user_timezones": false} },
			wantZone: "Asia/Tokyo", wantSource: lookerapi.ZoneSourceApplication, wantRun: "/api/4.0/queries/900/run/csv", wantPinned: true},
		{name: "no zone, user time zones on", src: look,
			setup:   func(s *stub) { s.setting = map[string]any{"timezone": "UTC", "allow_user_timezones": true} },
			wantErr: "user-specific time zones are on"},
		{name: "no zone, setting forbidden", src: look, setup: func(s *stub) { s.settingStatus = http.StatusForbidden },
			wantErr: "does not show the API user its time zone settings"},
		{name: "no zone, setting not found", src: look, setup: func(s *stub) { s.settingStatus = http.StatusNotFound },
			wantErr: "does not show the API user its time zone settings"},
		{name: "no zone, setting says nothing", src: look, setup: func(s *stub) { s.setting = map[string]any{} },
			wantErr: "do not say which time zone applies"},
		{name: "no zone, empty application zone", src: look,
			setup:   func(s *stub) { s.setting = map[string]any{"timezone": "", "allow_user_timezones": false} },
			wantErr: "name no application time zone"},
		{name: "invalid saved zone", src: look, savedZone: "Mars/Olympus_Mons", wantErr: `"Mars/Olympus_Mons" is not an IANA time zone`},
		{name: "invalid job zone", src: look, jobZone: "CEST", wantErr: `the job's query_timezone "CEST" is not an IANA time zone`},
		{name: "invalid application zone", src: look,
			setup:   func(s *stub) { s.setting = map[string]any{"timezone": "Nowhere/Land", "allow_user_timezones": false} },
			wantErr: "Looker's application time zone \"Nowhere/Land\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t)
			s.set(func(s *stub) {
				if tt.savedZone != "" {
					s.saved["query_timezone"] = tt.savedZone
				}
				if tt.setup != nil {
					tt.setup(s)
				}
			})
			c := s.client(t)
			res, err := c.Run(context.Background(), tt.src, lookerapi.RunOptions{ResultFormat: "csv", QueryTimezone: tt.jobZone})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.False(t, lookerapi.IsRetryable(err))
				if tt.setup != nil && tt.savedZone == "" && tt.jobZone == "" {
					require.ErrorIs(t, err, lookerapi.ErrTimezoneUnknown)
					require.ErrorContains(t, err, "; set query_timezone: <IANA zone> on the job")
				}
				require.Empty(t, s.runs, "nothing ran")
				return
			}
			require.NoError(t, err)
			readAll(t, res)
			require.Equal(t, tt.wantZone, res.Timezone)
			require.Equal(t, tt.wantSource, res.TimezoneSource)
			require.Contains(t, s.lastRun(), "GET "+tt.wantRun+"?")
			if !tt.wantPinned {
				require.Zero(t, s.count("create_query"))
				return
			}
			require.Equal(t, "900", res.QueryID)
			q := s.lastCreated()
			require.Equal(t, tt.wantZone, q["query_timezone"])
			for _, k := range []string{"id", "client_id", "filter_config", "can", "slug", "share_url"} {
				require.NotContains(t, q, k, "read-only or UI state is not sent")
			}
			require.Equal(t, "500", q["limit"], "the saved limit is kept")
			require.Equal(t, []any{"orders.id", "orders.created_time"}, q["fields"])
			require.Equal(t, []any{"orders.id"}, q["sorts"])
			require.Equal(t, map[string]any{"type": "table"}, q["vis_config"])
		})
	}
}

// TestInlineQueriesSendTheirZone: an inline query always carries
// query_timezone, so Looker's fallbacks never apply.
func TestInlineQueriesSendTheirZone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, own, job, want, source string
	}{
		{"default", "", "", "UTC", lookerapi.ZoneSourceDefault},
		{"the query's own", "Asia/Tokyo", "", "Asia/Tokyo", lookerapi.ZoneSourceInline},
		{"the job's", "Asia/Tokyo", "Europe/Berlin", "Europe/Berlin", lookerapi.ZoneSourceJob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t)
			c := s.client(t)
			q := &lookerapi.Query{Model: "thelook", View: "orders", Fields: []string{"orders.id"}, QueryTimezone: tt.own}
			res, err := c.Run(context.Background(), lookerapi.Source{Query: q}, lookerapi.RunOptions{ResultFormat: "json", QueryTimezone: tt.job})
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, tt.want, res.Timezone)
			require.Equal(t, tt.source, res.TimezoneSource)
			s.mu.Lock()
			defer s.mu.Unlock()
			var sent string
			switch {
			case len(s.inline) > 0:
				sent = s.inline[0].QueryTimezone
			case len(s.created) > 0: // created first, then run by id
				sent, _ = s.created[0]["query_timezone"].(string)
			}
			require.Equal(t, tt.want, sent)
			require.Equal(t, tt.own, q.QueryTimezone, "the caller's query is not changed")
			require.Zero(t, s.counts["get_setting"])
		})
	}
}

// TestSQLRunnerIsNotConverted: SQL Runner values come as stored; no zone.
func TestSQLRunnerIsNotConverted(t *testing.T) {
	t.Parallel()
	s := newStub(t)
	c := s.client(t)
	res, err := c.Run(context.Background(), lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: "warehouse", SQL: "SELECT 1"}},
		lookerapi.RunOptions{ResultFormat: "csv", QueryTimezone: "Europe/Berlin"})
	require.NoError(t, err)
	readAll(t, res)
	require.Empty(t, res.Timezone)
	require.Equal(t, "SQL Runner does not convert (sql_timezone)", res.TimezoneSource)
	require.Nil(t, res.LocalFields)
	require.Zero(t, res.AppliedLimit)
}

// TestLocalFields: fields declared convert_tz: no are reported, so their
// wall-clock values are not read as instants in the query's zone.
func TestLocalFields(t *testing.T) {
	t.Parallel()
	s := newStub(t)
	s.set(func(s *stub) {
		s.saved["fields"] = []string{"orders.id", "orders.created_time", "orders.created_local_time"}
		s.saved["query_timezone"] = "UTC"
		s.runBody = "Orders ID,Orders Created Time,Orders Created Local Time\n"
	})
	c := s.client(t)
	res, err := c.Run(context.Background(), lookerapi.Source{LookID: "42"}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, []string{"orders.created_local_time"}, res.LocalFields)

	r, err := c.ResolveRun(context.Background(), lookerapi.Source{LookID: "42"}, lookerapi.RunOptions{})
	require.NoError(t, err)
	require.True(t, r.Fields[2].Local())
	require.False(t, r.Fields[1].Local())
}

// TestSandboxQueryZoneIsPinned: against the sandbox (whose saved queries
// carry no zone) the Look runs re-created in the application zone that
// GET /setting names.
func TestSandboxQueryZoneIsPinned(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 2, AppTimezone: "Asia/Tokyo"}})
	res, err := f.client.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, "Asia/Tokyo", res.Timezone)
	require.Equal(t, 1, f.srv.Requests("create_query"))
	require.Equal(t, 1, f.srv.Requests("run_query"))
	require.Zero(t, f.srv.Requests("run_look"))
	require.Equal(t, 1, f.srv.Requests("get_setting"))
}

// TestRunsReuseMetadataForMetadataTTL: a burst of runs reads the
// application zone and the explore once, not once per run; after
// MetadataTTL the next run reads them again.
func TestRunsReuseMetadataForMetadataTTL(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 2, AppTimezone: "Asia/Tokyo"}})
	run := func() {
		t.Helper()
		res, err := f.client.Run(context.Background(), lookerapi.Source{LookID: lookertest.LookID}, lookerapi.RunOptions{ResultFormat: "csv"})
		require.NoError(t, err)
		readAll(t, res)
		require.Equal(t, "Asia/Tokyo", res.Timezone)
	}
	for range 3 {
		run()
	}
	require.Equal(t, 3, f.srv.Requests("run_query"))
	require.Equal(t, 3, f.srv.Requests("look"), "the Look is read by every run: its query may change")
	require.Equal(t, 1, f.srv.Requests("get_setting"))
	require.Equal(t, 1, f.srv.Requests("lookml_model_explore"))

	f.clock.Advance(lookerapi.MetadataTTL)
	run()
	require.Equal(t, 2, f.srv.Requests("get_setting"))
	require.Equal(t, 2, f.srv.Requests("lookml_model_explore"))
}
