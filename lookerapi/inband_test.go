package lookerapi_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
)

// TestRunFailsOnInBandErrors: a 200 whose body is an error fails the run
// in both modes with the database's message, and the caller gets nothing.
func TestRunFailsOnInBandErrors(t *testing.T) {
	t.Parallel()
	const msg = "SQL Error: division by zero"
	tests := []struct {
		name, format, ct, body, want string
	}{
		{"json rows", "json", "application/json", `[{"looker_error":"` + msg + `"}]`, msg},
		{"json_bi rows", "json_bi", "application/json", `{"metadata":{},"rows":[{"looker_error":"` + msg + `"}]}`, msg},
		{"csv table", "csv", "text/csv", "looker_error\n" + msg + "\n", msg},
		{"csv text", "csv", "text/csv", msg + "\n", msg},
		{"txt object", "txt", "text/plain", `{"looker_error":"` + msg + `"}`, msg},
		{"xlsx object", "xlsx", "application/json", `{"looker_error":"` + msg + `"}`, msg},
		{"html page", "csv", "text/html", "<!DOCTYPE html><title>Sign in - Okta</title>", "Sign in - Okta"},
	}
	for _, tt := range tests {
		for _, mode := range []lookerapi.Mode{lookerapi.ModeSync, lookerapi.ModeAsync} {
			t.Run(tt.name+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				s := newStub(t)
				s.set(func(s *stub) {
					s.saved["query_timezone"] = "UTC"
					s.runCT, s.runBody = tt.ct, tt.body
				})
				c := s.client(t)
				res, err := c.Run(context.Background(), lookerapi.Source{LookID: "42"}, lookerapi.RunOptions{ResultFormat: tt.format, Mode: mode})
				require.NoError(t, err, "the headers were fine; the body tells")
				got, err := io.ReadAll(res.Body)
				require.NoError(t, res.Body.Close())
				require.ErrorIs(t, err, lookerapi.ErrInBandError)
				require.False(t, lookerapi.IsRetryable(err))
				var e *lookerapi.Error
				require.ErrorAs(t, err, &e)
				require.Contains(t, e.Message, tt.want)
				require.Equal(t, "look 42", e.Source)
				require.Empty(t, got)
			})
		}
	}
}

// TestRunChecksTheCSVHeader: when the explore gives the fields' labels,
// a csv or txt result must start with them.
func TestRunChecksTheCSVHeader(t *testing.T) {
	t.Parallel()
	yes := true
	tests := []struct {
		name    string
		format  string
		body    string
		pivots  []string
		opts    lookerapi.RunOptions
		wantErr string
	}{
		{name: "the labels", format: "csv", body: "Orders ID,Orders Created Time\n1,2026-01-01 00:00:00\n"},
		{name: "txt labels", format: "txt", body: "Orders ID\tOrders Created Time\n"},
		{name: "other labels", format: "csv", body: "ID,Created\n1,x\n", wantErr: "not the expected header (Orders ID, Orders Created Time)"},
		{name: "a column missing", format: "csv", body: "Orders ID\n1\n", wantErr: "not the expected header"},
		{name: "pivots add header rows: not compared", format: "csv", body: "Orders Status,,\nOrders ID,a,b\n", pivots: []string{"orders.status"}},
		{name: "apply_vis may rename: not compared", format: "csv", body: "Order,When\n", opts: lookerapi.RunOptions{ApplyVis: &yes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t)
			s.set(func(s *stub) {
				s.saved["query_timezone"] = "UTC"
				if tt.pivots != nil {
					s.saved["pivots"] = tt.pivots
				}
				s.runBody = tt.body
				if tt.format == "txt" {
					s.runCT = "text/plain;charset=utf-8"
				}
			})
			c := s.client(t)
			opts := tt.opts
			opts.ResultFormat = tt.format
			res, err := c.Run(context.Background(), lookerapi.Source{LookID: "42"}, opts)
			require.NoError(t, err)
			got, err := io.ReadAll(res.Body)
			res.Body.Close()
			if tt.wantErr != "" {
				require.ErrorIs(t, err, lookerapi.ErrInBandError)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.body, string(got))
		})
	}
}
