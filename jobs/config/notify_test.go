package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/jobs/config"
)

const onCallBase = `looker: {base_url: https://x.example, client_id: a, client_secret: b}
jobs:
  - {name: j, schedule: '0 6 * * *', source: {look_id: '1'}, format: csv, destination: /tmp/x.csv%s}
`

func TestOnCallKeys(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("file-token-0123456789\n"), 0o600))
	for _, tc := range []struct {
		name, jobKeys, extra string
		check                func(t *testing.T, c *config.Config)
		wantErr              string
	}{
		{name: "defaults", check: func(t *testing.T, c *config.Config) {
			require.Equal(t, config.DefaultListen, c.Server.Listen)
			require.Equal(t, config.DefaultLogLines, c.Server.LogLines)
			require.Equal(t, config.DefaultMaxConnections, c.Server.MaxConnections)
			require.Empty(t, c.Notify)
			require.Zero(t, c.Jobs[0].MaxStaleness)
		}},
		{name: "everything", jobKeys: ", max_staleness: 26h",
			extra: "server: {listen: ':9464', token: '${TOKEN}', log_lines: 500, max_connections: 64}\nnotify:\n  - {name: slack, url: '${HOOK}', format: slack, on: [failure]}\n  - {url: 'https://example.com/hook'}\n",
			check: func(t *testing.T, c *config.Config) {
				require.Equal(t, "env-token-0123456789", c.Server.Token.Reveal())
				require.Equal(t, "<secret>", fmt.Sprint(c.Server.Token))
				require.Equal(t, 500, c.Server.LogLines)
				require.Equal(t, 64, c.Server.MaxConnections)
				require.Equal(t, 26*time.Hour, c.Jobs[0].MaxStaleness)
				require.Len(t, c.Notify, 2)
				require.Equal(t, "slack", c.Notify[0].Name)
				require.Equal(t, "https://hooks.example/T/B/X", c.Notify[0].URL.Reveal())
				require.NotContains(t, fmt.Sprintf("%v %+v", c.Notify[0], c.Notify[0]), "hooks.example")
				require.True(t, c.Notify[0].Wants(config.EventFailure))
				require.False(t, c.Notify[0].Wants(config.EventRecovery))
				require.Equal(t, "webhook-2", c.Notify[1].Name)
				require.Equal(t, config.FormatJSON, c.Notify[1].Format)
				require.Equal(t, []string{"failure", "recovery", "stale"}, c.Notify[1].On)
			}},
		{name: "token file", extra: "server: {listen: '0.0.0.0:9464', token_file: " + tokenFile + "}\n", check: func(t *testing.T, c *config.Config) {
			require.Equal(t, "file-token-0123456789", c.Server.Token.Reveal())
			require.False(t, c.Server.MetricsPublic, "/metrics stays behind the token unless metrics_public says otherwise")
		}},
		{name: "metrics public", extra: "server: {listen: '0.0.0.0:9464', token_file: " + tokenFile + ", metrics_public: true}\n", check: func(t *testing.T, c *config.Config) {
			require.True(t, c.Server.MetricsPublic)
		}},
		{name: "beyond loopback without token", extra: "server: {listen: '0.0.0.0:9464'}\n", wantErr: "test.yaml:4: server.listen 0.0.0.0:9464 accepts connections from other machines"},
		{name: "short token", extra: "server: {token: short}\n", wantErr: "server.token is shorter than 16 characters"},
		{name: "both tokens", extra: "server: {token: '${TOKEN}', token_file: " + tokenFile + "}\n", wantErr: "server.token and server.token_file are both set"},
		{name: "log lines", extra: "server: {log_lines: 0}\n", wantErr: "server.log_lines 0 must be between 1 and 10000"},
		{name: "max connections", extra: "server:\n  listen: 127.0.0.1:9464\n  max_connections: 0\n", wantErr: "test.yaml:6: server.max_connections 0 must be at least 1"},
		{name: "bad webhook", extra: "notify:\n  - {url: 'ftp://secret-host/x', format: teams, on: [boom]}\n",
			wantErr: "test.yaml:5: notify[0]: url must be an http(s) webhook URL"},
		{name: "external url", extra: "server: {external_url: 'https://exporter.example.com/status/'}\n", check: func(t *testing.T, c *config.Config) {
			require.Equal(t, "https://exporter.example.com/status", c.Server.ExternalURL)
		}},
		{name: "external url relative", extra: "server: {external_url: 'exporter.example.com'}\n", wantErr: "test.yaml:4: server.external_url \"exporter.example.com\" is not an absolute http(s) URL"},
		{name: "external url scheme", extra: "server: {external_url: 'javascript:alert(1)'}\n", wantErr: "server.external_url \"javascript:alert(1)\" is not an absolute http(s) URL"},
		{name: "external url query", extra: "server: {external_url: 'https://x.example/?a=b'}\n", wantErr: "server.external_url \"https://x.example/?a=b\" is not an absolute http(s) URL"},
		{name: "bad staleness", jobKeys: ", max_staleness: soon", wantErr: `job "j": max_staleness: "soon" is not a duration`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			y := fmt.Sprintf(onCallBase, tc.jobKeys) + tc.extra
			c, err := config.Parse("test.yaml", []byte(y), env(map[string]string{"TOKEN": "env-token-0123456789", "HOOK": "https://hooks.example/T/B/X"}))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "secret-host")
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{"127.0.0.1:9464": true, "localhost:1": true, "[::1]:9464": true, "127.0.0.2:80": true,
		":9464": false, "0.0.0.0:9464": false, "10.0.0.1:9464": false, "[::]:9464": false} {
		require.Equal(t, want, config.IsLoopback(addr), addr)
	}
}

