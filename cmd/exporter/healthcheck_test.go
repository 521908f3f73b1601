package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHealthcheck is Docker's HEALTHCHECK: exit 0 against a serving
// daemon (asked on loopback when it listens on all interfaces), 1 when
// /healthz says otherwise or nothing listens.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "0.0.0.0:9464")
	addr := strings.TrimPrefix(d.base, "http://")
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	code, stdout, stderr := exec(t, context.Background(), "healthcheck", "--address", addr)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "healthy: http://"+addr+"/healthz")

	// The config the container runs with: all interfaces, token from a file.
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(randomHex(t, 16)+"\n"), 0o600))
	conf := filepath.Join(dir, "jobs.yaml")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, `looker: {base_url: %s, client_id: id, client_secret: secret}
state: {dsn: %s}
server: {listen: "0.0.0.0:%s", token_file: %s}
jobs:
  - {name: j, schedule: '@daily', source: {look_id: '42'}, format: csv, destination: %s}
`, d.looker.URL(), filepath.Join(dir, "state.db"), port, tokenFile, filepath.Join(dir, "j.csv")), 0o600))
	code, stdout, stderr = exec(t, context.Background(), "healthcheck", "--config", conf)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "healthy: http://127.0.0.1:"+port+"/healthz")

	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "state store unreachable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(sick.Close)
	code, _, stderr = exec(t, context.Background(), "healthcheck", "--address", strings.TrimPrefix(sick.URL, "http://"))
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "503 Service Unavailable: state store unreachable")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	code, _, stderr = exec(t, context.Background(), "healthcheck", "--address", closed)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "unhealthy: GET http://"+closed+"/healthz")
	require.Contains(t, stderr, "is `exporter serve` running")
}
