package lookerapi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestTypedCSVOnlyWhereEveryColumnIsKnown: RunOptions.TypedCSV runs csv,
// with Result.Fields, only when the query and its explore tell every
// column for sure; otherwise the run takes ResultFormat and says nothing
// of the columns.
func TestTypedCSVOnlyWhereEveryColumnIsKnown(t *testing.T) {
	t.Parallel()
	f := setup(t, setupOpts{server: lookertest.Options{Rows: 20}})
	yes := true
	pivoted := lookerapi.Query{Model: lookertest.Model, View: lookertest.ExploreName,
		Fields: []string{"orders.status", "orders.count"}, Pivots: []string{"orders.status"}}
	totals := lookerapi.Query{Model: lookertest.Model, View: lookertest.ExploreName,
		Fields: []string{"orders.status", "orders.count"}, Total: true}
	tests := []struct {
		name   string
		src    lookerapi.Source
		opts   func(*lookerapi.RunOptions)
		format string
	}{
		{"a Look", lookerapi.Source{LookID: lookertest.LookID}, nil, "csv"},
		{"apply_formatting", lookerapi.Source{LookID: lookertest.LookID}, func(o *lookerapi.RunOptions) { o.ApplyFormatting = &yes }, "json_bi"},
		{"apply_vis", lookerapi.Source{LookID: lookertest.LookID}, func(o *lookerapi.RunOptions) { o.ApplyVis = &yes }, "json_bi"},
		{"a table calculation", lookerapi.Source{LookID: lookertest.NonStreamingLookID}, nil, "json_bi"},
		{"pivots", lookerapi.Source{Query: &pivoted}, nil, "json_bi"},
		{"totals", lookerapi.Source{Query: &totals}, nil, "json_bi"},
		{"SQL Runner", lookerapi.Source{SQL: &lookerapi.SQLQuery{Connection: lookertest.Connection, SQL: "SELECT id FROM orders"}}, nil, "json_bi"},
	}
	for _, tt := range tests {
		opts := lookerapi.RunOptions{ResultFormat: "json_bi", TypedCSV: true}
		if tt.opts != nil {
			tt.opts(&opts)
		}
		res, err := f.client.Run(t.Context(), tt.src, opts)
		require.NoError(t, err, tt.name)
		body := string(readAll(t, res))
		require.Equal(t, tt.format, res.Format, tt.name)
		if tt.format == "csv" {
			require.Len(t, res.Fields, len(lookertest.QueryFields), tt.name)
			for i, fl := range res.Fields {
				require.Equal(t, lookertest.QueryFields[i], fl.Name, tt.name)
				require.NotEmpty(t, fl.Type, tt.name)
			}
			header, _, _ := strings.Cut(body, "\n")
			require.Equal(t, res.Fields[0].Label, strings.Split(header, ",")[0], tt.name)
			continue
		}
		require.Nil(t, res.Fields, tt.name)
		require.True(t, strings.HasPrefix(body, "{"), "%s: json_bi, got %.40q", tt.name, body)
	}
}