func TestStaleAfter(t *testing.T) {
	t.Parallel()
	daily, err := config.ParseSchedule("0 6 * * *", time.UTC)
	require.NoError(t, err)
	last := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		job  config.Job
		want time.Time
	}{
		{name: "max_staleness", job: config.Job{Schedule: daily, MaxStaleness: 90 * time.Minute}, want: last.Add(90 * time.Minute)},
		{name: "two fires", job: config.Job{Schedule: daily}, want: time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC)},
		{name: "no schedule", job: config.Job{}, want: time.Time{}},
	} {
		require.True(t, tc.want.Equal(tc.job.StaleAfter(last)), "%s: %s", tc.name, tc.job.StaleAfter(last))
	}
}

// The container image sets EXPORTER_LISTEN, and a token comes from
// EXPORTER_TOKEN or EXPORTER_TOKEN_FILE, so a jobs.yaml written for a
// laptop runs in the image unchanged; keys in the file win.
func TestServerFromEnvironment(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("file-token-0123456789\n"), 0o600))
	for _, tc := range []struct {
		name, extra       string
		env               map[string]string
		wantListen, token string
		wantErr           string
	}{
		{name: "token file", env: map[string]string{"EXPORTER_LISTEN": "0.0.0.0:9464", "EXPORTER_TOKEN_FILE": tokenFile},
			wantListen: "0.0.0.0:9464", token: "file-token-0123456789"},
		{name: "token", env: map[string]string{"EXPORTER_LISTEN": "0.0.0.0:9464", "EXPORTER_TOKEN": "env-token-0123456789"},
			wantListen: "0.0.0.0:9464", token: "env-token-0123456789"},
		{name: "file wins", extra: "server: {listen: '127.0.0.1:8080'}\n", env: map[string]string{"EXPORTER_LISTEN": "0.0.0.0:9464"},
			wantListen: "127.0.0.1:8080"},
		{name: "token key wins over env file", extra: "server: {token: 'yaml-token-0123456789'}\n", env: map[string]string{"EXPORTER_TOKEN_FILE": tokenFile},
			wantListen: config.DefaultListen, token: "yaml-token-0123456789"},
		{name: "no token", env: map[string]string{"EXPORTER_LISTEN": "0.0.0.0:9464"},
			wantErr: "server.listen 0.0.0.0:9464 accepts connections from other machines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("test.yaml", []byte(fmt.Sprintf(onCallBase, "")+tc.extra), env(tc.env))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantListen, c.Server.Listen)
			require.Equal(t, tc.token, c.Server.Token.Reveal())
		})
	}
}
