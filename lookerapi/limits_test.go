package lookerapi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi"
)

// TestLimitsYouCanSee: `limit: saved` sends no limit, so the Look's own
// (often a deliberate top-N) applies; the result says which limits there
// were.
func TestLimitsYouCanSee(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		mode        lookerapi.Mode
		opts        lookerapi.RunOptions
		wantParam   string // "" means no limit parameter
		wantApplied int64
	}{
		{name: "default sends -1", wantParam: "-1", wantApplied: -1},
		{name: "explicit limit", opts: lookerapi.RunOptions{Limit: 20}, wantParam: "20", wantApplied: 20},
		{name: "saved limit sends none", opts: lookerapi.RunOptions{SavedLimit: true}},
		{name: "saved limit sends none to a task", mode: lookerapi.ModeAsync, opts: lookerapi.RunOptions{SavedLimit: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t)
			s.set(func(s *stub) { s.saved["query_timezone"] = "UTC" })
			c := s.client(t)
			opts := tt.opts
			opts.ResultFormat, opts.Mode = "csv", tt.mode
			res, err := c.Run(context.Background(), lookerapi.Source{LookID: "42"}, opts)
			require.NoError(t, err)
			readAll(t, res)
			require.Equal(t, "500", res.SavedLimit)
			require.Equal(t, tt.wantApplied, res.AppliedLimit)
			s.mu.Lock()
			run := s.runs[0] // the run, or the task's creation
			s.mu.Unlock()
			if tt.wantParam == "" {
				require.NotContains(t, run, "limit=")
			} else {
				require.Contains(t, run, "limit="+tt.wantParam)
			}
		})
	}
}

func TestSavedLimitAndLimitConflict(t *testing.T) {
	t.Parallel()
	s := newStub(t)
	c := s.client(t)
	_, err := c.Run(context.Background(), lookerapi.Source{LookID: "42"}, lookerapi.RunOptions{ResultFormat: "csv", SavedLimit: true, Limit: 10})
	require.ErrorContains(t, err, "set one of them")
	require.False(t, lookerapi.IsRetryable(err))
	require.Zero(t, s.count("login"), "rejected before calling Looker")
}

func TestDocumentedCaps(t *testing.T) {
	t.Parallel()
	require.Equal(t, 5000, lookerapi.DefaultRowLimit)
	require.Equal(t, 50000, lookerapi.LegacyAllResultsCap)
}
