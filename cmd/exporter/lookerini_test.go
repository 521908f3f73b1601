package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lookerexport/exporter/lookerapi/lookertest"
)

// TestLookerINIAndSecretFile: the Looker connection comes from a
// looker.ini section (--looker-ini or looker.ini_file) and the secret
// from looker.client_secret_file; the secret shows in no output, not
// even when Looker refuses it.
func TestLookerINIAndSecretFile(t *testing.T) {
	t.Parallel()
	srv := lookertest.NewServer(lookertest.Options{})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	ini := write("looker.ini", fmt.Sprintf("[Looker]\nbase_url=https://wrong.example\n\n[Sandbox]\nbase_url=%s\nclient_id=%s\nclient_secret=%s\nverify_ssl=false\n",
		srv.URL(), srv.ClientID(), srv.ClientSecret()))
	wrongSecret := write("wrong-secret", "not-the-secret-XYZ\n")
	jobs := "state: {dsn: " + filepath.Join(dir, "state.db") + "}\njobs:\n  - {name: j, schedule: '@daily', source: {look_id: '42'}, format: csv, destination: '" + dir + "/out/j.csv'}\n"

	viaFlag := write("flag.yaml", "looker: {ini_section: Sandbox}\n"+jobs)
	code, stdout, stderr := exec(t, context.Background(), "check", "--config", viaFlag, "--looker-ini", ini)
	require.Equal(t, exitOK, code, stdout+stderr)
	require.Contains(t, stdout, "j  look 42  [OK]")
	require.NotContains(t, stdout+stderr, srv.ClientSecret())

	viaKey := write("key.yaml", "looker: {ini_file: "+ini+", ini_section: Sandbox}\n"+jobs)
	code, stdout, stderr = exec(t, context.Background(), "run", "--config", viaKey, "j")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "succeeded")
	require.NotContains(t, stdout+stderr, srv.ClientSecret())

	// The file's secret overrides the ini's; Looker refuses it, and
	// neither the error nor check's output shows it.
	refused := write("refused.yaml", "looker: {ini_file: "+ini+", ini_section: Sandbox, client_secret_file: "+wrongSecret+"}\n"+jobs)
	code, stdout, stderr = exec(t, context.Background(), "check", "--config", refused, "--log-level", "debug")
	require.Equal(t, exitFailed, code, stdout+stderr)
	require.NotContains(t, stdout+stderr, "not-the-secret-XYZ")
	require.NotContains(t, stdout+stderr, srv.ClientSecret())
	code, stdout, stderr = exec(t, context.Background(), "run", "--config", refused, "j", "--no-retry")
	require.NotEqual(t, exitOK, code)
	require.NotContains(t, stdout+stderr, "not-the-secret-XYZ")

	missing := write("missing.yaml", "looker: {ini_file: "+ini+", ini_section: Prod}\n"+jobs)
	code, _, stderr = exec(t, context.Background(), "validate", "--config", missing)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "has no section [Prod]; its sections are Looker, Sandbox")
	require.NotContains(t, stderr, srv.ClientSecret())
}
