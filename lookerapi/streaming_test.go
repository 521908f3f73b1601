package lookerapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
)

// TestResolveStreamability follows NOTES §13.7: what Looker computes in
// memory does not stream; pivots alone do.
func TestResolveStreamability(t *testing.T) {
	t.Parallel()
	no := false
	tests := []struct {
		name    string
		query   map[string]any // merged into the saved query
		dialect map[string]any // nil keeps the streaming dialect
		connErr int            // GET /connections answers this status
		want    []string       // NotStreaming; nil means it streams
	}{
		{name: "plain", query: map[string]any{}},
		{name: "pivots alone", query: map[string]any{"pivots": []string{"orders.status"}}},
		{name: "running_total measure", query: map[string]any{"fields": []string{"orders.id", "orders.running"}},
			want: []string{"measures Looker computes itself (orders.running (running_total))"}},
		{name: "percent_of_total custom measure", query: map[string]any{"fields": []string{"orders.id", "share"},
			"dynamic_fields": `[{"measure":"share","label":"Share","type":"percent_of_total","based_on":"orders.amount"}]`},
			want: []string{"measures Looker computes itself (share (percent_of_total))"}},
		{name: "table calculation", query: map[string]any{"fields": []string{"orders.id", "vat"},
			"dynamic_fields": `[{"table_calculation":"vat","label":"VAT","expression":"${orders.id}*2"}]`},
			want: []string{"table calculations (vat)"}},
		{name: "totals", query: map[string]any{"total": true, "row_total": "right", "subtotals": []string{"orders.id"}},
			want: []string{"column totals", "row totals", "subtotals"}},
		{name: "dialect without streaming", query: map[string]any{}, dialect: map[string]any{"name": "hive", "label": "Apache Hive", "supports_streaming": no},
			want: []string{"the connection's dialect Apache Hive does not stream"}},
		{name: "dialect without streaming and pivots", query: map[string]any{"pivots": []string{"orders.status"}},
			dialect: map[string]any{"name": "hive", "supports_streaming": no},
			want:    []string{"the connection's dialect hive does not stream, and Looker pivots in memory (orders.status)"}},
		{name: "dialect unknown", query: map[string]any{}, dialect: map[string]any{"name": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t)
			s.set(func(s *stub) {
				s.saved["query_timezone"] = "Europe/Berlin"
				for k, v := range tt.query {
					s.saved[k] = v
				}
				if tt.dialect != nil {
					s.dialect = tt.dialect
				}
			})
			c := s.client(t)
			r, err := c.ResolveRun(context.Background(), lookerapi.Source{LookID: "42"}, lookerapi.RunOptions{})
			require.NoError(t, err)
			require.Equal(t, tt.want == nil, r.Streams)
			require.Equal(t, tt.want, r.NotStreaming)
			require.Equal(t, 1, s.count("connection"))
		})
	}
}

// TestResolveReportsZoneAndLimit: `exporter check` shows the zone a run
// will use, where it comes from, and the saved limit, without creating
// anything in Looker.
func TestResolveReportsZoneAndLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		saved, job           string
		setting              int
		wantZone, wantSource string
		wantProblem          string
	}{
		{name: "saved", saved: "America/New_York", wantZone: "America/New_York", wantSource: "query_timezone of look 42's query"},
		{name: "job", saved: "America/New_York", job: "Europe/Berlin", wantZone: "Europe/Berlin", wantSource: lookerapi.ZoneSourceJob},
		{name: "application", wantZone: "UTC", wantSource: lookerapi.ZoneSourceApplication},
		{name: "unknown", setting: http.StatusForbidden, wantProblem: "set query_timezone: <IANA zone> on the job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t)
			s.set(func(s *stub) {
				if tt.saved != "" {
					s.saved["query_timezone"] = tt.saved
				}
				s.settingStatus = tt.setting
			})
			c := s.client(t)
			r, err := c.ResolveRun(context.Background(), lookerapi.Source{LookID: "42"}, lookerapi.RunOptions{QueryTimezone: tt.job})
			require.NoError(t, err)
			require.Equal(t, tt.wantZone, r.Timezone)
			require.Equal(t, tt.wantSource, r.TimezoneSource)
			require.Equal(t, "500", r.SavedLimit)
			require.Equal(t, "Orders", r.LookTitle)
			if tt.wantProblem != "" {
				require.Len(t, r.Problems, 1)
				require.Contains(t, r.Problems[0], tt.wantProblem)
			} else {
				require.Empty(t, r.Problems)
			}
			require.Zero(t, s.count("create_query"), "check creates nothing")
		})
	}

	s := newStub(t)
	r, err := s.client(t).Resolve(context.Background(), lookerapi.Source{SQL: &lookerapi.SQLQuery{Slug: "sqlslug"}}, "")
	require.NoError(t, err)
	require.Empty(t, r.Timezone)
	require.Equal(t, lookerapi.ZoneSourceSQLRunner, r.TimezoneSource)
}
