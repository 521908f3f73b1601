package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs"
	"github.com/lookerexport/exporter/jobs/config"
	"github.com/lookerexport/exporter/jobs/web"
	"github.com/lookerexport/exporter/state/sqlite"
)

func TestNewRefusesToListenBeyondLoopbackWithoutToken(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	for _, tc := range []struct {
		listen, token string
		wantErr       bool
	}{
		{listen: "127.0.0.1:9464"},
		{listen: "[::1]:9464"},
		{listen: ":9464", wantErr: true},
		{listen: "0.0.0.0:9464", wantErr: true},
		{listen: "0.0.0.0:9464", token: "0123456789abcdef0123"},
	} {
		cfg := &config.Config{Path: "jobs.yaml", Server: config.Server{Listen: tc.listen, Token: config.Secret(tc.token)}}
		_, err := web.New(web.Options{Config: cfg, Store: store, Runner: &jobs.Runner{}})
		if tc.wantErr {
			require.ErrorIs(t, err, web.ErrNoToken, tc.listen)
			require.ErrorContains(t, err, "set server.token")
			continue
		}
		require.NoError(t, err, tc.listen)
	}
}

// In a pod the server listens on all interfaces with a token: the probes
// are always open, /metrics only when server.metrics_public says so, and
// the rest always needs the token.
func TestProbesAndPublicMetricsBeyondLoopback(t *testing.T) {
	t.Parallel()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "exporter_up 1\n") })
	for _, tc := range []struct {
		public bool
		path   string
		want   int
	}{
		{path: "/healthz", want: http.StatusOK},
		{path: "/readyz", want: http.StatusOK},
		{path: "/metrics", want: http.StatusUnauthorized},
		{path: "/api/v1/jobs", want: http.StatusUnauthorized},
		{public: true, path: "/metrics", want: http.StatusOK},
		{public: true, path: "/healthz", want: http.StatusOK},
		{public: true, path: "/api/v1/jobs", want: http.StatusUnauthorized},
		{public: true, path: "/metrics/x", want: http.StatusUnauthorized},
	} {
		cfg := &config.Config{Path: "jobs.yaml", Server: config.Server{Listen: "0.0.0.0:9464", Token: "0123456789abcdef0123", MetricsPublic: tc.public}}
		s, err := web.New(web.Options{Config: cfg, Store: store, Runner: &jobs.Runner{}, Metrics: metrics})
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		require.Equal(t, tc.want, rec.Code, "metrics_public=%v GET %s: %s", tc.public, tc.path, rec.Body)
	}
}
