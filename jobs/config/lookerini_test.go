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

const iniFile = `; written by hand
[Looker]
base_url=https://main.cloud.looker.com:19999
client_id = main_id
client_secret = "main-secret-XYZ"
verify_ssl=True
timeout=120
api_version=4.0

[Staging]
base_url: https://staging.cloud.looker.com
client_id: staging_id
client_secret: staging-secret-XYZ
verify_ssl: no
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// TestLookerINI: looker.ini is read like the official SDKs read it (a
// section, Looker by default; LOOKERSDK_* override it), and keys in the
// config file override both.
func TestLookerINI(t *testing.T) {
	t.Parallel()
	ini := writeFile(t, "looker.ini", iniFile)
	const jobs = "jobs:\n  - {name: j, schedule: '@daily', source: {look_id: 42}, format: csv, destination: /tmp/x.csv}\n"
	parse := func(looker string, env map[string]string, opts config.Options) (*config.Config, error) {
		opts.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		return config.Parse("t.yaml", []byte("looker: {"+looker+"}\n"+jobs), opts)
	}
	tests := []struct {
		name    string
		looker  string
		env     map[string]string
		opts    config.Options
		want    config.Looker
		wantErr string
	}{
		{name: "default section", looker: "ini_file: " + ini,
			want: config.Looker{BaseURL: "https://main.cloud.looker.com:19999", ClientID: "main_id", ClientSecret: "main-secret-XYZ", VerifySSL: true, Timeout: 120 * time.Second}},
		{name: "section chosen", looker: "ini_file: " + ini + ", ini_section: Staging",
			want: config.Looker{BaseURL: "https://staging.cloud.looker.com", ClientID: "staging_id", ClientSecret: "staging-secret-XYZ", VerifySSL: false, Timeout: config.DefaultLookerTimeout}},
		{name: "--looker-ini", opts: config.Options{LookerINI: ini},
			want: config.Looker{BaseURL: "https://main.cloud.looker.com:19999", ClientID: "main_id", ClientSecret: "main-secret-XYZ", VerifySSL: true, Timeout: 120 * time.Second}},
		{name: "env overrides ini, file overrides env", looker: "ini_file: " + ini + ", client_id: yaml_id",
			env:  map[string]string{"LOOKERSDK_CLIENT_ID": "env_id", "LOOKERSDK_CLIENT_SECRET": "env-secret", "LOOKERSDK_VERIFY_SSL": "false"},
			want: config.Looker{BaseURL: "https://main.cloud.looker.com:19999", ClientID: "yaml_id", ClientSecret: "env-secret", VerifySSL: false, Timeout: 120 * time.Second}},
		{name: "missing section", looker: "ini_file: " + ini + ", ini_section: Prod",
			wantErr: "t.yaml:1: looker.ini_file: " + ini + " has no section [Prod]; its sections are Looker, Staging"},
		{name: "missing file", looker: "ini_file: /nonexistent/looker.ini", wantErr: "looker.ini_file: open /nonexistent/looker.ini: no such file"},
		{name: "section without file", looker: "base_url: https://x.cloud.looker.com, client_id: a, client_secret: b, ini_section: Staging", wantErr: "no looker.ini_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parse(tt.looker, tt.env, tt.opts)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "secret-XYZ")
				return
			}
			require.NoError(t, err)
			got := cfg.Looker
			require.Equal(t, tt.want.BaseURL, got.BaseURL)
			require.Equal(t, tt.want.ClientID, got.ClientID)
			require.Equal(t, tt.want.ClientSecret.Reveal(), got.ClientSecret.Reveal())
			require.Equal(t, tt.want.VerifySSL, got.VerifySSL)
			require.Equal(t, tt.want.Timeout, got.Timeout)
		})
	}
}

// A malformed looker.ini is reported by file:line without the line's
// text, which may be the secret.
func TestLookerINIErrorsHideTheLine(t *testing.T) {
	t.Parallel()
	ini := writeFile(t, "looker.ini", "[Looker]\nbase_url=https://x.cloud.looker.com\nsecret-XYZ-no-equals\n")
	_, err := config.Parse("t.yaml", []byte("looker: {ini_file: "+ini+"}\njobs: []\n"), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	require.ErrorContains(t, err, ini+":3: expected key=value")
	require.NotContains(t, err.Error(), "secret-XYZ")
}

func TestLookerClientSecretFile(t *testing.T) {
	t.Parallel()
	secret := writeFile(t, "secret", "file-secret-XYZ\n")
	empty := writeFile(t, "empty", "\n")
	const head = "looker: {base_url: https://x.cloud.looker.com, client_id: a, %s}\njobs:\n  - {name: j, schedule: '@daily', source: {look_id: 42}, format: csv, destination: /tmp/x.csv}\n"
	noEnv := config.Options{LookupEnv: func(string) (string, bool) { return "", false }}
	parse := func(looker string) (*config.Config, error) {
		return config.Parse("t.yaml", []byte(fmt.Sprintf(head, looker)), noEnv)
	}
	cfg, err := parse("client_secret_file: " + secret)
	require.NoError(t, err)
	require.Equal(t, "file-secret-XYZ", cfg.Looker.ClientSecret.Reveal(), "trailing newline trimmed")

	for looker, want := range map[string]string{
		"client_secret_file: " + empty:                        "t.yaml:1: looker.client_secret_file " + empty + " is empty",
		"client_secret_file: /nonexistent/s":                  "looker.client_secret_file: open /nonexistent/s: no such file",
		"client_secret: other, client_secret_file: " + secret: "looker.client_secret and looker.client_secret_file are both set",
	} {
		_, err := parse(looker)
		require.ErrorContains(t, err, want)
		require.NotContains(t, err.Error(), "secret-XYZ")
	}
}
