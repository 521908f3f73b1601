package web_test

import (
	"context"
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
